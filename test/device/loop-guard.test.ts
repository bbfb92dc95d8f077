/**
 * The routing-loop rule of src/device/loop-guard.ts: a packet read from the TUN is our own
 * datagram to a peer's endpoint exactly when it is UDP from our listen port to that endpoint's
 * address and port, over IPv4 or IPv6; anything else (another port, another endpoint, TCP, a
 * later fragment, another family) is not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isOwnDatagramTo } from '../../src/device/loop-guard.js';

const fromHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));

// UDP 192.168.241.1:51820 -> 192.168.242.2:5 (ports 0xca6c, 0x0005), 8 bytes of payload.
const V4 = fromHex('4500002400000000401100000a000001c0a8f202ca6c000500100000' + '0400000000000000');
V4.set([192, 168, 241, 1], 12);
// UDP [fd00::5:1]:51820 -> [fd00::5:2]:5.
const V6 = fromHex(
  '6000000000101140fd000000000000000000000000050001fd000000000000000000000000050002ca6c000500100000' +
    '0400000000000000',
);

const ep4 = { address: Uint8Array.from([192, 168, 242, 2]), port: 5 };
const ep6 = { address: fromHex('fd000000000000000000000000050002'), port: 5 };

test('our own datagram to the peer endpoint, v4 and v6', () => {
  assert.equal(isOwnDatagramTo(V4, 0, V4.length, 51820, ep4), true);
  assert.equal(isOwnDatagramTo(V6, 0, V6.length, 51820, ep6), true);
});

test('at an offset (a read slot)', () => {
  const slot = new Uint8Array(100);
  slot.set(V4, 10);
  assert.equal(isOwnDatagramTo(slot, 10, V4.length, 51820, ep4), true);
});

test('another listen port, endpoint port or address is not ours', () => {
  assert.equal(isOwnDatagramTo(V4, 0, V4.length, 51821, ep4), false);
  assert.equal(isOwnDatagramTo(V4, 0, V4.length, 51820, { ...ep4, port: 6 }), false);
  assert.equal(
    isOwnDatagramTo(V4, 0, V4.length, 51820, { address: Uint8Array.from([192, 168, 242, 3]), port: 5 }),
    false,
  );
  assert.equal(isOwnDatagramTo(V6, 0, V6.length, 51820, { ...ep6, port: 6 }), false);
});

test('a family mismatch, TCP or a later fragment is not ours', () => {
  assert.equal(isOwnDatagramTo(V4, 0, V4.length, 51820, ep6), false);
  assert.equal(isOwnDatagramTo(V6, 0, V6.length, 51820, ep4), false);
  const tcp = Uint8Array.from(V4);
  tcp[9] = 6;
  assert.equal(isOwnDatagramTo(tcp, 0, tcp.length, 51820, ep4), false);
  const frag = Uint8Array.from(V4);
  frag[7] = 1;
  assert.equal(isOwnDatagramTo(frag, 0, frag.length, 51820, ep4), false);
  const tcp6 = Uint8Array.from(V6);
  tcp6[6] = 6;
  assert.equal(isOwnDatagramTo(tcp6, 0, tcp6.length, 51820, ep6), false);
});

test('a truncated header is not ours', () => {
  assert.equal(isOwnDatagramTo(V4, 0, 21, 51820, ep4), false);
  assert.equal(isOwnDatagramTo(V6, 0, 41, 51820, ep6), false);
});
