/**
 * native/csum.c, the RFC 1071 sum behind every checksum the TUN offloads write or verify: each
 * way it can sum (AVX2 where the CPU has it, SSE2, a word at a time, and the one picked) against
 * the plain 16-bit sum of test/io/offload-packets.ts, over every length up to 300 bytes, longer
 * packets up to 64 KiB, every alignment of the first byte, and the all-ones words that carry most.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tryLoadNative } from '../../src/io/native.js';
import { Prng } from '../helpers/fuzz.js';
import { checksum } from './offload-packets.js';

const native = tryLoadNative();
const skip = native?.csumFold === undefined ? 'no native addon' : false;
const WAYS = ['best', 'scalar', 'sse2', 'avx2'] as const;

/** The folded sum native/csum.c computes: the plain checksum's complement, in host (little-endian)
 * order, as the sum of byte-swapped words is the byte-swapped sum (RFC 1071 2(B)). */
function plainFold(bytes: Uint8Array): number {
  const sum = 0xffff - checksum(bytes);
  return ((sum & 0xff) << 8) | (sum >> 8);
}

describe('native RFC 1071 sums', { skip }, () => {
  it('every way equals the plain sum at every length, alignment and for carry-heavy data', () => {
    const prng = new Prng(0xc5c5);
    const lengths = [...Array.from({ length: 301 }, (_, i) => i), 1420, 1500, 9000, 65535];
    const backing = new Uint8Array(65535 + 64);
    let summed = 0;
    for (const len of lengths) {
      for (const fill of ['random', 'ones'] as const) {
        for (const align of len > 300 ? [0, 1, 3, 31] : [0, 1, 2, 3, 5, 17, 31]) {
          const bytes = backing.subarray(align, align + len);
          if (fill === 'random') bytes.set(prng.bytes(len));
          else bytes.fill(0xff);
          const want = plainFold(bytes);
          for (const way of WAYS) {
            const got = native!.csumFold!(bytes, way);
            if (got === null) {
              assert.equal(way, 'avx2', `only avx2 may be missing (${way})`);
              continue;
            }
            assert.equal(got, want, `${way}: ${len} bytes at +${align}, ${fill}`);
            summed++;
          }
        }
      }
    }
    assert.ok(summed > 4000, `compared ${summed} sums`);
    assert.throws(() => native!.csumFold!(new Uint8Array(4), 'avx512' as 'avx2'), RangeError);
  });
});
