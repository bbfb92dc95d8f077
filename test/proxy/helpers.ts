/**
 * Shared pieces of the proxy tests: a configuration with fixed test keys, the proxy started in
 * process over the host-backed TunnelNetwork, local origin servers (TCP echo, HTTP, UDP echo) on
 * the loopback, curl with a hard timeout, and a SOCKS5 client written from RFC 1928 / RFC 1929
 * for what curl cannot do (UDP ASSOCIATE, BIND, raw replies).
 */
import { execFile } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, isIP, type AddressInfo, type Server, type Socket } from 'node:net';
import { parseProxyConfig } from '../../src/proxy/config.js';
import { runProxy, type RunningProxy } from '../../src/proxy/run.js';
import { quietLogger, type ProxyDevice } from '../../src/proxy/types.js';
import { splitHostPort } from '../../src/proxy/config-values.js';
import { encodeAddress, decodeAddress } from '../../src/proxy/socks5-wire.js';
import { hostNetwork, type HostNetwork, type HostNetworkOptions } from '../helpers/host-network.js';
import { which } from '../helpers/netns.js';

export const PRIVATE_KEY = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=';
export const PUBLIC_KEY = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';

export const WG_PART = `[Interface]
PrivateKey = ${PRIVATE_KEY}
Address = 10.200.200.2/32
DNS = 10.200.200.1

[Peer]
PublicKey = ${PUBLIC_KEY}
Endpoint = 127.0.0.1:51820
AllowedIPs = 0.0.0.0/0, ::/0
`;

export const noCurl = which('curl') === null ? 'curl is not installed (scripts/ensure-deps.sh)' : false;

export interface Started {
  readonly proxy: RunningProxy;
  readonly network: HostNetwork;
  /** The bound port of the n-th routine. */
  port(n?: number): number;
  close(): Promise<void>;
}

export async function startInProcess(
  sections: string,
  opts: HostNetworkOptions & { info?: string; uapi?: string; interfaceExtra?: string } = {},
): Promise<Started> {
  const wg = WG_PART.replace('DNS = 10.200.200.1\n', `DNS = 10.200.200.1\n${opts.interfaceExtra ?? ''}`);
  const config = parseProxyConfig(`${wg}\n${sections}`, 'test.conf', { env: {} });
  const network = hostNetwork(opts);
  const device: ProxyDevice = {
    network,
    uapiGet: () => opts.uapi ?? 'private_key=abcd\nlisten_port=0\n',
    close: async () => {},
  };
  const info = opts.info === undefined ? null : splitHostPort(opts.info);
  const proxy = await runProxy(config, device, { log: quietLogger, info });
  return {
    proxy,
    network,
    port: (n = 0) => proxy.routines[n]!.address()!.port,
    close: () => proxy.close(),
  };
}

export function listenOn(server: Server | HttpServer, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port)),
  );
}

/** A TCP server answering each connection's data prefixed with `tag`. */
export async function echoServer(
  tag = 'echo:',
  host = '127.0.0.1',
): Promise<{ port: number; server: Server }> {
  const server = createServer((s) => {
    s.on('data', (d) => s.write(Buffer.concat([Buffer.from(tag), d])));
    s.on('end', () => s.end());
    s.on('error', () => s.destroy());
  });
  return { port: await listenOn(server, host), server };
}

/** An HTTP origin answering `origin <method> <path> <body>`. */
export async function httpOrigin(host = '127.0.0.1'): Promise<{ port: number; server: HttpServer }> {
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('X-Origin', 'yes');
      res.end(`origin ${req.method} ${req.url} ${Buffer.concat(chunks).toString()}`);
    });
  });
  return { port: await listenOn(server, host), server };
}

export async function udpEcho(type: 'udp4' | 'udp6' = 'udp4'): Promise<{ port: number; socket: UdpSocket }> {
  const socket = createSocket(type);
  socket.on('message', (m, r) => socket.send(Buffer.concat([Buffer.from('u:'), m]), r.port, r.address));
  await new Promise<void>((resolve) => socket.bind(0, type === 'udp4' ? '127.0.0.1' : '::1', resolve));
  return { port: socket.address().port, socket };
}

export function closeAll(...servers: (Server | HttpServer | UdpSocket)[]): Promise<void[]> {
  return Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          if ('closeAllConnections' in s) s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
}

export interface CurlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function curl(args: readonly string[]): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile(
      'curl',
      ['-sS', '--max-time', '10', '--noproxy', '', ...args],
      { timeout: 15_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Reads until at least `n` bytes have arrived on `s` (or it ends). */
export function readBytes(s: Socket, n: number, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(
      () => finish(new Error(`timed out reading ${n} bytes (got ${buf.length})`)),
      timeoutMs,
    );
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= n) finish(null);
    };
    const onEnd = (): void => finish(null);
    const finish = (err: Error | null): void => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('end', onEnd);
      s.off('close', onEnd);
      // Paused, so bytes past `n` wait in the buffer for the next reader instead of being lost.
      s.pause();
      if (err !== null) reject(err);
      else {
        const head = buf.subarray(0, n);
        if (buf.length > n) s.unshift(buf.subarray(n));
        resolve(head);
      }
    };
    s.on('data', onData);
    s.once('end', onEnd);
    s.once('close', onEnd);
    s.resume();
  });
}

/** A SOCKS5 client: connects, negotiates (with `auth` when given) and returns the control socket. */
export async function socksHandshake(port: number, auth?: { user: string; pass: string }): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
  s.write(Buffer.from([5, 1, auth === undefined ? 0 : 2]));
  const choice = await readBytes(s, 2);
  if (choice[1] === 0xff) throw new Error('no acceptable method');
  if (auth !== undefined) {
    const u = Buffer.from(auth.user);
    const p = Buffer.from(auth.pass);
    s.write(Buffer.concat([Buffer.from([1, u.length]), u, Buffer.from([p.length]), p]));
    const status = await readBytes(s, 2);
    if (status[1] !== 0) throw new Error(`auth status ${status[1]}`);
  }
  return s;
}

/** Sends a request (§4) and reads the reply: its code and bound address. */
export async function socksRequest(
  s: Socket,
  cmd: number,
  host: string,
  port: number,
): Promise<{ rep: number; host: string; port: number }> {
  s.write(Buffer.concat([Buffer.from([5, cmd, 0]), encodeAddress(host, port)]));
  const head = await readBytes(s, 4);
  const rest = await readBytes(s, head[3] === 1 ? 6 : head[3] === 4 ? 18 : 1 + 2);
  const parsed = decodeAddress(Buffer.concat([head.subarray(3), rest]), 0);
  return { rep: head[1]!, host: parsed?.addr.host ?? '', port: parsed?.addr.port ?? 0 };
}

/** A UDP socket for talking to a SOCKS5 relay, with a queue of received datagrams. */
export async function udpClient(type: 'udp4' | 'udp6' = 'udp4') {
  const socket = createSocket(type);
  const received: Buffer[] = [];
  socket.on('message', (m) => received.push(m));
  await new Promise<void>((resolve) => socket.bind(0, type === 'udp4' ? '127.0.0.1' : '::1', resolve));
  return {
    socket,
    received,
    /** RSV RSV FRAG + address + data. */
    send(relayPort: number, relayHost: string, host: string, port: number, data: string, frag = 0): void {
      const header = Buffer.concat([Buffer.from([0, 0, frag]), encodeAddress(host, port)]);
      socket.send(Buffer.concat([header, Buffer.from(data)]), relayPort, relayHost);
    },
  };
}

export function family(host: string): 'udp4' | 'udp6' {
  return isIP(host) === 6 ? 'udp6' : 'udp4';
}
