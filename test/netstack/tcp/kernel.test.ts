/**
 * The userspace TCP (RFC 9293, RFC 7323, RFC 2018) against the Linux kernel's TCP, through the
 * NetStack on a real TUN (test/helpers/tun-stack.ts): the stack connects to a kernel listener in
 * the namespace and accepts a kernel client, both families; data both ways, SHA-256 checked on
 * both ends; window scaling in effect. Needs root (namespaces, /dev/net/tun); skipped otherwise.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import type { Tcb } from '../../../src/netstack/tcp/connection.js';
import { TcpLayer } from '../../../src/netstack/tcp/index.js';
import type { IpSender, TcpConnection, TcpErrorCode } from '../../../src/netstack/types.js';
import { parseSegment, Segment } from '../../../src/netstack/tcp/segment.js';
import {
  cleanup,
  exec,
  isRoot,
  prerequisitesMissing,
  spawn,
  waitFor,
  type TrackedProcess,
} from '../../helpers/netns.js';
import { Prng } from '../../helpers/fuzz.js';
import { createTunStack, type TunStack } from '../../helpers/tun-stack.js';

const skip = !isRoot() ? 'needs root' : prerequisitesMissing(['ip']);

/**
 * Kernel server on port 7100 (both families): reads to the end, then answers one JSON line
 * (the SHA-256 and length of what it read, and of what follows) and 2 MiB of random bytes.
 */
const SERVER = `
const net = require('node:net'); const crypto = require('node:crypto');
const [v4, v6] = process.argv.slice(1); let up = 0;
for (const a of [v4, v6]) net.createServer((s) => {
  const h = crypto.createHash('sha256'); let n = 0;
  s.on('data', (d) => { h.update(d); n += d.length; });
  s.on('end', () => {
    const reply = crypto.randomBytes(2 << 20);
    const sha2 = crypto.createHash('sha256').update(reply).digest('hex');
    s.write(JSON.stringify({ sha: h.digest('hex'), n, sha2 }) + '\\n');
    s.end(reply);
  });
}).listen(7100, a, () => { if (++up === 2) console.log('ready'); });
`;

/** Kernel client: sends 3 MiB to the stack, half-closes, reads everything back; prints hashes. */
const CLIENT = `
const net = require('node:net'); const crypto = require('node:crypto');
const [host] = process.argv.slice(1);
const data = crypto.randomBytes(3 << 20);
const s = net.connect(7200, host);
const h = crypto.createHash('sha256'); let n = 0;
s.on('data', (d) => { h.update(d); n += d.length; });
s.on('end', () => console.log(JSON.stringify({
  sent: crypto.createHash('sha256').update(data).digest('hex'), got: h.digest('hex'), n })));
s.on('error', (e) => { console.error(e.message); process.exit(1); });
s.end(data);
`;

const impair = { on: false, loss: 0.03, sacksSent: 0, sacksReceived: 0 };
const lossRng = new Prng(1303);

/** SACK blocks in a TCP segment (0 when none or malformed). */
function sackCount(segment: Uint8Array): number {
  const seg = new Segment();
  return parseSegment(segment, seg) === null ? seg.sackCount : 0;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A stack-side endpoint: collects what arrives, writes with backpressure, then shuts down. */
class Endpoint {
  readonly chunks: Buffer[] = [];
  ended = false;
  closed: TcpErrorCode | null | undefined = undefined;
  established = false;
  private out: Uint8Array = new Uint8Array(0);
  private off = 0;
  private finish = false;
  constructor(public conn: TcpConnection | null = null) {}
  readonly events = {
    onEstablished: (): void => {
      this.established = true;
      this.pump();
    },
    onData: (d: Uint8Array): void => {
      this.chunks.push(Buffer.from(d));
      this.conn!.consume(d.length);
    },
    onEnd: (): void => {
      this.ended = true;
    },
    onDrain: (): void => this.pump(),
    onClose: (e: TcpErrorCode | null): void => {
      this.closed = e;
    },
  };
  send(data: Uint8Array): void {
    this.out = data;
    this.off = 0;
    this.finish = true;
    this.pump();
  }
  private pump(): void {
    if (this.conn === null) return;
    while (this.off < this.out.length) {
      const n = this.conn.write(this.out.subarray(this.off, this.off + 65536));
      if (n === 0) return;
      this.off += n;
    }
    if (this.finish) {
      this.finish = false;
      this.conn.shutdown();
    }
  }
  received(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

describe('userspace TCP against the kernel', { skip }, () => {
  let t: TunStack;
  let tcp: TcpLayer;
  let server: TrackedProcess;
  // The fixture re-arms its poll timer after each input batch; wakes from user calls (connect,
  // write) arm this one, so TCP's timers also run when nothing arrives.
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const arm = (): void => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    const d = tcp.nextDeadline();
    if (stopped || d === Infinity) return;
    timer = setTimeout(
      () => {
        timer = null;
        t.stack.poll();
        arm();
      },
      Math.max(0, Math.ceil(d - performance.now())),
    );
  };
  before(async () => {
    t = await createTunStack({
      configure: (stack) => {
        // Optional loss in both directions, between the IP layer and TCP, with SACK counting.
        const lossyIp: IpSender = {
          send: (src, dst, proto, payload, off) => {
            if (impair.on && sackCount(payload) > 0) impair.sacksSent++;
            if (impair.on && lossRng.chance(impair.loss)) return true;
            return stack.ip.send(src, dst, proto, payload, off);
          },
          get mtu() {
            return stack.ip.mtu;
          },
          sourceFor: (d) => stack.ip.sourceFor(d),
        };
        tcp = new TcpLayer(lossyIp, {
          now: () => performance.now(),
          random: (n) => new Uint8Array(randomBytes(n)),
          wake: () => queueMicrotask(arm),
        });
        stack.register({
          protocol: tcp.protocol,
          receive: (d) => {
            if (impair.on && sackCount(d.payload) > 0) impair.sacksReceived++;
            if (impair.on && lossRng.chance(impair.loss)) return;
            tcp.receive(d);
          },
          nextDeadline: () => tcp.nextDeadline(),
          poll: () => tcp.poll(),
          flush: () => tcp.flush(),
        });
      },
    });
    server = spawn(t.ns, process.execPath, ['-e', SERVER, t.kernelV4, t.kernelV6]);
    await server.waitForOutput(/ready/, 10_000);
  });
  after(async () => {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
    await server?.stop();
    await t?.close();
    await cleanup();
  });

  for (const family of [4, 6] as const) {
    it(`connects to a kernel listener (IPv${family}): 4 MiB up, 2 MiB down, hashes match`, async () => {
      const ep = new Endpoint();
      const remote = family === 4 ? t.kernelV4Bytes : t.kernelV6Bytes;
      ep.conn = tcp.connect({ address: remote, port: 7100 }, ep.events);
      const up = randomBytes(4 << 20);
      ep.send(up);
      await waitFor(() => ep.closed !== undefined, { timeoutMs: 30_000, what: 'the download to finish' });
      assert.equal(ep.closed, null);
      const got = ep.received();
      const nl = got.indexOf(10);
      const head = JSON.parse(got.subarray(0, nl).toString()) as { sha: string; n: number; sha2: string };
      assert.equal(head.n, up.length);
      assert.equal(head.sha, sha(up));
      assert.equal(got.length - nl - 1, 2 << 20);
      assert.equal(sha(got.subarray(nl + 1)), head.sha2);
      const c = ep.conn as unknown as Tcb;
      assert.ok(c.sndShift > 0, 'the kernel offered window scaling');
      assert.ok(c.maxSndWnd > 65535, `window scaling in effect: max send window ${c.maxSndWnd}`);
      assert.equal(c.mss, t.stack.mtu - (family === 4 ? 40 : 60));
    });

    it(`accepts a kernel client (IPv${family}): 3 MiB up, 1 MiB back, hashes match`, async () => {
      const accepted: Endpoint[] = [];
      const reply = randomBytes(1 << 20);
      const listener = tcp.listen(null, 7200, 8, (conn) => {
        const ep = new Endpoint(conn);
        conn.setEvents(ep.events);
        accepted.push(ep);
      });
      try {
        const host = family === 4 ? t.stackV4 : t.stackV6;
        const client = exec(t.ns, process.execPath, ['-e', CLIENT, host], { timeoutMs: 30_000 });
        await waitFor(() => accepted[0]?.ended === true, { timeoutMs: 30_000, what: 'the upload' });
        const ep = accepted[0]!;
        ep.send(reply);
        const r = await client;
        assert.equal(r.code, 0, r.stderr);
        const out = JSON.parse(r.stdout) as { sent: string; got: string; n: number };
        assert.equal(sha(ep.received()), out.sent);
        assert.equal(ep.received().length, 3 << 20);
        assert.equal(out.n, reply.length);
        assert.equal(out.got, sha(reply));
        await waitFor(() => ep.closed !== undefined, { timeoutMs: 10_000, what: 'close' });
        assert.equal(ep.closed, null);
        const c = ep.conn as unknown as Tcb;
        assert.ok(c.sndShift > 0 && c.maxSndWnd > 65535, `window scaling: ${c.maxSndWnd}`);
      } finally {
        listener.close();
      }
    });
  }

  it('3% loss each way (IPv4): both transfers intact, SACK blocks flow both ways', async () => {
    impair.on = true;
    try {
      const ep = new Endpoint();
      ep.conn = tcp.connect({ address: t.kernelV4Bytes, port: 7100 }, ep.events);
      const up = randomBytes(4 << 20);
      ep.send(up);
      await waitFor(() => ep.closed !== undefined, { timeoutMs: 45_000, what: 'the lossy transfer' });
      assert.equal(ep.closed, null);
      const got = ep.received();
      const nl = got.indexOf(10);
      const head = JSON.parse(got.subarray(0, nl).toString()) as { sha: string; n: number; sha2: string };
      assert.equal(head.sha, sha(up));
      assert.equal(sha(got.subarray(nl + 1)), head.sha2);
      assert.ok(impair.sacksReceived > 0, 'the kernel SACKed our data');
      assert.ok(impair.sacksSent > 0, 'we SACKed the kernel data');
      assert.ok(tcp.counters.retransmits > 0);
    } finally {
      impair.on = false;
    }
  });

  it('a connection to a closed kernel port is refused (ECONNREFUSED)', async () => {
    const ep = new Endpoint();
    ep.conn = tcp.connect({ address: t.kernelV4Bytes, port: 7999 }, ep.events);
    await waitFor(() => ep.closed !== undefined, { timeoutMs: 10_000, what: 'the RST' });
    assert.equal(ep.closed, 'ECONNREFUSED');
  });
});
