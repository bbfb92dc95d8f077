/**
 * The real servers behind the tunnel peer fixture (tunnel-peer.ts), one Node program run inside the
 * peer's namespace on its inner addresses: HTTP/1.1 (RFC 9112) with `GET /bytes/N` (N bytes of a
 * deterministic pseudorandom pattern, streamed with backpressure; its SHA-256 in the
 * `x-content-sha256` header when N ≤ 64 MiB, and always at `GET /sha256/N`) and `POST` echoing the
 * body (the same over HTTPS, RFC 9110 §4.2.2, when given a certificate); a TCP echo (RFC 862)
 * that also stands in for an sshd-like STDIO target; a UDP echo (RFC 862); and DNS (tunnel-dns.ts)
 * over UDP and TCP.
 *
 *     node tunnel-servers.js serve --addr A [--addr B …] [--http 80] [--echo 7] [--udp-echo 7]
 *         [--dns 53] [--name NAME=ADDR,ADDR …] [--cert PEM --key PEM [--https 443]]
 *
 * It prints {"event":"ready",...} once every socket listens, and exits on SIGTERM/SIGINT. Loaded
 * without `serve` (the test runner imports helpers too) it does nothing. The pattern functions are
 * exported so tests compute the expected digest without asking the server.
 */
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { createServer as createTcpServer, isIPv6, type Server } from 'node:net';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { answer, parseQuery, type DnsTable } from './tunnel-dns.js';

const SCRIPT = fileURLToPath(import.meta.url);
export const TUNNEL_SERVERS_SCRIPT = SCRIPT;

/** The pattern repeats every PATTERN_BLOCK bytes: SHA-256 in counter mode over a fixed seed. */
export const PATTERN_BLOCK = 1024 * 1024;
/** Above this, /bytes/N sends no digest header (computing it first would delay the response). */
export const HEADER_DIGEST_LIMIT = 64 * 1024 * 1024;

let block: Buffer | null = null;

function patternBlock(): Buffer {
  if (block !== null) return block;
  const out = Buffer.alloc(PATTERN_BLOCK);
  for (let i = 0; i * 32 < PATTERN_BLOCK; i++) {
    createHash('sha256')
      .update(`wgts-tunnel-peer-${i}`)
      .digest()
      .copy(out, i * 32);
  }
  block = out;
  return out;
}

/** The pattern's bytes [offset, offset + length) as one buffer (length ≤ PATTERN_BLOCK). */
export function patternSlice(offset: number, length: number): Buffer {
  const b = patternBlock();
  const start = offset % PATTERN_BLOCK;
  if (start + length <= PATTERN_BLOCK) return b.subarray(start, start + length);
  return Buffer.concat([b.subarray(start), b.subarray(0, length - (PATTERN_BLOCK - start))]);
}

/** The first `n` bytes of the pattern as a stream of ≤ 64 KiB chunks. */
export function patternStream(n: number): Readable {
  let sent = 0;
  return new Readable({
    highWaterMark: 256 * 1024,
    read() {
      const len = Math.min(64 * 1024, n - sent);
      if (len <= 0) {
        this.push(null);
        return;
      }
      this.push(patternSlice(sent, len));
      sent += len;
    },
  });
}

const digests = new Map<number, string>();

/** Hex SHA-256 of the first `n` bytes of the pattern (cached). */
export function patternSha256(n: number): string {
  const cached = digests.get(n);
  if (cached !== undefined) return cached;
  const h = createHash('sha256');
  const b = patternBlock();
  for (let at = 0; at < n; at += PATTERN_BLOCK) h.update(b.subarray(0, Math.min(PATTERN_BLOCK, n - at)));
  const hex = h.digest('hex');
  digests.set(n, hex);
  return hex;
}

// ---------------------------------------------------------------------------------------------
// The program

function values(args: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length - 1; i++) if (args[i] === `--${name}`) out.push(args[i + 1]!);
  return out;
}

function port(args: readonly string[], name: string, fallback: number): number {
  const v = values(args, name)[0];
  return v === undefined ? fallback : Number(v);
}

function listen(server: Server, host: string, p: number): Promise<void> {
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen({ host, port: p, ipv6Only: isIPv6(host) }, () => {
      server.off('error', fail);
      ok();
    });
  });
}

/** One handler for HTTP and HTTPS. */
function handle(req: IncomingMessage, res: ServerResponse): void {
  {
    const url = req.url ?? '/';
    const bytes = /^\/bytes\/(\d+)$/.exec(url);
    const sha = /^\/sha256\/(\d+)$/.exec(url);
    if (req.method === 'POST') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      req.pipe(res);
    } else if (bytes !== null) {
      const n = Number(bytes[1]);
      const headers: Record<string, string> = {
        'content-type': 'application/octet-stream',
        'content-length': String(n),
      };
      if (n <= HEADER_DIGEST_LIMIT) headers['x-content-sha256'] = patternSha256(n);
      res.writeHead(200, headers);
      patternStream(n).pipe(res);
    } else if (sha !== null) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`${patternSha256(Number(sha[1]))}\n`);
    } else if (url === '/') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('tunnel peer\n');
    } else {
      res.writeHead(404);
      res.end();
    }
  }
}

function tcpDns(table: DnsTable): Server {
  return createTcpServer((socket) => {
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        const q = parseQuery(msg);
        if (q === null) continue;
        const a = answer(msg, q, table);
        const len = Buffer.alloc(2);
        len.writeUInt16BE(a.length);
        socket.write(Buffer.concat([len, a]));
      }
    });
    socket.on('error', () => socket.destroy());
  });
}

async function serve(args: readonly string[]): Promise<void> {
  const addrs = values(args, 'addr');
  if (addrs.length === 0) throw new Error('missing --addr');
  const table = new Map<string, string[]>();
  for (const spec of values(args, 'name')) {
    const [name = '', list = ''] = spec.split('=');
    table.set(
      name.toLowerCase(),
      list.split(',').filter((a) => a !== ''),
    );
  }
  const ports = {
    http: port(args, 'http', 80),
    echo: port(args, 'echo', 7),
    udpEcho: port(args, 'udp-echo', 7),
    dns: port(args, 'dns', 53),
    https: port(args, 'https', 443),
  };
  const [cert] = values(args, 'cert');
  const [key] = values(args, 'key');
  const tls =
    cert === undefined || key === undefined ? null : { cert: readFileSync(cert), key: readFileSync(key) };
  const dropped = { dns: 0 };
  for (const host of addrs) {
    await listen(createHttpServer(handle), host, ports.http);
    if (tls !== null) await listen(createHttpsServer(tls, handle), host, ports.https);
    const echo = createTcpServer((s) => {
      s.on('error', () => s.destroy());
      s.pipe(s);
    });
    await listen(echo, host, ports.echo);
    await listen(tcpDns(table), host, ports.dns);
    const type = isIPv6(host) ? 'udp6' : 'udp4';
    for (const [p, handler] of [
      [ports.udpEcho, (msg: Buffer): Buffer | null => msg],
      [
        ports.dns,
        (msg: Buffer): Buffer | null => {
          const q = parseQuery(msg);
          if (q === null) dropped.dns += 1;
          return q === null ? null : answer(msg, q, table);
        },
      ],
    ] as const) {
      const sock = createSocket({ type, ipv6Only: type === 'udp6' });
      sock.on('message', (msg, rinfo) => {
        const reply = handler(msg);
        if (reply !== null) sock.send(reply, rinfo.port, rinfo.address);
      });
      sock.on('error', () => undefined); // ICMP port unreachable from a client gone: not fatal
      await new Promise<void>((ok) => sock.bind({ address: host, port: p }, ok));
    }
  }
  process.stdout.write(`${JSON.stringify({ event: 'ready', addrs, ...ports })}\n`);
  const stop = (): void => {
    process.stdout.write(`${JSON.stringify({ event: 'stopped', dropped })}\n`);
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === SCRIPT && process.argv[2] === 'serve') {
  serve(process.argv.slice(3)).catch((err: unknown) => {
    process.stderr.write(`tunnel-servers: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  });
}
