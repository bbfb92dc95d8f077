/**
 * RFC 1071 checksum (src/netstack/checksum.ts) against a naive 16-bit reference on seeded random
 * input of every length parity and alignment, and the IPv4/IPv6 pseudo-header sums.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checksumVerifies, internetChecksum, pseudoHeaderSum } from '../../src/netstack/checksum.js';
import { FakeHost, naiveChecksum, pseudoWords, V4_LOCAL, V4_PEER, V6_LOCAL, V6_PEER } from './packets.js';

describe('internet checksum', () => {
  it('matches the naive reference on random data of every length and offset', () => {
    const host = new FakeHost(7);
    const backing = host.random(3000);
    for (let i = 0; i < 400; i++) {
      const offset = host.next() % 7;
      const length = i < 70 ? i : host.next() % 2000;
      const data = backing.subarray(offset, offset + length);
      assert.equal(internetChecksum(data), naiveChecksum(data), `length ${length} offset ${offset}`);
    }
  });

  it('matches on all-ones data (maximal carries) and verifies a filled-in checksum', () => {
    const data = new Uint8Array(65535).fill(0xff);
    assert.equal(internetChecksum(data), naiveChecksum(data));
    const packet = new Uint8Array(101).fill(0xab);
    packet[10] = 0;
    packet[11] = 0;
    const c = internetChecksum(packet);
    packet[10] = c >>> 8;
    packet[11] = c & 0xff;
    assert.ok(checksumVerifies(packet));
    packet[50]! ^= 1;
    assert.ok(!checksumVerifies(packet));
  });

  it('pseudo-header sums match the RFC 768 / RFC 8200 layouts', () => {
    const host = new FakeHost(9);
    for (const [src, dst] of [
      [V4_LOCAL, V4_PEER],
      [V6_LOCAL, V6_PEER],
    ] as const) {
      for (const length of [8, 1400, 65535, 70000]) {
        const data = host.random(Math.min(length, 3000));
        const expected = naiveChecksum(data, pseudoWords(src, dst, 17, length));
        assert.equal(internetChecksum(data, pseudoHeaderSum(src, dst, 17, length)), expected);
      }
    }
  });
});
