/**
 * `ip link del` of wgtsd's interface under traffic: the daemon notices that its link is gone
 * (its TUN read fails with EBADFD, src/daemon/run.ts) and exits 0 within a second,
 * removing its UAPI socket. Measured from the moment `ip link del` returned to the daemon's exit,
 * with a 100/s ping through the tunnel, for wgtsd ↔ wireguard-go and wgtsd ↔ wgtsd (A is the
 * wgtsd whose link is deleted). SIGTERM and restarts are covered by test/interop/restart.test.ts.
 *
 * Needs root, wireguard-go, wg, ip, ping; skips otherwise.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cleanup, execOk } from '../helpers/netns.js';
import { createTwoNodeTopology, interopSkipReason, type Impl } from '../helpers/wg-peer.js';
import { firstPing, pingStream, withLogs } from '../interop/checks.js';

const skip = interopSkipReason(['wgtsd', 'wireguard-go'], ['ping']);

after(async () => {
  await cleanup();
});

for (const implB of ['wireguard-go', 'wgtsd'] as const satisfies readonly Impl[]) {
  describe(`ip link del under traffic: wgtsd ↔ ${implB}`, { skip }, () => {
    test('wgtsd exits within a second, socket removed', { timeout: 30_000 }, async (t) => {
      const topo = await createTwoNodeTopology({ implA: 'wgtsd', implB });
      try {
        await withLogs(topo, async () => {
          const { a, b } = topo;
          await firstPing(a, b.innerV4);
          const stream = pingStream(a, b.innerV4, 0.01, 1000);
          try {
            const seq = await stream.nextReply(3_000, 10);
            const daemon = a.daemon;
            const del = await execOk(a.ns, 'ip', ['link', 'del', 'dev', a.ifname]);
            const deletedAt = Date.now();
            const raced = await Promise.race([
              daemon.proc.exited.then((info) => ({ info, ms: Date.now() - deletedAt })),
              new Promise<null>((resolve) => setTimeout(() => resolve(null), 3_000)),
            ]);
            assert.notEqual(raced, null, `wgtsd still running 3 s after ip link del:\n${daemon.output()}`);
            const { info, ms } = raced!;
            t.diagnostic(
              `wgtsd ↔ ${implB}: ip link del (took ${del.durationMs} ms) after echo ${seq}; wgtsd exited ` +
                `(${info.code ?? info.signal}) ${ms} ms after it returned`,
            );
            assert.ok(ms < 1_000, `wgtsd exited ${ms} ms after ip link del`);
            assert.equal(info.code, 0, daemon.output());
            assert.equal(existsSync(daemon.socketPath), false, `${daemon.socketPath} left behind`);
          } finally {
            await stream.proc.stop({ signal: 'SIGINT' });
          }
        });
      } finally {
        await topo.teardown();
      }
    });
  });
}
