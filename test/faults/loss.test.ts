/**
 * 30% packet loss, wgtsd (A) ↔ wireguard-go (B). This kernel has no netem, so nftables drops at
 * random at the ingress of each namespace's veth, in a netdev table (under the IP stack: the
 * daemons' sendmsg still succeeds, as with loss on the path):
 *
 *     A: table netdev wgtsloss { chain in { type filter hook ingress device VETH_A priority 0;
 *          udp dport PORT_A numgen random mod 100 < 30 counter drop } }
 *     B: table netdev wgtsloss { chain in { … ingress device VETH_B …
 *          udp sport PORT_A numgen random mod 100 < 30 counter drop } }
 *
 * Loss is per datagram, as on a wire. wgtsd sends runs of datagrams as one UDP GSO buffer, which
 * stays one skb until it is segmented at the device; so A's veth has gso_max_segs 1 (as a NIC
 * without UDP segmentation offload: the kernel segments before handing it over) and the A → B
 * drop is at B's ingress, where the datagrams are separate. (Dropped at A's egress instead, a
 * whole run of up to 64 went at once, 30% of runs: not the loss this test means, and TCP then
 * sometimes gave up on the connection.)
 *
 * so a round trip survives with probability 0.7² ≈ 0.49.
 *
 * - The handshake completes by retransmission (REKEY_TIMEOUT 5 s + jitter between initiations): a
 *   ping with a long reply wait started before any handshake is answered; measured.
 * - A 5 MiB TCP transfer A → B completes with matching SHA-256 on both ends; measured, with the
 *   nftables drop counters. TCP's RTO is bounded to 20 ms … 1 s in both namespaces
 *   (net.ipv4.tcp_rto_min_us, tcp_rto_max_ms) to keep the exponential backoff's tail inside the
 *   time bound: with the defaults (200 ms … 120 s), 2 runs in 14 took over 45 s (median ≈ 10 s).
 *
 * Needs root, wireguard-go, wg, ip, ping, nft; skips otherwise.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cleanup, execOk, waitFor } from '../helpers/netns.js';
import { createTwoNodeTopology, interopSkipReason } from '../helpers/wg-peer.js';
import { peerOf, pingStream, withLogs } from '../interop/checks.js';
import { tcpTransfer } from '../interop/tcp-transfer.js';

const skip = interopSkipReason(['wgtsd', 'wireguard-go'], ['ping', 'nft']);

after(async () => {
  await cleanup();
});

const LOSS_PCT = 30;
const BYTES = 5 * 1024 * 1024;

/** The loss tables' counters in A and B: [drops into A, drops into B, initiations from A]. */
async function dropCounters(nsA: string, nsB: string): Promise<[number, number, number]> {
  const counters = async (ns: string): Promise<number[]> => {
    const r = await execOk(ns, 'nft', ['list', 'table', 'netdev', 'wgtsloss']);
    return [...r.stdout.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
  };
  const [inA, inB] = await Promise.all([counters(nsA), counters(nsB)]);
  return [inA[0] ?? 0, inB[1] ?? 0, inB[0] ?? 0];
}

describe('30% loss (nftables numgen) wgtsd ↔ wireguard-go', { skip }, () => {
  test('handshake by retransmission, then a 5 MiB TCP transfer', { timeout: 60_000 }, async (t) => {
    const topo = await createTwoNodeTopology({ implA: 'wgtsd', implB: 'wireguard-go' });
    try {
      await withLogs(topo, async () => {
        const { a, b } = topo;
        await execOk(a.ns, 'nft', ['-f', '-'], {
          input:
            `table netdev wgtsloss {\n` +
            `  chain in { type filter hook ingress device "${a.vethIf}" priority 0; ` +
            `udp dport ${a.listenPort} numgen random mod 100 < ${LOSS_PCT} counter drop; }\n` +
            `}\n`,
        });
        await execOk(b.ns, 'nft', ['-f', '-'], {
          input:
            `table netdev wgtsloss {\n` +
            `  chain in { type filter hook ingress device "${b.vethIf}" priority 0; ` +
            `udp sport ${a.listenPort} @th,64,8 1 counter; ` +
            `udp sport ${a.listenPort} numgen random mod 100 < ${LOSS_PCT} counter drop; }\n` +
            `}\n`,
        });
        // wgtsd's GSO runs reach B's ingress as separate datagrams (see the header).
        await execOk(a.ns, 'ip', ['link', 'set', 'dev', a.vethIf, 'gso_max_segs', '1']);

        // The handshake: echo requests every 0.2 s from A (wgtsd initiates, and retries every
        // REKEY_TIMEOUT + jitter while its initiations or their responses are dropped). Bounded at
        // 40 s: nine attempts, each failing with probability 1 − 0.7² = 0.51 (0.51⁹ ≈ 0.2%).
        const started = Date.now();
        const stream = pingStream(a, b.innerV4, 0.2, 220);
        let handshakeMs = 0;
        try {
          await waitFor(async () => (await peerOf(a)).latestHandshake > 0, {
            timeoutMs: 40_000,
            intervalMs: 50,
            what: 'the handshake under loss',
          });
          handshakeMs = Date.now() - started;
          await stream.nextReply(5_000);
        } finally {
          await stream.proc.stop({ signal: 'SIGINT' });
        }
        const firstReplyMs = Date.now() - started;
        const [inDrops, outDrops, initiations] = await dropCounters(a.ns, b.ns);
        t.diagnostic(
          `under ${LOSS_PCT}% loss each way: handshake after ${handshakeMs} ms and ${initiations} ` +
            `initiation(s), first echo reply by ${firstReplyMs} ms (nft dropped ${outDrops} out, ` +
            `${inDrops} in so far)`,
        );

        // TCP's retransmission timeout (≥ 200 ms) doubles on each loss of a retransmission (p ≈ 0.51
        // here), so a transfer spends most of its time waiting for timers and now and then stalls
        // for tens of seconds. Over a sub-millisecond path, bound the RTO to 20 ms … 1 s in both
        // namespaces (per-namespace sysctls, Linux ≥ 6.11 and 6.15; skipped where missing).
        for (const ns of [a.ns, b.ns]) {
          for (const [name, value] of [
            ['tcp_rto_min_us', '20000'],
            ['tcp_rto_max_ms', '1000'],
          ] as const) {
            if (existsSync(`/proc/sys/net/ipv4/${name}`)) {
              await execOk(ns, 'sysctl', ['-qw', `net.ipv4.${name}=${value}`]);
            }
          }
        }
        const r = await tcpTransfer({
          serverNs: b.ns,
          clientNs: a.ns,
          host: b.innerV4,
          bytes: BYTES,
          timeoutMs: 45_000,
        });
        assert.equal(r.sent.bytes, BYTES);
        assert.deepEqual(r.received, r.sent, 'the receiver hashed other bytes than were sent');
        assert.deepEqual(r.echoed, r.sent);
        const [inAll, outAll] = await dropCounters(a.ns, b.ns);
        t.diagnostic(
          `5 MiB A → B under ${LOSS_PCT}% loss in ${r.ms.toFixed(0)} ms (${r.mbitPerS.toFixed(2)} Mbit/s), ` +
            `sha256 ${r.sent.sha256.slice(0, 16)}… on both ends; nft dropped ${outAll} out, ${inAll} in`,
        );
        assert.ok(inAll > 0 && outAll > 0);
      });
    } finally {
      await topo.teardown();
    }
  });
});
