/**
 * The whitepaper's KDF1/KDF2/KDF3 (section 5.4): HKDF with HMAC-BLAKE2s. Expected values were
 * computed offline with CPython's hmac + hashlib.blake2s straight from the definition
 * (T0 = HMAC(key, input), T1 = HMAC(T0, 0x01), T2 = HMAC(T0, T1 ‖ 0x02), T3 = HMAC(T0, T2 ‖ 0x03)),
 * so the test does not re-derive them with the code under test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kdf1, kdf2, kdf3 } from '../../src/crypto/hkdf.js';
import { hexOf, loadVectors, unhex } from './vectors.js';

interface KdfVector {
  key: string;
  input: string;
  t1: string;
  t2: string;
  t3: string;
}

const { vectors } = loadVectors<{ vectors: KdfVector[] }>('kdf-hmac-blake2s.json');

test('the KDF vectors include an empty input, a one-byte input and a long input', () => {
  assert.ok(vectors.length >= 6);
  assert.ok(vectors.some((v) => v.input === ''));
  assert.ok(vectors.some((v) => v.input.length === 2));
  assert.ok(vectors.some((v) => v.input.length > 256));
});

for (const [i, v] of vectors.entries()) {
  const label = `KDF vector ${i + 1} (input ${v.input.length / 2} bytes)`;

  test(`${label}: KDF1`, () => {
    const out = kdf1(unhex(v.key), unhex(v.input));
    assert.deepEqual(out.map(hexOf), [v.t1]);
  });

  test(`${label}: KDF2`, () => {
    const out = kdf2(unhex(v.key), unhex(v.input));
    assert.deepEqual(out.map(hexOf), [v.t1, v.t2]);
  });

  test(`${label}: KDF3`, () => {
    const out = kdf3(unhex(v.key), unhex(v.input));
    assert.deepEqual(out.map(hexOf), [v.t1, v.t2, v.t3]);
  });
}

test('KDF leaves its inputs alone and returns independent 32-byte outputs', () => {
  const v = vectors[2]!;
  const key = unhex(v.key);
  const input = unhex(v.input);
  const [t1, t2, t3] = kdf3(key, input);
  assert.equal(hexOf(key), v.key);
  assert.equal(hexOf(input), v.input);
  for (const t of [t1, t2, t3]) assert.equal(t.length, 32);
  t1.fill(0);
  assert.equal(hexOf(t2), v.t2);
  assert.equal(hexOf(t3), v.t3);
});
