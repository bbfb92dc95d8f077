/**
 * Key hygiene of a running wgtsd (issue 11 counted 18 raw copies of the static private key after
 * 5 handshakes): two wgtsd in one namespace, peers of each other over loopback, the private keys
 * set through the UAPI by `wg set`, then 5 handshakes (the peer removed and re-added on one side
 * with a persistent keepalive, so each round is a fresh initiation); the test reads daemon A's
 * memory (/proc/PID/mem: root passes the non-dumpable flag with CAP_SYS_PTRACE) and counts its
 * static key. The bound is 1, the identity's own storage: the UAPI's decoded copies are wiped
 * after apply and every X25519 runs on OpenSSL raw keys that it cleanses. Before this change the
 * same run counted 27.
 *
 * Needs root, ip, unshare, wg and /dev/net/tun; names carry the tag `ky`.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import {
  cleanup,
  createNamespace,
  exec,
  execOk,
  prerequisitesMissing,
  spawn,
  trackLink,
  trackPath,
  uniqueIfname,
  uniqueName,
  waitFor,
  type TrackedProcess,
} from '../helpers/netns.js';
import { genKeyPair, interopSkipReason, writeSecretFile } from '../helpers/wg-peer.js';
import { WGTSD_MAIN, cleanEnv, daemonPid, killRemembered, socketOf } from '../helpers/wgtsd.js';
import { countCopies } from '../helpers/memory-scan.js';

const skip = interopSkipReason(['wgtsd'], ['unshare', 'wg']) || prerequisitesMissing(['ip', 'unshare', 'wg']);
const ROUNDS = 5;

after(async () => {
  await killRemembered();
  await cleanup();
});

test('a wgtsd after 5 handshakes holds one copy of its static private key', { skip }, async () => {
  const ns = await createNamespace(uniqueName('ky'));
  await execOk(ns, 'ip', ['link', 'set', 'lo', 'up']);
  const names = [uniqueIfname('k'), uniqueIfname('k')] as const;
  const daemons: TrackedProcess[] = [];
  try {
    for (const ifname of names) {
      trackPath(socketOf(ifname));
      trackLink(ns, ifname);
      daemons.push(spawn(ns, process.execPath, [WGTSD_MAIN, '-f', ifname], { env: cleanEnv() }));
    }
    await waitFor(() => names.every((n) => existsSync(socketOf(n))), {
      timeoutMs: 10_000,
      intervalMs: 20,
      what: 'both sockets',
    });
    const [ka, kb] = [await genKeyPair(), await genKeyPair()];
    const [a, b] = names;
    await execOk(ns, 'wg', ['set', a, 'private-key', writeSecretFile(ka.privateKey), 'listen-port', '51071']);
    await execOk(ns, 'wg', [
      'set',
      b,
      'private-key',
      writeSecretFile(kb.privateKey),
      'listen-port',
      '51072',
      'peer',
      ka.publicKey,
      'endpoint',
      '127.0.0.1:51071',
      'allowed-ips',
      '10.77.0.1/32',
    ]);
    for (const n of names) await execOk(ns, 'ip', ['link', 'set', n, 'up']);
    const handshakeAt = async (): Promise<number> =>
      Number((await exec(ns, 'wg', ['show', a, 'latest-handshakes'])).stdout.split('\t')[1] ?? 0);
    for (let round = 0; round < ROUNDS; round++) {
      await execOk(ns, 'wg', ['set', a, 'peer', kb.publicKey, 'remove']);
      await execOk(ns, 'wg', [
        'set',
        a,
        'peer',
        kb.publicKey,
        'endpoint',
        '127.0.0.1:51072',
        'allowed-ips',
        '10.77.0.2/32',
        'persistent-keepalive',
        '1',
      ]);
      await waitFor(async () => (await handshakeAt()) > 0, {
        timeoutMs: 10_000,
        intervalMs: 50,
        what: `handshake ${round + 1}`,
      });
    }
    const pid = await daemonPid(a);
    const counts = countCopies(pid, new Map([['static', Buffer.from(ka.privateKey, 'base64')]]));
    assert.equal(
      counts.get('static'),
      1,
      `copies of the static private key in wgtsd: ${counts.get('static')}`,
    );
  } finally {
    await Promise.all(daemons.map((d) => d.stop()));
  }
});
