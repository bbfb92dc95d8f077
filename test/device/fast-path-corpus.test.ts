/**
 * A seeded mutation corpus through both drivers of the one transport rule set (DESIGN.md "One
 * transport rule set, two drivers"; whitepaper section 5.4.6): the production fast path
 * (src/device/fast-path.ts, over the packet-pair fixture, test/helpers/packet-pair-path.ts) and
 * the ordinary receive path of the same device, batched (batch-receive.ts) and per packet
 * (Tunnel.consumeTransport). Every input must get the same verdict from all three: the same
 * bytes written to the TUN, in the same order, and the same drop counters moved by the same
 * amounts.
 *
 * The corpus, from the mutation operators of test/helpers/fuzz.ts and a seed: authentic transport
 * messages X sealed for Y (IPv4, IPv6, keepalives, padded), mutated on the wire (bit flips, byte
 * substitutions in header, ciphertext or tag, truncation, extension, another type, another
 * receiver index, another counter); inner packets mutated BEFORE sealing (so they authenticate
 * and reach the inner-length and allowed-source rules); untouched controls; garbage of every
 * type; and every tenth case a batch of several of these (one run, or several). Every run starts
 * with fixed boundary inputs (empty, 1 and 3 bytes, one byte short of each message's size, a
 * forged keepalive, unknown and reserved-byte types). The replay
 * window is reset before each driver, so each sees the same state.
 *
 * WGTS_FUZZ_SEED=<n> replays another seed; WGTS_FUZZ_CASES=<n> changes the case count. Needs the
 * native addon (skipped without it), not root.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Keypair } from '../../src/protocol/keypairs.js';
import {
  extend,
  flipBits,
  garbage,
  Prng,
  substituteBytes,
  truncate,
  writeU32,
  writeU64,
} from '../helpers/fuzz.js';
import {
  INNER4,
  PacketPairPath,
  udp4,
  udp6,
  type Driver,
  type Verdict,
} from '../helpers/packet-pair-path.js';
import { noNative } from '../helpers/native-skip.js';

const skip = noNative;

const SEED = Number(process.env.WGTS_FUZZ_SEED ?? 0x5eed11);
const CASES = Number(process.env.WGTS_FUZZ_CASES ?? 300);
const DRIVERS: readonly Driver[] = ['fast', 'batched', 'per-packet'];
const X = INNER4[0];

/** An inner packet of a random kind (what a well-behaved X would send). */
function innerPacket(prng: Prng): Uint8Array {
  switch (prng.below(5)) {
    case 0:
      return udp4(X, 20_000 + prng.below(1000), prng.below(1300));
    case 1:
      return udp6(21_000 + prng.below(1000), prng.below(1200));
    case 2:
      return new Uint8Array(0); // a keepalive
    case 3:
      return udp4(Uint8Array.of(10, 251, 0, prng.between(2, 254)), 22_000, 8); // not X's source
    default:
      return udp4(X, 23_000 + prng.below(1000), 1 + prng.below(60));
  }
}

/** An inner packet mutated before it is sealed: it authenticates and meets the inner rules. */
function mutatedInner(prng: Prng): Uint8Array {
  const p = innerPacket(prng);
  if (p.length === 0) return garbage(prng, prng.between(1, 64));
  switch (prng.below(5)) {
    case 0:
      return flipBits(prng, p, prng.between(1, 3));
    case 1:
      return substituteBytes(prng, p, prng.between(1, 4), 0, Math.min(p.length, 48));
    case 2:
      return truncate(prng, p);
    case 3:
      return extend(prng, p, 40);
    default: {
      const q = Uint8Array.from(p);
      q[0] = (prng.below(16) << 4) | (q[0]! & 0x0f); // another version nibble
      return q;
    }
  }
}

/** A sealed message mutated on the wire. */
function mutatedWire(prng: Prng, d: Uint8Array, rx: Keypair): Uint8Array {
  switch (prng.below(8)) {
    case 0:
      return flipBits(prng, d, prng.between(1, 4));
    case 1:
      return substituteBytes(prng, d, prng.between(1, 3), 16); // ciphertext or tag
    case 2:
      return substituteBytes(prng, d, 1, 0, 16); // the header
    case 3:
      return truncate(prng, d);
    case 4:
      return extend(prng, d, 32);
    case 5: {
      const q = Uint8Array.from(d);
      writeU32(q, 0, prng.between(0, 6)); // another type
      return q;
    }
    case 6: {
      const q = Uint8Array.from(d);
      writeU32(q, 4, prng.chance(0.5) ? prng.u32() : rx.localIndex ^ (1 << prng.below(32)));
      return q;
    }
    default: {
      const q = Uint8Array.from(d);
      writeU64(q, 8, prng.chance(0.5) ? BigInt(prng.u32()) : (1n << 64n) - 1n - BigInt(prng.below(10)));
      return q;
    }
  }
}

/** One corpus entry: a datagram of one of the kinds above. */
function entry(prng: Prng, path: PacketPairPath, rx: Keypair): Uint8Array {
  const r = prng.below(100);
  if (r < 8) return path.sealNext(innerPacket(prng)); // a control: authentic and untouched
  if (r < 40) return path.sealNext(mutatedInner(prng));
  if (r < 90) return mutatedWire(prng, path.sealNext(innerPacket(prng)), rx);
  const g = garbage(prng, prng.below(200));
  if (g.length >= 4) writeU32(g, 0, prng.between(0, 5));
  return g;
}

/** Boundary inputs every run starts with (sizes and types next to each rule's edge). */
function edges(path: PacketPairPath, rx: Keypair): Uint8Array[][] {
  const typed = (type: number, length: number, receiver = 0): Uint8Array => {
    const d = new Uint8Array(length);
    if (length >= 4) writeU32(d, 0, type);
    if (length >= 8) writeU32(d, 4, receiver);
    return d;
  };
  const idx = rx.localIndex;
  return [
    [new Uint8Array(0)],
    [Uint8Array.of(4)],
    [Uint8Array.of(4, 0, 0)],
    [typed(4, 31, idx)], // one byte short of a transport message
    [typed(4, 32, idx)], // a forged keepalive
    [typed(4 | (1 << 8), 64, idx)], // type 4 with a non-zero reserved byte
    [typed(1, 147), typed(1, 148), typed(1, 149)],
    [typed(2, 91, idx), typed(2, 92, idx), typed(2, 93, idx)],
    [typed(3, 63, idx), typed(3, 64, idx), typed(3, 65, idx)],
    [typed(5, 64), typed(0, 64), typed(0xffffffff, 64)],
    [path.sealNext(new Uint8Array(0)), new Uint8Array(0), path.sealNext(udp4(X, 24_000))],
  ];
}

describe('the seeded mutation corpus through both drivers', { skip }, () => {
  let path: PacketPairPath;
  let rx: Keypair;
  before(async () => {
    path = await PacketPairPath.open();
    await path.establish();
    rx = path.receiveKeypair();
  });
  after(() => path?.close());

  test(`${CASES} cases (seed ${SEED}): identical verdicts per input on the fast, batched and per-packet paths`, async () => {
    const prng = new Prng(SEED);
    const reasons = new Map<string, number>();
    let delivered = 0;
    const fixed = edges(path, rx);
    for (let c = 0; c < fixed.length + CASES; c++) {
      const batch =
        c < fixed.length
          ? fixed[c]!
          : c % 10 === 9
            ? Array.from({ length: prng.between(2, 6) }, () => entry(prng, path, rx))
            : [entry(prng, path, rx)];
      const verdicts: Verdict[] = [];
      for (const driver of DRIVERS) verdicts.push(await path.verdict(driver, batch, rx));
      const inputs = batch.map((d) => Buffer.from(d).toString('hex'));
      for (let i = 1; i < DRIVERS.length; i++) {
        assert.deepEqual(
          verdicts[i],
          verdicts[0],
          `case ${c}, ${DRIVERS[i]} against fast: ${inputs.join(' ')}`,
        );
      }
      delivered += verdicts[0]!.delivered.length;
      for (const [r, n] of Object.entries(verdicts[0]!.drops)) reasons.set(r, (reasons.get(r) ?? 0) + n);
    }
    // The corpus reached the rules it is meant for (a generator change that stops doing so fails).
    for (const r of ['bad-tag', 'replay', 'not-ip', 'bad-ip-length', 'disallowed-source', 'unknown-index']) {
      assert.ok((reasons.get(r) ?? 0) > 0, `no case was dropped as ${r}: ${JSON.stringify([...reasons])}`);
    }
    assert.ok(delivered > 0, 'no case was delivered');
  });
});
