/**
 * Local listeners for the proxy's routines: a configured BindAddress (`host:port`, `[v6]:port`,
 * `:port` for every local address) becomes a listening TCP server or a bound UDP socket, and
 * failures (EADDRINUSE, EACCES) come back as rejections naming the address, so startup can
 * report them and stop.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { isIP, type Server } from 'node:net';
import { joinHostPort, type HostPort } from './config-values.js';

export function listenTcp(server: Server, bind: HostPort): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void =>
      reject(new Error(`cannot listen on ${joinHostPort(bind)}: ${err.message}`));
    server.once('error', onError);
    const ready = (): void => {
      server.off('error', onError);
      resolve();
    };
    if (bind.host === '') server.listen(bind.port, ready);
    else server.listen(bind.port, bind.host, ready);
  });
}

/** A UDP socket bound to `bind` ('' host: every address, IPv6 dual-stack). */
export function bindUdp(bind: HostPort): Promise<UdpSocket> {
  const socket = createSocket(isIP(bind.host) === 4 ? 'udp4' : 'udp6');
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.close();
      reject(new Error(`cannot bind UDP ${joinHostPort(bind)}: ${err.message}`));
    };
    socket.once('error', onError);
    socket.bind(bind.port, bind.host === '' ? '::' : bind.host, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/** '::ffff:1.2.3.4' (a dual-stack socket's view of an IPv4 peer) as '1.2.3.4'. */
export function plainAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
