/**
 * The demo's traffic through the tunnel, runnable inside a network namespace with nothing but
 * Node: `serve PORT` answers UDP echoes and receives one TCP stream, replying with its SHA-256;
 * `client HOST PORT BYTES` measures UDP echo round trips (a ping that needs no `ping` binary) and
 * sends BYTES of random data over TCP, printing one JSON line with the results.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect, createServer } from 'node:net';

function serve(port: number): void {
  const udp = createSocket('udp4');
  udp.on('message', (msg, rinfo) => udp.send(msg, rinfo.port, rinfo.address));
  udp.bind(port, '0.0.0.0');
  const tcp = createServer((sock) => {
    const hash = createHash('sha256');
    let bytes = 0;
    sock.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    sock.on('end', () => sock.end(JSON.stringify({ bytes, sha256: hash.digest('hex') })));
  });
  tcp.listen(port, '0.0.0.0', () => process.stdout.write('ready\n'));
}

async function pingUdp(host: string, port: number, count: number): Promise<number[]> {
  const udp = createSocket('udp4');
  const rtts: number[] = [];
  for (let i = 0; i < count; i++) {
    const sent = performance.now();
    const got = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 2000);
      udp.once('message', () => {
        clearTimeout(timer);
        resolve(true);
      });
      udp.send(Buffer.from(`ping ${i}`), port, host);
    });
    if (got) rtts.push(performance.now() - sent);
  }
  udp.close();
  return rtts;
}

function sendTcp(
  host: string,
  port: number,
  total: number,
): Promise<{ ok: boolean; ms: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    const started = performance.now();
    const sock = connect(port, host);
    let reply = '';
    sock.setTimeout(30_000, () => sock.destroy(new Error('TCP transfer timed out')));
    sock.on('connect', () => {
      let left = total;
      const pump = (): void => {
        while (left > 0) {
          const chunk = randomBytes(Math.min(65536, left));
          left -= chunk.length;
          hash.update(chunk);
          if (!sock.write(chunk)) return void sock.once('drain', pump);
        }
        sock.end();
      };
      pump();
    });
    sock.on('data', (d: Buffer) => (reply += d.toString()));
    sock.on('end', () => {
      const r = JSON.parse(reply) as { bytes: number; sha256: string };
      resolve({
        ok: r.bytes === total && r.sha256 === hash.digest('hex'),
        ms: performance.now() - started,
        bytes: total,
      });
    });
    sock.on('error', reject);
  });
}

async function client(host: string, port: number, bytes: number): Promise<void> {
  const rtts = await pingUdp(host, port, 5);
  const tcp = await sendTcp(host, port, bytes);
  process.stdout.write(JSON.stringify({ rtts, tcp }) + '\n');
}

const [mode, a, b, c] = process.argv.slice(2);
if (mode === 'serve') serve(Number(a));
else if (mode === 'client') {
  client(a!, Number(b), Number(c)).catch((err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  });
}
