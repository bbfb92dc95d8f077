/**
 * A TunnelNetwork (src/netstack/network-types.ts) over the host's own network: node:net for TCP,
 * node:dgram for UDP, dns.lookup for names and the `ping` command for echo requests. The proxy's
 * tests run every routine over it with real clients (curl, a SOCKS5 UDP client), so what they
 * check is the proxy, independent of the userspace stack. Tests point it only at loopback.
 * `lookupOverrides` maps names to addresses (so hostname tests need no resolver) and `pingable`
 * limits which addresses answer, to make /readyz go stale on demand.
 */
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { connect as netConnect, createConnection, createServer, isIP } from 'node:net';
import type {
  TunnelConnectOptions,
  TunnelLookupResult,
  TunnelNetwork,
  TunnelServer,
  TunnelSocket,
  TunnelUdpSocket,
} from '../../src/netstack/network-types.js';

export interface HostNetworkOptions {
  readonly lookupOverrides?: Readonly<Record<string, string>>;
  /** Return false to make ping() fail for an address (default: everything is pinged for real). */
  readonly pingable?: (address: string) => boolean;
}

export interface HostNetwork extends TunnelNetwork {
  pings: number;
  lookups: string[];
}

function codedError(code: string, message: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(message);
  err.code = code;
  return err;
}

export function hostNetwork(options: HostNetworkOptions = {}): HostNetwork {
  const overrides = options.lookupOverrides ?? {};
  const net: HostNetwork = {
    pings: 0,
    lookups: [],
    connect(o: TunnelConnectOptions): Promise<TunnelSocket> {
      return new Promise((resolve, reject) => {
        const s = netConnect({ host: o.host, port: o.port, localAddress: o.localAddress, family: o.family });
        const timer =
          o.timeout === undefined
            ? undefined
            : setTimeout(
                () => s.destroy(codedError('ETIMEDOUT', `connect ETIMEDOUT ${o.host}:${o.port}`)),
                o.timeout,
              );
        s.once('connect', () => {
          clearTimeout(timer);
          s.removeAllListeners('error');
          resolve(s as unknown as TunnelSocket);
        });
        s.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
    },
    createConnection(o: TunnelConnectOptions, onConnect?: () => void): TunnelSocket {
      return createConnection(
        { host: o.host, port: o.port, family: o.family },
        onConnect,
      ) as unknown as TunnelSocket;
    },
    createServer(onConnection?: (socket: TunnelSocket) => void): TunnelServer {
      return createServer((s) => onConnection?.(s as unknown as TunnelSocket)) as unknown as TunnelServer;
    },
    createSocket(type, onMessage): TunnelUdpSocket {
      const s = createSocket(type);
      if (onMessage !== undefined) s.on('message', (msg, rinfo) => onMessage(msg, rinfo as never));
      return s as unknown as TunnelUdpSocket;
    },
    async lookup(hostname: string, family: 0 | 4 | 6 = 0): Promise<TunnelLookupResult[]> {
      net.lookups.push(hostname);
      const fixed = overrides[hostname];
      if (fixed !== undefined) return [{ address: fixed, family: isIP(fixed) === 6 ? 6 : 4 }];
      if (hostname.endsWith('.invalid')) throw codedError('ENOTFOUND', `getaddrinfo ENOTFOUND ${hostname}`);
      const all = await lookup(hostname, { all: true, family });
      return all.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
    },
    ping(address: string, timeoutMs = 2000): Promise<number> {
      net.pings++;
      if (options.pingable !== undefined && !options.pingable(address)) {
        return Promise.reject(codedError('ETIMEDOUT', `no echo reply from ${address}`));
      }
      const wait = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
      return new Promise((resolve, reject) => {
        execFile(
          'ping',
          ['-n', '-c', '1', '-W', wait, address],
          { timeout: timeoutMs + 1000 },
          (err, stdout) => {
            const m = /time[=<]([\d.]+)\s*ms/.exec(stdout);
            if (err !== null || m === null) reject(codedError('ETIMEDOUT', `no echo reply from ${address}`));
            else resolve(Number(m[1]));
          },
        );
      });
    },
  };
  return net;
}
