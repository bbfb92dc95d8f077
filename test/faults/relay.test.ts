/**
 * Faults through the impairment relay (impair-relay.ts), wgtsd (A) ↔ wireguard-go and wgtsd ↔
 * wgtsd (B). The relay runs in B's namespace on B's outer v4 address: A's endpoint for B is the
 * relay's A-facing port, B's endpoint for A is its B-facing port, so every datagram goes through
 * it. Impairments apply to transport data messages only (`--kinds data`), so each phase measures
 * the data path on an established session; each phase runs a fresh relay on the same ports.
 *
 * wgtsd counts rx_bytes only for authenticated, non-replayed messages, so A's rx_bytes over a
 * phase must equal exactly what the relay delivered to A minus what must be rejected:
 *
 * - Reordering (20% of datagrams held until 3 later ones went out, or 50 ms): nothing is dropped —
 *   A's rx equals the bytes delivered, and a 1000-echo ping at 5 ms gets every reply.
 * - Duplication (50%): every duplicate is rejected once — A's rx equals delivered minus duplicate
 *   bytes, and ping prints no `DUP!` (B's daemon drops its duplicates too) with all replies back.
 * - Corruption (one random bit in 20%): every corrupted datagram is rejected — A's rx equals
 *   delivered minus corrupted bytes — and the session survives: pings afterwards all answered,
 *   without a new handshake.
 * - NAT rebinding: mid-ping (B → A, 50/s) the relay moves its A-facing socket to a fresh port and
 *   closes the old one; A must follow the new source port at B's next authenticated packet (A's
 *   `wg show` endpoint changes) and the ping carries on (a few echoes around the switch may go).
 *
 * Restarts and address roaming are covered by test/interop/restart.test.ts and roaming.test.ts.
 * Needs root, wireguard-go, wg, ip, ping; skips otherwise.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, ping, sleep, waitFor } from '../helpers/netns.js';
import {
  createTwoNodeTopology,
  interopSkipReason,
  wg,
  type Impl,
  type TwoNodeTopology,
} from '../helpers/wg-peer.js';
import { firstPing, peerOf, pingStream, withLogs } from '../interop/checks.js';
import { describeCounters, startRelay, type RelayOptions } from './impair-relay.js';

const skip = interopSkipReason(['wgtsd', 'wireguard-go'], ['ping']);

after(async () => {
  await cleanup();
});

const PORT_A = 40_001;
const PORT_B = 40_002;

function relayBase(topo: TwoNodeTopology): RelayOptions {
  return {
    ns: topo.b.ns,
    host: topo.b.outerV4,
    portA: PORT_A,
    portB: PORT_B,
    toA: topo.a.endpoint,
    toB: topo.b.endpoint,
    kinds: 'data',
    durationMs: 40_000,
  };
}

/** Runs `fn` with the relay configured by `extra`; returns A's rx_bytes delta and the counters. */
async function phase(
  topo: TwoNodeTopology,
  extra: Partial<RelayOptions>,
  fn: () => Promise<void>,
): Promise<{
  rxDelta: number;
  counters: Awaited<ReturnType<Awaited<ReturnType<typeof startRelay>>['stop']>>;
}> {
  const rxBefore = (await peerOf(topo.a)).rxBytes;
  const relay = await startRelay({ ...relayBase(topo), ...extra });
  try {
    await fn();
  } finally {
    await sleep(100);
  }
  const counters = await relay.stop();
  await sleep(100);
  const rxAfter = (await peerOf(topo.a)).rxBytes;
  return { rxDelta: rxAfter - rxBefore, counters };
}

for (const implB of ['wireguard-go', 'wgtsd'] as const satisfies readonly Impl[]) {
  describe(`faults through the relay: wgtsd ↔ ${implB}`, { skip }, () => {
    test('reorder, duplicate, corrupt, NAT rebinding', { timeout: 60_000 }, async (t) => {
      const started = Date.now();
      const topo = await createTwoNodeTopology({ implA: 'wgtsd', implB, endpointOn: 'both' });
      try {
        await withLogs(topo, async () => {
          const { a, b } = topo;
          // Point both peers at the relay, then handshake through a clean relay.
          const base = relayBase(topo);
          await wg(a.ns, ['set', a.ifname, 'peer', b.keys.publicKey, 'endpoint', `${base.host}:${PORT_A}`]);
          await wg(b.ns, ['set', b.ifname, 'peer', a.keys.publicKey, 'endpoint', `${base.host}:${PORT_B}`]);
          {
            const clean = await startRelay(base);
            const ms = await firstPing(a, b.innerV4);
            const c = await clean.stop();
            t.diagnostic(`handshake through the relay: first ping after ${ms} ms; ${describeCounters(c)}`);
            assert.ok(c.ab.received > 0 && c.ba.received > 0);
          }
          assert.equal((await peerOf(a)).endpoint, `${base.host}:${PORT_A}`);
          const handshake = (await peerOf(a)).latestHandshake;

          // Reordering within the window: no drops.
          {
            let out = '';
            const r = await phase(topo, { reorder: 20, reorderK: 3, reorderMaxMs: 50 }, async () => {
              const p = await ping(a.ns, b.innerV4, { count: 1000, intervalS: 0.005, waitS: 2 });
              out = p.output;
              assert.equal(p.received, 1000, `reorder: ${p.transmitted} sent, ${p.received} received`);
            });
            const c = r.counters;
            t.diagnostic(`reorder 20% K=3: 1000/1000 echoes; A rx Δ ${r.rxDelta} B; ${describeCounters(c)}`);
            assert.ok(c.ba.reordered > 50 && c.ab.reordered > 50, describeCounters(c));
            assert.equal(c.ba.sendErrors, 0);
            assert.equal(r.rxDelta, c.ba.sentBytes, `A rejected reordered datagrams: ${describeCounters(c)}`);
            assert.doesNotMatch(out, /DUP!/);
          }

          // Duplication: each duplicate dropped once.
          {
            let out = '';
            const r = await phase(topo, { dup: 50 }, async () => {
              const p = await ping(a.ns, b.innerV4, { count: 300, intervalS: 0.005, waitS: 2 });
              out = p.output;
              assert.equal(p.received, 300, p.output.slice(-500));
            });
            const c = r.counters;
            const dups = (out.match(/DUP!/g) ?? []).length;
            t.diagnostic(
              `duplicate 50%: 300/300 echoes, ${dups} DUP!; A rx Δ ${r.rxDelta} B; ${describeCounters(c)}`,
            );
            assert.ok(c.ab.duplicated > 50 && c.ba.duplicated > 50, describeCounters(c));
            assert.equal(dups, 0, 'ping saw duplicated replies');
            assert.equal(r.rxDelta, c.ba.sentBytes - c.ba.duplicatedBytes, describeCounters(c));
          }

          // Corruption: corrupted datagrams dropped, session survives.
          {
            let received = 0;
            const r = await phase(topo, { corrupt: 20 }, async () => {
              const p = await ping(a.ns, b.innerV4, { count: 300, intervalS: 0.005, waitS: 1 });
              received = p.received;
            });
            const c = r.counters;
            t.diagnostic(
              `corrupt 20%: ${received}/300 echoes answered; A rx Δ ${r.rxDelta} B; ${describeCounters(c)}`,
            );
            assert.ok(c.ab.corrupted > 20 && c.ba.corrupted > 20, describeCounters(c));
            assert.ok(received > 0 && received < 300, `${received} echoes answered`);
            assert.equal(r.rxDelta, c.ba.sentBytes - c.ba.corruptedBytes, describeCounters(c));
            const after = await phase(topo, {}, async () => {
              const p = await ping(a.ns, b.innerV4, { count: 20, intervalS: 0.01, deadlineS: 5 });
              assert.equal(p.received, 20, `after corruption:\n${p.output}`);
              const q = await ping(b.ns, a.innerV4, { count: 20, intervalS: 0.01, deadlineS: 5 });
              assert.equal(q.received, 20, `after corruption, B → A:\n${q.output}`);
            });
            assert.equal(after.rxDelta, after.counters.ba.sentBytes);
            assert.equal((await peerOf(a)).latestHandshake, handshake, 'corruption forced a new handshake');
          }

          // NAT rebinding: the relay's source port towards A changes mid-traffic.
          {
            const relay = await startRelay({ ...base, rebindSide: 'a' });
            const stream = pingStream(b, a.innerV4, 0.02, 200);
            try {
              const seq = await stream.nextReply(5_000);
              const switchedAt = Date.now();
              const port = await relay.rebind();
              const newEndpoint = `${base.host}:${port}`;
              const learnt = await waitFor(async () => (await peerOf(a)).endpoint === newEndpoint, {
                timeoutMs: 3_000,
                intervalMs: 10,
                what: `A to learn the relay's new port ${port}`,
              });
              assert.ok(learnt);
              const learntMs = Date.now() - switchedAt;
              const next = await stream.nextReply(3_000, seq + 5);
              const resumedMs = Date.now() - switchedAt;
              await sleep(500);
              const fin = await stream.finish(200);
              // A → B also works on the new mapping.
              const back = await ping(a.ns, b.innerV4, { count: 5, intervalS: 0.02, deadlineS: 5 });
              assert.equal(back.received, 5, back.output);
              const c = await relay.stop();
              t.diagnostic(
                `NAT rebinding ${PORT_A} → ${port} after echo ${seq}: A's endpoint followed in ≤ ${learntMs} ms, ` +
                  `echo ${next} answered ${resumedMs} ms after the switch; ${fin.received}/${fin.transmitted} ` +
                  `echoes in all; ${describeCounters(c)}`,
              );
              assert.ok(fin.transmitted - fin.received <= 5, `lost ${fin.transmitted - fin.received} echoes`);
            } finally {
              await stream.proc.stop({ signal: 'SIGINT' });
              await relay.proc.stop();
            }
          }
          t.diagnostic(`wgtsd ↔ ${implB} relay faults in ${Date.now() - started} ms`);
        });
      } finally {
        await topo.teardown();
      }
    });
  });
}
