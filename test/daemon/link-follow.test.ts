/**
 * wgtsd and its TUN's link, wherever the link goes (issue 10, deliverables 1 and 2):
 *
 * - The TUN moved into other namespaces, any number of times, while the daemon and its UDP
 *   sockets stay in the namespace it started in (seed 004's container setup; wireguard-go's
 *   tests/netns.sh starts its daemons in ns0 and moves their TUNs into ns1/ns2). Traffic crosses
 *   after every move; up/down and MTU changes made in the link's new namespace reach the daemon;
 *   offloads on and off. Debian's wireguard-go runs the same moves as a control.
 * - Deleting the namespace the link was moved into deletes the link: the daemon exits 0 at once
 *   and removes its socket.
 * - `ip link del IF && wgtsd IF`, 20 times in a row: every immediate restart comes up (the old
 *   daemon sees EBADFD on its TUN read and exits; the new one gives a dying daemon's socket a
 *   moment instead of refusing).
 *
 * Needs root, ip, ping, wg (and wireguard-go for the control); skips otherwise.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import {
  cleanup,
  createNamespace,
  deleteNamespace,
  exec,
  execOk,
  ping,
  uniqueIfname,
  uniqueName,
  waitFor,
  type TrackedProcess,
} from '../helpers/netns.js';
import {
  genKeyPair,
  interopSkipReason,
  startDaemon,
  writeSecretFile,
  type Daemon,
  type Impl,
} from '../helpers/wg-peer.js';
import { cleanEnv, daemonPids, killRemembered, socketOf, WGTSD_MAIN } from '../helpers/wgtsd.js';

const skip = interopSkipReason(['wgtsd'], ['ping']);
const controlSkip = interopSkipReason(['wgtsd', 'wireguard-go'], ['ping']);

after(async () => {
  await killRemembered();
  await cleanup();
});

interface Variant {
  readonly label: string;
  readonly impl: Impl;
  readonly env: Record<string, string>;
}

const VARIANTS: readonly Variant[] = [
  { label: 'wgtsd, offloads on', impl: 'wgtsd', env: { LOG_LEVEL: 'verbose' } },
  { label: 'wgtsd, offloads off', impl: 'wgtsd', env: { LOG_LEVEL: 'verbose', WGTS_OFFLOAD: '0' } },
  { label: 'wireguard-go (control)', impl: 'wireguard-go', env: { LOG_LEVEL: 'verbose' } },
];

/** Exit info of a tracked process within `ms`, or null. */
async function exitWithin(
  proc: TrackedProcess,
  ms: number,
): Promise<{ code: number | null; ms: number } | null> {
  const t0 = Date.now();
  const info = await Promise.race([
    proc.exited,
    new Promise<null>((resolve) => setTimeout(() => resolve(null), ms)),
  ]);
  return info === null ? null : { code: info.code, ms: Date.now() - t0 };
}

/** Gives the link `ifname`, now in `ns`, its tunnel addresses and brings it up. */
async function plumb(ns: string, ifname: string, v4: string, v6: string): Promise<void> {
  await execOk(ns, 'ip', ['addr', 'add', `${v4}/24`, 'dev', ifname]);
  await execOk(ns, 'ip', ['addr', 'add', `${v6}/64`, 'dev', ifname, 'nodad']);
  await execOk(ns, 'ip', ['link', 'set', 'dev', ifname, 'up']);
}

/** Pings v4 and v6 until both answer (the first may wait for a handshake), within 10 s. */
async function crosses(ns: string, v4: string, v6: string, what: string): Promise<void> {
  for (const address of [v4, v6]) {
    await waitFor(async () => (await ping(ns, address, { count: 1, waitS: 1 })).ok, {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: `${what}: ping ${address}`,
    });
  }
  // Then a burst: the path is steady, not a lucky first packet.
  const r = await ping(ns, v4, { count: 20, intervalS: 0.01, deadlineS: 5 });
  assert.equal(r.received, 20, `${what}: ${r.received}/20 echoes\n${r.output}`);
}

for (const variant of VARIANTS) {
  const skipThis = variant.impl === 'wireguard-go' ? controlSkip : skip;
  describe(`TUN moved between namespaces: ${variant.label}`, { skip: skipThis }, () => {
    test(
      'traffic after each move; link state, MTU and deletion followed in the new namespace',
      { timeout: 90_000 },
      async (t) => {
        // ns0 holds both daemons and their UDP sockets (on its loopback); the links live in nsA/nsB.
        const ns0 = await createNamespace(uniqueName('lf0'));
        const nsA = await createNamespace(uniqueName('lfA'));
        const nsB = await createNamespace(uniqueName('lfB'));
        const nsC = await createNamespace(uniqueName('lfC'));
        await execOk(ns0, 'ip', ['link', 'set', 'lo', 'up']);
        const daemons: Daemon[] = [];
        try {
          const a = await startDaemon(ns0, {
            impl: variant.impl,
            ifname: uniqueIfname('m'),
            env: variant.env,
          });
          daemons.push(a);
          const b = await startDaemon(ns0, {
            impl: variant.impl,
            ifname: uniqueIfname('m'),
            env: variant.env,
          });
          daemons.push(b);
          const [ka, kb] = await Promise.all([genKeyPair(), genKeyPair()]);
          await execOk(ns0, 'wg', ['set', a.ifname, 'private-key', writeSecretFile(ka.privateKey)]);
          await execOk(ns0, 'wg', ['set', b.ifname, 'private-key', writeSecretFile(kb.privateKey)]);
          const port = async (d: Daemon): Promise<string> =>
            (await execOk(ns0, 'wg', ['show', d.ifname, 'listen-port'])).stdout.trim();
          const [pa, pb] = [await port(a), await port(b)];
          await execOk(ns0, 'wg', [
            'set',
            a.ifname,
            'peer',
            kb.publicKey,
            'endpoint',
            `127.0.0.1:${pb}`,
            'allowed-ips',
            '192.168.241.2/32,fd00::2/128',
          ]);
          await execOk(ns0, 'wg', [
            'set',
            b.ifname,
            'peer',
            ka.publicKey,
            'endpoint',
            `127.0.0.1:${pa}`,
            'allowed-ips',
            '192.168.241.1/32,fd00::1/128',
          ]);

          // The setup of tests/netns.sh: both links leave ns0.
          await execOk(ns0, 'ip', ['link', 'set', 'dev', a.ifname, 'netns', nsA]);
          await execOk(ns0, 'ip', ['link', 'set', 'dev', b.ifname, 'netns', nsB]);
          await plumb(nsA, a.ifname, '192.168.241.1', 'fd00::1');
          await plumb(nsB, b.ifname, '192.168.241.2', 'fd00::2');
          await crosses(nsA, '192.168.241.2', 'fd00::2', 'after the first move');
          await crosses(nsB, '192.168.241.1', 'fd00::1', 'after the first move, the other way');

          // A's link on: nsA → nsC → nsA → ns0 → nsA. Moving takes the link down and its addresses
          // away (as the kernel does), so each stop re-plumbs it.
          let at = nsA;
          for (const where of [nsC, nsA, ns0, nsA]) {
            await execOk(at, 'ip', ['link', 'set', 'dev', a.ifname, 'netns', where]);
            at = where;
            await plumb(where, a.ifname, '192.168.241.1', 'fd00::1');
            await crosses(where, '192.168.241.2', 'fd00::2', `after moving A into ${where}`);
            assert.equal(a.proc.hasExited(), false, `A exited after a move:\n${a.output()}`);
          }
          assert.equal(b.proc.hasExited(), false, b.output());

          if (variant.impl === 'wgtsd') {
            // Down, MTU and up, made in the link's namespace, reach the daemon (its log says so).
            await execOk(nsA, 'ip', ['link', 'set', 'dev', a.ifname, 'down']);
            await waitFor(() => /interface down\n(?![\s\S]*interface up)/.test(a.output()), {
              timeoutMs: 3_000,
              what: 'A sees its moved link go down',
            });
            await execOk(nsA, 'ip', ['link', 'set', 'dev', a.ifname, 'mtu', '1300']);
            await execOk(nsA, 'ip', ['link', 'set', 'dev', a.ifname, 'up']);
            await waitFor(() => /MTU changed from \d+ to 1300/.test(a.output()), {
              timeoutMs: 3_000,
              what: 'A sees the MTU set in nsA',
            });
            await execOk(nsA, 'ip', ['addr', 'replace', 'fd00::1/64', 'dev', a.ifname, 'nodad']);
            await crosses(nsA, '192.168.241.2', 'fd00::2', 'after down, MTU 1300, up in nsA');
            assert.match(a.output(), /moved to another network namespace/);
          }

          // Removing the namespace the link is in deletes the link: the daemon is done.
          await deleteNamespace(nsA);
          const gone = await exitWithin(a.proc, 3_000);
          assert.notEqual(
            gone,
            null,
            `A still running 3 s after its link's namespace was deleted:\n${a.output()}`,
          );
          t.diagnostic(
            `${variant.label}: exited (${gone!.code}) ${gone!.ms} ms after its link's namespace was deleted`,
          );
          if (variant.impl === 'wgtsd') {
            assert.equal(gone!.code, 0, a.output());
            assert.ok(gone!.ms < 1_000, `${gone!.ms} ms`);
            assert.equal(existsSync(a.socketPath), false, 'socket left behind');
          }
        } finally {
          for (const d of daemons) await d.stop();
          for (const ns of [ns0, nsA, nsB, nsC]) await deleteNamespace(ns);
        }
      },
    );
  });
}

describe('ip link del, then an immediate restart under the same name', { skip }, () => {
  test(
    '20 of 20 restarts come up; each old daemon is gone and its socket replaced',
    { timeout: 120_000 },
    async (t) => {
      const ns = await createNamespace(uniqueName('lfr'));
      const ifname = uniqueIfname('r');
      const env = cleanEnv({ WGTS_WARMUP: '0' });
      const ready = async (): Promise<boolean> => {
        const r = await exec(ns, 'wg', ['show', ifname, 'listen-port'], { timeoutMs: 3_000 });
        return r.code === 0;
      };
      try {
        // Daemonised, as wg-quick runs it: the command returns once the new daemon serves its socket.
        const first = await exec(ns, process.execPath, [WGTSD_MAIN, ifname], { env, timeoutMs: 15_000 });
        assert.equal(first.code, 0, first.stderr);
        let pids = daemonPids(ifname);
        const times: number[] = [];
        for (let i = 0; i < 20; i++) {
          const before = pids;
          const t0 = Date.now();
          const r = await exec(
            ns,
            'sh',
            ['-c', `ip link del dev "$1" && exec "$2" "$3" "$1"`, 'sh', ifname, process.execPath, WGTSD_MAIN],
            { env, timeoutMs: 15_000 },
          );
          times.push(Date.now() - t0);
          assert.equal(r.code, 0, `restart ${i + 1}: ${r.stdout}${r.stderr}`);
          await waitFor(() => before.every((p) => !daemonPids(ifname).includes(p)), {
            timeoutMs: 3_000,
            what: `restart ${i + 1}: the old daemon gone`,
          });
          pids = daemonPids(ifname);
          assert.equal(pids.length, 1, `restart ${i + 1}: daemons ${pids.join(',')}`);
          assert.ok(await ready(), `restart ${i + 1}: the new daemon answers on ${socketOf(ifname)}`);
        }
        t.diagnostic(`20/20 restarts; del+start took ${Math.min(...times)}–${Math.max(...times)} ms`);
      } finally {
        await exec(ns, 'ip', ['link', 'del', 'dev', ifname]);
        await killRemembered();
        await deleteNamespace(ns);
      }
    },
  );
});
