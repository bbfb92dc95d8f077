/**
 * SOCKS5 UDP ASSOCIATE (RFC 1928 §4 and §7), which wireproxy lacks: a UDP relay socket on the
 * address the client reached us on; each datagram from the client carries RSV FRAG ATYP DST.ADDR
 * DST.PORT before its data and goes out through the tunnel (network.createSocket), and each answer
 * comes back with the same header naming its source. Fragments (FRAG ≠ 0) are dropped, as §7
 * allows for an implementation without reassembly. Only the client's address may use the relay
 * (its port is the one the request named, or the first one seen); the association ends with the
 * TCP control connection.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import type { Socket } from 'node:net';
import { isIP } from 'node:net';
import type { TunnelNetwork, TunnelUdpSocket } from '../netstack/network-types.js';
import { plainAddress } from './listen.js';
import type { ProxyLogger } from './types.js';
import {
  ATYP_DOMAINNAME,
  decodeAddress,
  encodeAddress,
  encodeReply,
  REP_GENERAL_FAILURE,
  REP_SUCCEEDED,
  type SocksAddress,
} from './socks5-wire.js';

export interface UdpRelayCounters {
  /** Datagrams dropped: from strangers, malformed, fragmented, unresolvable, or failed sends. */
  dropped: number;
  forwarded: number;
  returned: number;
  /** Associations now open. */
  active: number;
}

function bindRelay(localAddress: string): Promise<UdpSocket> {
  const socket = createSocket(localAddress.includes(':') ? 'udp6' : 'udp4');
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, localAddress, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

/** Runs one association on the control connection `control`, whose request was `request`. */
export async function udpAssociate(
  control: Socket,
  request: SocksAddress,
  network: TunnelNetwork,
  log: ProxyLogger,
  counters: UdpRelayCounters,
): Promise<void> {
  let relay: UdpSocket;
  try {
    relay = await bindRelay(control.localAddress ?? '0.0.0.0');
  } catch (err) {
    log.error(`SOCKS5 UDP relay: ${(err as Error).message}`);
    control.end(encodeReply(REP_GENERAL_FAILURE));
    return;
  }
  const clientIp = plainAddress(control.remoteAddress);
  // §4: the request names the client's UDP source when it knows it; zeros mean "learn it".
  let clientPort = request.port !== 0 && request.atyp !== ATYP_DOMAINNAME ? request.port : 0;
  const tunnels = new Map<'udp4' | 'udp6', TunnelUdpSocket>();
  let closed = false;

  const toClient = (msg: Buffer, from: { address: string; port: number }): void => {
    if (closed || clientPort === 0) return void counters.dropped++;
    const header = Buffer.concat([
      Buffer.from([0, 0, 0]),
      encodeAddress(plainAddress(from.address), from.port),
    ]);
    counters.returned++;
    relay.send(Buffer.concat([header, msg]), clientPort, control.remoteAddress ?? clientIp);
  };
  const tunnelFor = (type: 'udp4' | 'udp6'): TunnelUdpSocket => {
    let s = tunnels.get(type);
    if (s === undefined) {
      s = network.createSocket(type, (msg, rinfo) => toClient(msg, rinfo));
      s.on('error', () => counters.dropped++);
      s.bind(0);
      tunnels.set(type, s);
    }
    return s;
  };

  relay.on('message', (msg, rinfo) => {
    if (plainAddress(rinfo.address) !== clientIp || (clientPort !== 0 && rinfo.port !== clientPort)) {
      return void counters.dropped++;
    }
    if (msg.length < 4 || msg[2] !== 0) return void counters.dropped++;
    const parsed = decodeAddress(msg, 3);
    if (parsed === null) return void counters.dropped++;
    clientPort = rinfo.port;
    const data = msg.subarray(parsed.end);
    const { host, port } = parsed.addr;
    const send = (address: string): void => {
      if (closed) return;
      tunnelFor(isIP(address) === 6 ? 'udp6' : 'udp4').send(data, port, address, (err) => {
        if (err !== null) counters.dropped++;
      });
      counters.forwarded++;
    };
    if (isIP(host) !== 0) send(host);
    else
      network.lookup(host).then(
        (answers) => (answers[0] === undefined ? counters.dropped++ : send(answers[0].address)),
        () => counters.dropped++,
      );
  });
  relay.on('error', () => counters.dropped++);

  counters.active++;
  const end = (): void => {
    if (closed) return;
    closed = true;
    counters.active--;
    relay.close();
    for (const s of tunnels.values()) s.close();
  };
  control.on('close', end);
  control.on('error', end);
  // Nothing more is expected on the control connection; drain whatever comes.
  control.resume();
  const bound = relay.address();
  control.write(encodeReply(REP_SUCCEEDED, plainAddress(bound.address), bound.port));
}
