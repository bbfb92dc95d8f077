/**
 * Key types and their strict encodings (DESIGN.md habits 6 and 7): base64 is exactly 44
 * characters of the standard alphabet, canonical (the two spare bits of the 43rd character zero)
 * and one '='; hex is exactly 64 lowercase digits. Public keys derive as wg(8) derives them
 * (checked against RFC 7748 section 6.1 and against `wg genkey | wg pubkey` output), and private
 * and preshared keys never print their bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { format, inspect } from 'node:util';
import {
  keyToBase64,
  parseKeyBase64,
  parseKeyHex,
  PresharedKey,
  PrivateKey,
  PublicKey,
} from '../../src/crypto/keys.js';
import { hexOf, loadVectors, unhex } from './vectors.js';

interface KeyFile {
  keys: { name: string; hex: string; base64: string }[];
  wg_pairs: { private: string; public: string; note?: string }[];
}
interface X25519File {
  diffie_hellman: { alice_private: string; alice_public: string; bob_private: string; bob_public: string };
}

const { keys, wg_pairs } = loadVectors<KeyFile>('key-encodings.json');
const dhv = loadVectors<X25519File>('rfc7748-x25519.json').diffie_hellman;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const sample = keys[0]!.base64;

test('canonical base64 keys decode to their bytes and encode back', () => {
  assert.ok(keys.length >= 8);
  for (const k of keys) {
    assert.equal(k.base64.length, 44);
    const bytes = parseKeyBase64(k.base64);
    assert.ok(bytes, k.name);
    assert.equal(hexOf(bytes), k.hex, k.name);
    assert.equal(keyToBase64(bytes), k.base64, k.name);
    assert.equal(PublicKey.fromBase64(k.base64)?.toBase64(), k.base64);
    assert.equal(PrivateKey.fromBase64(k.base64)?.toHex(), k.hex);
    assert.equal(PresharedKey.fromBase64(k.base64)?.toHex(), k.hex);
  }
});

test('wg genkey output parses, is clamped, and its public key matches wg pubkey', () => {
  assert.ok(wg_pairs.length >= 3);
  for (const pair of wg_pairs) {
    const priv = PrivateKey.fromBase64(pair.private);
    assert.ok(priv, pair.private);
    assert.equal(priv.toBase64(), pair.private);
    assert.equal(priv.publicKey().toBase64(), pair.public);
    assert.equal(PublicKey.fromBase64(pair.public)?.equals(priv.publicKey()), true);
    if (!pair.note) assert.ok(priv.clamped().equals(priv), 'wg genkey stores keys clamped');
    // An unclamped key gets the same public key as its clamped form, as `wg pubkey` does.
    assert.equal(priv.clamped().publicKey().toBase64(), pair.public);
  }
});

test('public keys from private keys match RFC 7748 section 6.1', () => {
  const alice = PrivateKey.fromHex(dhv.alice_private);
  const bob = PrivateKey.fromHex(dhv.bob_private);
  assert.ok(alice && bob);
  assert.equal(alice.publicKey().toHex(), dhv.alice_public);
  assert.equal(bob.publicKey().toHex(), dhv.bob_public);
  assert.ok(alice.publicKey().equals(new PublicKey(unhex(dhv.alice_public))));
});

test('PrivateKey.generate gives a clamped key whose base64 round-trips', () => {
  const k = PrivateKey.generate();
  const b64 = k.toBase64();
  assert.equal(b64.length, 44);
  assert.ok(PrivateKey.fromBase64(b64)?.equals(k));
  assert.ok(k.clamped().equals(k));
  assert.ok(!k.equals(PrivateKey.generate()));
});

test('base64 of the wrong length is rejected: 43 and 45 characters, 88, empty', () => {
  assert.equal(parseKeyBase64(sample.slice(0, 43)), null, '43 chars, "=" dropped');
  assert.equal(parseKeyBase64(sample.slice(1)), null, '43 chars, first char dropped');
  assert.equal(parseKeyBase64(sample + '='), null, '45 chars');
  assert.equal(parseKeyBase64('A' + sample), null, '45 chars');
  assert.equal(parseKeyBase64(sample + sample), null, 'two keys');
  assert.equal(parseKeyBase64(''), null);
  // The same without the final '=' padded to 44: not a key either.
  assert.equal(parseKeyBase64(sample.slice(0, 43) + 'A'), null, 'missing "="');
  assert.equal(parseKeyBase64(sample.slice(0, 42) + '=='), null, '"==" padding');
});

test('the URL-safe alphabet is rejected although Buffer would decode it', () => {
  const withPlus = keys.find((k) => k.base64.includes('+'))!;
  const withSlash = keys.find((k) => k.base64.includes('/'))!;
  for (const [k, from, to] of [
    [withPlus, '+', '-'],
    [withSlash, '/', '_'],
  ] as const) {
    const urlSafe = k.base64.replaceAll(from, to);
    assert.equal(hexOf(Buffer.from(urlSafe, 'base64')), k.hex, "node's decoder is lenient");
    assert.equal(parseKeyBase64(urlSafe), null, urlSafe);
    assert.equal(PrivateKey.fromBase64(urlSafe), null);
  }
});

test('non-canonical last characters are rejected (spare bits set), e.g. ...B= for ...A=', () => {
  const zero = keys.find((k) => k.hex === '00'.repeat(32))!.base64;
  assert.ok(zero.endsWith('A='));
  assert.equal(parseKeyBase64(zero.slice(0, 42) + 'B='), null);
  assert.equal(
    hexOf(Buffer.from(zero.slice(0, 42) + 'B=', 'base64')),
    '00'.repeat(32),
    'Buffer drops the bits',
  );
  for (const k of keys) {
    const index = ALPHABET.indexOf(k.base64[42]!);
    for (let delta = 1; delta < 4; delta++) {
      const other = k.base64.slice(0, 42) + ALPHABET[(index & ~3) + delta]! + '=';
      assert.equal(parseKeyBase64(other), null, other);
    }
  }
  // Exactly the 16 characters with their low two bits zero may end a key.
  const enders = [...ALPHABET].filter((c) => parseKeyBase64(zero.slice(0, 42) + c + '=') !== null);
  assert.equal(enders.join(''), 'AEIMQUYcgkosw048');
});

test('whitespace anywhere is rejected: around the key, embedded newlines, CRLF, tabs', () => {
  const variants = [
    ` ${sample}`,
    `${sample} `,
    `${sample}\n`,
    `${sample}\r\n`,
    `\t${sample}`,
    `${sample.slice(0, 20)}\n${sample.slice(20)}`,
    `${sample.slice(0, 20)} ${sample.slice(21)}`,
    `${sample.slice(0, 42)}\n=`,
    `${sample.slice(0, 43)}\n`,
  ];
  for (const s of variants) {
    assert.equal(parseKeyBase64(s), null, JSON.stringify(s));
    assert.equal(PublicKey.fromBase64(s), null);
  }
});

test('other garbage is rejected: padding inside, non-alphabet characters, look-alike unicode', () => {
  assert.equal(parseKeyBase64('=' + sample.slice(1)), null);
  assert.equal(parseKeyBase64(sample.slice(0, 10) + '.' + sample.slice(11)), null);
  assert.equal(parseKeyBase64(sample.slice(0, 10) + '\u0410' + sample.slice(11)), null, 'Cyrillic A');
  assert.equal(parseKeyBase64(sample.slice(0, 43) + '\uff1d'), null, 'fullwidth =');
});

test('hex keys: 64 lowercase digits only', () => {
  const hex = keys[0]!.hex;
  assert.equal(hexOf(parseKeyHex(hex) ?? new Uint8Array(0)), hex);
  assert.equal(PrivateKey.fromHex(hex)?.toHex(), hex);
  assert.equal(PublicKey.fromHex(hex)?.toHex(), hex);
  assert.equal(PresharedKey.fromHex(hex)?.toHex(), hex);
  const upper = keys.find((k) => /[a-f]/.test(k.hex))!.hex;
  for (const bad of [
    upper.toUpperCase(),
    upper.replace(/[a-f]/, (c) => c.toUpperCase()),
    hex.slice(0, 63),
    hex + '0',
    hex.slice(0, 62),
    hex + '00',
    hex.slice(0, 63) + 'g',
    '0x' + hex.slice(2),
    ` ${hex.slice(1)}`,
    `${hex.slice(0, 63)}\n`,
    '',
  ]) {
    assert.equal(parseKeyHex(bad), null, JSON.stringify(bad));
    assert.equal(PrivateKey.fromHex(bad), null);
  }
});

test('private and preshared keys never print their bytes', () => {
  const priv = PrivateKey.fromHex(dhv.alice_private)!;
  const psk = PresharedKey.fromBase64(keys.find((k) => k.name.endsWith('0..31'))!.base64)!;
  for (const key of [priv, psk, PrivateKey.generate(), PresharedKey.generate()]) {
    const b64 = key.toBase64();
    const hex = key.toHex();
    const renderings = [
      inspect(key),
      inspect({ key }),
      inspect([key], { showHidden: true, depth: Infinity, getters: true }),
      String(key),
      `${key}`,
      JSON.stringify(key),
      JSON.stringify({ nested: { key } }),
      format('%s %o %O %j', key, key, key, key),
    ];
    for (const text of renderings) {
      assert.ok(!text.includes(b64.slice(0, 43)), `base64 leaked in ${text}`);
      assert.ok(!text.includes(hex), `hex leaked in ${text}`);
      assert.ok(!text.includes(hex.toUpperCase()), `HEX leaked in ${text}`);
    }
    assert.match(String(key), /redacted/);
  }
});

test('public keys may print, as base64', () => {
  const pub = PublicKey.fromHex(dhv.bob_public)!;
  assert.ok(String(pub).includes(pub.toBase64()));
  assert.ok(inspect(pub).includes(pub.toBase64()));
});

test('equals compares bytes; the constructor copies its input', () => {
  const bytes = unhex(dhv.bob_private);
  const a = new PrivateKey(bytes);
  const b = PrivateKey.fromHex(dhv.bob_private)!;
  assert.ok(a.equals(b));
  assert.ok(!a.equals(PrivateKey.fromHex(dhv.alice_private)!));
  bytes.fill(0);
  assert.equal(a.toHex(), dhv.bob_private, 'mutating the source array does not change the key');
  assert.ok(a.equals(b));
});

test('wipe zeroes the key in place', () => {
  const k = PrivateKey.fromHex(dhv.alice_private)!;
  const view = k.bytes;
  assert.equal(k.isZero(), false);
  k.wipe();
  assert.equal(k.isZero(), true);
  assert.equal(hexOf(view), '00'.repeat(32));
  assert.equal(k.toHex(), '00'.repeat(32));
  assert.ok(k.equals(new PrivateKey(new Uint8Array(32))));
  const psk = PresharedKey.generate();
  assert.equal(psk.isZero(), false);
  psk.wipe();
  assert.equal(psk.isZero(), true);
});

test('PresharedKey.generate gives 32 random bytes', () => {
  const a = PresharedKey.generate();
  const b = PresharedKey.generate();
  assert.equal(a.bytes.length, 32);
  assert.ok(!a.equals(b));
});

test('constructing a key from anything but 32 bytes is misuse and throws TypeError', () => {
  assert.throws(() => new PrivateKey(new Uint8Array(31)), TypeError);
  assert.throws(() => new PublicKey(new Uint8Array(33)), TypeError);
  assert.throws(() => new PresharedKey(new Uint8Array(0)), TypeError);
});
