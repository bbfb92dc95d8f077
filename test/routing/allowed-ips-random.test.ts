/**
 * Randomized comparison of AllowedIPs against the naive list in naive-allowed-ips.ts (DESIGN.md
 * habit 11; the kernel selftest's DEBUG_RANDOM_TRIE mode does the same against its
 * "horrible_allowedips"). Inserts, removes (by the owner, by the wrong peer, of absent prefixes)
 * and removeByPeer are interleaved over 64 peers and both families, with prefixes clustered around
 * a few bases so they overlap heavily; lookups are compared along the way and in bulk at the end,
 * as are size, every peer's entry list (order included, through entriesForPeer and visitEntries)
 * and the node count (no leaks).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AllowedIPs } from '../../src/routing/allowed-ips.js';
import { formatPrefix } from '../../src/routing/ip.js';
import { NaiveAllowedIPs } from './naive-allowed-ips.js';
import { Prng } from './prng.js';

const PEERS = 64;
const OPERATIONS = 6000;
const FINAL_LOOKUPS = 20_000;

/** Keeps the first `keep` bits of `base` and randomizes the rest. */
function mutate(rng: Prng, base: Uint8Array, keep: number): Uint8Array {
  const out = rng.bytes(base.length);
  for (let i = 0; i < keep; i++) {
    const bit = 0x80 >> (i & 7);
    out[i >> 3] = (out[i >> 3]! & ~bit) | (base[i >> 3]! & bit);
  }
  return out;
}

function describe(entries: ReadonlyArray<{ bytes: Uint8Array; cidr: number }>): string[] {
  return entries.map((e) => formatPrefix(e.bytes, e.cidr));
}

/** What visitEntries hands over, as text, checking the count it returns. */
function visited(t: AllowedIPs<number>, peer: number): string[] {
  const out: string[] = [];
  const word = (w: number): number[] => [w >>> 24, (w >>> 16) & 0xff, (w >>> 8) & 0xff, w & 0xff];
  const n = t.visitEntries(peer, {
    ipv4: (a, cidr) => out.push(formatPrefix(Uint8Array.from(word(a)), cidr)),
    ipv6: (w0, w1, w2, w3, cidr) =>
      out.push(formatPrefix(Uint8Array.from([w0, w1, w2, w3].flatMap(word)), cidr)),
  });
  assert.equal(n, out.length);
  return out;
}

function runSeed(seed: number): void {
  const rng = new Prng(seed);
  const fast = new AllowedIPs<number>();
  const naive = new NaiveAllowedIPs<number>();
  const bases = [4, 4, 4, 16, 16, 16].map((length) => rng.bytes(length));

  const randomPrefix = (): { bytes: Uint8Array; cidr: number } => {
    const base = rng.pick(bases);
    const bits = base.length * 8;
    // Mostly near a shared base, so prefixes nest and collide; sometimes anywhere at all.
    const bytes = rng.below(4) === 0 ? rng.bytes(base.length) : mutate(rng, base, rng.below(bits + 1));
    return { bytes, cidr: rng.below(bits + 1) };
  };
  const randomAddress = (): Uint8Array => {
    const existing = naive.entries;
    if (existing.length > 0 && rng.below(2) === 0) {
      const entry = rng.pick(existing);
      return mutate(rng, entry.bytes, entry.cidr + rng.below(4)); // inside or just beside it
    }
    return randomPrefix().bytes;
  };
  const compareLookup = (address: Uint8Array, what: string): void => {
    assert.equal(fast.lookup(address), naive.lookup(address), `seed ${seed}: lookup ${what}`);
  };

  for (let op = 0; op < OPERATIONS; op++) {
    const roll = rng.below(100);
    if (roll < 65) {
      const { bytes, cidr } = randomPrefix();
      const peer = rng.below(PEERS);
      fast.insert(bytes, cidr, peer);
      naive.insert(bytes, cidr, peer);
    } else if (roll < 90) {
      // Half the time aim at an existing entry (right or wrong owner), else at anything.
      const target = naive.entries.length > 0 && rng.below(2) === 0 ? rng.pick(naive.entries) : undefined;
      const { bytes, cidr } = target ?? randomPrefix();
      const peer = target !== undefined && rng.below(3) !== 0 ? target.peer : rng.below(PEERS);
      assert.equal(fast.remove(bytes, cidr, peer), naive.remove(bytes, cidr, peer), `seed ${seed}: remove`);
    } else if (roll < 92) {
      const peer = rng.below(PEERS);
      fast.removeByPeer(peer);
      naive.removeByPeer(peer);
    } else {
      for (let i = 0; i < 10; i++) compareLookup(randomAddress(), `during op ${op}`);
    }
    assert.equal(fast.size, naive.entries.length, `seed ${seed}: size after op ${op}`);
  }

  for (let i = 0; i < FINAL_LOOKUPS; i++) compareLookup(randomAddress(), `final ${i}`);
  for (let peer = 0; peer < PEERS; peer++) {
    assert.deepEqual(
      describe(fast.entriesForPeer(peer)),
      describe(naive.entriesForPeer(peer)),
      `seed ${seed}: entries of peer ${peer}`,
    );
    assert.deepEqual(visited(fast, peer), describe(fast.entriesForPeer(peer)), `seed ${seed}: visit ${peer}`);
  }
  assert.ok(fast.nodeCount() < 2 * Math.max(fast.size, 1), `seed ${seed}: at most two nodes per prefix`);
  for (let peer = 0; peer < PEERS; peer++) fast.removeByPeer(peer);
  assert.equal(fast.size, 0);
  assert.equal(fast.nodeCount(), 0, `seed ${seed}: every node freed`);
}

for (const seed of [1, 0x5eed, 0xdecafbad]) {
  test(`trie matches the naive list on random operations (seed ${seed})`, () => runSeed(seed));
}
