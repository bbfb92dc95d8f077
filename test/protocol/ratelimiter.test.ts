/**
 * Tests for the per-source handshake rate limiter (whitepaper section 5.3, policy of the Linux
 * kernel's drivers/net/wireguard/ratelimiter.c). The first tests port the kernel's selftest
 * (selftest/ratelimiter.c: timings_test and capacity_test) and wireguard-go's
 * ratelimiter_test.go, with a fake clock in place of sleeping, so the expectations are exact
 * rather than bounded by scheduler jitter.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  RATELIMIT_GC_INTERVAL_MS,
  RATELIMIT_MAX_ENTRIES,
  RATELIMIT_PACKETS_BURSTABLE,
  RATELIMIT_PACKETS_PER_SECOND,
} from '../../src/constants.js';
import { RateLimiter } from '../../src/protocol/ratelimiter.js';

const COST_MS = 1000 / RATELIMIT_PACKETS_PER_SECOND;

/** The kernel's expected_results: [allowed, milliseconds to sleep before]. */
const EXPECTED: readonly (readonly [boolean, number])[] = [
  ...Array.from({ length: RATELIMIT_PACKETS_BURSTABLE }, () => [true, 0] as const),
  [false, 0],
  [true, COST_MS],
  [false, 0],
  [true, COST_MS * 2],
  [true, 0],
  [false, 0],
];

function v4(a: number): Uint8Array {
  return new Uint8Array([a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff]);
}

/** An IPv6 address from four host-order 32-bit words (the kernel's in6_u.u6_addr32 after htonl). */
function v6(w0: number, w1: number, w2: number, w3: number): Uint8Array {
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  view.setUint32(0, w0);
  view.setUint32(4, w1);
  view.setUint32(8, w2);
  view.setUint32(12, w3);
  return out;
}

function parse(text: string): Uint8Array {
  if (text.includes('.')) return new Uint8Array(text.split('.').map(Number));
  const out = new Uint8Array(16);
  text.split(':').forEach((group, i) => {
    const value = parseInt(group, 16);
    out[2 * i] = value >> 8;
    out[2 * i + 1] = value & 0xff;
  });
  return out;
}

test('kernel selftest: timings (fake clock)', () => {
  const limiter = new RateLimiter();
  const base4 = 8182;
  // A fractional, non-zero start: callers pass performance.now()-style milliseconds.
  let now = 12_345.25;
  EXPECTED.forEach(([expected, sleep], i) => {
    now += sleep;
    assert.equal(limiter.allow(v4(base4), now), expected, `v4 step ${i}`);
    // A different IPv4 source each step has its own, fresh bucket.
    assert.equal(limiter.allow(v4(base4 + i + 1), now), true, `v4 other ${i}`);
    // Same /64 (1212:289188), changing interface identifier: shares the first source's bucket.
    assert.equal(limiter.allow(v6(1212, 289188, i, i), now), expected, `v6 step ${i}`);
    // A different /64 each step: always fresh.
    assert.equal(limiter.allow(v6(1212 + i + 1, 289188, i, i), now), true, `v6 other ${i}`);
  });
});

test('kernel selftest: capacity', () => {
  const limiter = new RateLimiter();
  assert.equal(limiter.size, 0);
  const now = 1;
  for (let i = 0; i <= RATELIMIT_MAX_ENTRIES; i++) {
    if (limiter.allow(v4(i), now) !== (i !== RATELIMIT_MAX_ENTRIES)) assert.fail(`source ${i}`);
  }
  assert.equal(limiter.size, RATELIMIT_MAX_ENTRIES);
});

test('wireguard-go ratelimiter_test: every source follows the same sequence', () => {
  const ips = [
    '127.0.0.1',
    '192.168.1.1',
    '172.167.2.3',
    '97.231.252.215',
    '248.97.91.167',
    '188.208.233.47',
    '104.2.183.179',
    '72.129.46.120',
    '2001:0db8:0a0b:12f0:0000:0000:0000:0001',
    'f5c2:818f:c052:655a:9860:b136:6894:25f0',
    'b2d7:15ab:48a7:b07c:a541:f144:a9fe:54fc',
    'a47b:786e:1671:a22b:d6f9:4ab0:abc7:c918',
    'ea1e:d155:7f7a:98fb:2bf5:9483:80f6:5445',
    '3f0e:54a2:f5b4:cd19:a21d:58e1:3746:84c4',
  ].map(parse);
  const limiter = new RateLimiter();
  let now = 0;
  EXPECTED.forEach(([expected, sleep], i) => {
    now += sleep;
    for (const ip of ips) assert.equal(limiter.allow(ip, now), expected, `step ${i} ${ip.join(',')}`);
  });
  assert.equal(limiter.size, ips.length);
});

test('separate IPv4 sources have separate buckets', () => {
  const limiter = new RateLimiter();
  const a = parse('10.0.0.1');
  const b = parse('10.0.0.2');
  for (let i = 0; i < RATELIMIT_PACKETS_BURSTABLE; i++) assert.equal(limiter.allow(a, 0), true);
  assert.equal(limiter.allow(a, 0), false);
  for (let i = 0; i < RATELIMIT_PACKETS_BURSTABLE; i++) assert.equal(limiter.allow(b, 0), true);
  assert.equal(limiter.allow(b, 0), false);
  assert.equal(limiter.size, 2);
});

test('IPv6: same /64 shares one bucket, different /64s do not', () => {
  const limiter = new RateLimiter();
  const a1 = parse('2001:0db8:0001:0002:0000:0000:0000:0001');
  const a2 = parse('2001:0db8:0001:0002:ffff:ffff:ffff:ffff');
  const b = parse('2001:0db8:0001:0003:0000:0000:0000:0001');
  for (let i = 0; i < RATELIMIT_PACKETS_BURSTABLE; i++) {
    assert.equal(limiter.allow(i % 2 === 0 ? a1 : a2, 0), true);
  }
  assert.equal(limiter.allow(a1, 0), false);
  assert.equal(limiter.allow(a2, 0), false);
  assert.equal(limiter.allow(b, 0), true);
  assert.equal(limiter.size, 2);
});

test('IPv4 and IPv4-mapped IPv6 are the same source; IPv4 sources do not share the :: /64', () => {
  const limiter = new RateLimiter();
  const plain = parse('192.0.2.7');
  const mapped = parse('0000:0000:0000:0000:0000:ffff:c000:0207');
  const otherMapped = parse('0000:0000:0000:0000:0000:ffff:c000:0208');
  for (let i = 0; i < RATELIMIT_PACKETS_BURSTABLE; i++) {
    assert.equal(limiter.allow(i % 2 === 0 ? plain : mapped, 0), true);
  }
  assert.equal(limiter.allow(mapped, 0), false);
  assert.equal(limiter.allow(plain, 0), false);
  assert.equal(limiter.allow(otherMapped, 0), true);
  assert.equal(limiter.size, 2);
});

test('refill is capped at the burst', () => {
  const limiter = new RateLimiter();
  const ip = parse('10.1.1.1');
  assert.equal(limiter.allow(ip, 0), true);
  // A long silence (without gc) refills only to the burst, not beyond.
  let allowed = 0;
  for (let i = 0; i < 3 * RATELIMIT_PACKETS_BURSTABLE; i++) if (limiter.allow(ip, 60_000)) allowed++;
  assert.equal(allowed, RATELIMIT_PACKETS_BURSTABLE);
});

test('steady state is RATELIMIT_PACKETS_PER_SECOND', () => {
  const limiter = new RateLimiter();
  const ip = parse('10.1.1.2');
  // Offer 200 packets a second for 10 seconds: burst + 10 s × 20/s get through.
  let allowed = 0;
  for (let t = 0; t < 10_000; t += 5) if (limiter.allow(ip, t)) allowed++;
  assert.equal(allowed, RATELIMIT_PACKETS_BURSTABLE + Math.floor((10_000 - 5) / COST_MS));
});

test('a clock stepping backwards does not drain or refill', () => {
  const limiter = new RateLimiter();
  const ip = parse('10.1.1.3');
  for (let i = 0; i < RATELIMIT_PACKETS_BURSTABLE; i++) assert.equal(limiter.allow(ip, 1000), true);
  assert.equal(limiter.allow(ip, 500), false);
  assert.equal(limiter.allow(ip, 500 + COST_MS), true);
});

test('gc forgets sources idle for more than RATELIMIT_GC_INTERVAL_MS', () => {
  const limiter = new RateLimiter();
  const idle = parse('10.2.0.1');
  const busy = parse('10.2.0.2');
  for (let i = 0; i <= RATELIMIT_PACKETS_BURSTABLE; i++) limiter.allow(idle, 0);
  assert.equal(limiter.allow(idle, 0), false);
  limiter.allow(busy, 0);
  limiter.allow(busy, 600);
  // Exactly the interval is not "more than" it.
  limiter.gc(RATELIMIT_GC_INTERVAL_MS);
  assert.equal(limiter.size, 2);
  limiter.gc(RATELIMIT_GC_INTERVAL_MS + 0.5);
  assert.equal(limiter.size, 1);
  limiter.gc(600 + RATELIMIT_GC_INTERVAL_MS + 1);
  assert.equal(limiter.size, 0);
  // A forgotten source comes back with a full burst, exactly what its bucket held anyway.
  for (let i = 0; i < RATELIMIT_PACKETS_BURSTABLE; i++) assert.equal(limiter.allow(idle, 5000), true);
  assert.equal(limiter.allow(idle, 5000), false);
});

test('the table bound refuses new sources, keeps serving known ones, and frees on gc', () => {
  const limiter = new RateLimiter(3);
  const known = [parse('10.3.0.1'), parse('10.3.0.2'), parse('2001:0db8:0000:0001:0000:0000:0000:0001')];
  for (const ip of known) assert.equal(limiter.allow(ip, 0), true);
  assert.equal(limiter.size, 3);
  assert.equal(limiter.allow(parse('10.3.0.4'), 0), false);
  assert.equal(limiter.allow(parse('2001:0db8:0000:0002:0000:0000:0000:0001'), 0), false);
  assert.equal(limiter.size, 3);
  for (const ip of known) assert.equal(limiter.allow(ip, 0), true);
  limiter.gc(RATELIMIT_GC_INTERVAL_MS + 1);
  assert.equal(limiter.size, 0);
  assert.equal(limiter.allow(parse('10.3.0.4'), RATELIMIT_GC_INTERVAL_MS + 1), true);
});

test('misuse throws RangeError', () => {
  assert.throws(() => new RateLimiter(0), RangeError);
  assert.throws(() => new RateLimiter(1.5), RangeError);
  const limiter = new RateLimiter();
  assert.throws(() => limiter.allow(new Uint8Array(5), 0), RangeError);
  assert.throws(() => limiter.allow(new Uint8Array(0), 0), RangeError);
});
