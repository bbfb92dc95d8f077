/**
 * native sealBatch / openBatch spread over the crypto pool (native/aead.c, native/crypto-pool.c;
 * issue 11 "Multi-core"): with 2, 3, 4 and 8 threads the sealed bytes, the lengths and the
 * opened results are byte-identical to one thread's for batches of 1, 2, around the slicing
 * threshold, odd sizes and 4,096 datagrams, bad tags placed in every slice included; every
 * datagram's header carries exactly firstCounter + index (so a slice given the wrong counters,
 * or run in the wrong place, fails here); a key that lies inside the buffer being sealed is read
 * before any byte is written; and adversarial lengths (above 65,535 bytes of IP payload, near
 * 2^31 and 2^32) and ranges are a RangeError with nothing touched. setThreads rejects 0 and 65.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { loadNative } from '../../src/io/native.js';
import type { NativeAddon } from '../../src/io/native.js';
import { Prng, readU32, readU64 } from '../helpers/fuzz.js';

const skip = process.platform === 'linux' ? false : 'Linux only';
const THREADS = [2, 3, 4, 8];
/** aead.c THREAD_MIN_BYTES: a batch goes to a 2nd thread only when each gets at least this many bytes. */
const THREAD_MIN_BYTES = 262144;
const MAX = (1n << 64n) - 1n;

interface Batch {
  readonly buffer: Uint8Array;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
}

/** `sizes` plaintexts packed one after another (16-byte header and tag room each, a gap of 0-7). */
function batch(prng: Prng, sizes: readonly number[]): Batch {
  const offsets = new Uint32Array(sizes.length);
  const lengths = new Uint32Array(sizes.length);
  let at = 0;
  sizes.forEach((s, i) => {
    offsets[i] = at;
    lengths[i] = s;
    at += 32 + s + prng.below(8);
  });
  const buffer = new Uint8Array(at);
  sizes.forEach((s, i) => buffer.set(prng.bytes(s), offsets[i]! + 16));
  return { buffer, offsets, lengths };
}

function copy(b: Batch): Batch {
  return { buffer: b.buffer.slice(), offsets: b.offsets.slice(), lengths: b.lengths.slice() };
}

/** Batch sizes to try: tiny, on both sides of where slicing starts, odd, and 4,096. */
function sizeSets(prng: Prng): number[][] {
  const atThreshold = Math.ceil((2 * THREAD_MIN_BYTES) / 1420);
  const sets: number[][] = [[1420], [1420, 1420], [0], [1, 15]];
  for (const n of [atThreshold - 1, atThreshold, atThreshold + 1, 97, 4096])
    sets.push(Array.from({ length: n }, () => 1420));
  sets.push(Array.from({ length: 333 }, () => prng.below(1500)));
  sets.push(Array.from({ length: 1001 }, () => 1 + 2 * prng.below(700))); // odd lengths
  sets.push(Array.from({ length: 9 }, () => 60000 + prng.below(5536)));
  return sets;
}

describe('native AEAD on several threads', { skip }, () => {
  const native = skip === false ? loadNative() : (null as unknown as NativeAddon);
  const setThreads = (n: number): number => native.setThreads!(n);
  after(() => setThreads(1));

  it('has setThreads/getThreads and rejects counts outside 1..64', () => {
    assert.equal(typeof native.setThreads, 'function');
    assert.equal(setThreads(4), 4);
    assert.equal(native.getThreads!(), 4);
    assert.equal(setThreads(1), 1);
    assert.equal(setThreads(3), 3);
    assert.throws(() => setThreads(0), RangeError);
    assert.throws(() => setThreads(65), RangeError);
    assert.throws(() => native.setThreads!('2' as unknown as number), TypeError);
    assert.equal(native.getThreads!(), 3, 'a refused count changes nothing');
    setThreads(1);
  });

  it('seals byte-identically to one thread, every header with exactly firstCounter + index', () => {
    const prng = new Prng(0x7e4d);
    for (const sizes of sizeSets(prng)) {
      for (const firstCounter of [0n, (1n << 32n) - 7n, MAX - BigInt(sizes.length) + 1n]) {
        const key = prng.bytes(32);
        const receiver = prng.u32();
        const original = batch(prng, sizes);
        setThreads(1);
        const one = copy(original);
        native.sealBatch(key, receiver, firstCounter, one.buffer, one.offsets, one.lengths, 0, sizes.length);
        for (const n of THREADS) {
          setThreads(n);
          const many = copy(original);
          native.sealBatch(
            key,
            receiver,
            firstCounter,
            many.buffer,
            many.offsets,
            many.lengths,
            0,
            sizes.length,
          );
          const what = `${sizes.length} datagrams, ${n} threads, counter ${firstCounter}`;
          assert.deepEqual(many.lengths, one.lengths, `${what}: lengths`);
          for (let i = 0; i < sizes.length; i++) {
            const off = many.offsets[i]!;
            assert.equal(readU32(many.buffer, off), 4, `${what}: type of ${i}`);
            assert.equal(readU32(many.buffer, off + 4), receiver, `${what}: receiver of ${i}`);
            if (readU64(many.buffer, off + 8) !== firstCounter + BigInt(i))
              assert.fail(`${what}: datagram ${i} carries counter ${readU64(many.buffer, off + 8)}`);
          }
          assert.ok(Buffer.from(many.buffer).equals(one.buffer), `${what}: sealed bytes`);
        }
      }
    }
  });

  it('opens byte-identically to one thread, bad tags in every slice reported in place', () => {
    const prng = new Prng(0x09e7);
    for (const sizes of sizeSets(prng)) {
      const key = prng.bytes(32);
      const sealed = batch(prng, sizes);
      setThreads(1);
      native.sealBatch(key, 9, 1000n, sealed.buffer, sealed.offsets, sealed.lengths, 0, sizes.length);
      // Bad tags: the first and last datagram, each slice boundary of 2..8 threads, some random.
      const bad = new Set<number>([0, sizes.length - 1]);
      for (const n of THREADS) for (let k = 1; k < n; k++) bad.add(Math.floor((k * sizes.length) / n));
      for (let r = 0; r < 5; r++) bad.add(prng.below(sizes.length));
      for (const i of bad) {
        const end = sealed.offsets[i]! + sealed.lengths[i]!;
        sealed.buffer[end - 1 - prng.below(16)]! ^= 1 << prng.below(8);
      }
      const results = (): Int32Array => new Int32Array(sizes.length).fill(-7);
      const one = copy(sealed);
      const oneResults = results();
      native.openBatch(key, one.buffer, one.offsets, one.lengths, 0, sizes.length, oneResults);
      for (let i = 0; i < sizes.length; i++)
        assert.equal(oneResults[i], bad.has(i) ? -1 : sizes[i], `one thread: result ${i}`);
      for (const n of THREADS) {
        setThreads(n);
        const many = copy(sealed);
        const manyResults = results();
        native.openBatch(key, many.buffer, many.offsets, many.lengths, 0, sizes.length, manyResults);
        const what = `${sizes.length} datagrams, ${n} threads`;
        assert.deepEqual(manyResults, oneResults, `${what}: results`);
        // Good datagrams decrypt to the same plaintext; bad ones are garbage and not compared.
        for (let i = 0; i < sizes.length; i++) {
          if (bad.has(i)) continue;
          const p = many.offsets[i]! + 16;
          assert.ok(
            Buffer.from(many.buffer.subarray(p, p + sizes[i]!)).equals(one.buffer.subarray(p, p + sizes[i]!)),
            `${what}: plaintext ${i}`,
          );
        }
      }
    }
  });

  it('a sub-range [first, first + count) on threads: counters from first, nothing else touched', () => {
    const prng = new Prng(0xf125);
    const sizes = Array.from({ length: 600 }, () => 1420);
    for (const n of [1, ...THREADS]) {
      setThreads(n);
      const b = batch(prng, sizes);
      const before = b.buffer.slice();
      native.sealBatch(prng.bytes(32), 1, 50n, b.buffer, b.offsets, b.lengths, 100, 400);
      for (let i = 0; i < sizes.length; i++) {
        const inside = i >= 100 && i < 500;
        assert.equal(b.lengths[i], inside ? 1452 : 1420, `${n} threads: length ${i}`);
        const s = b.offsets[i]!;
        if (inside)
          assert.equal(readU64(b.buffer, s + 8), 50n + BigInt(i - 100), `${n} threads: counter ${i}`);
        else assert.ok(Buffer.from(b.buffer.subarray(s, s + 1452)).equals(before.subarray(s, s + 1452)));
      }
    }
  });

  it('reads a key that lies inside the buffer before writing any datagram', () => {
    const prng = new Prng(0x4e1);
    const sizes = Array.from({ length: 300 }, () => 1420);
    for (const n of [1, 4]) {
      setThreads(n);
      const b = batch(prng, sizes);
      const key = b.buffer.subarray(16 + 100, 16 + 132); // plaintext of datagram 0, sealed in place
      const reference = copy(b);
      native.sealBatch(key.slice(), 3, 0n, reference.buffer, reference.offsets, reference.lengths, 0, 300);
      native.sealBatch(key, 3, 0n, b.buffer, b.offsets, b.lengths, 0, 300);
      assert.ok(Buffer.from(b.buffer).equals(reference.buffer), `${n} threads`);
    }
  });

  it('refuses lengths above 65,535 bytes of IP payload, near 2^31 and 2^32, and bad ranges', () => {
    const key = new Uint8Array(32);
    const buffer = new Uint8Array(70_000).fill(0xa5);
    const offsets = new Uint32Array(4);
    const results = new Int32Array(4);
    const untouched = (): void => assert.ok(buffer.every((x) => x === 0xa5));
    for (const n of [1, 4]) {
      setThreads(n);
      for (const len of [65_536, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 16, 2 ** 32 - 32, 2 ** 32 - 1]) {
        const lengths = Uint32Array.of(100, len, 100, 100);
        offsets.set([0, 200, 400, 600]);
        assert.throws(
          () => native.sealBatch(key, 1, 0n, buffer, offsets, lengths, 0, 4),
          RangeError,
          `seal ${len}`,
        );
        const dl = Uint32Array.of(100, len + 32 > 2 ** 32 - 1 ? len : len + 32, 100, 100);
        assert.throws(
          () => native.openBatch(key, buffer, offsets, dl, 0, 4, results),
          RangeError,
          `open ${len}`,
        );
        untouched();
      }
      // The largest allowed: 65,535 bytes sealed; a 65,535 + 32 datagram opened (a bad tag).
      const big = new Uint8Array(65_535 + 32);
      const lengths = Uint32Array.of(65_535);
      native.sealBatch(key, 1, 0n, big, Uint32Array.of(0), lengths, 0, 1);
      assert.equal(lengths[0], 65_535 + 32);
      assert.throws(
        () => native.openBatch(key, big, Uint32Array.of(0), Uint32Array.of(65_535 + 33), 0, 1, results),
        RangeError,
      );
      // Offsets and ranges whose sums wrap in 32 bits.
      const l1 = Uint32Array.of(64);
      for (const off of [2 ** 32 - 1, 2 ** 32 - 32, 2 ** 31, 69_999]) {
        assert.throws(() => native.sealBatch(key, 1, 0n, buffer, Uint32Array.of(off), l1, 0, 1), RangeError);
        assert.throws(
          () => native.openBatch(key, buffer, Uint32Array.of(off), l1, 0, 1, results),
          RangeError,
        );
      }
      assert.throws(
        () => native.sealBatch(key, 1, 0n, buffer, offsets, Uint32Array.of(1, 1, 1, 1), 2 ** 32 - 1, 2),
        RangeError,
      );
      assert.throws(
        () => native.sealBatch(key, 1, 0n, buffer, offsets, Uint32Array.of(1, 1, 1, 1), 1, 2 ** 32 - 1),
        RangeError,
      );
      assert.throws(
        () => native.openBatch(key, buffer, offsets, Uint32Array.of(40, 40, 40, 40), 0, 4, new Int32Array(3)),
        RangeError,
      );
      untouched();
    }
  });
});
