/**
 * native sealBatch / openBatch (native/aead.c) against the reference AEAD of src/crypto/aead.ts
 * (node:crypto) and, independently, @noble/ciphers' ChaCha20-Poly1305: the transport header
 * (type 4, receiver and counter little-endian, whitepaper 5.4.6) written exactly, the sealed
 * bytes equal to seal(key, counter, plaintext), openBatch's results the plaintext length or -1 for
 * any flipped bit in ciphertext, tag or counter, the project's WireGuard wire vector reproduced,
 * the RFC 8439 A.5 ciphertext (its nonce has WireGuard's form; its tag covers AAD, which transport
 * data has none of), and bad arguments rejected before anything is touched. All of it once per
 * AEAD engine this node offers (native/chacha-poly.h: "direct" on OpenSSL's primitives, "evp"),
 * lengths either side of the direct engine's one-pass limit included.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { open, seal } from '../../src/crypto/aead.js';
import { loadNative } from '../../src/io/native.js';
import type { NativeAddon } from '../../src/io/native.js';
import { Prng, readU32, readU64 } from '../helpers/fuzz.js';
import { hex, loadVector } from '../helpers/vectors.js';
import { firstDifference } from './offload-packets.js';

const skip = process.platform === 'linux' ? false : 'Linux only';
const LENGTHS = [0, 1, 15, 16, 1420, 4096, 4097, 65000];
const MAX = (1n << 64n) - 1n;
const FILL = 0x5c;

function nonceOf(counter: bigint): Uint8Array {
  const n = new Uint8Array(12);
  for (let i = 0; i < 8; i++) n[4 + i] = Number((counter >> BigInt(8 * i)) & 0xffn);
  return n;
}

/** A little-endian header built byte by byte. */
function header(receiver: number, counter: bigint): Uint8Array {
  const h = new Uint8Array(16);
  h[0] = 4;
  for (let i = 0; i < 4; i++) h[4 + i] = Math.floor(receiver / 256 ** i) % 256;
  for (let i = 0; i < 8; i++) h[8 + i] = Number((counter >> BigInt(8 * i)) & 0xffn);
  return h;
}

interface Layout {
  readonly buffer: Uint8Array;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
}

/** Datagram slots for `sizes` (each 16 + size + 16 bytes) at entries first.., random gaps (at
 * least one byte) and alignments, everything else FILL; entries outside the range hold sentinels. */
function layout(prng: Prng, sizes: readonly number[], first: number, extraEntries = 2): Layout {
  const n = first + sizes.length + extraEntries;
  const offsets = new Uint32Array(n).fill(0xfeedf00d);
  const lengths = new Uint32Array(n).fill(0xfeedf00d);
  let at = prng.below(40);
  for (let i = 0; i < sizes.length; i++) {
    offsets[first + i] = at;
    at += 32 + sizes[i]! + 1 + prng.below(24); // at least one byte apart
  }
  return { buffer: new Uint8Array(at + prng.below(8)).fill(FILL), offsets, lengths }; // at >= end + 1
}

/** Bytes of `buffer` outside the datagrams [first, first+count) are all FILL. */
function assertOutsideUntouched(
  l: Layout,
  first: number,
  count: number,
  datagramLength: (i: number) => number,
): void {
  const spans: [number, number][] = [];
  for (let i = first; i < first + count; i++) spans.push([l.offsets[i]!, l.offsets[i]! + datagramLength(i)]);
  spans.sort((a, b) => a[0] - b[0]);
  let from = 0;
  for (const [s, e] of [...spans, [l.buffer.length, l.buffer.length] as [number, number]]) {
    for (let k = from; k < s; k++) assert.equal(l.buffer[k], FILL, `byte ${k} outside the datagrams`);
    from = Math.max(from, e);
  }
}

type Engine = 'direct' | 'evp';

/** The engines this node offers: evp always, direct where node exports the primitives. */
function engines(native: NativeAddon): Engine[] {
  const was = native.aeadEngine!();
  try {
    native.aeadEngine!('direct');
    return ['direct', 'evp'];
  } catch {
    return ['evp'];
  } finally {
    native.aeadEngine!(was);
  }
}

describe('native AEAD engines', { skip }, () => {
  it('direct is the default wherever node links OpenSSL statically (and so exports its primitives)', () => {
    const native = loadNative();
    const shared = (process.config.variables as { node_shared_openssl?: boolean }).node_shared_openssl;
    if (shared === true) {
      assert.equal(native.aeadEngine!(), 'evp');
      assert.throws(() => native.aeadEngine!('direct'), RangeError);
    } else {
      assert.equal(native.aeadEngine!(), 'direct');
    }
    assert.throws(() => native.aeadEngine!('other' as Engine), RangeError);
    assert.equal(native.aeadEngine!(), shared === true ? 'evp' : 'direct', 'a refused name changes nothing');
  });
});

for (const engine of skip === false ? engines(loadNative()) : (['evp'] as Engine[])) {
  describe(`native sealBatch / openBatch (${engine})`, { skip }, () => {
    const native = skip === false ? loadNative() : (null as unknown as NativeAddon);
    let was: Engine = 'evp';
    before(() => {
      was = native.aeadEngine!();
      native.aeadEngine!(engine);
    });
    after(() => native.aeadEngine!(was));

    it('seals like the reference AEAD: exact header, ciphertext and tag, lengths updated', () => {
      const prng = new Prng(0xae0d);
      const counters = [
        0n,
        1n,
        BigInt(prng.u32()),
        (1n << 32n) - 3n, // the batch crosses 2^32
        (1n << 32n) + BigInt(prng.u32()),
        BigInt(prng.u32()) * (1n << 31n) + BigInt(prng.u32()),
        (1n << 63n) - 2n,
        MAX - 100n,
        MAX - BigInt(LENGTHS.length + 2) + 1n, // the last datagram has counter 2^64 - 1
      ];
      for (const firstCounter of counters) {
        const key = prng.bytes(32);
        const receiver = prng.pick([0, 0xffffffff, prng.u32()]);
        const sizes = [...LENGTHS, prng.below(2000), prng.below(100)];
        const first = prng.below(3);
        const l = layout(prng, sizes, first);
        const plain = sizes.map((s) => prng.bytes(s));
        sizes.forEach((_, i) => l.buffer.set(plain[i]!, l.offsets[first + i]! + 16));
        sizes.forEach((s, i) => (l.lengths[first + i] = s));
        native.sealBatch(key, receiver, firstCounter, l.buffer, l.offsets, l.lengths, first, sizes.length);
        for (let i = 0; i < sizes.length; i++) {
          const counter = firstCounter + BigInt(i);
          const off = l.offsets[first + i]!;
          const what = `counter ${counter}, ${sizes[i]} bytes`;
          assert.equal(l.lengths[first + i], 32 + sizes[i]!, `${what}: length`);
          const dgram = l.buffer.subarray(off, off + 32 + sizes[i]!);
          assert.equal(
            firstDifference(dgram.subarray(0, 16), header(receiver, counter)),
            -1,
            `${what}: header`,
          );
          assert.equal(readU32(dgram, 0), 4);
          assert.equal(readU32(dgram, 4), receiver);
          assert.equal(readU64(dgram, 8), counter);
          const want = seal(key, counter, plain[i]!);
          assert.equal(firstDifference(dgram.subarray(16), want), -1, `${what}: sealed bytes`);
          const noble = chacha20poly1305(key, nonceOf(counter)).encrypt(plain[i]!);
          assert.equal(firstDifference(dgram.subarray(16), noble), -1, `${what}: as @noble/ciphers`);
          assert.deepEqual(open(key, counter, dgram.subarray(16)), plain[i]!, `${what}: opens`);
        }
        assertOutsideUntouched(l, first, sizes.length, (i) => l.lengths[i]!);
        for (let i = 0; i < l.offsets.length; i++) {
          if (i >= first && i < first + sizes.length) continue;
          assert.equal(l.lengths[i], 0xfeedf00d, `lengths[${i}] untouched`);
        }
      }
    });

    it('opens what the reference sealed: results = plaintext length, plaintext in place', () => {
      const prng = new Prng(0x0be7);
      for (const firstCounter of [0n, 7n, (1n << 32n) - 1n, (1n << 32n) + 5n, MAX - 10n]) {
        const key = prng.bytes(32);
        const sizes = [...LENGTHS, prng.below(3000)];
        const first = prng.below(4);
        const l = layout(prng, sizes, first);
        const plain = sizes.map((s) => prng.bytes(s));
        const counters = sizes.map((_, i) => (firstCounter + BigInt(i * prng.between(1, 3))) & MAX); // any order
        for (let i = 0; i < sizes.length; i++) {
          const off = l.offsets[first + i]!;
          l.buffer.set(header(prng.u32(), counters[i]!), off);
          l.buffer.set(seal(key, counters[i]!, plain[i]!), off + 16);
          l.lengths[first + i] = 32 + sizes[i]!;
        }
        const lengthsBefore = l.lengths.slice();
        const results = new Int32Array(l.offsets.length).fill(12345);
        native.openBatch(key, l.buffer, l.offsets, l.lengths, first, sizes.length, results);
        for (let i = 0; i < sizes.length; i++) {
          assert.equal(results[first + i], sizes[i], `datagram ${i}: result`);
          const off = l.offsets[first + i]! + 16;
          assert.equal(
            firstDifference(l.buffer.subarray(off, off + sizes[i]!), plain[i]!),
            -1,
            `datagram ${i}: plaintext`,
          );
        }
        for (let i = 0; i < results.length; i++) {
          if (i < first || i >= first + sizes.length)
            assert.equal(results[i], 12345, `results[${i}] untouched`);
        }
        assert.deepEqual(l.lengths, lengthsBefore, 'lengths untouched');
        assertOutsideUntouched(l, first, sizes.length, (i) => l.lengths[i]!);
      }
    });

    it('rejects a flipped bit in ciphertext, tag or counter (and only those: no AAD)', () => {
      const prng = new Prng(0xf11b);
      const key = prng.bytes(32);
      type Where = 'ciphertext' | 'tag' | 'counter' | 'type' | 'receiver' | 'none' | 'key' | 'short';
      const cases: [Where, number][] = [];
      for (const size of LENGTHS) {
        for (const where of ['ciphertext', 'tag', 'counter', 'type', 'receiver', 'none', 'short'] as const) {
          if (where === 'ciphertext' && size === 0) continue;
          cases.push([where, size]);
        }
      }
      // Several rounds so that each kind of flip lands at many positions.
      for (let round = 0; round < 4; round++) {
        const sizes = cases.map(([, s]) => s);
        const l = layout(prng, sizes, 1);
        const plain = sizes.map((s) => prng.bytes(s));
        const counterBase = BigInt(prng.u32()) << BigInt(prng.below(33));
        const want: number[] = [];
        cases.forEach(([where, size], i) => {
          const off = l.offsets[1 + i]!;
          const counter = counterBase + BigInt(i);
          l.buffer.set(header(prng.u32(), counter), off);
          l.buffer.set(seal(key, counter, plain[i]!), off + 16);
          l.lengths[1 + i] = 32 + size;
          const bit = 1 << prng.below(8);
          if (where === 'ciphertext') l.buffer[off + 16 + prng.below(size)]! ^= bit;
          else if (where === 'tag') l.buffer[off + 16 + size + prng.below(16)]! ^= bit;
          else if (where === 'counter') l.buffer[off + 8 + prng.below(8)]! ^= bit;
          else if (where === 'type') l.buffer[off + prng.below(4)]! ^= bit;
          else if (where === 'receiver') l.buffer[off + 4 + prng.below(4)]! ^= bit;
          else if (where === 'short' && size > 0) l.lengths[1 + i] = 32 + size - 1;
          else if (where === 'short') l.lengths[1 + i] = 32 + size + 1; // one byte too many
          // The header's first 8 bytes are not authenticated (WireGuard seals with empty AAD).
          want.push(where === 'none' || where === 'type' || where === 'receiver' ? size : -1);
        });
        const results = new Int32Array(l.offsets.length);
        const sent = l.buffer.slice();
        native.openBatch(key, l.buffer, l.offsets, l.lengths, 1, cases.length, results);
        cases.forEach(([where, size], i) => {
          assert.equal(results[1 + i], want[i], `round ${round}: ${where}, ${size} bytes`);
          if (want[i] === -1 && engine === 'direct') {
            // The direct engine checks the tag before it writes: a forgery's bytes stay as sent.
            const off = l.offsets[1 + i]!;
            const end = off + l.lengths[1 + i]!;
            assert.equal(firstDifference(l.buffer.subarray(off, end), sent.subarray(off, end)), -1);
          }
          if (want[i]! >= 0) {
            const off = l.offsets[1 + i]! + 16;
            assert.equal(firstDifference(l.buffer.subarray(off, off + size), plain[i]!), -1);
          }
        });
      }
      // Another key opens nothing.
      const sizes = [0, 100, 1420];
      const l = layout(prng, sizes, 0);
      sizes.forEach((s, i) => {
        l.buffer.set(header(1, BigInt(i)), l.offsets[i]!);
        l.buffer.set(seal(key, BigInt(i), prng.bytes(s)), l.offsets[i]! + 16);
        l.lengths[i] = 32 + s;
      });
      const results = new Int32Array(sizes.length + 2);
      const other = key.slice();
      other[31]! ^= 0x80;
      native.openBatch(other, l.buffer, l.offsets, l.lengths, 0, sizes.length, results);
      assert.deepEqual([...results.subarray(0, 3)], [-1, -1, -1]);
    });

    it('round-trips sealBatch -> openBatch, and a failed open does not poison the next one', () => {
      const prng = new Prng(0x4747);
      for (let round = 0; round < 10; round++) {
        const key = prng.bytes(32);
        const sizes = Array.from({ length: prng.between(1, 40) }, () =>
          prng.pick([0, 1, 15, 16, 17, 1420, prng.below(1500)]),
        );
        const l = layout(prng, sizes, 0);
        const plain = sizes.map((s) => prng.bytes(s));
        sizes.forEach((s, i) => {
          l.buffer.set(plain[i]!, l.offsets[i]! + 16);
          l.lengths[i] = s;
        });
        const c0 = BigInt(prng.u32()) * BigInt(prng.u32());
        native.sealBatch(key, prng.u32(), c0, l.buffer, l.offsets, l.lengths, 0, sizes.length);
        const bad = prng.below(sizes.length);
        l.buffer[l.offsets[bad]! + l.lengths[bad]! - 1]! ^= 1; // the last tag byte
        const results = new Int32Array(sizes.length + 2);
        native.openBatch(key, l.buffer, l.offsets, l.lengths, 0, sizes.length, results);
        sizes.forEach((s, i) => {
          assert.equal(results[i], i === bad ? -1 : s);
          if (i !== bad) {
            const off = l.offsets[i]! + 16;
            assert.equal(firstDifference(l.buffer.subarray(off, off + s), plain[i]!), -1);
          }
        });
      }
    });

    it('reproduces the WireGuard wire vector and the RFC 8439 A.5 ciphertext', () => {
      interface WireVector {
        initiator_index: number;
        responder_index: number;
        initiator_send_key: string;
        initiator_recv_key: string;
        transport_plain_ip_packet: string;
        transport_initiator_counter0: string;
        keepalive_responder_counter0: string;
      }
      const v = loadVector<WireVector>('wg-handshake-vector.json');
      const cases: [Uint8Array, number, Uint8Array, Uint8Array][] = [
        [
          hex(v.initiator_send_key),
          v.responder_index,
          hex(v.transport_plain_ip_packet),
          hex(v.transport_initiator_counter0),
        ],
        [
          hex(v.initiator_recv_key),
          v.initiator_index,
          new Uint8Array(0),
          hex(v.keepalive_responder_counter0),
        ],
      ];
      for (const [key, receiver, packet, message] of cases) {
        const padded = Math.ceil(packet.length / 16) * 16;
        const buffer = new Uint8Array(32 + padded);
        buffer.set(packet, 16);
        const offsets = Uint32Array.of(0);
        const lengths = Uint32Array.of(padded);
        native.sealBatch(key, receiver, 0n, buffer, offsets, lengths, 0, 1);
        assert.equal(lengths[0], message.length);
        assert.equal(firstDifference(buffer, message), -1);
        const results = new Int32Array(1);
        native.openBatch(key, buffer, offsets, lengths, 0, 1, results);
        assert.equal(results[0], padded);
        assert.equal(firstDifference(buffer.subarray(16, 16 + packet.length), packet), -1);
      }
      interface RfcVectors {
        vectors: { section: string; key: string; nonce: string; plaintext: string; ciphertext: string }[];
      }
      const a5 = loadVector<RfcVectors>('rfc8439-chacha20poly1305.json').vectors.find(
        (x) => x.section === 'A.5',
      )!;
      const nonce = hex(a5.nonce);
      assert.deepEqual([...nonce.subarray(0, 4)], [0, 0, 0, 0]);
      const counter = readU64(nonce, 4);
      const plaintext = hex(a5.plaintext);
      const buffer = new Uint8Array(32 + plaintext.length);
      buffer.set(plaintext, 16);
      native.sealBatch(
        hex(a5.key),
        0,
        counter,
        buffer,
        Uint32Array.of(0),
        Uint32Array.of(plaintext.length),
        0,
        1,
      );
      assert.equal(firstDifference(buffer.subarray(16, 16 + plaintext.length), hex(a5.ciphertext)), -1);
    });

    it('rejects bad arguments with RangeError / TypeError before touching anything', () => {
      const key = new Uint8Array(32).fill(7);
      const buffer = new Uint8Array(200).fill(FILL);
      const offsets = Uint32Array.of(0, 100);
      const results = new Int32Array(2);
      const seal2 = (
        k: unknown,
        counter: unknown,
        lengths: number[],
        first = 0,
        count = lengths.length,
        offs: Uint32Array = offsets,
      ): void =>
        native.sealBatch(
          k as Uint8Array,
          1,
          counter as bigint,
          buffer,
          offs,
          Uint32Array.from(lengths),
          first,
          count,
        );
      const open2 = (
        k: unknown,
        lengths: number[],
        first = 0,
        count = lengths.length,
        res: unknown = results,
      ): void =>
        native.openBatch(
          k as Uint8Array,
          buffer,
          offsets,
          Uint32Array.from(lengths),
          first,
          count,
          res as Int32Array,
        );
      // Keys.
      for (const k of [new Uint8Array(31), new Uint8Array(33), new Uint8Array(0)]) {
        assert.throws(() => seal2(k, 0n, [10]), RangeError);
        assert.throws(() => open2(k, [40]), RangeError);
      }
      for (const k of ['k'.repeat(32), new Uint16Array(16), null, [1, 2, 3]]) {
        assert.throws(() => seal2(k, 0n, [10]), TypeError);
        assert.throws(() => open2(k, [40]), TypeError);
      }
      // Counters: a u64 bigint only.
      for (const c of [0, -1n, 1n << 64n, '0', null])
        assert.throws(() => seal2(key, c, [10]), TypeError, String(c));
      seal2(key, MAX, [10], 0, 1); // the largest is fine
      buffer.fill(FILL);
      // Datagrams outside the buffer: seal needs 16 + length + 16 from the offset, open the length.
      assert.throws(() => seal2(key, 0n, [10, 69]), RangeError); // 100 + 16 + 69 + 16 = 201
      assert.throws(() => seal2(key, 0n, [0xffffffff, 0]), RangeError);
      assert.throws(() => open2(key, [40, 101]), RangeError);
      assert.throws(() => open2(key, [40, 31]), RangeError); // shorter than header + tag
      assert.throws(() => open2(key, [0xffffffff, 40]), RangeError);
      // first + count beyond offsets, lengths or results.
      assert.throws(() => seal2(key, 0n, [10, 10, 10], 0, 3), RangeError);
      assert.throws(() => seal2(key, 0n, [10], 0, 2), RangeError);
      assert.throws(() => seal2(key, 0n, [10, 10], 1, 2), RangeError);
      assert.throws(() => seal2(key, 0n, [10, 10], 0xffffffff, 2), RangeError);
      assert.throws(() => open2(key, [40], 0, 2), RangeError);
      assert.throws(() => open2(key, [40, 40], 1, 2), RangeError);
      assert.throws(() => open2(key, [40, 40], 0, 2, new Int32Array(1)), RangeError);
      assert.throws(() => open2(key, [40, 40], 0, 2, new Uint32Array(2)), TypeError);
      assert.throws(
        () => seal2(key, 0n, [10, 10], 0, 2, new Int32Array(2) as unknown as Uint32Array),
        TypeError,
      );
      // None of the rejected calls wrote a byte.
      assert.ok(buffer.every((b) => b === FILL));
      // The exact fits work: seal up to the last byte, open a 32-byte datagram ending there.
      seal2(key, 5n, [10, 68]);
      const lengths = Uint32Array.of(42, 100);
      native.openBatch(key, buffer, offsets, lengths, 0, 2, results);
      assert.deepEqual([...results], [10, 68]);
    });
  });
}
