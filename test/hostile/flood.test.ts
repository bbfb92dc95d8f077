/**
 * Handshake floods against a live wgtsd with a wireguard-go peer (TEST-PLAN "Silence, replay and
 * floods"). The adversary runs in the peer's namespace from an extra address (so it never shares
 * the real peer's rate-limit bucket) and floods wgtsd's port:
 *
 * - bad mac1: nothing comes back, nothing leaves wgtsd's port except to its peer, and no
 *   Diffie-Hellman runs at all (wgtsd's WGTS_STATS counter `handshakeDh` stays put);
 * - valid mac1 (random ephemerals and statics), as fast as the adversary can for a bounded time:
 *   wgtsd answers with 64-byte cookie replies (never larger than the 148-byte input), accepts a
 *   mac2 made with that cookie from the same source only (the foreign port keeps getting cookies),
 *   rate-limits it, keeps the established tunnel flowing (iperf3 throughput with and without the
 *   flood is printed), lets the real peer re-handshake within seconds, and keeps its queue and
 *   memory bounded.
 *
 * Needs root, wgtsd built, wireguard-go, wg, ip, ping, tcpdump and iperf3; skips otherwise.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cleanup,
  execOk,
  ping,
  sleep,
  spawn,
  waitFor,
  waitForTcpListen,
  type TrackedProcess,
} from '../helpers/netns.js';
import { createTwoNodeTopology, interopSkipReason, wg, type TwoNodeTopology } from '../helpers/wg-peer.js';
import { alive } from '../helpers/wgtsd.js';
import { adversary, iperf, lastStats, rssKiB, startCapture, type StatsLine } from './harness.js';

const skip = interopSkipReason(['wgtsd', 'wireguard-go'], ['ping', 'tcpdump', 'iperf3']);

let topo: TwoNodeTopology | null = null;
let iperfServer: TrackedProcess | null = null;
/** The adversary's own address in B's namespace (same /24 as the veth). */
let evil = '';

before(async () => {
  if (skip) return;
  topo = await createTwoNodeTopology({
    implA: 'wgtsd',
    implB: 'wireguard-go',
    envA: { WGTS_STATS: '1', WGTS_STATS_MS: '200' },
  });
  const { a, b } = topo;
  evil = b.outerV4.replace(/\.\d+$/, '.77');
  await execOk(b.ns, 'ip', ['addr', 'add', `${evil}/24`, 'dev', b.vethIf]);
  iperfServer = spawn(a.ns, 'iperf3', ['-s', '-B', a.innerV4]);
  await waitForTcpListen(a.ns, 5201);
  await waitFor(async () => (await ping(b.ns, a.innerV4, { waitS: 1 })).ok, {
    timeoutMs: 8_000,
    intervalMs: 0,
    what: 'a first ping through the tunnel',
  });
});

after(async () => {
  await iperfServer?.stop();
  await topo?.teardown();
  await cleanup();
});

/**
 * The first STATS line printed after this call (every 200 ms): counters as of now, never a line
 * from before events that already happened. Freshness is told by the line's `seq` (a parse makes
 * a new object each time, and the log buffer is a rolling window, so neither identity nor a line
 * count will do).
 */
async function stats(): Promise<StatsLine> {
  const seen = lastStats(topo!.a.daemon.output())?.seq ?? 0;
  return waitFor(
    () => {
      const s = lastStats(topo!.a.daemon.output());
      return s !== null && s.seq > seen ? s : null;
    },
    { timeoutMs: 3_000, intervalMs: 50, what: 'a WGTS_STATS line' },
  );
}

describe('wgtsd under handshake floods', { skip }, () => {
  test('a bad-mac1 flood gets no reply and costs no Diffie-Hellman', async () => {
    const { a, b } = topo!;
    const capture = await startCapture(
      a.ns,
      a.vethIf,
      `udp and src port ${a.listenPort} and not dst port ${b.listenPort}`,
    );
    const s0 = await stats();
    const r = await adversary(b.ns, 'badmac1', [
      '--host',
      a.outerV4,
      '--port',
      String(a.listenPort),
      '--bind',
      evil,
      '--sockets',
      '8',
      '--count',
      '2000000',
      '--duration',
      '3',
      '--listen-ms',
      '500',
    ]);
    const s1 = await stats();
    const captured = await capture.stop();
    console.log(
      `# bad-mac1 flood: ${r.sent} sent at ${r.ratePerS}/s; wgtsd rejected ${s1.macRejected - s0.macRejected} ` +
        `by mac1, dropped ${s1.handshakesQueueFull - s0.handshakesQueueFull} on a full queue; ` +
        `DH ${s1.handshakeDh - s0.handshakeDh}`,
    );
    assert.ok(r.sent > 1000, `the adversary sent ${r.sent}`);
    assert.equal(r.received.count, 0, JSON.stringify(r.received));
    assert.equal(captured, 0, 'nothing left wgtsd toward the adversary');
    assert.equal(s1.handshakeDh, s0.handshakeDh, 'no Diffie-Hellman for bad mac1s');
    assert.ok(s1.macRejected > s0.macRejected);
    assert.equal(s1.cookieReplies, s0.cookieReplies);
    assert.ok(alive(a.daemon.proc.pid));
    assert.equal((await ping(b.ns, a.innerV4, { count: 2, intervalS: 0.2 })).received, 2);
  });

  test('a valid-mac1 flood: cookie replies, mac2 from the same source only, tunnel and peers keep working, bounded memory', async () => {
    const { a, b } = topo!;
    const pid = a.daemon.proc.pid;
    const baseline = await iperf(b.ns, a.innerV4, 3);
    const rssBefore = rssKiB(pid);
    const s0 = await stats();
    // Long enough that the real peer has about three REKEY_TIMEOUT attempts after the iperf run.
    const floodS = 24;
    const flood = adversary(b.ns, 'mac1', [
      '--host',
      a.outerV4,
      '--port',
      String(a.listenPort),
      '--pub',
      a.keys.publicKey,
      '--bind',
      evil,
      '--sockets',
      '16',
      '--count',
      '5000000',
      '--duration',
      String(floodS),
      '--probe-rate',
      '50',
      '--listen-ms',
      '500',
    ]);
    const t0 = Date.now();
    await sleep(1_000);
    const during = await iperf(b.ns, a.innerV4, 4).catch((err: Error) => {
      console.log(`# iperf3 during the flood failed: ${err.message}`);
      return 0;
    });
    // The real peer forgets its session and must handshake again through the flood: wireguard-go's
    // first initiation gets a cookie reply, its retransmission (REKEY_TIMEOUT later) carries mac2.
    const peerA = b.config.peers![0]!;
    await wg(b.ns, ['set', b.ifname, 'peer', a.keys.publicKey, 'remove']);
    await wg(b.ns, [
      'set',
      b.ifname,
      'peer',
      a.keys.publicKey,
      'endpoint',
      peerA.endpoint!,
      'allowed-ips',
      peerA.allowedIps.join(','),
    ]);
    const rehandshakeStart = Date.now();
    await waitFor(async () => (await ping(b.ns, a.innerV4, { waitS: 1 })).ok, {
      timeoutMs: Math.max(2_000, floodS * 1000 - (Date.now() - t0) - 500),
      intervalMs: 0,
      what: 'the real peer to re-handshake during the flood',
    });
    const rehandshakeMs = Date.now() - rehandshakeStart;
    const stillFlooding = Date.now() - t0 < floodS * 1000;
    const rssDuring = rssKiB(pid);
    const sMid = await stats();
    const r = await flood;
    console.log(`# stats during: ${JSON.stringify(sMid)}`);
    const s1 = await stats();
    const rssAfter = rssKiB(pid);
    const after = await iperf(b.ns, a.innerV4, 2);
    console.log(
      `# valid-mac1 flood: ${r.sent} initiations in ${r.elapsedMs} ms = ${r.ratePerS}/s from ${r.sockets} ports; ` +
        `adversary got ${r.received.count} replies ${JSON.stringify(r.received.sizes)}; wgtsd sent ` +
        `${s1.cookieReplies - s0.cookieReplies} cookie replies, queued ${s1.handshakesQueued - s0.handshakesQueued}, ` +
        `dropped ${s1.handshakesQueueFull - s0.handshakesQueueFull} on a full queue, DH ${s1.handshakeDh - s0.handshakeDh}, ` +
        `rate-limited ${s1.rateLimited - s0.rateLimited}, queue high water ${s1.queueHighWater}`,
    );
    console.log(
      `# probe (same source, mac2): ${JSON.stringify(r.probe)}; foreign port with that cookie: ${JSON.stringify(r.foreign)}`,
    );
    console.log(
      `# throughput: ${baseline} Mbit/s without the flood, ${during} Mbit/s during it, ${after} after; ` +
        `re-handshake of the real peer took ${rehandshakeMs} ms (flood still running: ${stillFlooding}); ` +
        `RSS ${rssBefore} KiB before, ${rssDuring} during, ${rssAfter} after`,
    );
    // Cookie replies, all 64 bytes (smaller than the 148-byte initiations they answer).
    assert.ok(r.received.count > 0, 'cookie replies came back');
    assert.deepEqual(Object.keys(r.received.sizes), ['64']);
    assert.deepEqual(Object.keys(r.received.types), ['3']);
    assert.ok(r.received.maxSize < r.minSentSize);
    assert.ok(s1.cookieReplies - s0.cookieReplies >= r.received.count);
    // mac2 with the cookie: accepted (then rate-limited or dropped after DH), never answered,
    // from the same source; from another port the same mac2 is invalid and gets cookie replies.
    assert.ok(r.probe !== null && r.probe.gotCookie, 'the probe got a cookie');
    assert.ok(r.probe.sentWithMac2 > 50);
    // A few replies to the cookie-less initiations may still be in flight when the cookie arrives.
    assert.ok(r.probe.cookieRepliesAfter <= 5, 'mac2 from the same source is accepted');
    assert.ok(r.foreign !== null && r.foreign.cookieRepliesAfter > 10, 'mac2 from another port is not');
    // Bounded: the queue never exceeds its capacity; memory grows by less than 64 MiB.
    assert.ok(s1.queueHighWater <= 1024);
    assert.ok(sMid.queueLength <= 1024);
    assert.ok(rssAfter - rssBefore < 64 * 1024, `RSS ${rssBefore} -> ${rssAfter} KiB`);
    // The established tunnel kept flowing, and the real peer got through during the flood.
    assert.ok(during > 0, 'traffic during the flood');
    assert.ok(stillFlooding, 'the re-handshake completed while the flood ran');
    assert.ok(after > 0);
    assert.ok(alive(pid));
  });
});
