/**
 * A relay spoke reachable at once (issue 10, deliverable 4): a spoke behind a hub that has no
 * endpoint for it (the hub-and-spoke setup of the seeds) is reachable only after the spoke's
 * first initiation. wg-quick configures the peer, with PersistentKeepalive, while the link is
 * still down, then brings it up; the keepalive, and so the handshake, must go out as the link comes
 * up, not REKEY_TIMEOUT (5 s) later. Measured from the moment `up` returns to the hub's first
 * echo reply from the spoke, for `wgts up` (wgtsd), the real `wg-quick up` driving wgtsd, and the
 * real `wg-quick up` driving Debian's wireguard-go (the comparison; it answers within 0.5 s).
 *
 * Fixture: quick-helpers.ts (`ns` runs the spoke; the hub is wireguard-go in `peerNs`, with our
 * key and no endpoint). Needs root, wireguard-go, wg, wg-quick, ip, ping; skips otherwise.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, exec } from '../helpers/netns.js';
import { interopSkipReason, WGTSD_MAIN } from '../helpers/wg-peer.js';
import { createQuickTopology, quickEnv, type QuickTopology } from './quick-helpers.js';

const skip = interopSkipReason(['wireguard-go', 'wgtsd'], ['ping', 'wg-quick']);

after(async () => {
  await cleanup();
});

/** How long after `up` returned the hub's ping (every 50 ms, 3 s at most) got its first reply. */
async function firstReplyFromHub(t: QuickTopology): Promise<number | null> {
  const started = Date.now();
  const r = await exec(t.peerNs, 'ping', ['-n', '-c', '1', '-i', '0.05', '-w', '3', t.inner.selfV4], {
    timeoutMs: 10_000,
  });
  return r.code === 0 ? Date.now() - started : null;
}

type Starter = 'wgts up' | 'wg-quick up (wgtsd)' | 'wg-quick up (wireguard-go)';

async function spokeUp(starter: Starter): Promise<{ ms: number | null; upMs: number }> {
  const t = await createQuickTopology();
  try {
    const ifname = t.newIfname();
    const conf = t.writeConf(
      ifname,
      t.config({ allowedIps: `${t.inner.peerV4}/32, ${t.inner.peerV6}/128\nPersistentKeepalive = 25` }),
    );
    const t0 = Date.now();
    let up;
    if (starter === 'wgts up') up = await t.wgts('up', conf);
    else {
      let impl = 'wireguard-go';
      if (starter === 'wg-quick up (wgtsd)') {
        // wg-quick runs `$WG_QUICK_USERSPACE_IMPLEMENTATION IF`: a one-line wrapper of wgtsd.
        impl = join(t.dir, 'wgtsd');
        writeFileSync(impl, `#!/bin/sh\nexec "${process.execPath}" "${WGTSD_MAIN}" "$@"\n`);
        chmodSync(impl, 0o755);
      }
      up = await t.exec('wg-quick', ['up', conf], {
        env: quickEnv({ WG_QUICK_USERSPACE_IMPLEMENTATION: impl }),
        timeoutMs: 60_000,
      });
    }
    const upMs = Date.now() - t0;
    assert.equal(up.code, 0, `${starter}: ${up.stdout}${up.stderr}`);
    const ms = await firstReplyFromHub(t);
    if (starter === 'wgts up') await t.wgts('down', conf);
    else await t.exec('wg-quick', ['down', conf], { env: quickEnv(), timeoutMs: 30_000 });
    return { ms, upMs };
  } finally {
    await t.teardown();
  }
}

for (const starter of ['wgts up', 'wg-quick up (wgtsd)', 'wg-quick up (wireguard-go)'] as const) {
  test(`${starter}: the hub reaches a new spoke within 1 s of up`, { skip, timeout: 90_000 }, async (t) => {
    const { ms, upMs } = await spokeUp(starter);
    t.diagnostic(
      `${starter} took ${upMs} ms; first echo reply at the hub ${ms ?? 'never (3 s)'} ms after it`,
    );
    assert.notEqual(ms, null, `${starter}: the hub got no reply within 3 s of up`);
    assert.ok(ms! < 1_000, `${starter}: first reply ${ms} ms after up`);
  });
}
