/**
 * TAI64N timestamps (whitepaper section 5.1; cr.yp.to/libtai/tai64.html): the label is
 * 2^62 + 10 + unix seconds, big-endian, then nanoseconds big-endian, with the nanoseconds rounded
 * down to a multiple of 2^24 (the kernel's and wireguard-go's whitening). Expected bytes were
 * computed with CPython's struct.pack; ordering is tested through tai64nAfter, the check a
 * responder applies to refuse replayed initiations.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTai64n, tai64n, tai64nAfter, tai64nFromMillis } from '../../src/crypto/tai64n.js';
import { hexOf, loadVectors, unhex } from './vectors.js';

interface Tai64nFile {
  encode: { unix_seconds: string; nanoseconds: number; tai64n: string; whitened_nanoseconds: number }[];
  from_millis: { unix_millis: number; tai64n: string }[];
}

const v = loadVectors<Tai64nFile>('tai64n.json');
const GRANULE = 2 ** 24;

test('unix time 0 is 400000000000000a00000000', () => {
  assert.equal(hexOf(tai64n(0n, 0)), '400000000000000a00000000');
});

for (const e of v.encode) {
  test(`tai64n(${e.unix_seconds} s, ${e.nanoseconds} ns) = ${e.tai64n}`, () => {
    const stamp = tai64n(BigInt(e.unix_seconds), e.nanoseconds);
    assert.equal(stamp.length, 12);
    assert.equal(hexOf(stamp), e.tai64n);
    assert.deepEqual(decodeTai64n(stamp), {
      unixSeconds: BigInt(e.unix_seconds),
      nanoseconds: e.whitened_nanoseconds,
    });
  });
}

for (const m of v.from_millis) {
  test(`tai64nFromMillis(${m.unix_millis}) = ${m.tai64n}`, () => {
    assert.equal(hexOf(tai64nFromMillis(m.unix_millis)), m.tai64n);
  });
}

test('the timestamp in the WireGuard wire vector decodes to unix 1700000000', () => {
  const { timestamp_tai64n } = loadVectors<{ timestamp_tai64n: string }>('wg-handshake-vector.json');
  assert.deepEqual(decodeTai64n(unhex(timestamp_tai64n)), { unixSeconds: 1700000000n, nanoseconds: 0 });
  assert.equal(hexOf(tai64n(1700000000n, 0)), timestamp_tai64n);
});

test('whitening rounds nanoseconds down to a multiple of 2^24 and never up', () => {
  for (const ns of [0, 1, GRANULE - 1, GRANULE, GRANULE + 1, 123_456_789, 500_000_000, 999_999_999]) {
    const { nanoseconds } = decodeTai64n(tai64n(5n, ns));
    assert.equal(nanoseconds % GRANULE, 0, `${ns}`);
    assert.ok(nanoseconds <= ns && ns - nanoseconds < GRANULE, `${ns} -> ${nanoseconds}`);
  }
  // The largest whitened value stays below one second (59 * 2^24 = 989,855,744).
  assert.equal(decodeTai64n(tai64n(5n, 999_999_999)).nanoseconds, 59 * GRANULE);
});

test('tai64nAfter is strict time order: later seconds, later granules, never equal stamps', () => {
  const t = (s: bigint, ns: number) => tai64n(s, ns);
  assert.equal(tai64nAfter(t(1n, 0), t(0n, 999_999_999)), true, 'a later second beats any nanoseconds');
  assert.equal(tai64nAfter(t(0n, 999_999_999), t(1n, 0)), false);
  assert.equal(tai64nAfter(t(7n, GRANULE), t(7n, GRANULE - 1)), true, 'the next granule');
  assert.equal(tai64nAfter(t(7n, GRANULE - 1), t(7n, GRANULE)), false);
  assert.equal(tai64nAfter(t(7n, 1000), t(7n, 1000)), false, 'equal stamps are not after');
  // Two initiations within one 2^24 ns granule carry the same stamp: the second is a replay.
  assert.equal(tai64nAfter(t(7n, GRANULE + 5), t(7n, GRANULE + 10_000_000)), false);
  assert.equal(tai64nAfter(t(256n, 0), t(255n, 0)), true, 'carry between bytes');
  assert.equal(tai64nAfter(t(1n << 32n, 0), t((1n << 32n) - 1n, 999_999_999)), true);
  assert.equal(tai64nAfter(t(0n, 0), t(-1n, 0)), true, 'before the epoch');
});

test('tai64nAfter agrees with numeric order on a spread of times', () => {
  const seconds = [0n, 1n, 255n, 256n, 65_535n, 1_700_000_000n, 1n << 40n];
  const nanos = [0, GRANULE, 3 * GRANULE, 59 * GRANULE];
  const points = seconds.flatMap((s) =>
    nanos.map((ns) => ({ key: s * 1_000_000_000n + BigInt(ns), stamp: tai64n(s, ns) })),
  );
  for (const a of points) {
    for (const b of points) {
      assert.equal(tai64nAfter(a.stamp, b.stamp), a.key > b.key);
    }
  }
});

test('tai64nFromMillis whitens too: milliseconds in one granule give the same stamp', () => {
  assert.equal(hexOf(tai64nFromMillis(1_700_000_000_000)), hexOf(tai64nFromMillis(1_700_000_000_016)));
  assert.notEqual(hexOf(tai64nFromMillis(1_700_000_000_016)), hexOf(tai64nFromMillis(1_700_000_000_017)));
  assert.equal(tai64nAfter(tai64nFromMillis(1_700_000_000_017), tai64nFromMillis(1_700_000_000_016)), true);
});

test('misuse throws: nanoseconds out of [0, 1e9) or fractional, a stamp not 12 bytes', () => {
  assert.throws(() => tai64n(0n, -1), RangeError);
  assert.throws(() => tai64n(0n, 1_000_000_000), RangeError);
  assert.throws(() => tai64n(0n, 0.5), RangeError);
  assert.throws(() => tai64n(0n, Number.NaN), RangeError);
  assert.throws(() => decodeTai64n(new Uint8Array(11)), TypeError);
});
