/**
 * ChaCha20-Poly1305 (RFC 8439) as WireGuard uses it (whitepaper section 5.4: the nonce is 32 zero
 * bits ‖ a 64-bit little-endian counter). The RFC's section 2.8.2 and appendix A.5 vectors run
 * through `sealWithNonce`/`openWithNonce`, the code path `seal`/`open` share; the A.5 nonce has the
 * WireGuard form, so it also runs through `seal`/`open` with the counter it encodes. Forged input
 * must come back as null, never as an exception (DESIGN.md habit 4).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { counterNonce, open, openWithNonce, seal, sealWithNonce } from '../../src/crypto/aead.js';
import { flipBit, hexOf, loadVectors, unhex } from './vectors.js';

interface AeadVector {
  name: string;
  section: string;
  key: string;
  nonce: string;
  aad: string;
  plaintext: string;
  ciphertext: string;
  tag: string;
}

const { vectors } = loadVectors<{ vectors: AeadVector[] }>('rfc8439-chacha20poly1305.json');

/** The counter a nonce encodes when it has WireGuard's form 00000000 ‖ LE64(counter), else null. */
function counterOf(nonce: Uint8Array): bigint | null {
  if (nonce.length !== 12 || nonce[0] !== 0 || nonce[1] !== 0 || nonce[2] !== 0 || nonce[3] !== 0)
    return null;
  return Buffer.from(nonce).readBigUInt64LE(4);
}

function decode(v: AeadVector) {
  return {
    key: unhex(v.key),
    nonce: unhex(v.nonce),
    aad: unhex(v.aad),
    plaintext: unhex(v.plaintext),
    sealed: unhex(v.ciphertext + v.tag),
  };
}

test('the RFC 8439 vector file holds sections 2.8.2 and A.5', () => {
  assert.deepEqual(
    vectors.map((v) => v.section),
    ['2.8.2', 'A.5'],
  );
  // 2.8.2's nonce (07000000 ‖ 4041424344454647) is not a WireGuard nonce; A.5's is.
  assert.equal(counterOf(unhex(vectors[0]!.nonce)), null);
  assert.equal(counterOf(unhex(vectors[1]!.nonce)), 0x0807060504030201n);
});

for (const v of vectors) {
  test(`${v.name}: sealWithNonce gives the RFC ciphertext and tag`, () => {
    const { key, nonce, aad, plaintext, sealed } = decode(v);
    assert.equal(hexOf(sealWithNonce(key, nonce, plaintext, aad)), hexOf(sealed));
  });

  test(`${v.name}: openWithNonce recovers the plaintext`, () => {
    const { key, nonce, aad, plaintext, sealed } = decode(v);
    const opened = openWithNonce(key, nonce, sealed, aad);
    assert.ok(opened);
    assert.equal(hexOf(opened), hexOf(plaintext));
  });

  // Only vectors whose nonce has WireGuard's form (00000000 ‖ LE64(counter)) can go through seal/open.
  if (counterOf(decode(v).nonce) !== null)
    test(`${v.name}: seal/open with the counter the nonce encodes (when it has WireGuard's form)`, (t) => {
      const { key, nonce, aad, plaintext, sealed } = decode(v);
      const counter = counterOf(nonce);
      if (counter === null) {
        t.skip('nonce is not 00000000 ‖ LE64(counter)');
        return;
      }
      assert.equal(hexOf(counterNonce(counter)), v.nonce);
      assert.equal(hexOf(seal(key, counter, plaintext, aad)), hexOf(sealed));
      const opened = open(key, counter, sealed, aad);
      assert.ok(opened);
      assert.equal(hexOf(opened), hexOf(plaintext));
    });

  test(`${v.name}: every flipped bit of the tag, and flips in ciphertext, aad, nonce and key, give null`, () => {
    const { key, nonce, aad, sealed } = decode(v);
    const body = sealed.length - 16;
    for (let bit = 0; bit < 128; bit++) {
      const forged = flipBit(sealed, body + (bit >> 3), bit & 7);
      assert.equal(openWithNonce(key, nonce, forged, aad), null, `tag bit ${bit}`);
    }
    for (const i of [0, 1, body >> 1, body - 1]) {
      for (const bit of [0, 7]) {
        assert.equal(
          openWithNonce(key, nonce, flipBit(sealed, i, bit), aad),
          null,
          `ciphertext byte ${i} bit ${bit}`,
        );
      }
    }
    for (let i = 0; i < aad.length; i++) {
      assert.equal(openWithNonce(key, nonce, sealed, flipBit(aad, i)), null, `aad byte ${i}`);
    }
    assert.equal(openWithNonce(key, nonce, sealed, new Uint8Array(0)), null, 'aad dropped');
    assert.equal(openWithNonce(key, nonce, sealed, Uint8Array.of(...aad, 0)), null, 'aad extended');
    for (let i = 0; i < 12; i++) {
      assert.equal(openWithNonce(key, flipBit(nonce, i), sealed, aad), null, `nonce byte ${i}`);
    }
    assert.equal(openWithNonce(flipBit(key, 31, 7), nonce, sealed, aad), null, 'key');
    assert.equal(openWithNonce(key, nonce, sealed.subarray(0, sealed.length - 1), aad), null, 'truncated');
    assert.equal(openWithNonce(key, nonce, Uint8Array.of(...sealed, 0), aad), null, 'extended');
  });
}

test('A.5 through open(): a wrong counter, a flipped tag or a flipped aad bit is null', () => {
  const { key, aad, sealed } = decode(vectors[1]!);
  const counter = 0x0807060504030201n;
  assert.ok(open(key, counter, sealed, aad));
  assert.equal(open(key, counter + 1n, sealed, aad), null);
  assert.equal(open(key, counter - 1n, sealed, aad), null);
  assert.equal(open(key, 0n, sealed, aad), null);
  assert.equal(open(key, counter, flipBit(sealed, sealed.length - 1, 7), aad), null);
  assert.equal(open(key, counter, flipBit(sealed, 0), aad), null);
  assert.equal(open(key, counter, sealed, flipBit(aad, 11, 7)), null);
});

test('counterNonce is 4 zero bytes then the counter little-endian, over the whole 64-bit range', () => {
  assert.equal(hexOf(counterNonce(0n)), '000000000000000000000000');
  assert.equal(hexOf(counterNonce(1n)), '000000000100000000000000');
  assert.equal(hexOf(counterNonce(0x0102030405060708n)), '000000000807060504030201');
  assert.equal(hexOf(counterNonce((1n << 64n) - 1n)), '00000000ffffffffffffffff');
  assert.throws(() => counterNonce(-1n), RangeError);
  assert.throws(() => counterNonce(1n << 64n), RangeError);
});

test('seal and open agree with sealWithNonce at the counter limits, and counters are not interchangeable', () => {
  const key = unhex(vectors[1]!.key);
  const plaintext = new TextEncoder().encode('a WireGuard transport payload, padded elsewhere');
  for (const counter of [0n, 1n, 255n, 256n, 1n << 32n, (1n << 64n) - 1n]) {
    const sealed = seal(key, counter, plaintext);
    assert.equal(sealed.length, plaintext.length + 16);
    assert.equal(hexOf(sealed), hexOf(sealWithNonce(key, counterNonce(counter), plaintext)));
    assert.equal(hexOf(open(key, counter, sealed) ?? new Uint8Array(0)), hexOf(plaintext));
    assert.equal(open(key, counter ^ 1n, sealed), null);
  }
});

test('an empty plaintext seals to a bare 16-byte tag (a keepalive) and opens to zero bytes', () => {
  const key = unhex(vectors[0]!.key);
  const sealed = seal(key, 7n, new Uint8Array(0));
  assert.equal(sealed.length, 16);
  const opened = open(key, 7n, sealed);
  assert.ok(opened);
  assert.equal(opened.length, 0);
  assert.equal(open(key, 7n, flipBit(sealed, 0)), null);
});

test('input shorter than a tag is null, never an exception', () => {
  const key = unhex(vectors[0]!.key);
  const nonce = unhex(vectors[0]!.nonce);
  for (let n = 0; n < 16; n++) {
    const short = new Uint8Array(n).fill(0xa5);
    assert.doesNotThrow(() => open(key, 0n, short));
    assert.equal(open(key, 0n, short), null, `open, ${n} bytes`);
    assert.equal(openWithNonce(key, nonce, short), null, `openWithNonce, ${n} bytes`);
  }
});

test('garbage of any length opens to null without throwing', () => {
  const key = unhex(vectors[1]!.key);
  for (let n = 16; n <= 80; n++) {
    const junk = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
    assert.doesNotThrow(() => open(key, BigInt(n), junk, junk.subarray(0, n % 7)));
    assert.equal(open(key, BigInt(n), junk, junk.subarray(0, n % 7)), null);
  }
});

test('misuse throws: a key that is not 32 bytes, a nonce that is not 12 bytes', () => {
  const key = unhex(vectors[0]!.key);
  const nonce = unhex(vectors[0]!.nonce);
  const body = new Uint8Array(20);
  assert.throws(() => seal(key.subarray(0, 31), 0n, body), TypeError);
  assert.throws(() => open(new Uint8Array(33), 0n, body), TypeError);
  assert.throws(() => sealWithNonce(key, nonce.subarray(0, 11), body), TypeError);
  assert.throws(() => sealWithNonce(key, new Uint8Array(24), body), TypeError);
  assert.throws(() => openWithNonce(key, new Uint8Array(8), body), TypeError);
  assert.throws(() => seal(key, -1n, body), RangeError);
  assert.throws(() => open(key, 1n << 64n, body), RangeError);
});

test('sealing does not modify its inputs', () => {
  const { key, nonce, aad, plaintext } = decode(vectors[0]!);
  const before = [key, nonce, aad, plaintext].map(hexOf);
  sealWithNonce(key, nonce, plaintext, aad);
  assert.deepEqual([key, nonce, aad, plaintext].map(hexOf), before);
});
