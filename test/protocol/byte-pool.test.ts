/**
 * BytePool (src/crypto/bytes.ts), which holds the tunnels' peer public keys and the UAPI's parsed
 * public values, and the table-driven hex decoding the UAPI parses keys with: pooled views are
 * plain Uint8Arrays of their own length that never overlap (8-byte aligned, a neighbour's writes
 * never show), across chunk boundaries; the hex decoder takes exactly lowercase, even-length hex,
 * as parseHex always has, and the pooled public-key parser agrees with the standalone one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BytePool, decodeHexInto, parseHex } from '../../src/crypto/bytes.js';
import { parseHexKey, parsePublicHexKey } from '../../src/uapi/values.js';
import { Prng } from '../routing/prng.js';

test('pooled views are their own length, aligned, disjoint, and zeroed or copied', () => {
  const pool = new BytePool();
  const rng = new Prng(11);
  const views: Array<{ view: Uint8Array; want: Uint8Array }> = [];
  // Enough to fill several chunks, with lengths that do not divide one.
  for (let i = 0; i < 3000; i++) {
    const want = rng.bytes(rng.below(40));
    const copied = rng.below(2) === 0;
    const view = copied ? pool.copy(want) : pool.alloc(want.length);
    if (copied) assert.deepEqual([...view], [...want]);
    else
      assert.ok(
        view.every((x) => x === 0),
        'alloc gives zeros',
      );
    assert.equal(view.length, want.length);
    assert.ok(view instanceof Uint8Array && Object.getPrototypeOf(view) === Uint8Array.prototype);
    assert.equal(view.byteOffset % 8, 0, 'aligned');
    views.push({ view, want });
  }
  // Views that overlapped would show a neighbour's bytes once every view is written in full.
  for (const { view, want } of views) view.set(want);
  for (const { view, want } of views) assert.deepEqual([...view], [...want]);
  assert.equal(pool.alloc(0).length, 0);
  assert.equal(pool.alloc(8192).length, 8192);
  assert.throws(() => pool.alloc(8193), RangeError);
  assert.throws(() => pool.alloc(-1), RangeError);
  assert.throws(() => pool.alloc(1.5), RangeError);
});

test('hex decoding takes lowercase, even-length hex only, like parseHex always did', () => {
  const rng = new Prng(12);
  for (let i = 0; i < 200; i++) {
    const bytes = rng.bytes(rng.below(40));
    const text = Buffer.from(bytes).toString('hex');
    assert.deepEqual(parseHex(text), bytes);
    const out = new Uint8Array(bytes.length + 3);
    assert.equal(decodeHexInto(text, out, 3), true);
    assert.deepEqual(out.subarray(3), bytes);
  }
  for (const bad of [
    '0',
    'abc',
    'AB',
    'aG',
    'g0',
    ' 00',
    '00 ',
    '0x',
    '\u0130\u0130',
    '\u00e90',
    '-1',
    '+1',
  ]) {
    assert.equal(parseHex(bad), null, JSON.stringify(bad));
    assert.equal(decodeHexInto(bad, new Uint8Array(8)), false, JSON.stringify(bad));
  }
  assert.equal(decodeHexInto('0011', new Uint8Array(1)), false, 'does not fit');
  assert.deepEqual(parseHex(''), new Uint8Array(0));
});

test('a pooled public key parses exactly as a standalone key does', () => {
  const rng = new Prng(13);
  for (let i = 0; i < 100; i++) {
    const text = Buffer.from(rng.bytes(32)).toString('hex');
    assert.deepEqual([...parsePublicHexKey(text)!], [...parseHexKey(text)!]);
  }
  for (const bad of ['', '00'.repeat(31), '00'.repeat(33), 'A'.repeat(64), `${'0'.repeat(63)}g`]) {
    assert.equal(parsePublicHexKey(bad), null);
    assert.equal(parseHexKey(bad), null);
  }
});
