/**
 * Endpoint hostname re-resolution end to end (docs/uapi-extensions.md), in namespaces this file
 * creates (all named `dn-…`/`dn…`), with a resolver the test controls: `ip netns exec NS` bind-
 * mounts /etc/netns/NS/hosts over /etc/hosts for the processes it starts, and the test edits that
 * file in place; /etc/netns/NS/resolv.conf points DNS at the namespace's own loopback, where
 * nothing answers, so a name missing from the file fails at once.
 *
 * - wgtsd (WGTS_RESOLVE_INTERVAL=2) is given its peer, Debian's wireguard-go, as `peer.test:PORT`
 *   by `wgts set`; the peer's address moves (its first link goes down, it is reached on a second
 *   one) and the tunnel stays down while the name still says the old address; once the hosts
 *   entry changes, the tunnel comes back within the interval plus a margin, with no `wg set`.
 *   Then the name stops resolving: the address is kept (the tunnel still works) and it is logged.
 * - The extension is invisible to the real tools: given the same config (hostname endpoint,
 *   `wgts setconf`), wgtsd's and wireguard-go's `wg show dump` and raw `get=1` are identical, and
 *   wireguard-go gets exactly what wg would send (the set succeeds, nothing refused in its log);
 *   the name given by setconf is re-resolved by wgtsd as one given by `wgts set`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { announcementPath } from '../../src/uapi/extensions.js';
import { runWgts } from '../cli/helpers.js';
import { uapiGet } from '../helpers/wg-tools.js';
import {
  cleanup,
  createNamespace,
  execOk,
  ping,
  trackLink,
  trackPath,
  waitFor,
  waitLinkReady,
} from '../helpers/netns.js';
import {
  genKeyPair,
  interopSkipReason,
  startDaemon,
  wg,
  writeSecretFile,
  type Daemon,
  type Impl,
} from '../helpers/wg-peer.js';

const skip = interopSkipReason(['wgtsd', 'wireguard-go'], ['ping']);
const TAG = `dn${process.pid.toString(36)}`;
const NS_A = `dn-${process.pid}-a`;
const NS_B = `dn-${process.pid}-b`;
const INTERVAL_S = 2;
/** The interval, one REKEY_TIMEOUT for a handshake on a busy machine, and slack. */
const RECOVERY_DEADLINE_MS = INTERVAL_S * 1000 + 5_000 + 5_000;
const PORT = 51877;
const HOSTS = `/etc/netns/${NS_A}/hosts`;

/** `dn<pid36><tag>`: at most 15 characters. */
function ifname(tag: string): string {
  const name = `${TAG}${tag}`;
  assert.ok(name.length <= 15, name);
  return name;
}

/** The namespace's /etc/hosts, rewritten in place (the bind mount keeps the inode). */
function setHosts(address: string | null): void {
  const entry = address === null ? '' : `${address} peer.test\n`;
  writeFileSync(HOSTS, `127.0.0.1 localhost\n${entry}`);
}

async function veth(a: string, b: string, addrA: string, addrB: string): Promise<void> {
  await execOk(null, 'ip', ['-n', NS_A, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b, 'netns', NS_B]);
  trackLink(NS_A, a);
  await execOk(NS_A, 'ip', ['addr', 'add', addrA, 'dev', a]);
  await execOk(NS_B, 'ip', ['addr', 'add', addrB, 'dev', b]);
  await execOk(NS_A, 'ip', ['link', 'set', a, 'up']);
  await execOk(NS_B, 'ip', ['link', 'set', b, 'up']);
  await Promise.all([waitLinkReady(NS_A, a), waitLinkReady(NS_B, b)]);
}

async function tunnelUp(d: Daemon, cidr: string): Promise<void> {
  await execOk(d.ns, 'ip', ['addr', 'add', cidr, 'dev', d.ifname]);
  await execOk(d.ns, 'ip', ['link', 'set', d.ifname, 'up']);
}

/**
 * Starts `impl` as `dn<pid36><tag>`. For wgtsd, also waits for its announcement, which it writes
 * just after its socket appears (docs/uapi-extensions.md): a `wgts set` in between would be sent
 * as to wireguard-go, without the name.
 */
async function daemon(ns: string, impl: Impl, tag: string): Promise<Daemon> {
  const name = ifname(tag);
  trackPath(announcementPath(`/var/run/wireguard/${name}.sock`));
  const d = await startDaemon(ns, {
    impl,
    ifname: name,
    env: { WGTS_RESOLVE_INTERVAL: String(INTERVAL_S), LOG_LEVEL: 'verbose' },
  });
  if (impl === 'wgtsd') {
    await waitFor(() => existsSync(announcementPath(d.socketPath)), {
      timeoutMs: 5_000,
      intervalMs: 10,
      what: `${name}'s announcement`,
    });
  }
  return d;
}

describe('endpoint hostnames in namespaces', { skip, timeout: 120_000 }, () => {
  before(async () => {
    await createNamespace(NS_A);
    await createNamespace(NS_B);
    mkdirSync(`/etc/netns/${NS_A}`, { recursive: true });
    trackPath(`/etc/netns/${NS_A}`);
    writeFileSync(`/etc/netns/${NS_A}/resolv.conf`, 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n');
    setHosts('10.77.1.2');
    // Two links between the namespaces: the peer is first reached on the first, then moves.
    await veth(ifname('v1'), ifname('p1'), '10.77.1.1/24', '10.77.1.2/24');
    await veth(ifname('v2'), ifname('p2'), '10.77.2.1/24', '10.77.2.2/24');
  });

  after(async () => {
    await cleanup();
  });

  test('a moved peer is found again by name within the interval; a dead name keeps the address', async () => {
    const [ka, kb] = await Promise.all([genKeyPair(), genKeyPair()]);
    const a = await daemon(NS_A, 'wgtsd', 'wa');
    const b = await daemon(NS_B, 'wireguard-go', 'wb');
    try {
      await execOk(NS_B, 'wg', [
        'set',
        b.ifname,
        'private-key',
        writeSecretFile(kb.privateKey),
        'listen-port',
        String(PORT),
        'peer',
        ka.publicKey,
        'allowed-ips',
        '10.78.0.1/32',
      ]);
      const set = await runWgts(
        [
          'set',
          a.ifname,
          'private-key',
          writeSecretFile(ka.privateKey),
          'peer',
          kb.publicKey,
          'endpoint',
          `peer.test:${PORT}`,
          'allowed-ips',
          '10.78.0.2/32',
        ],
        { ns: NS_A },
      );
      assert.equal(set.code, 0, set.stderr);
      await tunnelUp(a, '10.78.0.1/24');
      await tunnelUp(b, '10.78.0.2/24');
      const first = await ping(NS_A, '10.78.0.2', { count: 1, deadlineS: 10 });
      assert.ok(first.ok, `tunnel at the first address: ${first.output}\n${a.output()}`);

      // The peer moves: its first link goes down, it is now at 10.77.2.2. The name still says
      // 10.77.1.2, so re-resolving gives nothing new: the tunnel stays down (nothing else fixes it).
      await execOk(NS_B, 'ip', ['link', 'set', ifname('p1'), 'down']);
      const down = await ping(NS_A, '10.78.0.2', {
        count: 3,
        intervalS: 1,
        waitS: 1,
        deadlineS: 2 * INTERVAL_S + 1,
      });
      assert.equal(down.received, 0, `no way to the moved peer while the name is unchanged: ${down.output}`);

      // The name follows the peer: the tunnel is back within the interval plus a margin.
      setHosts('10.77.2.2');
      const moved = performance.now();
      await waitFor(async () => (await ping(NS_A, '10.78.0.2', { count: 1, waitS: 1 })).ok, {
        timeoutMs: RECOVERY_DEADLINE_MS,
        intervalMs: 100,
        what: `the tunnel back after the name moved\n${a.output()}`,
      });
      const recoveredMs = performance.now() - moved;
      process.stderr.write(`endpoint-dns: tunnel back ${recoveredMs.toFixed(0)} ms after the hosts change\n`);
      const endpoints = await runWgts(['show', a.ifname, 'endpoints'], { ns: NS_A });
      assert.equal(endpoints.stdout, `${kb.publicKey}\t10.77.2.2:${PORT}\n`);

      // The name stops resolving: logged, the address kept, the tunnel still up.
      setHosts(null);
      await waitFor(() => /cannot resolve peer\.test:\d+: .*endpoint kept/.test(a.output()), {
        timeoutMs: 3 * INTERVAL_S * 1000 + 5_000,
        intervalMs: 100,
        what: `a logged resolution failure\n${a.output()}`,
      });
      const still = await runWgts(['show', a.ifname, 'endpoints'], { ns: NS_A });
      assert.equal(still.stdout, `${kb.publicKey}\t10.77.2.2:${PORT}\n`);
      const after = await ping(NS_A, '10.78.0.2', { count: 2, deadlineS: 5 });
      assert.ok(after.ok, after.output);
    } finally {
      setHosts('10.77.1.2');
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  test('wg sees the same dump from wgtsd and wireguard-go; wireguard-go gets no extension', async () => {
    setHosts('10.77.2.2');
    const [k, kp] = await Promise.all([genKeyPair(), genKeyPair()]);
    const conf = `${writeSecretFile('')}.conf`;
    writeFileSync(
      conf,
      `[Interface]\nPrivateKey = ${k.privateKey}\nListenPort = ${PORT + 1}\n\n` +
        `[Peer]\nPublicKey = ${kp.publicKey}\nEndpoint = peer.test:${PORT}\nAllowedIPs = 10.78.0.9/32\n`,
    );
    const seen: Record<string, { dump: string; get: string; showconf: string; log: string }> = {};
    for (const impl of ['wgtsd', 'wireguard-go'] as const) {
      const d = await daemon(NS_A, impl, impl === 'wgtsd' ? 'xt' : 'xg');
      try {
        assert.equal(existsSync(announcementPath(d.socketPath)), impl === 'wgtsd', 'only wgtsd announces');
        const r = await runWgts(['setconf', d.ifname, conf], { ns: NS_A });
        assert.equal(r.code, 0, `${impl}: ${r.stderr}\n${d.output()}`);
        // A down link sends nothing and so resolves nothing (an overdue lookup runs on `up`).
        await execOk(NS_A, 'ip', ['link', 'set', d.ifname, 'up']);
        const dump = await wg(NS_A, ['show', d.ifname, 'dump']);
        const showconf = await runWgts(['showconf', d.ifname], { ns: NS_A });
        seen[impl] = {
          dump: dump.stdout,
          get: await uapiGet(d.socketPath),
          showconf: showconf.stdout,
          log: d.output(),
        };
        assert.match(
          dump.stdout,
          new RegExp(`\t10\\.77\\.2\\.2:${PORT}\t`),
          `${impl}: resolved once, by wgts`,
        );
        if (impl === 'wgtsd') {
          // A name given by setconf is re-resolved too: the endpoint follows the hosts file.
          setHosts('10.77.1.2');
          await waitFor(
            async () =>
              (await wg(NS_A, ['show', d.ifname, 'endpoints'])).stdout.includes(`\t10.77.1.2:${PORT}`),
            {
              timeoutMs: INTERVAL_S * 1000 + 5_000,
              intervalMs: 100,
              what: `the setconf endpoint re-resolved\n${d.output()}`,
            },
          );
        }
      } finally {
        setHosts('10.77.2.2');
        await d.stop();
      }
    }
    const [t, g] = [seen['wgtsd']!, seen['wireguard-go']!];
    assert.equal(t.dump, g.dump);
    assert.equal(t.get, g.get);
    assert.doesNotMatch(t.get, /wgts/);
    assert.equal(t.showconf, g.showconf);
    assert.match(
      t.showconf,
      new RegExp(`Endpoint = 10\\.77\\.2\\.2:${PORT}\n`),
      'showconf shows the address, as wg',
    );
    assert.doesNotMatch(g.log, /IPC error|invalid UAPI/i, `wireguard-go refused something:\n${g.log}`);
  });
});
