/**
 * Behaviour of AllowedIPs (cryptokey routing, whitepaper section 3) beyond the kernel selftest:
 * more-specific wins, moving a prefix between peers, per-prefix removal only by the owner, pruning,
 * removeByPeer, entry order, lookupAt on a packet buffer, and RangeError/TypeError on misuse.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AllowedIPs } from '../../src/routing/allowed-ips.js';
import { formatPrefix, parseIP, parsePrefix } from '../../src/routing/ip.js';

function addr(text: string): Uint8Array {
  const parsed = parseIP(text);
  assert.ok(parsed, text);
  return parsed.bytes;
}

function add<P>(t: AllowedIPs<P>, prefix: string, peer: P): void {
  const parsed = parsePrefix(prefix);
  assert.ok(parsed, prefix);
  t.insert(parsed.bytes, parsed.cidr, peer);
}

function del<P>(t: AllowedIPs<P>, prefix: string, peer: P): boolean {
  const parsed = parsePrefix(prefix);
  assert.ok(parsed, prefix);
  return t.remove(parsed.bytes, parsed.cidr, peer);
}

function listed<P>(t: AllowedIPs<P>, peer: P): string[] {
  return t.entriesForPeer(peer).map((entry) => formatPrefix(entry.bytes, entry.cidr));
}

test('more specific prefix wins, /0 is the fallback, families are independent', () => {
  const t = new AllowedIPs<string>();
  add(t, '0.0.0.0/0', 'default4');
  add(t, '10.0.0.0/8', 'ten');
  add(t, '10.1.0.0/16', 'ten-one');
  add(t, '10.1.2.3/32', 'host');
  assert.equal(t.lookup(addr('10.1.2.3')), 'host');
  assert.equal(t.lookup(addr('10.1.2.4')), 'ten-one');
  assert.equal(t.lookup(addr('10.2.0.1')), 'ten');
  assert.equal(t.lookup(addr('11.0.0.1')), 'default4');
  // No IPv6 route yet: an IPv4 /0 must not answer for IPv6, not even for ::ffff:10.1.2.3.
  assert.equal(t.lookup(addr('::')), undefined);
  assert.equal(t.lookup(addr('::ffff:10.1.2.3')), undefined);
  add(t, '::/0', 'default6');
  assert.equal(t.lookup(addr('2001:db8::1')), 'default6');
  assert.equal(t.size, 5);
});

test('inserting a held prefix for another peer moves it; host bits are masked', () => {
  const t = new AllowedIPs<string>();
  add(t, '192.168.1.77/24', 'a');
  add(t, '10.0.0.0/8', 'a');
  assert.deepEqual(listed(t, 'a'), ['192.168.1.0/24', '10.0.0.0/8']);
  add(t, '192.168.1.200/24', 'b');
  assert.equal(t.lookup(addr('192.168.1.1')), 'b');
  assert.deepEqual(listed(t, 'a'), ['10.0.0.0/8']);
  assert.deepEqual(listed(t, 'b'), ['192.168.1.0/24']);
  assert.equal(t.size, 2);
  // Re-inserting for the same owner moves it to the end of that peer's list (kernel behaviour).
  add(t, '10.0.0.0/8', 'b');
  add(t, '192.168.1.0/24', 'b');
  assert.deepEqual(listed(t, 'b'), ['10.0.0.0/8', '192.168.1.0/24']);
  assert.deepEqual(listed(t, 'a'), []);
  assert.equal(t.size, 2);
});

test('remove takes only the exact prefix and only from its owner', () => {
  const t = new AllowedIPs<string>();
  add(t, '10.0.0.0/8', 'a');
  add(t, '10.1.0.0/16', 'a');
  add(t, '2001:db8::/32', 'b');
  assert.equal(del(t, '10.0.0.0/8', 'b'), false, 'wrong owner');
  assert.equal(del(t, '10.0.0.0/9', 'a'), false, 'not inserted');
  assert.equal(del(t, '10.1.2.3/32', 'a'), false, 'more specific than held');
  assert.equal(del(t, '0.0.0.0/0', 'a'), false, 'branch-only or absent node');
  assert.equal(del(t, '2001:db8::/32', 'a'), false);
  assert.equal(t.size, 3);
  assert.equal(del(t, '10.99.99.99/8', 'a'), true, 'host bits are masked on remove too');
  assert.equal(t.lookup(addr('10.2.0.1')), undefined);
  assert.equal(t.lookup(addr('10.1.0.1')), 'a');
  assert.equal(del(t, '10.0.0.0/8', 'a'), false, 'already gone');
  assert.equal(del(t, '2001:db8::/32', 'b'), true);
  assert.equal(del(t, '10.1.0.0/16', 'a'), true);
  assert.equal(t.size, 0);
  assert.equal(t.nodeCount(), 0);
  assert.deepEqual(listed(t, 'a'), []);
});

test('removal prunes branching nodes, removeByPeer leaves other peers intact', () => {
  const t = new AllowedIPs<number>();
  const prefixes = [
    '10.0.0.0/24',
    '10.0.1.0/24',
    '10.0.2.0/24',
    '10.0.3.0/24',
    'fd00::/64',
    'fd00:0:0:1::/64',
  ];
  prefixes.forEach((p, i) => add(t, p, i % 2));
  assert.ok(t.nodeCount() < 2 * t.size);
  t.removeByPeer(0);
  assert.deepEqual(listed(t, 0), []);
  assert.deepEqual(listed(t, 1), ['10.0.1.0/24', '10.0.3.0/24', 'fd00:0:0:1::/64']);
  assert.equal(t.lookup(addr('10.0.0.1')), undefined);
  assert.equal(t.lookup(addr('10.0.3.1')), 1);
  // Three prefixes plus the one branching node that 10.0.1.0/24 and 10.0.3.0/24 still need; the
  // IPv6 branch point between fd00::/64 and fd00:0:0:1::/64 must have been pruned.
  assert.equal(t.nodeCount(), 4);
  t.removeByPeer(0); // a peer with nothing is a no-op
  t.removeByPeer(1);
  assert.equal(t.size, 0);
  assert.equal(t.nodeCount(), 0);
});

test('lookupAt reads the address out of a packet buffer', () => {
  const t = new AllowedIPs<string>();
  add(t, '192.0.2.0/24', 'v4');
  add(t, '2001:db8::/48', 'v6');
  const v4 = new Uint8Array(20);
  v4.set(addr('198.51.100.1'), 12); // IPv4 source
  v4.set(addr('192.0.2.9'), 16); // IPv4 destination
  assert.equal(t.lookupAt(v4, 16, 4), 'v4');
  assert.equal(t.lookupAt(v4, 12, 4), undefined);
  const v6 = new Uint8Array(40);
  v6.set(addr('2001:db8:0:ffff::1'), 8);
  v6.set(addr('2001:db8:1::1'), 24);
  assert.equal(t.lookupAt(v6, 8, 6), 'v6');
  assert.equal(t.lookupAt(v6, 24, 6), undefined);
  assert.equal(t.lookupAt(v6.subarray(8), 0, 6), 'v6');
  assert.throws(() => t.lookupAt(v4, 17, 4), RangeError);
  assert.throws(() => t.lookupAt(v6, 25, 6), RangeError);
  assert.throws(() => t.lookupAt(v6, -1, 6), RangeError);
  assert.throws(() => t.lookupAt(v6, 0.5, 6), RangeError);
});

test('entries are fresh masked copies', () => {
  const t = new AllowedIPs<string>();
  const bytes = addr('2001:db8:aaaa:bbbb:cccc::1');
  t.insert(bytes, 36, 'p');
  assert.equal(bytes[15], 1, 'the caller’s bytes are not modified');
  const [entry] = t.entriesForPeer('p');
  assert.deepEqual(entry && { family: entry.family, text: formatPrefix(entry.bytes, entry.cidr) }, {
    family: 6,
    text: '2001:db8:a000::/36',
  });
  entry!.bytes.fill(0xff);
  assert.deepEqual(listed(t, 'p'), ['2001:db8:a000::/36']);
});

test('clear empties everything', () => {
  const t = new AllowedIPs<string>();
  add(t, '0.0.0.0/0', 'a');
  add(t, '::/0', 'b');
  t.clear();
  assert.equal(t.size, 0);
  assert.equal(t.nodeCount(), 0);
  assert.equal(t.lookup(addr('1.2.3.4')), undefined);
  assert.deepEqual(listed(t, 'a'), []);
  add(t, '1.0.0.0/8', 'a');
  assert.equal(t.lookup(addr('1.2.3.4')), 'a');
});

test('programmer misuse throws', () => {
  const t = new AllowedIPs<string | undefined>();
  assert.throws(() => t.insert(new Uint8Array(5), 8, 'p'), RangeError);
  assert.throws(() => t.insert(new Uint8Array(4), 33, 'p'), RangeError);
  assert.throws(() => t.insert(new Uint8Array(16), 129, 'p'), RangeError);
  assert.throws(() => t.insert(new Uint8Array(4), -1, 'p'), RangeError);
  assert.throws(() => t.insert(new Uint8Array(4), 1.5, 'p'), RangeError);
  assert.throws(() => t.insert(new Uint8Array(4), Number.NaN, 'p'), RangeError);
  assert.throws(() => t.insert(new Uint8Array(4), 8, undefined), TypeError);
  assert.throws(() => t.remove(new Uint8Array(0), 0, 'p'), RangeError);
  assert.throws(() => t.lookup(new Uint8Array(6)), RangeError);
  assert.equal(t.size, 0);
});

test('peers are told apart as a Map keys them (SameValueZero), and undefined owns nothing', () => {
  const t = new AllowedIPs<number | string | undefined>();
  t.insert(addr('10.0.0.0'), 8, Number.NaN);
  t.insert(addr('10.1.0.0'), 16, 0);
  assert.ok(Number.isNaN(t.lookup(addr('10.0.0.1'))), 'NaN is a peer like any other');
  assert.equal(t.remove(addr('10.1.0.0'), 16, -0), true, '-0 is the peer 0');
  assert.equal(t.remove(addr('10.0.0.0'), 8, 'NaN'), false);
  // A branching node has no peer: "undefined" must not be able to remove it.
  t.insert(addr('10.2.0.0'), 16, 'b');
  t.insert(addr('10.3.0.0'), 16, 'c');
  const nodes = t.nodeCount();
  assert.equal(t.remove(addr('10.2.0.0'), 15, undefined), false);
  assert.equal(t.nodeCount(), nodes);
  assert.equal(t.remove(addr('10.0.0.0'), 8, Number.NaN), true);
  assert.deepEqual(listed(t, 'b'), ['10.2.0.0/16']);
  t.removeByPeer('b');
  t.removeByPeer('c');
  assert.equal(t.size, 0);
  assert.equal(t.nodeCount(), 0);
});

test('a peer keeps its prefixes in insertion order across families, re-inserting moves one last', () => {
  const t = new AllowedIPs<string>();
  for (const p of ['10.0.0.0/8', 'fd00::/8', '192.0.2.0/24', '2001:db8::/32', '0.0.0.0/0', '::/0']) {
    const [a, cidr] = p.split('/');
    t.insert(addr(a!), Number(cidr), 'p');
  }
  assert.deepEqual(listed(t, 'p'), [
    '10.0.0.0/8',
    'fd00::/8',
    '192.0.2.0/24',
    '2001:db8::/32',
    '0.0.0.0/0',
    '::/0',
  ]);
  t.insert(addr('fd00::'), 8, 'p');
  t.insert(addr('10.0.0.0'), 8, 'p');
  assert.deepEqual(listed(t, 'p'), [
    '192.0.2.0/24',
    '2001:db8::/32',
    '0.0.0.0/0',
    '::/0',
    'fd00::/8',
    '10.0.0.0/8',
  ]);
  // Moving a prefix to another peer takes it out of the first peer's list, wherever it was.
  t.insert(addr('0.0.0.0'), 0, 'q');
  t.insert(addr('192.0.2.0'), 24, 'q');
  t.insert(addr('10.0.0.0'), 8, 'q');
  assert.deepEqual(listed(t, 'p'), ['2001:db8::/32', '::/0', 'fd00::/8']);
  assert.deepEqual(listed(t, 'q'), ['0.0.0.0/0', '192.0.2.0/24', '10.0.0.0/8']);
  assert.equal(t.remove(addr('2001:db8::'), 32, 'p'), true);
  assert.equal(t.remove(addr('fd00::'), 8, 'p'), true);
  assert.deepEqual(listed(t, 'p'), ['::/0']);
  assert.equal(t.remove(addr('::'), 0, 'p'), true);
  assert.deepEqual(listed(t, 'p'), []);
  t.removeByPeer('q');
  assert.equal(t.nodeCount(), 0);
});
