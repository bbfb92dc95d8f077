/**
 * The [http] routine: an HTTP proxy (RFC 9110 §9.3.6 CONNECT, and absolute-form requests per RFC
 * 9112 §3.2.2) whose outgoing side is the tunnel. CONNECT opens a tunnel TCP connection and joins
 * the two; other methods are forwarded to the origin named in the URI with hop-by-hop headers
 * (RFC 9110 §7.6.1) removed. With Username/Password configured, requests need
 * `Proxy-Authorization: Basic` (RFC 7617) and get 407 with `Proxy-Authenticate` otherwise. With
 * CertFile and KeyFile the listener speaks HTTPS.
 */
import { readFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  request,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TunnelNetwork } from '../netstack/network-types.js';
import { joinHostPort, splitHostPort, type HostPort } from './config-values.js';
import { Credentials } from './credentials.js';
import { closeServer, listenTcp } from './listen.js';
import { joinStreams } from './pipe.js';
import type { ProxyLogger, RunningRoutine } from './types.js';

export interface HttpProxyOptions {
  readonly bind: HostPort;
  readonly username: string;
  readonly password: string;
  readonly certFile: string | null;
  readonly keyFile: string | null;
  readonly network: TunnelNetwork;
  readonly log: ProxyLogger;
  readonly maxConnections?: number;
  readonly connectTimeoutMs?: number;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Status for a failed upstream connect: 504 when it timed out, else 502 (RFC 9110 §15.6). */
function gatewayStatus(err: unknown): number {
  return (err as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? 504 : 502;
}

function endToEnd(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (!HOP_BY_HOP.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

export async function startHttpProxy(o: HttpProxyOptions): Promise<RunningRoutine> {
  const creds = o.username === '' && o.password === '' ? null : new Credentials(o.username, o.password);
  const timeout = o.connectTimeoutMs ?? 30_000;

  const authorized = (req: IncomingMessage): boolean => {
    if (creds === null) return true;
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers['proxy-authorization'] ?? '');
    if (m === null) return false;
    const pair = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = pair.indexOf(':');
    return colon >= 0 && creds.valid(pair.slice(0, colon), pair.slice(colon + 1));
  };

  const resolve = async (host: string): Promise<string> => {
    const answers = await o.network.lookup(host);
    if (answers[0] === undefined)
      throw Object.assign(new Error(`no address for ${host}`), { code: 'ENOTFOUND' });
    return answers[0].address;
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (!authorized(req)) {
      res.writeHead(407, { 'Proxy-Authenticate': 'Basic realm="Proxy"', 'Content-Length': '0' }).end();
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '');
    } catch {
      res.writeHead(400, { 'Content-Length': '0', Connection: 'close' }).end();
      return;
    }
    if (url.protocol !== 'http:') {
      res.writeHead(400, { 'Content-Length': '0', Connection: 'close' }).end();
      return;
    }
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = url.port === '' ? 80 : Number(url.port);
    resolve(host).then(
      (address) => {
        const upstream = request({
          method: req.method,
          path: `${url.pathname}${url.search}`,
          headers: endToEnd(req.rawHeaders),
          setHost: false,
          createConnection: () =>
            o.network.createConnection({ host: address, port, timeout }) as unknown as Socket,
        });
        upstream.on('response', (up) => {
          res.writeHead(up.statusCode ?? 502, up.statusMessage, endToEnd(up.rawHeaders));
          up.pipe(res);
        });
        upstream.on('error', (err) => {
          o.log.info(`HTTP ${req.method ?? ''} ${url.host}: ${err.message}`);
          if (!res.headersSent) res.writeHead(gatewayStatus(err), { 'Content-Length': '0' }).end();
          else res.destroy();
        });
        req.pipe(upstream);
      },
      (err: unknown) => void res.writeHead(gatewayStatus(err), { 'Content-Length': '0' }).end(),
    );
  };

  const tunnels = new Set<Duplex>();
  const onConnect = (req: IncomingMessage, client: Duplex, head: Buffer): void => {
    client.on('error', () => client.destroy());
    // CONNECT sockets leave the HTTP server's bookkeeping, so shutdown needs its own list.
    tunnels.add(client);
    client.once('close', () => tunnels.delete(client));
    if (!authorized(req)) {
      client.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="Proxy"\r\nContent-Length: 0\r\n\r\n',
      );
      return;
    }
    const target = splitHostPort(req.url ?? '');
    if (target === null || target.host === '' || target.port === 0) {
      client.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    resolve(target.host)
      .then((address) => o.network.connect({ host: address, port: target.port, timeout }))
      .then(
        (remote) => {
          if (client.destroyed) return void remote.destroy();
          client.write('HTTP/1.1 200 Connection established\r\n\r\n');
          if (head.length > 0) remote.write(head);
          joinStreams(client, remote);
        },
        (err: unknown) => {
          o.log.info(`HTTP CONNECT ${joinHostPort(target)}: ${(err as Error).message}`);
          const status = gatewayStatus(err);
          client.end(
            `HTTP/1.1 ${status} ${status === 504 ? 'Gateway Timeout' : 'Bad Gateway'}\r\nContent-Length: 0\r\n\r\n`,
          );
        },
      );
  };

  const tls = o.certFile !== null && o.keyFile !== null;
  const server = tls
    ? createHttpsServer({ cert: readFileSync(o.certFile!), key: readFileSync(o.keyFile!) }, onRequest)
    : createHttpServer(onRequest);
  server.on('connect', onConnect);
  server.on('clientError', (_err, socket: Duplex) => socket.destroy());
  server.maxConnections = o.maxConnections ?? 1024;
  await listenTcp(server, o.bind);
  return {
    name: `HTTP${tls ? 'S' : ''} proxy on ${joinHostPort(o.bind)}`,
    address: () => {
      const a = server.address();
      return a !== null && typeof a === 'object' ? { address: a.address, port: a.port } : null;
    },
    close: async () => {
      const done = closeServer(server);
      server.closeAllConnections();
      for (const c of tunnels) c.destroy();
      await done;
    },
  };
}
