/**
 * AllowedIPs at scale: 130,560 prefixes of random lengths on a single peer (every one must read
 * back exactly, and all must be freed by removeByPeer), and 100,000 peers with an IPv4 /32 and an
 * IPv6 /128 each, where every peer must be found through lookupAt and the per-lookup cost is
 * reported as a test diagnostic (not asserted tightly: machines differ).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AllowedIPs } from '../../src/routing/allowed-ips.js';
import { formatPrefix, maskPrefix } from '../../src/routing/ip.js';
import { Prng } from './prng.js';

test('130,560 prefixes on one peer read back exactly', () => {
  const TOTAL = 130_560;
  const rng = new Prng(130560);
  const peer = { name: 'everything' };
  const t = new AllowedIPs<typeof peer>();
  const expected = new Set<string>();
  const inserted: Array<{ bytes: Uint8Array; cidr: number }> = [];
  while (expected.size < TOTAL) {
    const v6 = rng.below(2) === 1;
    const bytes = rng.bytes(v6 ? 16 : 4);
    // Long prefixes mostly (as a big site-to-site table has), some short ones to force nesting.
    const bits = v6 ? 128 : 32;
    const cidr = rng.below(8) === 0 ? rng.below(bits + 1) : bits - rng.below(bits / 4);
    const text = formatPrefix(maskPrefix(bytes, cidr), cidr);
    if (expected.has(text)) continue;
    expected.add(text);
    inserted.push({ bytes, cidr });
    t.insert(bytes, cidr, peer); // unmasked: the table must mask
  }
  assert.equal(t.size, TOTAL);
  const entries = t.entriesForPeer(peer);
  assert.equal(entries.length, TOTAL);
  const read = new Set(entries.map((entry) => formatPrefix(entry.bytes, entry.cidr)));
  assert.equal(read.size, TOTAL);
  for (const text of expected) assert.ok(read.has(text), text);
  // Insertion order is kept, so the i-th entry is the i-th insert.
  entries.forEach((entry, i) => {
    assert.equal(
      formatPrefix(entry.bytes, entry.cidr),
      formatPrefix(maskPrefix(inserted[i]!.bytes, inserted[i]!.cidr), inserted[i]!.cidr),
    );
  });
  for (const { bytes } of inserted) assert.equal(t.lookup(bytes), peer);
  assert.ok(t.nodeCount() < 2 * TOTAL);
  t.removeByPeer(peer);
  assert.equal(t.size, 0);
  assert.equal(t.nodeCount(), 0);
});

test('100,000 peers: every /32 and /128 found through lookupAt', (t) => {
  const PEERS = 100_000;
  const table = new AllowedIPs<number>();
  // IPv4 packets as 20-byte headers (destination at 16), IPv6 as 40-byte headers (destination at 24).
  const v4 = new Uint8Array(PEERS * 20);
  const v6 = new Uint8Array(PEERS * 40);
  const view4 = new DataView(v4.buffer);
  const view6 = new DataView(v6.buffer);
  const rng = new Prng(100000);
  for (let i = 0; i < PEERS; i++) {
    // Spread the IPv4 hosts over 10.0.0.0/8 with a stride co-prime to 2^24, and the IPv6 hosts
    // over random /128s in fd00::/8, so the trie branches everywhere rather than in one corner.
    view4.setUint32(i * 20 + 16, (0x0a000000 | ((i * 2654435761) & 0xffffff)) >>> 0);
    v6.set(rng.bytes(16), i * 40 + 24);
    v6[i * 40 + 24] = 0xfd;
    table.insert(v4.subarray(i * 20 + 16, i * 20 + 20), 32, i);
    table.insert(v6.subarray(i * 40 + 24, i * 40 + 40), 128, i);
  }
  assert.equal(table.size, 2 * PEERS);
  for (let i = 0; i < PEERS; i++) {
    assert.equal(table.lookupAt(v4, i * 20 + 16, 4), i);
    assert.equal(table.lookupAt(v6, i * 40 + 24, 6), i);
  }
  assert.equal(view6.getUint8(24), 0xfd);

  // Time a few rounds over all packets; report the best round per family.
  const time = (family: 4 | 6): number => {
    const buf = family === 4 ? v4 : v6;
    const stride = family === 4 ? 20 : 40;
    const offset = family === 4 ? 16 : 24;
    let best = Infinity;
    let sink = 0;
    for (let round = 0; round < 5; round++) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < PEERS; i++) sink += table.lookupAt(buf, i * stride + offset, family) ?? 0;
      best = Math.min(best, Number(process.hrtime.bigint() - start) / PEERS);
    }
    assert.ok(sink > 0);
    return best;
  };
  const ns4 = time(4);
  const ns6 = time(6);
  t.diagnostic(`lookupAt with 200,000 host routes: IPv4 ${ns4.toFixed(0)} ns, IPv6 ${ns6.toFixed(0)} ns`);
  t.diagnostic(`trie nodes: ${table.nodeCount()} for ${table.size} prefixes`);
  // A generous bound that only catches a pathological regression (e.g. a linear scan).
  assert.ok(ns4 < 20_000 && ns6 < 20_000);
});
