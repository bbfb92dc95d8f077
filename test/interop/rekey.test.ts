/**
 * [LONG: ~140 s] A rekey under continuous traffic with the real timers: REKEY_AFTER_TIME is 120 s,
 * so two pings (0.2 s apart, one each way, inner v4 and v6) run for 135 s across that boundary.
 * At most one echo request per stream may be lost, and `wg show dump` on both sides must show a
 * latest handshake newer than the first one (the responder records it when the first packet on
 * the new keypair arrives).
 *
 * Two tunnels run at the same time in this one test so the file costs ~140 s, not twice that:
 *
 * - wgtsd ↔ wireguard-go, outer v4, psk, wireguard-go initiates: at 120 s wireguard-go rekeys and
 *   wgtsd is the responder (keypair rotation on the receive side: previous keypair still accepted,
 *   no data sent on the new keypair before it is confirmed).
 * - wgtsd ↔ wgtsd, outer v6, no psk: wgtsd is the initiator that rekeys on its own timer.
 *
 * The rest of the suite is short and runs beside this file (scripts/run-tests.mjs uses
 * --test-concurrency=2). Set WGTS_INTEROP_SKIP_LONG=1 to skip it.
 *
 * Needs root, wireguard-go, a built wgtsd, wg, ip, ping; skips otherwise.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup } from '../helpers/netns.js';
import {
  createTwoNodeTopology,
  interopSkipReason,
  type TunnelNode,
  type TwoNodeTopology,
} from '../helpers/wg-peer.js';
import { assertNothingLeft, firstPing, peerOf, pingStream, withLogs } from './checks.js';

const skip =
  interopSkipReason(['wgtsd', 'wireguard-go'], ['ping']) ||
  (process.env['WGTS_INTEROP_SKIP_LONG'] === '1' ? 'WGTS_INTEROP_SKIP_LONG=1' : false);

after(async () => {
  await cleanup();
});

const REKEY_AFTER_TIME_S = 120;
const DURATION_S = 135;
const INTERVAL_S = 0.2;
const COUNT = DURATION_S / INTERVAL_S;

async function handshakes(topo: TwoNodeTopology): Promise<[number, number]> {
  return [(await peerOf(topo.a)).latestHandshake, (await peerOf(topo.b)).latestHandshake];
}

/** Runs both pings for DURATION_S on a tunnel whose handshake `initiator` made; checks loss and handshakes. */
async function acrossRekey(
  topo: TwoNodeTopology,
  initiator: TunnelNode,
  diagnostic: (msg: string) => void,
): Promise<void> {
  const other = initiator === topo.a ? topo.b : topo.a;
  const label = `${topo.a.impl} ↔ ${topo.b.impl} (${initiator.impl} initiates, outer ${topo.outer})`;
  await firstPing(initiator, other.innerV4);
  const before = await handshakes(topo);
  assert.ok(before[0] > 0 && before[1] > 0, `${label}: no first handshake ${before.join(' ')}`);
  const started = Date.now();
  const streams = [
    {
      name: `${initiator.name} → ${other.name} v4`,
      s: pingStream(initiator, other.innerV4, INTERVAL_S, COUNT),
    },
    {
      name: `${other.name} → ${initiator.name} v6`,
      s: pingStream(other, initiator.innerV6, INTERVAL_S, COUNT),
    },
  ];
  const results = await Promise.all(streams.map((x) => x.s.finish((DURATION_S + 15) * 1000)));
  const elapsed = (Date.now() - started) / 1000;
  const after = await handshakes(topo);
  for (const [i, r] of results.entries()) {
    const lost = r.transmitted - r.received;
    const missed = [...r.output.matchAll(/no answer yet for icmp_seq=(\d+)/g)].map((m) => m[1]);
    diagnostic(
      `${label} ${streams[i]!.name}: ${r.transmitted} sent, ${r.received} received over ${elapsed.toFixed(0)} s` +
        `${missed.length > 0 ? ` (late/missing: icmp_seq ${missed.join(', ')})` : ''}`,
    );
    assert.ok(
      r.transmitted >= COUNT - 1,
      `${label} ${streams[i]!.name} stopped early:\n${r.output.slice(-2000)}`,
    );
    assert.ok(lost <= 1, `${label} ${streams[i]!.name}: ${lost} lost:\n${r.output.slice(-4000)}`);
  }
  diagnostic(
    `${label}: latest handshake a ${before[0]} → ${after[0]}, b ${before[1]} → ${after[1]} ` +
      `(+${after[0] - before[0]} s, +${after[1] - before[1]} s)`,
  );
  for (const i of [0, 1] as const) {
    const side = i === 0 ? topo.a : topo.b;
    // The rekey happens at REKEY_AFTER_TIME (plus the time to the next send); seconds resolution.
    assert.ok(
      after[i] - before[i] >= REKEY_AFTER_TIME_S - 2,
      `${label}: ${side.impl} (${side.name}) latest handshake ${before[i]} → ${after[i]}: no rekey`,
    );
  }
}

test(
  `[long: ~${DURATION_S + 5} s] rekey after REKEY_AFTER_TIME under continuous pings, at most 1 lost per ` +
    'stream, latest handshake advanced on both sides: wgtsd ↔ wireguard-go and wgtsd ↔ wgtsd at once',
  { skip, timeout: (DURATION_S + 60) * 1000 },
  async (t) => {
    const [withGo, pair] = await Promise.all([
      createTwoNodeTopology({ implA: 'wgtsd', implB: 'wireguard-go', outer: 'v4', psk: true }),
      createTwoNodeTopology({ implA: 'wgtsd', implB: 'wgtsd', outer: 'v6' }),
    ]);
    try {
      const runs = await Promise.allSettled([
        withLogs(withGo, () => acrossRekey(withGo, withGo.b, (m) => t.diagnostic(m))),
        withLogs(pair, () => acrossRekey(pair, pair.a, (m) => t.diagnostic(m))),
      ]);
      const failures = runs.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failures.length > 0) throw failures[0]!.reason;
    } finally {
      await Promise.all([withGo.teardown(), pair.teardown()]);
    }
  },
);

test('nothing left behind: namespaces, links, UAPI sockets, processes', { skip }, async () => {
  await assertNothingLeft();
});
