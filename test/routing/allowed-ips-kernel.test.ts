/**
 * The fixed cases of the Linux kernel's allowed-IPs selftest
 * (drivers/net/wireguard/selftest/allowedips.c, wg_allowedips_selftest), rewritten case for case in
 * our API: the overlapping insert sequence and its lookups, replacement between peers, /0 defaults,
 * masking on insert and on read-back, remove-by-peer, and the 128 near-identical /128s that stress
 * node freeing. The kernel version we read has no per-prefix removal cases; those live in
 * allowed-ips.test.ts.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AllowedIPs } from '../../src/routing/allowed-ips.js';
import { formatPrefix } from '../../src/routing/ip.js';

interface Peer {
  readonly name: string;
}

function ip4(a: number, b: number, c: number, d: number): Uint8Array {
  return Uint8Array.of(a, b, c, d);
}

/** Four host-order 32-bit words, written big-endian, as the kernel's ip6() helper does. */
function ip6(a: number, b: number, c: number, d: number): Uint8Array {
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  [a, b, c, d].forEach((word, i) => view.setUint32(i * 4, word >>> 0));
  return out;
}

const [a, b, c, d, e, f, g, h] = 'abcdefgh'.split('').map((name): Peer => ({ name }));

test('kernel selftest: overlapping inserts, replacement, /0 and masking', () => {
  const t = new AllowedIPs<Peer>();
  t.insert(ip4(192, 168, 4, 0), 24, a!);
  t.insert(ip4(192, 168, 4, 4), 32, b!);
  t.insert(ip4(192, 168, 0, 0), 16, c!);
  t.insert(ip4(192, 95, 5, 64), 27, d!);
  // replaces previous entry, and maskself is required
  t.insert(ip4(192, 95, 5, 65), 27, c!);
  t.insert(ip6(0x26075300, 0x60006b00, 0, 0xc05f0543), 128, d!);
  t.insert(ip6(0x26075300, 0x60006b00, 0, 0), 64, c!);
  t.insert(ip4(0, 0, 0, 0), 0, e!);
  t.insert(ip6(0, 0, 0, 0), 0, e!);
  // replaces previous entry
  t.insert(ip6(0, 0, 0, 0), 0, f!);
  t.insert(ip6(0x24046800, 0, 0, 0), 32, g!);
  // maskself is required
  t.insert(ip6(0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef), 64, h!);
  t.insert(ip6(0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef), 128, a!);
  t.insert(ip6(0x24446800, 0x40e40800, 0xdeaebeef, 0xdefbeef), 128, c!);
  t.insert(ip6(0x24446800, 0xf0e40800, 0xeeaebeef, 0), 98, b!);
  t.insert(ip4(64, 15, 112, 0), 20, g!);
  // maskself is required
  t.insert(ip4(64, 15, 123, 211), 25, h!);
  t.insert(ip4(10, 0, 0, 0), 25, a!);
  t.insert(ip4(10, 0, 0, 128), 25, b!);
  t.insert(ip4(10, 1, 0, 0), 30, a!);
  t.insert(ip4(10, 1, 0, 4), 30, b!);
  t.insert(ip4(10, 1, 0, 8), 29, c!);
  t.insert(ip4(10, 1, 0, 16), 29, d!);

  const cases: Array<[Peer, Uint8Array]> = [
    [a!, ip4(192, 168, 4, 20)],
    [a!, ip4(192, 168, 4, 0)],
    [b!, ip4(192, 168, 4, 4)],
    [c!, ip4(192, 168, 200, 182)],
    [c!, ip4(192, 95, 5, 68)],
    [e!, ip4(192, 95, 5, 96)],
    [d!, ip6(0x26075300, 0x60006b00, 0, 0xc05f0543)],
    [c!, ip6(0x26075300, 0x60006b00, 0, 0xc02e01ee)],
    [f!, ip6(0x26075300, 0x60006b01, 0, 0)],
    [g!, ip6(0x24046800, 0x40040806, 0, 0x1006)],
    [g!, ip6(0x24046800, 0x40040806, 0x1234, 0x5678)],
    [f!, ip6(0x240467ff, 0x40040806, 0x1234, 0x5678)],
    [f!, ip6(0x24046801, 0x40040806, 0x1234, 0x5678)],
    [h!, ip6(0x24046800, 0x40040800, 0x1234, 0x5678)],
    [h!, ip6(0x24046800, 0x40040800, 0, 0)],
    [h!, ip6(0x24046800, 0x40040800, 0x10101010, 0x10101010)],
    [a!, ip6(0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef)],
    [g!, ip4(64, 15, 116, 26)],
    [g!, ip4(64, 15, 127, 3)],
    [g!, ip4(64, 15, 123, 1)],
    [h!, ip4(64, 15, 123, 128)],
    [h!, ip4(64, 15, 123, 129)],
    [a!, ip4(10, 0, 0, 52)],
    [b!, ip4(10, 0, 0, 220)],
    [a!, ip4(10, 1, 0, 2)],
    [b!, ip4(10, 1, 0, 6)],
    [c!, ip4(10, 1, 0, 10)],
    [d!, ip4(10, 1, 0, 20)],
  ];
  cases.forEach(([peer, address], i) => {
    assert.equal(t.lookup(address)?.name, peer.name, `kernel selftest lookup ${i + 1}`);
  });

  t.insert(ip4(1, 0, 0, 0), 32, a!);
  t.insert(ip4(64, 0, 0, 0), 32, a!);
  t.insert(ip4(128, 0, 0, 0), 32, a!);
  t.insert(ip4(192, 0, 0, 0), 32, a!);
  t.insert(ip4(255, 0, 0, 0), 32, a!);
  t.removeByPeer(a!);
  for (const first of [1, 64, 128, 192, 255]) assert.notEqual(t.lookup(ip4(first, 0, 0, 0)), a);
  assert.deepEqual(t.entriesForPeer(a!), []);
});

test('kernel selftest: removing a peer with a prefix nested in its own prefix', () => {
  const t = new AllowedIPs<Peer>();
  t.insert(ip4(192, 168, 0, 0), 16, a!);
  t.insert(ip4(192, 168, 0, 0), 24, a!);
  t.removeByPeer(a!);
  assert.equal(t.lookup(ip4(192, 168, 0, 1)), undefined);
  assert.equal(t.size, 0);
  assert.equal(t.nodeCount(), 0);
});

test('kernel selftest: 128 /128s differing in one bit each are all freed', () => {
  const t = new AllowedIPs<Peer>();
  for (let i = 0; i < 128; i++) {
    // All ones except bit (i % 64) of one 64-bit half: the low half for i < 64, else the high half.
    const ip = new Uint8Array(16).fill(0xff);
    const view = new DataView(ip.buffer);
    view.setBigUint64(i < 64 ? 8 : 0, ~(1n << BigInt(i % 64)) & 0xffffffffffffffffn);
    t.insert(ip, 128, a!);
  }
  assert.equal(t.size, 128);
  assert.ok(t.nodeCount() < 2 * t.size);
  t.removeByPeer(a!);
  assert.equal(t.size, 0);
  assert.equal(t.nodeCount(), 0);
});

test('kernel selftest: entries read back masked', () => {
  const t = new AllowedIPs<Peer>();
  t.insert(ip4(192, 95, 5, 93), 27, a!);
  t.insert(ip6(0x26075300, 0x60006b00, 0, 0xc05f0543), 128, a!);
  t.insert(ip4(10, 1, 0, 20), 29, a!);
  t.insert(ip6(0x26075300, 0x6d8a6bf8, 0xdab1f1df, 0xc05f1523), 83, a!);
  t.insert(ip6(0x26075300, 0x6d8a6bf8, 0xdab1f1df, 0xc05f1523), 21, a!);
  const read = t.entriesForPeer(a!).map((entry) => formatPrefix(entry.bytes, entry.cidr));
  const expected = [
    formatPrefix(ip4(192, 95, 5, 64), 27),
    formatPrefix(ip6(0x26075300, 0x60006b00, 0, 0xc05f0543), 128),
    formatPrefix(ip4(10, 1, 0, 16), 29),
    formatPrefix(ip6(0x26075300, 0x6d8a6bf8, 0xdab1e000, 0), 83),
    formatPrefix(ip6(0x26075000, 0, 0, 0), 21),
  ];
  // The kernel test only checks membership; our order is documented as insertion order.
  assert.deepEqual(read, expected);
  assert.deepEqual(
    t.entriesForPeer(a!).map((entry) => entry.family),
    [4, 6, 4, 6, 6],
  );
});
