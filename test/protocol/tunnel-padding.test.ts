/**
 * Transport padding (whitepaper section 5.4.6: the plaintext is padded with zeros to a multiple of
 * 16, and the kernel's calculate_skb_padding caps the padded length at the MTU) and its inverse
 * (the receiver trims by the inner packet's own IP length field, never by the padded length).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { AEAD_TAG_LENGTH, DEFAULT_MTU, TRANSPORT_HEADER_SIZE } from '../../src/constants.js';
import { Pair, ipv4OfLength, ipv6OfLength, only } from '../helpers/pair.js';

const OVERHEAD = TRANSPORT_HEADER_SIZE + AEAD_TAG_LENGTH;
const roundUp16 = (n: number): number => Math.ceil(n / 16) * 16;

function established(mtu?: number): Pair {
  const p = new Pair(mtu === undefined ? {} : { a: { mtu }, b: { mtu } });
  p.handshake('a');
  return p;
}

test('sealed length is 16 + roundup(len, 16) + 16 for lengths 0..100', () => {
  const p = established();
  for (let len = 0; len <= 100; len++) {
    const d = only(p.a.encapsulate(new Uint8Array(len).fill(0x45), p.now), 'transport');
    assert.equal(d.length, TRANSPORT_HEADER_SIZE + roundUp16(len) + AEAD_TAG_LENGTH, `len ${len}`);
  }
});

for (const mtu of [DEFAULT_MTU, 1280, 1000, 576]) {
  test(`padding is capped at the MTU (${mtu}) for lengths near it`, () => {
    const p = established(mtu);
    for (let len = mtu - 40; len <= mtu; len++) {
      const d = only(p.a.encapsulate(new Uint8Array(len), p.now), 'transport');
      assert.equal(d.length, OVERHEAD + Math.min(roundUp16(len), mtu), `len ${len}`);
    }
    // At the MTU exactly: no padding at all.
    assert.equal(only(p.a.encapsulate(new Uint8Array(mtu), p.now), 'transport').length, OVERHEAD + mtu);
  });
}

test('the receiver returns exactly the inner IPv4 packet, every length 20..1420', () => {
  const p = established();
  for (let len = 20; len <= DEFAULT_MTU; len++) {
    const packet = ipv4OfLength(len);
    const r = p.toB(only(p.a.encapsulate(packet, p.now), 'transport'));
    assert.equal(r.kind, 'toTunnel', `len ${len}`);
    if (r.kind !== 'toTunnel') return;
    assert.equal(r.family, 4);
    assert.equal(r.packet.length, len);
    assert.deepEqual(r.packet, packet);
  }
});

test('the receiver returns exactly the inner IPv6 packet, every length 40..1420', () => {
  const p = established();
  for (let len = 40; len <= DEFAULT_MTU; len++) {
    const packet = ipv6OfLength(len);
    const r = p.toA(only(p.b.encapsulate(packet, p.now), 'transport'));
    assert.equal(r.kind, 'toTunnel', `len ${len}`);
    if (r.kind !== 'toTunnel') return;
    assert.equal(r.family, 6);
    assert.deepEqual(r.packet, packet);
  }
});

test('the receiver trims by the IP length field, not by what was sent', () => {
  const p = established();
  // A 60-byte buffer whose IPv4 header says 50: the 10 trailing bytes are not part of the packet.
  const v4 = new Uint8Array(60).fill(0xee);
  v4.set(ipv4OfLength(50));
  let r = p.toB(only(p.a.encapsulate(v4, p.now), 'transport'));
  assert.equal(r.kind, 'toTunnel');
  assert.deepEqual(r.kind === 'toTunnel' && r.packet, v4.subarray(0, 50));
  // The same for IPv6: payload length 3, sent with 21 bytes of trailer.
  const v6 = new Uint8Array(64).fill(0xdd);
  v6.set(ipv6OfLength(43));
  r = p.toB(only(p.a.encapsulate(v6, p.now), 'transport'));
  assert.equal(r.kind, 'toTunnel');
  assert.deepEqual(r.kind === 'toTunnel' && r.packet, v6.subarray(0, 43));
});

test('the receiver’s MTU does not matter; the sender’s does', () => {
  const p = new Pair({ a: { mtu: 1500 }, b: { mtu: 1280 } });
  p.handshake('a');
  const big = ipv4OfLength(1490);
  const d = only(p.a.encapsulate(big, p.now), 'transport');
  assert.equal(d.length, OVERHEAD + 1500);
  const r = p.toB(d);
  assert.deepEqual(r.kind === 'toTunnel' && r.packet, big);
});

test('a packet larger than the MTU is padded like its last len % mtu bytes (kernel, wireguard-go)', () => {
  const p = established();
  const mtu = DEFAULT_MTU;
  for (const [len, plain] of [
    [mtu + 1, mtu + 16], // last unit 1 → 16
    [mtu + 10, mtu + 16],
    [mtu + 16, mtu + 16],
    [mtu + 17, mtu + 32],
    [1500, 1500], // 1500 % 1420 = 80, already a multiple of 16
    [1501, 1516], // last unit 81 → 96
    [2 * mtu, 2 * mtu], // last unit 0
    [2 * mtu + 1415, 2 * mtu + 1420], // last unit 1415 → min(1424, mtu) = 1420
  ] as const) {
    const d = only(p.a.encapsulate(new Uint8Array(len), p.now), 'transport');
    assert.equal(d.length, OVERHEAD + plain, `len ${len}`);
  }
});

test('an MTU of 0 means no cap: plain rounding up to 16', () => {
  const p = established(0);
  for (const len of [0, 1, 15, 16, 17, 1419, 1420, 1421, 9000, 9001]) {
    const d = only(p.a.encapsulate(new Uint8Array(len), p.now), 'transport');
    assert.equal(d.length, OVERHEAD + roundUp16(len), `len ${len}`);
  }
});
