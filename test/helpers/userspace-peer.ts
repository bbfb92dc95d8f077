/**
 * Our side of the rootless end-to-end tests: the tunnel peer fixture (tunnel-peer.ts, a real
 * wireguard-go peer with servers) in its namespace, and in THIS process a userspace WireGuard
 * (`WireGuard.open({ backend: 'userspace' })`, the stack of src/netstack: RFC 791/8200 IP, RFC 768
 * UDP, RFC 9293 TCP) configured from the fixture's wg-quick text. Plus small clients that use the
 * TunnelNetwork the way a program would: http.request with `createConnection`, a TCP echo round
 * trip, a UDP echo round trip. Every wait is bounded.
 */
import http from 'node:http';
import { createHash } from 'node:crypto';
import type { StackDriver } from '../../src/netstack/driver.js';
import type { TcpLayer } from '../../src/netstack/tcp/layer.js';
import type { Udp } from '../../src/netstack/udp.js';
import { WireGuard } from '../../src/embed/wireguard.js';
import { buildUserspaceStack, type UserspaceStackFactory } from '../../src/embed/userspace-stack.js';
import type { TunnelNetwork } from '../../src/netstack/network-types.js';
import { isRoot } from './netns.js';
import { genKeyPair, implUnavailable } from './wg-peer.js';
import { startTunnelPeer, type TunnelPeer, type TunnelPeerOptions } from './tunnel-peer.js';

/** Why these tests cannot run here, or false. */
export function userspaceSkipReason(): string | false {
  if (!isRoot()) return 'needs root (the peer lives in a network namespace)';
  if (implUnavailable('wireguard-go-anchor') !== null && implUnavailable('wireguard-go') !== null) {
    return 'no wireguard-go (anchor or Debian)';
  }
  return false;
}

export interface UserspaceSide {
  readonly peer: TunnelPeer;
  readonly wg: WireGuard;
  readonly net: TunnelNetwork;
  close(): Promise<void>;
}

/** The fixture in the root namespace and a userspace WireGuard in this process talking to it. */
export async function openUserspace(
  opts: Omit<TunnelPeerOptions, 'ourPublicKey' | 'hostNs'> = {},
  stack?: UserspaceStackFactory,
): Promise<UserspaceSide> {
  const keys = await genKeyPair();
  const peer = await startTunnelPeer({ ...opts, ourPublicKey: keys.publicKey });
  try {
    const wg = await WireGuard.open({
      config: peer.wgQuickConfig(keys.privateKey),
      backend: 'userspace',
      ...(stack === undefined ? {} : { stack }),
    });
    return {
      peer,
      wg,
      net: wg.network,
      close: async () => {
        await wg.close();
        await peer.close();
      },
    };
  } catch (err) {
    await peer.close();
    throw err;
  }
}

export interface Fetched {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly length: number;
  readonly sha256: string;
  readonly body: Buffer | null;
}

/** One HTTP request over the tunnel (no pooling: each request has its own connection). */
export function tunnelHttp(
  net: TunnelNetwork,
  host: string,
  port: number,
  path: string,
  opts: { method?: string; body?: Buffer; keepBody?: boolean; timeoutMs?: number } = {},
): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host,
        port,
        path,
        method: opts.method ?? 'GET',
        createConnection: (o: http.ClientRequestArgs) =>
          net.createConnection({ host: String(o.host ?? host), port: Number(o.port ?? port) }) as never,
        headers: opts.body === undefined ? {} : { 'content-length': String(opts.body.length) },
      },
      (res) => {
        const hash = createHash('sha256');
        const chunks: Buffer[] = [];
        let length = 0;
        res.on('data', (c: Buffer) => {
          hash.update(c);
          length += c.length;
          if (opts.keepBody === true) chunks.push(c);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            length,
            sha256: hash.digest('hex'),
            body: opts.keepBody === true ? Buffer.concat(chunks) : null,
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`HTTP ${path} timed out`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Sends `data` to a TCP echo server over the tunnel and resolves with what came back. */
export async function tcpEcho(
  net: TunnelNetwork,
  host: string,
  port: number,
  data: Buffer,
  timeoutMs = 20_000,
): Promise<Buffer> {
  const sock = await net.connect({ host, port, timeout: timeoutMs });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`TCP echo: ${got}/${data.length} bytes after ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= data.length) sock.end();
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    sock.write(data);
  });
}

/** One UDP datagram to an echo server over the tunnel, retried (UDP may be lost), echo awaited. */
export async function udpEcho(
  net: TunnelNetwork,
  family: 'udp4' | 'udp6',
  host: string,
  port: number,
  payload: Buffer,
  timeoutMs = 10_000,
): Promise<Buffer> {
  const sock = net.createSocket(family);
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const resend = setInterval(() => sock.send(payload, port, host), 500);
      const deadline = setTimeout(() => {
        clearInterval(resend);
        reject(new Error('UDP echo timed out'));
      }, timeoutMs);
      sock.on('message', (msg: Buffer) => {
        if (!msg.equals(payload)) return;
        clearTimeout(deadline);
        clearInterval(resend);
        resolve(msg);
      });
      sock.on('error', (e: Error) => {
        clearTimeout(deadline);
        clearInterval(resend);
        reject(e);
      });
      sock.send(payload, port, host);
    });
  } finally {
    sock.close();
  }
}

/** The parts of a userspace stack a leak check looks at. */
export interface StackInsides {
  readonly tcp: TcpLayer;
  readonly udp: Udp;
  readonly driver: StackDriver;
}

/**
 * The default stack (src/embed/userspace-stack.ts) as a factory that also hands the test its TCP
 * layer, UDP layer and driver, to observe connection tables and refs.
 */
export function observableStack(): { factory: UserspaceStackFactory; insides: () => StackInsides } {
  let insides: StackInsides | null = null;
  const factory: UserspaceStackFactory = (options) => {
    const built = buildUserspaceStack(options);
    insides = { tcp: built.tcp, udp: built.netstack.udp, driver: built.driver };
    return built;
  };
  return {
    factory,
    insides: () => {
      if (insides === null) throw new Error('the stack was not built yet');
      return insides;
    },
  };
}
