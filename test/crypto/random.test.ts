/**
 * The pooled CSPRNG reader (src/crypto/random.ts): fresh arrays of the asked length, no byte of
 * the pool handed out twice (consecutive draws never overlap, across refills too), large requests
 * bypass the pool, and bad lengths are a RangeError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RandomPool, randomPooled } from '../../src/crypto/random.js';

test('draws are fresh arrays of the asked length, and the pool is not reused across draws', () => {
  const pool = new RandomPool();
  const seen = new Set<string>();
  // 32-byte draws across several refills (4096 / 32 = 128 per refill): no two may be equal,
  // which a pool that handed out the same region twice would produce.
  for (let i = 0; i < 1000; i++) {
    const b = pool.bytes(32);
    assert.equal(b.length, 32);
    assert.equal(b.byteOffset, 0, 'a copy, not a view into the pool');
    const key = Buffer.from(b).toString('hex');
    assert.ok(!seen.has(key), `draw ${i} repeated an earlier one`);
    seen.add(key);
  }
});

test('odd sizes, zero, large requests and errors', () => {
  const pool = new RandomPool();
  assert.equal(pool.bytes(0).length, 0);
  for (const n of [1, 3, 7, 1023, 1024, 1025, 5000, 70_000]) assert.equal(pool.bytes(n).length, n);
  // 64 KiB of output is not all zeros (bypass path included).
  assert.ok(pool.bytes(65536).some((x) => x !== 0));
  for (const bad of [-1, 1.5, Number.NaN]) assert.throws(() => pool.bytes(bad), RangeError);
  assert.equal(randomPooled(16).length, 16);
});
