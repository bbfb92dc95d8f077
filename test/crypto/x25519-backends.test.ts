/**
 * Both X25519 implementations on raw bytes (x25519.ts): the native addon's (native/process.c,
 * when it is built) and node:crypto's DER route (x25519-der.ts) give the RFC 7748 vectors, refuse
 * every low-order point of the blocklist (returning false with the output zero, never throwing),
 * and `dh`/`publicKeyOf` switch to the addon once it loads. test/crypto/x25519.test.ts checks the
 * public functions on whichever implementation is active; this file checks each one directly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seal } from '../../src/crypto/aead.js';
import { isAllZero } from '../../src/crypto/bytes.js';
import { derX25519, type RawX25519 } from '../../src/crypto/x25519-der.js';
import { dh, publicKeyOf, useRawX25519, x25519Backend } from '../../src/crypto/x25519.js';
import { loadNative } from '../../src/io/native.js';
import { hexOf, loadVectors, unhex } from './vectors.js';

interface X25519File {
  x25519: { name: string; scalar: string; u: string; output: string }[];
  iterated: { start: string; after: { iterations: number; k: string; skip?: boolean }[] };
  diffie_hellman: { alice_private: string; alice_public: string; bob_private: string; shared: string };
  low_order: { name: string; u: string }[];
}

const v = loadVectors<X25519File>('rfc7748-x25519.json');

let native: RawX25519 | null = null;
let nativeWhy = '';
try {
  native = loadNative();
} catch (err) {
  nativeWhy = `native addon not loadable: ${(err as Error).message.slice(0, 80)}`;
}

const backends: [string, RawX25519 | null][] = [
  ['node:crypto DER', derX25519],
  ['native', native],
];

for (const [name, impl] of backends) {
  const skip = impl === null ? nativeWhy : false;
  test(`${name}: RFC 7748 section 5.2 and 6.1 vectors`, { skip }, () => {
    const out = new Uint8Array(32);
    for (const vec of v.x25519) {
      assert.equal(impl!.x25519(out, unhex(vec.scalar), unhex(vec.u)), true, vec.name);
      assert.equal(hexOf(out), vec.output, vec.name);
    }
    const d = v.diffie_hellman;
    impl!.x25519Public(out, unhex(d.alice_private));
    assert.equal(hexOf(out), d.alice_public);
    assert.equal(impl!.x25519(out, unhex(d.bob_private), unhex(d.alice_public)), true);
    assert.equal(hexOf(out), d.shared);
  });

  test(`${name}: RFC 7748 iterated test, 1,000 iterations`, { skip }, () => {
    const step = v.iterated.after.find((s) => s.iterations === 1000)!;
    let k = unhex(v.iterated.start);
    let u = unhex(v.iterated.start);
    for (let i = 0; i < step.iterations; i++) {
      const next = new Uint8Array(32);
      assert.ok(impl!.x25519(next, k, u));
      u = k;
      k = next;
    }
    assert.equal(hexOf(k), step.k);
  });

  test(`${name}: every low-order point is refused with a zero output, without throwing`, { skip }, () => {
    const scalar = unhex(v.diffie_hellman.alice_private);
    for (const point of v.low_order) {
      const out = new Uint8Array(32).fill(0xaa);
      assert.equal(impl!.x25519(out, scalar, unhex(point.u)), false, point.name);
      assert.ok(isAllZero(out), `${point.name}: output left non-zero`);
    }
  });
}

test(
  'native: keys of the wrong length are a TypeError, not a read past the buffer',
  { skip: native === null ? nativeWhy : false },
  () => {
    const out = new Uint8Array(32);
    assert.throws(() => native!.x25519(out, new Uint8Array(31), new Uint8Array(32)), TypeError);
    assert.throws(() => native!.x25519(out, new Uint8Array(32), new Uint8Array(33)), TypeError);
    assert.throws(
      () => native!.x25519(new Uint8Array(16), new Uint8Array(32), new Uint8Array(32)),
      TypeError,
    );
    assert.throws(() => native!.x25519Public(out, new Uint8Array(0)), TypeError);
  },
);

test(
  'dh and publicKeyOf run on the addon once it has loaded, and agree with node:crypto',
  { skip: native === null ? nativeWhy : false },
  () => {
    assert.equal(x25519Backend(), 'native');
    const d = v.diffie_hellman;
    const viaNative = dh(unhex(d.bob_private), unhex(d.alice_public));
    useRawX25519(null);
    try {
      assert.equal(x25519Backend(), 'node:crypto');
      assert.equal(hexOf(dh(unhex(d.bob_private), unhex(d.alice_public))!), d.shared);
      assert.equal(hexOf(publicKeyOf(unhex(d.alice_private))), d.alice_public);
    } finally {
      useRawX25519(native);
    }
    assert.equal(hexOf(viaNative!), d.shared);
    assert.equal(dh(unhex(d.bob_private), unhex(v.low_order[0]!.u)), null);
  },
);

test(
  "native: a refused point leaves no error on OpenSSL's queue for node:crypto's next call to trip on",
  { skip: native === null ? nativeWhy : false },
  () => {
    const scalar = unhex(v.diffie_hellman.alice_private);
    const d = v.diffie_hellman;
    for (let i = 0; i < 3; i++) {
      assert.equal(native!.x25519(new Uint8Array(32), scalar, unhex(v.low_order[i]!.u)), false);
      const out = new Uint8Array(32);
      assert.equal(derX25519.x25519(out, unhex(d.bob_private), unhex(d.alice_public)), true, `round ${i}`);
      assert.equal(hexOf(out), d.shared);
      assert.equal(
        hexOf(seal(new Uint8Array(32), 0n, new Uint8Array(0))),
        '4eb972c9a8fb3a1b382bb4d36f5ffad1',
      );
    }
  },
);
