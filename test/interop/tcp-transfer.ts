/**
 * A TCP bulk transfer with an end-to-end checksum, for pushing data through a tunnel.
 *
 * As a program (run inside a namespace with `ip netns exec`):
 *
 *     node tcp-transfer.js server --host ADDR --port P [--timeout-ms T]
 *         accepts one connection, hashes everything until the client's FIN, answers with and prints
 *         {"event":"done","bytes":N,"sha256":H}, exits 0.
 *     node tcp-transfer.js client --host ADDR --port P --bytes N [--timeout-ms T]
 *         sends N random bytes, half-closes, reads the server's summary, prints
 *         {"event":"done","sent":{bytes,sha256},"received":{bytes,sha256},"ms":M}, exits 0.
 *
 * Both give up (exit 3) after the timeout (default 60 s). Run without a mode by the test runner
 * (which loads every .js under dist/test/), it does nothing.
 *
 * `tcpTransfer()` runs the pair between two namespaces and returns both ends' byte counts and hashes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exec, spawn } from '../helpers/netns.js';

const SCRIPT = fileURLToPath(import.meta.url);
const CHUNK = 64 * 1024;

interface Summary {
  readonly bytes: number;
  readonly sha256: string;
}

function option(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

function required(args: readonly string[], name: string): string {
  const value = option(args, name);
  if (value === undefined) throw new Error(`missing --${name}`);
  return value;
}

async function runServer(host: string, port: number): Promise<void> {
  const server = createServer({ allowHalfOpen: true });
  server.listen({ host, port });
  await once(server, 'listening');
  process.stdout.write(`${JSON.stringify({ event: 'listening', host, port })}\n`);
  const [socket] = (await once(server, 'connection')) as [Socket];
  server.close();
  const hash = createHash('sha256');
  let bytes = 0;
  socket.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    hash.update(chunk);
  });
  await once(socket, 'end');
  const summary: Summary = { bytes, sha256: hash.digest('hex') };
  socket.end(`${JSON.stringify(summary)}\n`);
  await once(socket, 'close');
  process.stdout.write(`${JSON.stringify({ event: 'done', ...summary })}\n`);
}

async function runClient(host: string, port: number, total: number): Promise<void> {
  const started = performance.now();
  const socket = connect({ host, port });
  await once(socket, 'connect');
  let reply = '';
  socket.setEncoding('utf8');
  socket.on('data', (s: string) => {
    reply += s;
  });
  const closed = once(socket, 'close');
  const hash = createHash('sha256');
  let left = total;
  while (left > 0) {
    const chunk = randomBytes(Math.min(CHUNK, left));
    hash.update(chunk);
    left -= chunk.length;
    if (!socket.write(chunk)) await once(socket, 'drain');
  }
  socket.end();
  await closed;
  const ms = performance.now() - started;
  const received = JSON.parse(reply.trim()) as Summary;
  const sent: Summary = { bytes: total, sha256: hash.digest('hex') };
  process.stdout.write(`${JSON.stringify({ event: 'done', sent, received, ms })}\n`);
}

async function main(args: readonly string[]): Promise<void> {
  const mode = args[0];
  if (mode === undefined && process.env['NODE_TEST_CONTEXT'] !== undefined) return;
  if (mode !== 'server' && mode !== 'client') {
    process.stderr.write(
      'usage: tcp-transfer.js server|client --host ADDR --port P [--bytes N] [--timeout-ms T]\n',
    );
    process.exit(2);
  }
  const timeoutMs = Number(option(args, 'timeout-ms') ?? 60_000);
  setTimeout(() => {
    process.stderr.write(`tcp-transfer ${mode}: timed out after ${timeoutMs} ms\n`);
    process.exit(3);
  }, timeoutMs).unref();
  const host = required(args, 'host');
  const port = Number(required(args, 'port'));
  if (mode === 'server') await runServer(host, port);
  else await runClient(host, port, Number(required(args, 'bytes')));
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === SCRIPT) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`tcp-transfer: ${(err as Error).message}\n`);
    process.exit(1);
  });
}

// ---------------------------------------------------------------------------------------------

export interface TcpTransferOptions {
  /** Namespace of the receiving end, which listens on `host`. */
  readonly serverNs: string;
  /** Namespace of the sending end. */
  readonly clientNs: string;
  /** The server's address (v4 or v6), bound by the server and dialled by the client. */
  readonly host: string;
  /** Default 5001. */
  readonly port?: number;
  readonly bytes: number;
  /** Bound on the whole transfer; default 60 s. */
  readonly timeoutMs?: number;
}

export interface TcpTransferResult {
  /** What the client sent. */
  readonly sent: Summary;
  /** What the server reported in its own output. */
  readonly received: Summary;
  /** What the server told the client over the connection (must equal `received`). */
  readonly echoed: Summary;
  readonly ms: number;
  readonly mbitPerS: number;
}

/** Runs the server in `serverNs`, the client in `clientNs`; throws if either fails or times out. */
export async function tcpTransfer(o: TcpTransferOptions): Promise<TcpTransferResult> {
  const port = String(o.port ?? 5001);
  const timeoutMs = o.timeoutMs ?? 60_000;
  const server = spawn(o.serverNs, process.execPath, [
    SCRIPT,
    'server',
    '--host',
    o.host,
    '--port',
    port,
    '--timeout-ms',
    String(timeoutMs + 5_000),
  ]);
  try {
    await server.waitForOutput(/"event":"listening"/, 5_000);
    const client = await exec(
      o.clientNs,
      process.execPath,
      [
        SCRIPT,
        'client',
        '--host',
        o.host,
        '--port',
        port,
        '--bytes',
        String(o.bytes),
        '--timeout-ms',
        String(timeoutMs),
      ],
      { timeoutMs: timeoutMs + 2_000 },
    );
    if (client.code !== 0) {
      throw new Error(`client exited ${client.code ?? client.signal}: ${client.stderr.trim()}`);
    }
    const done = JSON.parse(client.stdout.trim().split('\n').pop()!) as {
      sent: Summary;
      received: Summary;
      ms: number;
    };
    const serverDone = await server.waitForOutput(/\{"event":"done".*\}/, 5_000);
    const received = JSON.parse(serverDone[0]) as Summary;
    return {
      sent: done.sent,
      received: { bytes: received.bytes, sha256: received.sha256 },
      echoed: done.received,
      ms: done.ms,
      mbitPerS: (done.sent.bytes * 8) / (done.ms * 1000),
    };
  } catch (err) {
    throw new Error(
      `tcp transfer to ${o.host}: ${(err as Error).message}\nserver: ${server.output().trim()}`,
    );
  } finally {
    await server.stop();
  }
}
