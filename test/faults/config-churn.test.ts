/**
 * 1000 configuration changes under traffic against wgtsd (A), peer wireguard-go (B), each one UAPI
 * `set=1` exchange on wgtsd's socket with our client (src/uapi/client.ts uapiSet, one connection per
 * change as wg(8) does), cycling through 8 changes 125 times:
 *
 *   persistent keepalive 1 s on · off · private key flipped to another key · back · a second peer
 *   added (192.0.2.1/32, no endpoint) · removed · listen port +100 · back
 *
 * while A pings B every 10 ms. wgtsd must not crash (same pid, still running), end with its original
 * configuration (`wg show dump`: keys, port, one peer, keepalive off), and traffic must resume: a
 * ping answered afterwards. Measured: the changes per second and the echoes answered during and
 * after the churn.
 *
 * The same churn against wireguard-go as A runs as a baseline, for its diagnostics only (when
 * Debian's wireguard-go itself stops answering its socket mid-churn, that is printed, not failed):
 * the pause before traffic resumes after the churn (≈ REKEY_TIMEOUT: the last initiations fall within the peer's 50 ms initiation
 * flood limit, or their responses go to a listen port that has just moved, and the initiator then
 * waits REKEY_TIMEOUT before retrying) is protocol behaviour, the same for both.
 *
 * Needs root, wireguard-go, wg, ip, ping; skips otherwise.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup } from '../helpers/netns.js';
import { createTwoNodeTopology, genKeyPair, interopSkipReason, type Impl } from '../helpers/wg-peer.js';
import { uapiSet } from '../../src/uapi/client.js';
import { firstPing, peerOf, pingStream, withLogs } from '../interop/checks.js';

const skip = interopSkipReason(['wgtsd', 'wireguard-go'], ['ping']);

after(async () => {
  await cleanup();
});

const CHANGES = 1000;

const hex = (base64: string): string => Buffer.from(base64, 'base64').toString('hex');

for (const implA of ['wgtsd', 'wireguard-go'] as const satisfies readonly Impl[]) {
  describe(`1000 configuration changes under traffic: ${implA} ↔ wireguard-go`, { skip }, () => {
    test('no crash, original config at the end, traffic resumes', { timeout: 40_000 }, async (t) => {
      const topo = await createTwoNodeTopology({ implA, implB: 'wireguard-go' });
      try {
        await withLogs(topo, async () => {
          const { a, b } = topo;
          await firstPing(a, b.innerV4);
          const [other, third] = await Promise.all([genKeyPair(), genKeyPair()]);
          const peerB = `public_key=${hex(b.keys.publicKey)}\n`;
          const changes: readonly string[] = [
            `${peerB}persistent_keepalive_interval=1\n`,
            `${peerB}persistent_keepalive_interval=0\n`,
            `private_key=${hex(other.privateKey)}\n`,
            `private_key=${hex(a.keys.privateKey)}\n`,
            `public_key=${hex(third.publicKey)}\nallowed_ip=192.0.2.1/32\n`,
            `public_key=${hex(third.publicKey)}\nremove=true\n`,
            `listen_port=${a.listenPort + 100}\n`,
            `listen_port=${a.listenPort}\n`,
          ];
          const pid = a.daemon.proc.pid;
          const socket = a.daemon.socketPath;
          const stream = pingStream(a, b.innerV4, 0.01, 6000);
          let churnMs = 0;
          let during = 0;
          try {
            await stream.nextReply(3_000);
            const started = Date.now();
            for (let i = 0; i < CHANGES; i++) {
              try {
                await uapiSet(socket, changes[i % changes.length]!, { timeoutMs: 5_000 });
              } catch (err) {
                const what = `change ${i} (${changes[i % changes.length]!.trim()}): ${(err as Error).message}`;
                if (implA === 'wireguard-go') {
                  // The baseline only measures; wireguard-go 0.0.20220316 itself sometimes stops
                  // answering its socket under this churn (seen: at a private-key flip, change
                  // 330). That is its flaw, reported here, not a failure of ours.
                  t.diagnostic(`wireguard-go baseline stopped answering UAPI: ${what}`);
                  return;
                }
                throw new Error(what);
              }
            }
            churnMs = Date.now() - started;
            during = stream.replies().length;
            assert.equal(a.daemon.proc.hasExited(), false, 'wgtsd exited during the churn');
            // Traffic resumes on the running stream (a new handshake after the key flips).
            const seq = Math.max(0, ...stream.replies());
            const resumedStart = Date.now();
            await stream.nextReply(12_000, seq);
            const resumedMs = Date.now() - resumedStart;
            t.diagnostic(
              `${CHANGES} UAPI sets in ${churnMs} ms (${((CHANGES * 1000) / churnMs).toFixed(0)}/s); ` +
                `${during} echoes answered during the churn; the ping stream resumed ${resumedMs} ms after it`,
            );
          } finally {
            const fin = await stream.finish(100);
            t.diagnostic(`ping stream: ${fin.received}/${fin.transmitted} answered in all`);
          }
          assert.equal(a.daemon.proc.pid, pid);
          assert.equal(a.daemon.proc.hasExited(), false);
          process.kill(pid, 0);
          const dump = await a.dump();
          assert.equal(dump.privateKey, a.keys.privateKey);
          assert.equal(dump.listenPort, a.listenPort);
          assert.equal(dump.peers.length, 1, JSON.stringify(dump));
          const peer = await peerOf(a);
          assert.equal(peer.publicKey, b.keys.publicKey);
          assert.equal(peer.persistentKeepalive, null);
          const ms = await firstPing(a, b.innerV4, 12_000);
          const back = await firstPing(b, a.innerV4, 12_000);
          t.diagnostic(
            `after the churn: A → B answered in ${ms} ms, B → A in ${back} ms; ${implA} pid ${pid} unchanged`,
          );
        });
      } finally {
        await topo.teardown();
      }
    });
  });
}
