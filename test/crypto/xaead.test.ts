/**
 * XChaCha20-Poly1305, the whitepaper's XAEAD for cookie replies (section 5.4.7), against
 * draft-irtf-cfrg-xchacha-03: the HChaCha20 vector of section 2.2.1 and the AEAD vector of
 * appendix A.3.1. HChaCha20 is written out here from the draft (with RFC 8439's quarter round and
 * its section 2.1.1 vector), so the test can also check the construction itself: xseal(k, n) must
 * equal ChaCha20-Poly1305 under HChaCha20(k, n[0..16]) with the nonce 00000000 ‖ n[16..24] —
 * which ties @noble/ciphers' XChaCha to node:crypto's ChaCha20-Poly1305.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openWithNonce, sealWithNonce, xopen, xseal } from '../../src/crypto/aead.js';
import { flipBit, hexOf, loadVectors, unhex } from './vectors.js';

interface XChaChaFile {
  hchacha20: { name: string; key: string; nonce: string; subkey: string }[];
  xchacha20poly1305: {
    name: string;
    key: string;
    nonce: string;
    aad: string;
    plaintext: string;
    ciphertext: string;
    tag: string;
  }[];
}

const file = loadVectors<XChaChaFile>('xchacha20poly1305.json');
const hv = file.hchacha20[0]!;
const xv = file.xchacha20poly1305[0]!;

const rotl = (v: number, c: number): number => ((v << c) | (v >>> (32 - c))) >>> 0;

/** RFC 8439 section 2.1. */
function quarterRound(s: Uint32Array, a: number, b: number, c: number, d: number): void {
  s[a] = s[a]! + s[b]!;
  s[d] = rotl(s[d]! ^ s[a]!, 16);
  s[c] = s[c]! + s[d]!;
  s[b] = rotl(s[b]! ^ s[c]!, 12);
  s[a] = s[a]! + s[b]!;
  s[d] = rotl(s[d]! ^ s[a]!, 8);
  s[c] = s[c]! + s[d]!;
  s[b] = rotl(s[b]! ^ s[c]!, 7);
}

/** draft-irtf-cfrg-xchacha-03 section 2.2: ChaCha20's rounds without the feed-forward, rows 0 and 3 out. */
function hchacha20(key: Uint8Array, nonce16: Uint8Array): Uint8Array {
  const k = Buffer.from(key);
  const n = Buffer.from(nonce16);
  const s = new Uint32Array(16);
  s.set([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);
  for (let i = 0; i < 8; i++) s[4 + i] = k.readUInt32LE(4 * i);
  for (let i = 0; i < 4; i++) s[12 + i] = n.readUInt32LE(4 * i);
  for (let round = 0; round < 10; round++) {
    quarterRound(s, 0, 4, 8, 12);
    quarterRound(s, 1, 5, 9, 13);
    quarterRound(s, 2, 6, 10, 14);
    quarterRound(s, 3, 7, 11, 15);
    quarterRound(s, 0, 5, 10, 15);
    quarterRound(s, 1, 6, 11, 12);
    quarterRound(s, 2, 7, 8, 13);
    quarterRound(s, 3, 4, 9, 14);
  }
  const out = Buffer.alloc(32);
  for (let i = 0; i < 4; i++) {
    out.writeUInt32LE(s[i]!, 4 * i);
    out.writeUInt32LE(s[12 + i]!, 16 + 4 * i);
  }
  return new Uint8Array(out);
}

/** XChaCha20-Poly1305 built from HChaCha20 and the RFC 8439 AEAD (draft section 2.3). */
function composedXSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  const chachaNonce = new Uint8Array(12);
  chachaNonce.set(nonce.subarray(16, 24), 4);
  return sealWithNonce(hchacha20(key, nonce.subarray(0, 16)), chachaNonce, plaintext, aad);
}

const key = unhex(xv.key);
const nonce = unhex(xv.nonce);
const aad = unhex(xv.aad);
const plaintext = unhex(xv.plaintext);
const sealed = unhex(xv.ciphertext + xv.tag);

test('RFC 8439 section 2.1.1: the quarter round used by the reference HChaCha20', () => {
  const s = Uint32Array.of(0x11111111, 0x01020304, 0x9b8d6f43, 0x01234567);
  quarterRound(s, 0, 1, 2, 3);
  assert.deepEqual([...s], [0xea2a92f4, 0xcb1cf8ce, 0x4581472e, 0x5881c4bb]);
});

test(`${hv.name}`, () => {
  assert.equal(hexOf(hchacha20(unhex(hv.key), unhex(hv.nonce))), hv.subkey);
});

test(`${xv.name}: xseal gives the draft's ciphertext and tag`, () => {
  assert.equal(plaintext.length, 114);
  assert.equal(hexOf(xseal(key, nonce, plaintext, aad)), hexOf(sealed));
});

test(`${xv.name}: xopen recovers the plaintext`, () => {
  const opened = xopen(key, nonce, sealed, aad);
  assert.ok(opened);
  assert.equal(hexOf(opened), xv.plaintext);
});

test(`${xv.name}: HChaCha20 + RFC 8439 AEAD reproduces it too (draft section 2.3)`, () => {
  assert.equal(hexOf(composedXSeal(key, nonce, plaintext, aad)), hexOf(sealed));
  const chachaNonce = new Uint8Array(12);
  chachaNonce.set(nonce.subarray(16), 4);
  const opened = openWithNonce(hchacha20(key, nonce.subarray(0, 16)), chachaNonce, sealed, aad);
  assert.equal(hexOf(opened ?? new Uint8Array(1)), xv.plaintext);
});

test('xseal equals the HChaCha20 composition for other keys, nonces and lengths', () => {
  for (let n = 0; n < 70; n += 3) {
    const k = Uint8Array.from({ length: 32 }, (_, i) => (i * 29 + n) & 0xff);
    const x = Uint8Array.from({ length: 24 }, (_, i) => (i * 53 + 7 * n) & 0xff);
    const p = Uint8Array.from({ length: n }, (_, i) => (i * 11 + 1) & 0xff);
    const a = p.subarray(0, n % 17);
    assert.equal(hexOf(xseal(k, x, p, a)), hexOf(composedXSeal(k, x, p, a)), `length ${n}`);
  }
});

test('XAEAD tampering gives null: every tag bit, ciphertext, aad, nonce, key, truncation', () => {
  const body = sealed.length - 16;
  for (let bit = 0; bit < 128; bit++) {
    assert.equal(xopen(key, nonce, flipBit(sealed, body + (bit >> 3), bit & 7), aad), null, `tag bit ${bit}`);
  }
  for (const i of [0, body >> 1, body - 1]) {
    assert.equal(xopen(key, nonce, flipBit(sealed, i, 3), aad), null, `ciphertext byte ${i}`);
  }
  assert.equal(xopen(key, nonce, sealed, flipBit(aad, 0)), null, 'aad');
  assert.equal(xopen(key, nonce, sealed), null, 'aad missing');
  for (const i of [0, 15, 16, 23]) {
    assert.equal(xopen(key, flipBit(nonce, i), sealed, aad), null, `nonce byte ${i}`);
  }
  assert.equal(xopen(flipBit(key, 0), nonce, sealed, aad), null, 'key');
  assert.equal(xopen(key, nonce, sealed.subarray(0, sealed.length - 1), aad), null, 'truncated');
  assert.equal(xopen(key, nonce, Uint8Array.of(...sealed, 0), aad), null, 'extended');
});

test('XAEAD input shorter than a tag is null, never an exception', () => {
  for (let n = 0; n < 16; n++) {
    assert.doesNotThrow(() => xopen(key, nonce, new Uint8Array(n)));
    assert.equal(xopen(key, nonce, new Uint8Array(n), aad), null, `${n} bytes`);
  }
  assert.equal(xopen(key, nonce, new Uint8Array(16), aad), null, 'a zero tag');
});

test('XAEAD of an empty plaintext is a bare tag', () => {
  const tagOnly = xseal(key, nonce, new Uint8Array(0), aad);
  assert.equal(tagOnly.length, 16);
  assert.equal(xopen(key, nonce, tagOnly, aad)?.length, 0);
});

test('XAEAD misuse throws: nonce not 24 bytes, key not 32 bytes', () => {
  assert.throws(() => xseal(key, nonce.subarray(0, 12), plaintext), TypeError);
  assert.throws(() => xopen(key, new Uint8Array(25), sealed), TypeError);
  assert.throws(() => xseal(key.subarray(1), nonce, plaintext), TypeError);
  assert.throws(() => xopen(new Uint8Array(16), nonce, sealed), TypeError);
});
