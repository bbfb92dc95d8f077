/**
 * wireproxy's health endpoint (`-i ADDR`, its README "Health endpoint"): `GET /metrics` answers the
 * device's UAPI `get` dump with private_key and preshared_key values replaced by REDACTED, and
 * `GET /readyz` answers a JSON object mapping each CheckAlive address to the Unix time (seconds)
 * of its last echo reply, 0 before the first; the status is 200 when every reply is at most
 * CheckAliveInterval + 2 seconds old (the 2 s allow for the ping itself), else 503. With no
 * CheckAlive addresses the object is empty and the status 200. Anything else is 404. The pinger
 * sends one echo request per address every CheckAliveInterval seconds through the tunnel.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { TunnelNetwork } from '../netstack/network-types.js';
import { joinHostPort, type HostPort } from './config-values.js';
import { closeServer, listenTcp } from './listen.js';
import type { ProxyLogger, RunningRoutine } from './types.js';

/** Last echo reply per address, in ms since the epoch (0: none yet). */
export type PingRecord = Map<string, number>;

export interface CheckAliveOptions {
  readonly addresses: readonly string[];
  readonly intervalSeconds: number;
  readonly network: TunnelNetwork;
  readonly log: ProxyLogger;
  readonly now?: () => number;
}

export interface CheckAlive {
  readonly record: PingRecord;
  /** One round of pings (the timer calls it; tests may too). */
  pingAll(): Promise<void>;
  stop(): void;
}

export function startCheckAlive(o: CheckAliveOptions): CheckAlive {
  const now = o.now ?? Date.now;
  const record: PingRecord = new Map(o.addresses.map((a) => [a, 0]));
  const timeoutMs = o.intervalSeconds * 1000;
  const pingAll = async (): Promise<void> => {
    await Promise.all(
      o.addresses.map((a) =>
        o.network.ping(a, timeoutMs).then(
          () => void record.set(a, now()),
          (err: unknown) => o.log.info(`CheckAlive ${a}: ${(err as Error).message}`),
        ),
      ),
    );
  };
  const timer = o.addresses.length === 0 ? null : setInterval(() => void pingAll(), timeoutMs);
  timer?.unref();
  if (o.addresses.length > 0) void pingAll();
  return { record, pingAll, stop: () => timer !== null && clearInterval(timer) };
}

/** The /readyz answer for `record` at time `nowMs`. */
export function readyz(
  record: PingRecord,
  intervalSeconds: number,
  nowMs: number,
): { status: number; body: string } {
  const body: Record<string, number> = {};
  let status = 200;
  for (const [address, lastMs] of record) {
    body[address] = Math.floor(lastMs / 1000);
    if (nowMs - lastMs > (intervalSeconds + 2) * 1000) status = 503;
  }
  return { status, body: `${JSON.stringify(body)}\n` };
}

/** The UAPI dump with secret values hidden. */
export function redactUapi(text: string): string {
  return text.replace(/^(private_key|preshared_key)=.*$/gm, '$1=REDACTED');
}

export interface HealthOptions {
  readonly bind: HostPort;
  readonly uapiGet: () => string;
  readonly checkAlive: CheckAlive;
  readonly intervalSeconds: number;
  readonly log: ProxyLogger;
  readonly now?: () => number;
}

export async function startHealth(o: HealthOptions): Promise<RunningRoutine> {
  const now = o.now ?? Date.now;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/\/+$/, '');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Length': '0' }).end();
    } else if (path === '/readyz') {
      const r = readyz(o.checkAlive.record, o.intervalSeconds, now());
      res.writeHead(r.status, { 'Content-Type': 'application/json' }).end(r.body);
    } else if (path === '/metrics') {
      let text: string;
      try {
        text = redactUapi(o.uapiGet());
      } catch (err) {
        o.log.error(`/metrics: ${(err as Error).message}`);
        res.writeHead(500, { 'Content-Length': '0' }).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end(text);
    } else {
      res.writeHead(404, { 'Content-Length': '0' }).end();
    }
  });
  await listenTcp(server, o.bind);
  return {
    name: `health endpoint on ${joinHostPort(o.bind)}`,
    address: () => {
      const a = server.address();
      return a !== null && typeof a === 'object' ? { address: a.address, port: a.port } : null;
    },
    close: async () => {
      const done = closeServer(server);
      server.closeAllConnections();
      await done;
    },
  };
}
