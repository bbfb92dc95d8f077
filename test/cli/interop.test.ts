/**
 * wgts against the real `wg` on live daemons in network namespaces: wgtsd ↔ wireguard-go with a
 * handshake, traffic, a psk and persistent keepalive, so every field is populated.
 *
 * - Every `show` view (pretty with colours always and never, keys hidden and shown, each field,
 *   dump) and `showconf`, of both daemons, equals wg's byte for byte. wireguard-go lists peers in
 *   random order on each `get` (a Go map), so its multi-peer views are compared as sorted blocks
 *   when the exact text does not recur within a few attempts.
 * - setconf, addconf, syncconf and set, each run by wg on one daemon and by wgts on a twin daemon
 *   (same implementation, its own namespace), leave the same `wg showconf`.
 * - Every TEST-PLAN config case fails (FILE:LINE, exit 1) and leaves `wg showconf` unchanged.
 * - syncconf with the running configuration, and with unrelated changes, keeps the live session:
 *   the latest handshake does not move and traffic still flows.
 *
 * Needs root, wgtsd built, wireguard-go, wg, ip, ping; skips otherwise.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PresharedKey, PrivateKey, keyToBase64 } from '../../src/crypto/keys.js';
import {
  cleanup,
  createNamespace,
  deleteNamespace,
  ping,
  trackPath,
  uniqueName,
  waitFor,
} from '../helpers/netns.js';
import {
  createTwoNodeTopology,
  interopSkipReason,
  startDaemon,
  type Daemon,
  type Impl,
  type TunnelNode,
  type TwoNodeTopology,
} from '../helpers/wg-peer.js';
import { compareWithWg, describeDiff, runWg, runWgts, sortBlocks } from './helpers.js';
import { SHOW_FIELDS } from '../../src/cli/show-format.js';

const skip = interopSkipReason(['wgtsd', 'wireguard-go'], ['ping']);
const IMPLS: readonly Impl[] = ['wgtsd', 'wireguard-go'];
const FIELDS = SHOW_FIELDS;

after(async () => {
  await cleanup();
});

let tmp: string | null = null;
function writeTemp(name: string, text: string): string {
  if (tmp === null) {
    tmp = mkdtempSync(join(tmpdir(), `wgts-${process.pid}-cli-`));
    trackPath(tmp);
  }
  const path = join(tmp, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

const newPub = (): string => keyToBase64(PrivateKey.generate().publicKey().bytes);

/** Exact comparison; for wireguard-go, order-insensitive when the exact text does not recur. */
async function sameAsWg(
  node: { ns: string; impl: Impl },
  args: string[],
  env: Record<string, string> = {},
): Promise<void> {
  const c = await compareWithWg(args, { ns: node.ns, env, attempts: 6 });
  if (c.same) return;
  assert.equal(node.impl, 'wireguard-go', `${node.impl} ${args.join(' ')} ${describeDiff(c)}`);
  const sorted = await compareWithWg(args, { ns: node.ns, env, normalize: sortBlocks });
  assert.ok(sorted.same, `${node.impl} ${args.join(' ')} (order ignored) ${describeDiff(sorted)}`);
}

describe('live tunnel wgtsd ↔ wireguard-go', { skip }, () => {
  let topo: TwoNodeTopology | null = null;

  before(async () => {
    topo = await createTwoNodeTopology({
      implA: 'wgtsd',
      implB: 'wireguard-go',
      psk: true,
      persistentKeepalive: 25,
      keepaliveOn: 'b',
    });
    await waitFor(async () => (await ping(topo!.a.ns, topo!.b.innerV4, { waitS: 1 })).ok, {
      timeoutMs: 10_000,
      intervalMs: 0,
      what: 'a first ping through the tunnel',
    });
    await ping(topo.b.ns, topo.a.innerV6, { count: 3, intervalS: 0.05 });
    // Two more peers on each side (no endpoint, no keepalive: they send nothing), so the views
    // have several peers, one never handshaken, one with an IPv6-only allowed IP.
    for (const node of [topo.a, topo.b]) {
      await runWg(['set', node.ifname, 'peer', newPub(), 'allowed-ips', 'fd99::/64', 'peer', newPub()], {
        ns: node.ns,
      });
    }
  });

  after(async () => {
    await topo?.teardown();
  });

  const nodes = (): TunnelNode[] => [topo!.a, topo!.b];

  test('pretty `show IF` equals wg: colours always and never, keys hidden and shown', async () => {
    for (const node of nodes()) {
      for (const env of [
        { WG_COLOR_MODE: 'never' },
        { WG_COLOR_MODE: 'always' },
        { WG_COLOR_MODE: 'always', WG_HIDE_KEYS: 'never' },
        { WG_HIDE_KEYS: 'never' },
      ]) {
        await sameAsWg(node, ['show', node.ifname], env);
      }
    }
  });

  test('every field view, dump and showconf equal wg', async () => {
    for (const node of nodes()) {
      const dump = (await runWgts(['show', node.ifname, 'dump'])).stdout;
      assert.match(
        dump,
        /\t[1-9][0-9]{9}\t[1-9][0-9]*\t[1-9][0-9]*\t/,
        `handshake and transfer populated:\n${dump}`,
      );
      for (const field of FIELDS) await sameAsWg(node, ['show', node.ifname, field]);
      await sameAsWg(node, ['showconf', node.ifname]);
    }
  });

  test('show --json and showconf --json carry the same facts as dump', async () => {
    const node = topo!.a;
    const json = JSON.parse((await runWgts(['show', node.ifname, '--json'])).stdout) as {
      name: string;
      publicKey: string;
      peers: {
        publicKey: string;
        latestHandshake: number | null;
        transferRx: number;
        endpoint: string | null;
      }[];
    };
    assert.equal(json.name, node.ifname);
    assert.equal(json.publicKey, node.keys.publicKey);
    const live = json.peers.find((p) => p.publicKey === topo!.b.keys.publicKey);
    assert.ok(
      live !== undefined && live.latestHandshake !== null && live.transferRx > 0,
      JSON.stringify(json),
    );
    assert.equal(live.endpoint, topo!.b.endpoint);
    const conf = JSON.parse((await runWgts(['showconf', node.ifname, '--json'])).stdout) as {
      interface: { privateKey: string };
      peers: unknown[];
    };
    assert.equal(conf.interface.privateKey, node.keys.privateKey);
    assert.equal(conf.peers.length, 3);
  });

  test('syncconf with the running configuration, then with unrelated changes, keeps the session', async () => {
    for (const [node, other] of [
      [topo!.a, topo!.b],
      [topo!.b, topo!.a],
    ] as const) {
      const handshake = async (): Promise<number> => {
        const out = (await runWg(['show', node.ifname, 'latest-handshakes'], { ns: node.ns })).stdout;
        const line = out.split('\n').find((l) => l.startsWith(other.keys.publicKey));
        return Number(line?.split('\t')[1]);
      };
      const before = await handshake();
      assert.ok(before > 0);
      const running = (await runWgts(['showconf', node.ifname])).stdout;
      const same = writeTemp(`${node.ifname}-same.conf`, running);
      const r1 = await runWgts(['syncconf', node.ifname, same], { ns: node.ns });
      assert.equal(r1.code, 0, r1.stderr);
      assert.equal((await runWg(['showconf', node.ifname])).stdout.length, running.length);
      const changed = writeTemp(
        `${node.ifname}-changed.conf`,
        `${running}\n[Peer]\nPublicKey = ${newPub()}\nAllowedIPs = 10.250.0.0/16\n`,
      );
      const r2 = await runWgts(['syncconf', node.ifname, changed], { ns: node.ns });
      assert.equal(r2.code, 0, r2.stderr);
      const p = await ping(node.ns, other.innerV4, { count: 2, intervalS: 0.1 });
      assert.equal(p.received, 2, p.output);
      assert.equal(await handshake(), before, `${node.impl}: the session was renegotiated`);
      assert.match((await runWg(['showconf', node.ifname])).stdout, /10\.250\.0\.0\/16/);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Twin daemons: wg drives one, wgts the other; the resulting states must match.

interface Twin {
  readonly impl: Impl;
  readonly byWg: Daemon;
  readonly byWgts: Daemon;
}

/** showconf text, wireguard-go's peer order made canonical. */
async function state(d: Daemon): Promise<string> {
  const text = (await runWg(['showconf', d.ifname])).stdout;
  return d.impl === 'wireguard-go' ? sortBlocks(text) : text;
}

describe('setconf, addconf, syncconf and set leave the same state as wg', { skip }, () => {
  const twins: Twin[] = [];
  const spaces: string[] = [];

  before(async () => {
    for (const impl of IMPLS) {
      const nsX = await createNamespace(uniqueName('x'));
      const nsY = await createNamespace(uniqueName('y'));
      spaces.push(nsX, nsY);
      const [byWg, byWgts] = await Promise.all([startDaemon(nsX, { impl }), startDaemon(nsY, { impl })]);
      twins.push({ impl, byWg, byWgts });
    }
  });

  after(async () => {
    await Promise.all(twins.flatMap((t) => [t.byWg.stop(), t.byWgts.stop()]));
    for (const ns of spaces) await deleteNamespace(ns);
  });

  test('the same commands give the same `wg showconf`, on wgtsd and on wireguard-go', async () => {
    const priv = keyToBase64(PrivateKey.generate().bytes);
    const [p1, p2, p3] = [newPub(), newPub(), newPub()];
    const psk = keyToBase64(PresharedKey.generate().bytes);
    const pskFile = writeTemp('psk', `${psk}\n`);
    const privFile = writeTemp('priv', `${keyToBase64(PrivateKey.generate().bytes)}\n`);
    const full = writeTemp(
      'full.conf',
      `[Interface]\nPrivateKey = ${priv}\nListenPort = 52000\nFwMark = 0x1234\n\n[Peer]\nPublicKey = ${p1}\n` +
        `PresharedKey = ${psk}\nAllowedIPs = 10.1.0.0/16, fd00:1::/64\nAllowedIPs = 192.168.7.7\n` +
        `Endpoint = 10.77.0.9:1234\nPersistentKeepalive = 15\n\n[Peer]\nPublicKey = ${p2}\n` +
        'AllowedIPs = 10.2.0.0/16\nEndpoint = [fd00::9]:5555\n',
    );
    const add = writeTemp(
      'add.conf',
      `[Interface]\nListenPort = 52001\n[Peer]\nPublicKey = ${p3}\nAllowedIPs = 10.3.0.0/16\nEndpoint = localhost:999\n` +
        `[Peer]\nPublicKey = ${p1}\nAllowedIPs = 10.4.0.0/16\n`,
    );
    const sync = writeTemp(
      'sync.conf',
      `[Interface]\nPrivateKey = ${priv}\nListenPort = 52002\n[Peer]\nPublicKey = ${p2}\n` +
        'AllowedIPs = 10.2.0.0/16, 10.22.0.0/16\nPersistentKeepalive = 7\n',
    );
    const steps: string[][] = [
      ['setconf', full],
      ['addconf', add],
      ['syncconf', sync],
      ['setconf', full],
      [
        'set',
        'fwmark',
        'off',
        'listen-port',
        '52010',
        'peer',
        p1,
        'allowed-ips',
        '10.5.0.0/16,10.6.0.0/16',
        'endpoint',
        '127.0.0.1:7',
        'persistent-keepalive',
        'off',
        'preshared-key',
        pskFile,
        'peer',
        p2,
        'remove',
        'peer',
        p3,
        'allowed-ips',
        '',
        'endpoint',
        '[::1]:9',
      ],
      [
        'set',
        'private-key',
        privFile,
        'peer',
        p1,
        'preshared-key',
        '/dev/null',
        'persistent-keepalive',
        '65535',
      ],
      ['set', 'private-key', '/dev/null'],
      ['syncconf', full],
    ];
    for (const twin of twins) {
      for (const step of steps) {
        const [cmd, ...rest] = step as [string, ...string[]];
        const a = await runWg([cmd, twin.byWg.ifname, ...rest], { ns: twin.byWg.ns });
        const b = await runWgts([cmd, twin.byWgts.ifname, ...rest], { ns: twin.byWgts.ns });
        assert.equal(a.code, 0, `wg ${step.join(' ')}: ${a.stderr}`);
        assert.equal(b.code, 0, `wgts ${step.join(' ')}: ${b.stderr}`);
        assert.equal(
          await state(twin.byWgts),
          await state(twin.byWg),
          `${twin.impl} after ${step.join(' ')}`,
        );
      }
    }
  });

  test('every TEST-PLAN config case fails with FILE:LINE and leaves the daemon unchanged', async () => {
    const priv = keyToBase64(PrivateKey.generate().bytes);
    const p1 = newPub();
    const good = `[Interface]\nPrivateKey = ${priv}\nListenPort = 51000\n\n[Peer]\nPublicKey = ${p1}\nAllowedIPs = 10.0.0.0/8\n`;
    const cases: [string, string, number][] = [
      ['key43', good.replace(p1, p1.slice(1)), 6],
      ['key45', good.replace(p1, `A${p1}`), 6],
      ['urlsafe', good.replace(p1, p1.replace(/^./, '_')), 6],
      ['noncanonical', good.replace(p1, `${p1.slice(0, 42)}B=`), 6],
      ['private43', good.replace(priv, priv.slice(1)), 2],
      ['section', `${good}[Peers]\n`, 8],
      ['key', `${good}Foo = bar\n`, 8],
      ['before', `ListenPort = 1\n${good}`, 1],
      ['nopubkey', `${good}\n[Peer]\nAllowedIPs = 10.1.0.0/16\n`, 9],
      ['duplicate', `${good}\n[Peer]\nPublicKey = ${p1}\n`, 10],
      ['crlf', good.replace(/\n/g, '\r\n'), 1],
      ['bom', `\uFEFF${good}`, 1],
      ['port', good.replace('51000', '65536'), 3],
      ['endpoint-port', `${good}Endpoint = 10.0.0.1:65536\n`, 8],
      ['unresolvable', `${good}Endpoint = nx.invalid:1\n`, 8],
    ];
    for (const twin of twins) {
      const d = twin.byWgts;
      const r0 = await runWgts([
        'setconf',
        d.ifname,
        writeTemp(
          'base.conf',
          `[Interface]\nListenPort = 51500\n[Peer]\nPublicKey = ${newPub()}\nAllowedIPs = 10.9.0.0/16\n`,
        ),
      ]);
      assert.equal(r0.code, 0, r0.stderr);
      const before = await state(d);
      for (const [label, text, line] of cases) {
        const path = writeTemp(`${label}.conf`, text);
        for (const cmd of ['setconf', 'addconf', 'syncconf']) {
          const r = await runWgts([cmd, d.ifname, path], { env: { WG_ENDPOINT_RESOLUTION_RETRIES: '0' } });
          assert.equal(r.code, 1, `${twin.impl} ${cmd} ${label}: ${r.stderr}`);
          assert.ok(r.stderr.startsWith(`${path}:${line}: `), `${cmd} ${label}: ${r.stderr}`);
          assert.equal(await state(d), before, `${twin.impl} ${cmd} ${label} changed the daemon`);
        }
      }
    }
  });
});
