/**
 * Restarts: a peer killed and started again with the same keys and config, and wgtsd stopped with
 * SIGTERM and started again, for wgtsd ↔ wireguard-go and wgtsd ↔ wgtsd.
 *
 * - Peer SIGKILL + restart, the restarted peer sends first: it has no session, so it initiates at
 *   once and the surviving side must accept the new initiation (newer timestamp) although it still
 *   holds a session with the old instance. The first echo must come back within REKEY_TIMEOUT
 *   (5 s) of that first send (measured; in practice a few ms).
 * - Peer SIGKILL + restart, wgtsd (the survivor) sends first: wgtsd keeps sealing with its stale
 *   session, gets nothing back, and must start a new handshake KEEPALIVE_TIMEOUT + REKEY_TIMEOUT
 *   (+ up to 333 ms jitter) after its first unanswered packet; traffic then comes back (measured).
 * - wgtsd SIGTERM: it exits 0, its UAPI socket is removed and its TUN is gone; started again with
 *   the same config it must bring the tunnel back when it sends first (within REKEY_TIMEOUT).
 * - wgtsd SIGKILL (wgtsd ↔ wgtsd): the stale socket it leaves is for the new wgtsd to remove.
 *
 * Needs root, wireguard-go, a built wgtsd, wg, ip, ping; skips otherwise.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cleanup, exec, ping, waitFor } from '../helpers/netns.js';
import {
  acceptsConnections,
  createTwoNodeTopology,
  interopSkipReason,
  type TunnelNode,
  type TwoNodeTopology,
} from '../helpers/wg-peer.js';
import { assertNothingLeft, firstPing, peerOf, pingBothWays, pingStream, withLogs } from './checks.js';

const skip = interopSkipReason(['wgtsd', 'wireguard-go'], ['ping']);

after(async () => {
  await cleanup();
});

const REKEY_TIMEOUT_MS = 5_000;
const KEEPALIVE_TIMEOUT_MS = 10_000;
const JITTER_MAX_MS = 333;

/** Whether `ifname` exists in `ns`. */
async function linkExists(ns: string, ifname: string): Promise<boolean> {
  return (await exec(ns, 'ip', ['link', 'show', 'dev', ifname])).code === 0;
}

/** SIGKILLs a node's daemon and waits until it has exited and the kernel has removed its TUN. */
async function kill(node: TunnelNode): Promise<void> {
  const info = await node.daemon.proc.stop({ signal: 'SIGKILL', graceMs: 5_000 });
  assert.equal(info.signal, 'SIGKILL');
  await waitFor(async () => !(await linkExists(node.ns, node.ifname)), {
    timeoutMs: 5_000,
    what: `${node.ifname} to vanish with its killed daemon`,
  });
}

/**
 * Sends one echo request from `from` to `to` and waits up to REKEY_TIMEOUT + 1 s for its reply (the
 * daemon stages the packet while it handshakes). Returns the round trip in ms, which must be within
 * REKEY_TIMEOUT.
 */
async function backWithinRekeyTimeout(from: TunnelNode, to: string): Promise<number> {
  const started = Date.now();
  const r = await ping(from.ns, to, { count: 1, waitS: REKEY_TIMEOUT_MS / 1000 + 1 });
  const ms = Date.now() - started;
  assert.equal(
    r.received,
    1,
    `no reply within ${REKEY_TIMEOUT_MS + 1000} ms of the first send:\n${r.output}`,
  );
  const rtt = /time=([\d.]+) ms/.exec(r.output);
  const rttMs = rtt === null ? ms : Number(rtt[1]);
  assert.ok(rttMs < REKEY_TIMEOUT_MS, `first reply after ${rttMs} ms`);
  return rttMs;
}

/** Both sides report a handshake newer than `since` (unix seconds). */
async function handshakeAfter(topo: TwoNodeTopology, since: number): Promise<void> {
  for (const node of [topo.a, topo.b]) {
    const hs = (await peerOf(node)).latestHandshake;
    assert.ok(hs >= since, `${node.impl} (${node.name}) latest handshake ${hs}, expected ≥ ${since}`);
  }
}

/** SIGTERM to wgtsd: exit 0, socket removed, TUN gone; then the same config again, wgtsd sends first. */
async function sigtermAndRestart(
  topo: TwoNodeTopology,
  node: TunnelNode,
  other: TunnelNode,
): Promise<number> {
  assert.equal(node.impl, 'wgtsd');
  const old = node.daemon;
  assert.ok(existsSync(old.socketPath));
  const info = await old.proc.stop({ signal: 'SIGTERM', graceMs: 5_000 });
  assert.deepEqual(info, { code: 0, signal: null }, `wgtsd did not exit 0 on SIGTERM:\n${old.output()}`);
  assert.equal(existsSync(old.socketPath), false, `${old.socketPath} left behind`);
  assert.equal(await linkExists(node.ns, node.ifname), false, `${node.ifname} still exists`);

  const since = Math.floor(Date.now() / 1000);
  const fresh = await topo.restartDaemon(node.name);
  assert.notEqual(fresh.proc.pid, old.proc.pid);
  const dump = await node.dump();
  assert.equal(dump.listenPort, node.listenPort);
  assert.equal(dump.peers[0]?.publicKey, other.keys.publicKey);
  assert.equal(dump.peers[0]?.latestHandshake, 0);
  const ms = await backWithinRekeyTimeout(node, other.innerV4);
  await pingBothWays(topo);
  await handshakeAfter(topo, since);
  return ms;
}

describe('wgtsd ↔ wireguard-go (outer v4)', { skip }, () => {
  let topo: TwoNodeTopology | null = null;
  before(async () => {
    topo = await createTwoNodeTopology({ implA: 'wgtsd', implB: 'wireguard-go', outer: 'v4' });
    await withLogs(topo, () => firstPing(topo!.a, topo!.b.innerV4));
  });
  after(async () => {
    await topo?.teardown();
  });

  test('wireguard-go SIGKILLed and restarted, it sends first: back within REKEY_TIMEOUT', async (t) => {
    const { a, b } = topo!;
    await withLogs(topo!, async () => {
      await kill(b);
      const since = Math.floor(Date.now() / 1000);
      await topo!.restartDaemon('b');
      const ms = await backWithinRekeyTimeout(b, a.innerV4);
      t.diagnostic(`restarted wireguard-go → wgtsd: first reply ${ms} ms after the first send`);
      await pingBothWays(topo!);
      await handshakeAfter(topo!, since);
    });
  });

  test(
    'wireguard-go SIGKILLed and restarted, wgtsd sends first: wgtsd re-handshakes after ' +
      'KEEPALIVE_TIMEOUT + REKEY_TIMEOUT of silence and traffic comes back',
    async (t) => {
      const { a, b } = topo!;
      await withLogs(topo!, async () => {
        // wgtsd's last event is a reply received, so no "no reply yet" timer is running: the clock
        // starts at the first unanswered packet below.
        assert.ok((await ping(a.ns, b.innerV4)).ok);
        await kill(b);
        await topo!.restartDaemon('b');
        // wireguard-go has no session and no reason to send; wgtsd still holds the old session.
        const stream = pingStream(a, b.innerV4, 0.2, 150);
        const started = Date.now();
        try {
          const seq = await stream.nextReply(
            KEEPALIVE_TIMEOUT_MS + 2 * REKEY_TIMEOUT_MS + 2 * JITTER_MAX_MS + 2_000,
          );
          const ms = Date.now() - started;
          t.diagnostic(`wgtsd → restarted wireguard-go: first reply after ${ms} ms (icmp_seq ${seq})`);
          // A new handshake 15 s (+ jitter) after the first unanswered packet, not before.
          const rule = KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS;
          assert.ok(ms >= rule - 500 && ms <= rule + JITTER_MAX_MS + 1_500, `back after ${ms} ms`);
          // Everything after that flows.
          await stream.nextReply(3_000, seq + 4);
        } finally {
          await stream.finish(0);
        }
        await pingBothWays(topo!);
      });
    },
  );

  test('wgtsd SIGTERM: exits 0, socket removed, TUN gone; restarted with the same config: tunnel back', async (t) => {
    const { a, b } = topo!;
    await withLogs(topo!, async () => {
      const ms = await sigtermAndRestart(topo!, a, b);
      t.diagnostic(`restarted wgtsd → wireguard-go: first reply ${ms} ms after the first send`);
    });
  });
});

describe('wgtsd ↔ wgtsd (outer v6, psk)', { skip }, () => {
  let topo: TwoNodeTopology | null = null;
  before(async () => {
    topo = await createTwoNodeTopology({ implA: 'wgtsd', implB: 'wgtsd', outer: 'v6', psk: true });
    await withLogs(topo, () => firstPing(topo!.a, topo!.b.innerV4));
  });
  after(async () => {
    await topo?.teardown();
  });

  test('wgtsd SIGKILLed (stale socket left) and restarted, it sends first: back within REKEY_TIMEOUT', async (t) => {
    const { a, b } = topo!;
    await withLogs(topo!, async () => {
      const socketPath = b.daemon.socketPath;
      await kill(b);
      assert.ok(existsSync(socketPath), 'a SIGKILLed wgtsd cannot remove its socket');
      assert.equal(await acceptsConnections(socketPath), false);
      const since = Math.floor(Date.now() / 1000);
      // The new wgtsd finds the stale socket (connection refused), removes it and listens.
      await topo!.restartDaemon('b', { keepStaleSocket: true });
      assert.ok(await acceptsConnections(socketPath));
      const ms = await backWithinRekeyTimeout(b, a.innerV6);
      t.diagnostic(`restarted wgtsd → wgtsd: first reply ${ms} ms after the first send`);
      await pingBothWays(topo!);
      await handshakeAfter(topo!, since);
    });
  });

  test('wgtsd SIGTERM: exits 0, socket removed, TUN gone; restarted with the same config: tunnel back', async (t) => {
    const { a, b } = topo!;
    await withLogs(topo!, async () => {
      const ms = await sigtermAndRestart(topo!, a, b);
      t.diagnostic(`restarted wgtsd → wgtsd: first reply ${ms} ms after the first send`);
    });
  });
});

test('nothing left behind: namespaces, links, UAPI sockets, processes', { skip }, async () => {
  await assertNothingLeft();
});
