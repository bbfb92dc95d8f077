/**
 * Client probes for the tunnel peer's servers (tunnel-servers.ts), run as a program inside the
 * namespace our side lives in, each bounded by a deadline and printing one JSON line:
 *
 *     node tunnel-probe.js tcp-echo HOST PORT BYTES   {"ok":true,"bytes":N,"sha256":...}
 *     node tunnel-probe.js udp-echo HOST PORT COUNT   {"ok":true,"answered":K}  (retries lost ones)
 *     node tunnel-probe.js dns SERVER NAME a|aaaa     {"ok":true,"rcode":0,"addresses":[...]}
 *
 * TCP echo (RFC 862) sends a pseudorandom payload and compares what comes back byte for byte; UDP
 * echo sends COUNT distinct datagrams, resending unanswered ones every 200 ms; DNS sends one
 * RFC 1035 query over UDP, resending every 500 ms. `probe()` runs it with `exec` and parses the
 * line. Loaded without a mode (by the test runner) it does nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildQuery, parseAnswers, TYPE_A, TYPE_AAAA } from './tunnel-dns.js';
import { exec } from './netns.js';

const SCRIPT = fileURLToPath(import.meta.url);
const DEADLINE_MS = 15_000;

function tcpEcho(host: string, port: number, bytes: number): Promise<object> {
  const payload = randomBytes(bytes);
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const s = connect({ host, port }, () => s.end(payload));
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
    });
    s.on('error', fail);
    s.on('close', () => {
      const back = Buffer.concat(chunks);
      ok({
        ok: got === bytes && back.equals(payload),
        bytes: got,
        sha256: createHash('sha256').update(back).digest('hex'),
      });
    });
  });
}

function udpExchange(
  host: string,
  port: number,
  requests: readonly Buffer[],
  matches: (req: Buffer, reply: Buffer) => boolean,
  resendMs: number,
): Promise<Buffer[]> {
  const sock = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
  const replies = new Array<Buffer | null>(requests.length).fill(null);
  return new Promise((ok) => {
    const send = (): void => {
      requests.forEach((r, i) => {
        if (replies[i] === null) sock.send(r, port, host);
      });
    };
    const finish = (): void => {
      clearInterval(timer);
      sock.close();
      ok(replies.filter((r): r is Buffer => r !== null));
    };
    sock.on('message', (msg) => {
      const i = requests.findIndex((r, j) => replies[j] === null && matches(r, msg));
      if (i >= 0) replies[i] = msg;
      if (replies.every((r) => r !== null)) finish();
    });
    sock.on('error', () => undefined);
    const timer = setInterval(send, resendMs);
    setTimeout(finish, DEADLINE_MS - 1_000).unref();
    send();
  });
}

async function run(args: readonly string[]): Promise<object> {
  const [mode, host = '', portText = '', extra = ''] = args;
  if (mode === 'tcp-echo') return tcpEcho(host, Number(portText), Number(extra));
  if (mode === 'udp-echo') {
    const reqs = Array.from({ length: Number(extra) }, (_, i) =>
      Buffer.from(`udp-echo ${i} ${randomBytes(8).toString('hex')}`),
    );
    const got = await udpExchange(host, Number(portText), reqs, (a, b) => a.equals(b), 200);
    return { ok: got.length === reqs.length, answered: got.length };
  }
  if (mode === 'dns') {
    const type = extra === 'aaaa' ? TYPE_AAAA : TYPE_A;
    const id = randomBytes(2).readUInt16BE(0);
    const q = buildQuery(id, portText, type);
    const [reply] = await udpExchange(
      host,
      53,
      [q],
      (_, r) => r.length >= 2 && r.readUInt16BE(0) === id,
      500,
    );
    const parsed = reply === undefined ? null : parseAnswers(reply);
    return parsed === null ? { ok: false } : { ok: true, ...parsed };
  }
  throw new Error(`unknown probe ${mode}`);
}

/** Runs the probe in `ns` and returns its JSON result (throws if it printed none). */
export async function probe(ns: string | null, args: readonly string[]): Promise<Record<string, unknown>> {
  const r = await exec(ns, process.execPath, [SCRIPT, 'probe', ...args], { timeoutMs: DEADLINE_MS + 5_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new Error(`probe ${args.join(' ')}: no result (exit ${r.code}): ${r.stderr.trim()}`);
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === SCRIPT && process.argv[2] === 'probe') {
  const deadline = setTimeout(() => {
    process.stdout.write(`${JSON.stringify({ ok: false, error: 'deadline' })}\n`);
    process.exit(1);
  }, DEADLINE_MS);
  run(process.argv.slice(3)).then(
    (result) => {
      clearTimeout(deadline);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    },
    (err: unknown) => {
      clearTimeout(deadline);
      process.stdout.write(`${JSON.stringify({ ok: false, error: String(err) })}\n`);
      process.exitCode = 1;
    },
  );
}
