/**
 * CI soak (TEST-PLAN "Load"; scripts/soak.mjs is the real-daemon version): two Devices on the
 * in-memory fakes with a fake clock, traffic both ways every 100 ms of fake time (IPv4 and IPv6
 * inner packets, one direction settled before the other) for 12.5 minutes of fake time — at least 5 rekeys at REKEY_AFTER_TIME — with the
 * schedulers ticking every step. Sampled every 30 fake seconds after a minute of warm-up: the
 * receiver-index tables, the handshake queues, the rate limiter tables, the armed protocol timers,
 * the process's real timers and handles, and the JS heap after a forced GC. The last samples must
 * not exceed the first (index entries at most 4 per peer throughout; heap within 2 MiB), and every
 * packet sent must arrive exactly once, byte for byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { REKEY_AFTER_TIME_MS } from '../../src/constants.js';
import type { Device } from '../../src/device/device.js';
import { DeviceNet, hex, kindOf, type DeviceNode } from '../helpers/device-net.js';
import { ipv4, ipv6 } from '../helpers/pair.js';

const STEP_MS = 100;
const TOTAL_MS = 750_000;
const SAMPLE_EVERY_MS = 30_000;
const WARMUP_MS = 60_000;
const HEAP_SLACK = 2 * 2 ** 20;

function forcedGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

interface Sample {
  readonly t: number;
  readonly indices: number;
  readonly queue: number;
  readonly rateLimiter: number;
  readonly armedTimers: number;
  readonly handles: number;
  readonly timeouts: number;
  readonly heap: number;
}

function armedTimers(device: Device): number {
  let n = 0;
  for (const peer of device.peers.values()) {
    const tm = peer.tunnel.timers;
    for (const at of [
      tm.retransmitHandshakeAt,
      tm.sendKeepaliveAt,
      tm.newHandshakeAt,
      tm.zeroKeyMaterialAt,
      tm.persistentKeepaliveAt,
    ]) {
      if (Number.isFinite(at)) n++;
    }
  }
  return n;
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

test('soak on fakes: 12.5 min of fake time, ≥ 5 rekeys, no growth in indices, queues, timers, handles or heap', async (t) => {
  const gc = forcedGc();
  const net = new DeviceNet();
  const a = await net.node(1);
  const b = await net.node(2);
  await net.link(a, b);
  const nodes: DeviceNode[] = [a, b];
  const samples: Sample[] = [];
  let initiations = 0;
  let sent = 0;
  let delivered = 0;
  const expected = new Map<string, number>();
  let seq = 0;
  const packet = (from: DeviceNode, to: DeviceNode): Uint8Array => {
    seq++;
    const body = Uint8Array.of(seq >>> 24, seq >>> 16, seq >>> 8, seq, ...new Uint8Array(60));
    return seq % 2 === 0 ? ipv4(from.inner4, to.inner4, body) : ipv6(from.inner6, to.inner6, body);
  };
  const started = performance.now();
  for (let now = 0; now <= TOTAL_MS; now += STEP_MS) {
    // One direction after the other: in lockstep (both sending in the same instant over a
    // zero-latency network) the packet-triggered initiations, rate-limited to exactly one per
    // REKEY_TIMEOUT without jitter as in the kernel, would cross forever.
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const p = packet(from, to);
      expected.set(hex(p), (expected.get(hex(p)) ?? 0) + 1);
      from.tun.inject(p);
      sent++;
      await net.settle();
    }
    for (const n of nodes) {
      for (const p of n.tun.takeWritten()) {
        const k = hex(p);
        const left = expected.get(k);
        assert.ok(
          left !== undefined && left > 0,
          `t=${now} ms: node ${n.n} got a packet nobody sent (or twice)`,
        );
        if (left === 1) expected.delete(k);
        else expected.set(k, left - 1);
        delivered++;
      }
    }
    // The fake network's log would grow without bound: count what matters and drop it.
    for (const d of net.net.log) if (kindOf(d.data) === 'initiation') initiations++;
    net.net.log.length = 0;
    net.tick(STEP_MS);
    if (now % SAMPLE_EVERY_MS === 0) {
      for (const n of nodes) {
        const i = n.device.indices.size;
        assert.ok(i <= 4 * n.device.peers.size, `t=${now} ms: node ${n.n} holds ${i} indices`);
      }
      gc();
      const resources = process.getActiveResourcesInfo();
      const timeouts = resources.filter((r) => r === 'Timeout' || r === 'Immediate').length;
      samples.push({
        t: now,
        indices: a.device.indices.size + b.device.indices.size,
        queue: a.device.queue.length + b.device.queue.length,
        rateLimiter: a.device.responder.rateLimiter.size + b.device.responder.rateLimiter.size,
        armedTimers: armedTimers(a.device) + armedTimers(b.device),
        handles: resources.length - timeouts,
        timeouts,
        heap: process.memoryUsage().heapUsed,
      });
    }
  }
  await net.settle();
  for (const n of nodes) delivered += n.tun.takeWritten().length;
  const wallMs = performance.now() - started;
  net.close();

  const rekeys = initiations - 1;
  t.diagnostic(
    `${TOTAL_MS / 1000} s fake time in ${(wallMs / 1000).toFixed(1)} s: ${sent} packets sent, ${delivered} delivered, ` +
      `${initiations} initiations (${rekeys} rekeys; REKEY_AFTER_TIME ${REKEY_AFTER_TIME_MS / 1000} s)`,
  );
  const show = (s: Sample): string =>
    `t=${s.t / 1000}s indices=${s.indices} queue=${s.queue} rl=${s.rateLimiter} armed=${s.armedTimers} ` +
    `handles=${s.handles} timeouts=${s.timeouts} heap=${(s.heap / 2 ** 20).toFixed(2)}M`;
  for (const s of samples.filter((_, i) => i % 5 === 0 || i === samples.length - 1)) t.diagnostic(show(s));

  assert.ok(rekeys >= 5, `only ${rekeys} rekeys in ${TOTAL_MS / 1000} s`);
  assert.equal(expected.size, 0, `${expected.size} packets never arrived`);
  assert.equal(delivered, sent);
  const warm = samples.filter((s) => s.t >= WARMUP_MS);
  const first = warm.slice(0, 5);
  const last = warm.slice(-5);
  for (const field of ['indices', 'queue', 'rateLimiter', 'armedTimers', 'handles', 'timeouts'] as const) {
    const f = Math.max(...first.map((s) => s[field]));
    const l = Math.max(...last.map((s) => s[field]));
    assert.ok(l <= f, `${field} grew: ${f} in the first samples, ${l} in the last`);
  }
  const h0 = median(first.map((s) => s.heap));
  const h1 = median(last.map((s) => s.heap));
  assert.ok(h1 <= h0 + HEAP_SLACK, `heap grew from ${h0} to ${h1} bytes (after GC)`);
});
