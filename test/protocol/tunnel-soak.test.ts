/**
 * A long seeded run of two Tunnels over a bad network (loss, duplication, reordering by random
 * delay) through phases of busy, one-way, silent (long enough for keys to be zeroed) and lossy
 * traffic, with both sides' timers ticking every 10 ms of fake time. Invariants checked
 * throughout: every inner packet delivered is one the other side sent, byte for byte, and none
 * is delivered twice; neither side ever holds more than four receiver indices (previous, current,
 * next and one pending handshake); neither side sends initiations faster than one per
 * REKEY_TIMEOUT. At the end, over a clean network, everything sent is delivered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { REKEY_TIMEOUT_MS } from '../../src/constants.js';
import { IndexTable } from '../../src/protocol/indices.js';
import type { Tunnel } from '../../src/protocol/tunnel.js';
import { Pair, datagramsOf, ipv4, kindOf, seededRandom, type SideName } from '../helpers/pair.js';

interface Phase {
  readonly ms: number;
  /** Packets per second from each side. */
  readonly rateA: number;
  readonly rateB: number;
  readonly loss: number;
}

const PHASES: readonly Phase[] = [
  { ms: 60_000, rateA: 5, rateB: 5, loss: 0 },
  { ms: 200_000, rateA: 2, rateB: 0, loss: 0.05 }, // one-way: keepalives answer, rekey at 120 s
  { ms: 60_000, rateA: 3, rateB: 3, loss: 0.3 }, // lossy: retries, new handshakes
  { ms: 120_000, rateA: 0, rateB: 0.5, loss: 0.1 }, // the responder alone: REJECT_AFTER_TIME bites
  { ms: 600_000, rateA: 0, rateB: 0, loss: 0 }, // silence: keys zeroed
  { ms: 30_000, rateA: 1, rateB: 1, loss: 1 }, // total outage: retries throughout
  { ms: 90_000, rateA: 4, rateB: 4, loss: 0.15 },
];
const FINAL: Phase = { ms: 60_000, rateA: 3, rateB: 3, loss: 0 };
const DRAIN_MS = 30_000;
const STEP = 10;

function idOf(packet: Uint8Array): number {
  return new DataView(packet.buffer, packet.byteOffset + 20, 4).getUint32(0);
}

for (const seed of [11, 22, 33]) {
  test(`soak over a bad network (seed ${seed})`, () => {
    const rnd = seededRandom(seed * 7919);
    const u = (): number => rnd(4).reduce((a, b) => a * 256 + b, 0) / 2 ** 32;
    const tables = {
      a: new IndexTable<Tunnel>(seededRandom(seed + 1)),
      b: new IndexTable<Tunnel>(seededRandom(seed + 2)),
    };
    const p = new Pair({ seed, a: { indices: tables.a }, b: { indices: tables.b } });

    let loss = 0;
    const inflight: { at: number; to: SideName; d: Uint8Array }[] = [];
    const sentPackets = new Map<number, { from: SideName; packet: Uint8Array; at: number }>();
    const delivered = new Set<number>();
    const lastInitiation: Record<SideName, number> = { a: -Infinity, b: -Infinity };
    let nextId = 1;

    const put = (from: SideName, datagrams: Uint8Array[]): void => {
      for (const d of datagrams) {
        if (kindOf(d) === 'initiation') {
          assert.ok(
            p.now - lastInitiation[from] >= REKEY_TIMEOUT_MS,
            `${from} initiations too fast at ${p.now}`,
          );
          lastInitiation[from] = p.now;
        }
        if (u() < loss) continue;
        const copies = u() < 0.02 ? 2 : 1;
        for (let c = 0; c < copies; c++) {
          inflight.push({ at: p.now + 5 + Math.floor(u() * 60), to: from === 'a' ? 'b' : 'a', d });
        }
      }
    };
    const deliverDue = (): void => {
      inflight.sort((x, y) => x.at - y.at);
      while (inflight.length > 0 && inflight[0]!.at <= p.now) {
        const { to, d } = inflight.shift()!;
        const r = to === 'a' ? p.toA(Uint8Array.from(d)) : p.toB(Uint8Array.from(d));
        if (r.kind === 'toTunnel') {
          const id = idOf(r.packet);
          const origin = sentPackets.get(id);
          assert.ok(origin, `unknown packet ${id}`);
          assert.notEqual(origin.from, to, 'delivered to its own sender');
          assert.deepEqual(r.packet, origin.packet, `packet ${id} altered`);
          assert.ok(!delivered.has(id), `packet ${id} delivered twice`);
          delivered.add(id);
        }
        put(to, datagramsOf(r));
      }
    };
    const sendData = (from: SideName): void => {
      const id = nextId++;
      const payload = new Uint8Array(4 + Math.floor(u() * 200));
      new DataView(payload.buffer).setUint32(0, id);
      const packet =
        from === 'a' ? ipv4('10.0.0.1', '10.0.0.2', payload) : ipv4('10.0.0.2', '10.0.0.1', payload);
      sentPackets.set(id, { from, packet, at: p.now });
      put(from, datagramsOf(p.side(from).tunnel.encapsulate(packet, p.now)));
    };
    const runPhase = (ph: Phase): void => {
      loss = ph.loss;
      const end = p.now + ph.ms;
      while (p.now < end) {
        p.now += STEP;
        deliverDue();
        put('a', datagramsOf(p.a.tick(p.now)));
        put('b', datagramsOf(p.b.tick(p.now)));
        if (u() < (ph.rateA * STEP) / 1000) sendData('a');
        if (u() < (ph.rateB * STEP) / 1000) sendData('b');
        assert.ok(tables.a.size <= 4 && tables.b.size <= 4, `index leak: ${tables.a.size}/${tables.b.size}`);
      }
    };

    for (const ph of PHASES) {
      runPhase(ph);
      if (ph.rateA === 0 && ph.rateB === 0) {
        assert.equal(p.a.session.keypairs.current, null, 'keys zeroed in the silence');
        assert.equal(p.b.session.keypairs.current, null);
        assert.equal(tables.a.size + tables.b.size, 0, 'and their indices freed');
      }
    }
    const finalStart = p.now;
    runPhase(FINAL);
    runPhase({ ms: DRAIN_MS, rateA: 0, rateB: 0, loss: 0 });

    const missing = [...sentPackets]
      .filter(([id, s]) => s.at >= finalStart && !delivered.has(id))
      .map(([id]) => id);
    assert.deepEqual(missing, [], 'everything sent over the clean network arrived');
    assert.ok(
      delivered.size > sentPackets.size / 2,
      `${delivered.size} of ${sentPackets.size} delivered overall`,
    );
    // Both directions ended on one shared session.
    const kpA = p.a.session.keypairs.current!;
    const kpB = p.b.session.keypairs.current!;
    assert.deepEqual(kpA.sendKey, kpB.receiveKey);
  });
}
