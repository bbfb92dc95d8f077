/**
 * BLAKE2s (RFC 7693) in WireGuard's three forms (whitepaper section 5.4): HASH (BLAKE2s-256), MAC
 * (keyed BLAKE2s-128) and HMAC (RFC 2104 over BLAKE2s-256). RFC 7693's appendix B value and
 * appendix E self-test, then values computed with CPython's hashlib.blake2s and hmac.
 *
 * The appendix E self-test needs output lengths 20 and 28 and keyed 32-byte outputs, which our
 * API does not offer; for those it uses @noble/hashes' blake2s directly, and it asserts that our
 * `hash` and `mac` agree with it wherever the shapes match (unkeyed 32 bytes; keyed 16 bytes with
 * a 16-byte key). The grand hash over the results is computed with our `hash`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blake2s } from '@noble/hashes/blake2.js';
import { hash, hmac, mac } from '../../src/crypto/blake2s.js';
import { hexOf, loadVectors, unhex } from './vectors.js';

interface Rfc7693File {
  abc: { name: string; input: string; digest: string };
  selftest: {
    name: string;
    digest_lengths: number[];
    input_lengths: number[];
    seed_multiplier: string;
    grand_hash: string;
  };
}
interface HashlibFile {
  hash: { input: string; digest: string }[];
  mac: { key: string; input: string; mac: string }[];
  keyed_blake2s_256: { key: string; input: string; digest: string }[];
  hmac: { key: string; input: string; hmac: string }[];
}

const rfc = loadVectors<Rfc7693File>('rfc7693-blake2s.json');
const lib = loadVectors<HashlibFile>('blake2s-hashlib.json');

/** RFC 7693 appendix E, selftest_seq: a Fibonacci generator seeded with 0xDEAD4BAD * seed. */
function selftestSeq(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let a = Math.imul(parseInt(rfc.selftest.seed_multiplier, 16), seed) >>> 0;
  let b = 1;
  for (let i = 0; i < length; i++) {
    const t = (a + b) >>> 0;
    a = b;
    b = t;
    out[i] = (t >>> 24) & 0xff;
  }
  return out;
}

test(`${rfc.abc.name}`, () => {
  assert.equal(hexOf(hash(unhex(rfc.abc.input))), rfc.abc.digest);
  assert.equal(hexOf(hash('abc')), rfc.abc.digest, 'a string part is its UTF-8 bytes');
  assert.equal(hexOf(hash('a', unhex('62'), 'c')), rfc.abc.digest, 'parts are concatenated');
});

test(`${rfc.selftest.name}`, () => {
  const results: Uint8Array[] = [];
  let checkedHash = 0;
  let checkedMac = 0;
  for (const outlen of rfc.selftest.digest_lengths) {
    for (const inlen of rfc.selftest.input_lengths) {
      const input = selftestSeq(inlen, inlen);
      const unkeyed = blake2s(input, { dkLen: outlen });
      if (outlen === 32) {
        assert.equal(hexOf(hash(input)), hexOf(unkeyed), `hash, ${inlen} bytes`);
        checkedHash++;
      }
      results.push(unkeyed);

      const key = selftestSeq(outlen, outlen);
      const keyed = blake2s(input, { dkLen: outlen, key });
      if (outlen === 16) {
        assert.equal(hexOf(mac(key, input)), hexOf(keyed), `mac, ${inlen} bytes`);
        checkedMac++;
      }
      results.push(keyed);
    }
  }
  assert.equal(checkedHash, 6);
  assert.equal(checkedMac, 6);
  assert.equal(hexOf(hash(...results)), rfc.selftest.grand_hash);
});

test('HASH (BLAKE2s-256) matches hashlib.blake2s', () => {
  assert.ok(lib.hash.length >= 5);
  for (const v of lib.hash) {
    const input = unhex(v.input);
    assert.equal(hexOf(hash(input)), v.digest, `${input.length} bytes`);
    const cut = input.length >> 1;
    assert.equal(hexOf(hash(input.subarray(0, cut), input.subarray(cut))), v.digest, 'split into two parts');
  }
});

test("HASH(CONSTRUCTION) is WireGuard's well-known initial chaining key", () => {
  assert.equal(
    hexOf(hash('Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s')),
    '60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36',
  );
});

test('MAC (keyed BLAKE2s-128) matches hashlib.blake2s(digest_size=16, key=…)', () => {
  assert.ok(lib.mac.length >= 8);
  for (const v of lib.mac) {
    const key = unhex(v.key);
    const input = unhex(v.input);
    const out = mac(key, input);
    assert.equal(out.length, 16);
    assert.equal(hexOf(out), v.mac, `key ${key.length} bytes, input ${input.length} bytes`);
    const cut = Math.min(3, input.length);
    assert.equal(hexOf(mac(key, input.subarray(0, cut), input.subarray(cut))), v.mac, 'split into two parts');
  }
});

test('keyed BLAKE2s-256 from @noble/hashes (under MAC) matches hashlib', () => {
  for (const v of lib.keyed_blake2s_256) {
    assert.equal(hexOf(blake2s(unhex(v.input), { dkLen: 32, key: unhex(v.key) })), v.digest);
  }
});

test('HMAC-BLAKE2s matches hmac.new(key, msg, hashlib.blake2s), including keys longer than a block', () => {
  assert.ok(lib.hmac.length >= 12);
  assert.ok(lib.hmac.some((v) => v.key.length / 2 > 64));
  assert.ok(lib.hmac.some((v) => v.key.length === 0));
  for (const v of lib.hmac) {
    const key = unhex(v.key);
    const input = unhex(v.input);
    const out = hmac(key, input);
    assert.equal(out.length, 32);
    assert.equal(hexOf(out), v.hmac, `key ${key.length} bytes, input ${input.length} bytes`);
    const cut = input.length >> 2;
    assert.equal(
      hexOf(hmac(key, input.subarray(0, cut), input.subarray(cut))),
      v.hmac,
      'split into two parts',
    );
  }
});

test('MAC keys outside 1..32 bytes are misuse and throw RangeError', () => {
  assert.throws(() => mac(new Uint8Array(0), new Uint8Array(1)), RangeError);
  assert.throws(() => mac(new Uint8Array(33), new Uint8Array(1)), RangeError);
});

test('outputs are independent arrays (wiping one leaves another intact)', () => {
  const a = hash('x');
  const b = hash('x');
  a.fill(0);
  assert.notEqual(hexOf(b), '00'.repeat(32));
  const m1 = hmac(unhex('01'), unhex('02'));
  const m2 = hmac(unhex('01'), unhex('02'));
  m1.fill(0);
  assert.notEqual(hexOf(m2), '00'.repeat(32));
});
