/**
 * X25519 (RFC 7748) as the whitepaper's DH (section 5.4): the section 5.2 vectors, the iterated
 * test for 1 and 1,000 iterations (1,000,000 is in the vector file but skipped for time), the
 * section 6.1 Diffie-Hellman example, and the low-order points of libsodium's blocklist, with and
 * without bit 255 set, for which `dh` must return null and never throw (DESIGN.md habit 4).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clampPrivateKey, dh, generatePrivateKey, publicKeyOf } from '../../src/crypto/x25519.js';
import { hexOf, loadVectors, unhex } from './vectors.js';

interface X25519File {
  x25519: { name: string; scalar: string; u: string; output: string }[];
  iterated: { start: string; after: { iterations: number; k: string; skip?: boolean }[] };
  diffie_hellman: {
    alice_private: string;
    alice_public: string;
    bob_private: string;
    bob_public: string;
    shared: string;
  };
  low_order: { name: string; u: string }[];
}

const v = loadVectors<X25519File>('rfc7748-x25519.json');
const d = v.diffie_hellman;

for (const vec of v.x25519) {
  test(vec.name, () => {
    const scalar = unhex(vec.scalar);
    const u = unhex(vec.u);
    const out = dh(scalar, u);
    assert.ok(out);
    assert.equal(hexOf(out), vec.output);
    // X25519 clamps a copy: the caller's scalar and point are untouched.
    assert.equal(hexOf(scalar), vec.scalar);
    assert.equal(hexOf(u), vec.u);
  });
}

// The 1,000,000-iteration step is in the vector file but left out: it takes minutes here.
for (const step of v.iterated.after.filter((s) => s.skip !== true)) {
  test(`RFC 7748 section 5.2 iterated test, ${step.iterations} iteration(s)`, () => {
    let k = unhex(v.iterated.start);
    let u = unhex(v.iterated.start);
    for (let i = 0; i < step.iterations; i++) {
      const next = dh(k, u);
      assert.ok(next, `iteration ${i + 1}`);
      u = k;
      k = next;
    }
    assert.equal(hexOf(k), step.k);
  });
}

test('RFC 7748 section 6.1: public keys X25519(a, 9) and X25519(b, 9)', () => {
  assert.equal(hexOf(publicKeyOf(unhex(d.alice_private))), d.alice_public);
  assert.equal(hexOf(publicKeyOf(unhex(d.bob_private))), d.bob_public);
});

test('RFC 7748 section 6.1: both sides compute the shared secret K', () => {
  assert.equal(hexOf(dh(unhex(d.alice_private), unhex(d.bob_public)) ?? new Uint8Array(0)), d.shared);
  assert.equal(hexOf(dh(unhex(d.bob_private), unhex(d.alice_public)) ?? new Uint8Array(0)), d.shared);
});

test('the dh base point 9 gives the public key', () => {
  const nine = unhex(v.iterated.start);
  assert.equal(hexOf(dh(unhex(d.alice_private), nine) ?? new Uint8Array(0)), d.alice_public);
});

test('the low-order list has the 7 blocklisted points and their bit-255 twins', () => {
  assert.equal(v.low_order.length, 14);
  assert.equal(new Set(v.low_order.map((p) => p.u)).size, 14);
});

for (const point of v.low_order) {
  test(`low-order point ${point.name}: dh returns null and does not throw`, () => {
    const u = unhex(point.u);
    const scalars = [
      unhex(d.alice_private),
      unhex(d.bob_private),
      unhex(v.x25519[0]!.scalar),
      generatePrivateKey(),
    ];
    for (const scalar of scalars) {
      assert.doesNotThrow(() => dh(scalar, u));
      assert.equal(dh(scalar, u), null);
    }
  });
}

test('a point next to a low-order one is an ordinary key (the rejection is not too broad)', () => {
  const u = unhex('02' + '00'.repeat(31));
  const out = dh(unhex(d.alice_private), u);
  assert.ok(out);
  assert.equal(out.length, 32);
});

test('dh never throws for arbitrary 32-byte points', () => {
  const scalar = unhex(d.bob_private);
  for (let n = 0; n < 64; n++) {
    const u = Uint8Array.from({ length: 32 }, (_, i) => (i * 73 + n * 151 + 1) & 0xff);
    assert.doesNotThrow(() => dh(scalar, u));
  }
  assert.doesNotThrow(() => dh(scalar, new Uint8Array(32).fill(0xff)));
});

test('clampPrivateKey clears bits 0-2 and 255 and sets bit 254, in place', () => {
  const ones = new Uint8Array(32).fill(0xff);
  const clamped = clampPrivateKey(ones);
  assert.equal(clamped, ones);
  assert.equal(hexOf(clamped), 'f8' + 'ff'.repeat(30) + '7f');
  assert.equal(hexOf(clampPrivateKey(new Uint8Array(32))), '00'.repeat(31) + '40');
  // RFC 7748's 6.1 private keys are not stored clamped; clamping does not change their public key.
  const alice = unhex(d.alice_private);
  assert.equal(hexOf(publicKeyOf(clampPrivateKey(Uint8Array.from(alice)))), d.alice_public);
});

test('generatePrivateKey returns fresh clamped 32-byte scalars', () => {
  const a = generatePrivateKey();
  const b = generatePrivateKey();
  for (const k of [a, b]) {
    assert.equal(k.length, 32);
    assert.equal(k[0]! & 7, 0);
    assert.equal(k[31]! & 0xc0, 0x40);
  }
  assert.notEqual(hexOf(a), hexOf(b));
  assert.equal(
    hexOf(dh(a, publicKeyOf(b)) ?? new Uint8Array(0)),
    hexOf(dh(b, publicKeyOf(a)) ?? new Uint8Array(1)),
  );
});

test('misuse throws TypeError: keys that are not 32 bytes', () => {
  const k = unhex(d.alice_private);
  assert.throws(() => dh(k.subarray(0, 31), unhex(d.bob_public)), TypeError);
  assert.throws(() => dh(k, new Uint8Array(33)), TypeError);
  assert.throws(() => publicKeyOf(new Uint8Array(0)), TypeError);
  assert.throws(() => clampPrivateKey(new Uint8Array(31)), TypeError);
});
