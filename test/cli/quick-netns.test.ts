/**
 * `wgts up|down|save` in network namespaces against a wireguard-go peer (fixture in
 * quick-helpers.ts), and against the real wg-quick on the same configs.
 *
 * Each test builds its own fixture: `ns`, where wgts runs (`ip netns exec ns node … up FILE`), and
 * a wireguard-go peer in another namespace whose loopback holds "far" addresses reachable only
 * through the tunnel. Covered: a 0.0.0.0/0 + ::/0 tunnel carrying pings to the far addresses with
 * the fwmark policy in place and gone after `down` (no link, rule, route, nft table, socket or daemon
 * left); the `ip rule`/route/address/MTU/nft state after `wgts up` equal to the one after
 * `wg-quick up` (WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go) for the default-route, narrow
 * AllowedIPs, Table = N and Table = off configs, and after both `down`s; the commands both print;
 * hooks with %i in order; explicit MTU; `up` twice; rollback after a failing PostUp and after
 * SIGTERM; broken configs (FILE:LINE, nothing run); DNS without resolvconf (clear error, nothing
 * left) and with a recording resolvconf; `save` compared with `wg-quick save` on the same running
 * interface, a save → down → up round trip, SaveConfig on down; the iptables-restore fallback
 * without nft (recording iptables tools); wgts driving wireguard-go.
 *
 * Needs root, wireguard-go, wg, wg-quick, ip, nft, ping, bash; skips otherwise.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, ping, spawn, tracked, waitFor } from '../helpers/netns.js';
import { interopSkipReason, UAPI_DIR } from '../helpers/wg-peer.js';
import { createQuickTopology, daemonPids, quickCli, quickEnv, type QuickTopology } from './quick-helpers.js';

const skip = interopSkipReason(['wireguard-go', 'wgtsd'], ['nft', 'ping', 'bash', 'wg-quick']);

after(async () => {
  await cleanup();
});

/** Runs `fn` on a fresh fixture and always tears it down. */
async function withTopology(fn: (t: QuickTopology) => Promise<void>): Promise<void> {
  const t = await createQuickTopology();
  try {
    await fn(t);
  } finally {
    await t.teardown();
  }
}

function ok(r: { code: number | null; stdout: string; stderr: string }, what: string): void {
  assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stdout}${r.stderr}`);
}

/** What `down` must restore and what `up` changes, as text. */
interface NetState {
  rules4: string;
  rules6: string;
  nft: string;
  routes: string;
  links: string;
}

async function netState(t: QuickTopology): Promise<NetState> {
  const out = async (args: string[]): Promise<string> => {
    const r = await t.exec(args[0]!, args.slice(1));
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  return {
    rules4: await out(['ip', '-4', 'rule', 'show']),
    rules6: await out(['ip', '-6', 'rule', 'show']),
    nft: await out(['nft', 'list', 'ruleset']),
    // As a set, without the veth's link-local lines (they appear when its DAD completes).
    routes: (
      (await out(['ip', 'route', 'show', 'table', 'all'])) +
      (await out(['ip', '-6', 'route', 'show', 'table', 'all']))
    )
      .split('\n')
      .filter((l) => l !== '' && !(l.includes('fe80') && l.includes(` dev ${t.veth} `)))
      .sort()
      .join('\n'),
    links: await out(['ip', '-o', 'link', 'show']),
  };
}

/** After `down` (or a failed `up`): nothing of IF left, the daemon gone. */
async function assertNothingLeft(t: QuickTopology, ifname: string, baseline: NetState): Promise<void> {
  const now = await netState(t);
  assert.equal(now.rules4, baseline.rules4, 'ip -4 rule');
  assert.equal(now.rules6, baseline.rules6, 'ip -6 rule');
  assert.equal(now.nft, baseline.nft, 'nft list ruleset');
  assert.ok(!now.routes.includes(ifname), `routes left:\n${now.routes}`);
  assert.ok(!now.links.includes(ifname), `link left:\n${now.links}`);
  assert.equal(existsSync(join(UAPI_DIR, `${ifname}.sock`)), false, 'UAPI socket left');
  await waitFor(() => daemonPids(ifname).length === 0, {
    timeoutMs: 3_000,
    what: `the daemon of ${ifname} to exit`,
  });
}

/** Pings `address` from `ns` until a reply (the first packet starts the handshake). */
async function reach(t: QuickTopology, address: string): Promise<void> {
  await waitFor(async () => (await ping(t.ns, address, { waitS: 1 })).ok, {
    timeoutMs: 8_000,
    intervalMs: 0,
    what: `a ping to ${address} through the tunnel`,
  });
  const r = await ping(t.ns, address, { count: 3, intervalS: 0.05, deadlineS: 5 });
  assert.equal(r.received, 3, r.output);
}

async function unreachable(t: QuickTopology, address: string): Promise<void> {
  const r = await ping(t.ns, address, { waitS: 1 });
  assert.equal(r.ok, false, `${address} reachable without the tunnel:\n${r.output}`);
}

// ---------------------------------------------------------------------------------------------
// wgts alone

test(
  'default route: 0.0.0.0/0 and ::/0 through the peer, fwmark policy, down leaves nothing',
  { skip },
  async () => {
    await withTopology(async (t) => {
      const baseline = await netState(t);
      await unreachable(t, t.far.v4);
      const ifname = t.newIfname();
      const conf = t.writeConf(ifname, t.config({ allowedIps: '0.0.0.0/0, ::/0' }));
      const up = await t.wgts('up', conf);
      ok(up, 'wgts up');
      assert.equal(up.stdout, '');
      await reach(t, t.far.v4);
      await reach(t, t.far.v6);
      // The outer path stays outside the tunnel: the peer's veth address is still reachable directly.
      assert.ok((await ping(t.ns, t.outer.peer, { count: 1 })).ok);

      const s = await netState(t);
      for (const rules of [s.rules4, s.rules6]) {
        assert.match(rules, /^32764:\tfrom all lookup main suppress_prefixlength 0$/m);
        assert.match(rules, /^32765:\tnot from all fwmark 0xca6c lookup 51820$/m);
      }
      assert.match(s.routes, new RegExp(`^default dev ${ifname} table 51820 `, 'm'));
      for (const pf of ['ip', 'ip6']) {
        assert.match(s.nft, new RegExp(`^table ${pf} wg-quick-${ifname} \\{$`, 'm'));
      }
      assert.match(
        s.nft,
        new RegExp(`iifname != "${ifname}" ip daddr ${t.inner.selfV4} fib saddr type != local drop`),
      );
      assert.match(s.nft, /meta l4proto udp meta mark 0x0000ca6c ct mark set meta mark/);
      assert.match(s.nft, /meta l4proto udp meta mark set ct mark/);
      const fwmark = await t.exec('wg', ['show', ifname, 'fwmark']);
      assert.equal(fwmark.stdout, '0xca6c\n');
      const sysctl = await t.exec('sysctl', ['-n', 'net.ipv4.conf.all.src_valid_mark']);
      assert.equal(sysctl.stdout.trim(), '1');
      const link = await t.exec('ip', ['link', 'show', 'dev', ifname]);
      assert.match(link.stdout, /mtu 1420 /);
      assert.match(link.stdout, /[<,]UP[,>]/);
      const pids = daemonPids(ifname);
      assert.equal(pids.length, 1, `one wgtsd for ${ifname}: ${pids.join(' ')}`);

      const down = await t.wgts('down', conf);
      ok(down, 'wgts down');
      await assertNothingLeft(t, ifname, baseline);
      await unreachable(t, t.far.v4);
    });
  },
);

test(
  'narrow AllowedIPs: routes in main, covered prefixes skipped, no policy, auto MTU from the route',
  { skip },
  async () => {
    await withTopology(async (t) => {
      const baseline = await netState(t);
      await t.exec('ip', ['link', 'set', 'dev', t.veth, 'mtu', '1400']);
      const ifname = t.newIfname();
      const allowed = `${t.inner.peerV4}/32, ${t.inner.peerV6}/128, ${t.far.v4}/32, 198.18.0.0/15, ${t.far.v6}/128`;
      const conf = t.writeConf(ifname, t.config({ allowedIps: allowed }));
      const up = await t.wgts('up', conf);
      ok(up, 'wgts up');
      await reach(t, t.far.v4);
      await reach(t, t.far.v6);
      await reach(t, t.inner.peerV4);
      const routes = (await t.exec('ip', ['-4', 'route', 'show', 'dev', ifname])).stdout;
      assert.match(routes, new RegExp(`^${t.far.v4.replace(/\./g, '\\.')} scope link`, 'm'));
      assert.match(routes, /^198\.18\.0\.0\/15 scope link/m);
      // The peer's /32 is inside the interface's own /24: wg-quick's `match` check skips it.
      assert.ok(!new RegExp(`^${t.inner.peerV4.replace(/\./g, '\\.')} `, 'm').test(routes), routes);
      assert.doesNotMatch(up.stderr, new RegExp(`route add ${t.inner.peerV4.replace(/\./g, '\\.')}/32`));
      const s = await netState(t);
      assert.equal(s.rules4, baseline.rules4);
      assert.equal(s.rules6, baseline.rules6);
      assert.equal(s.nft, baseline.nft);
      assert.match((await t.exec('ip', ['link', 'show', 'dev', ifname])).stdout, /mtu 1320 /);
      // Routes are added most specific first (sort -nr -k 2 -t /).
      const order = [...up.stderr.matchAll(/route add (\S+) dev/g)].map((m) => m[1]);
      assert.deepEqual(order, [`${t.far.v6}/128`, `${t.far.v4}/32`, '198.18.0.0/15']);
      ok(await t.wgts('down', conf), 'wgts down');
      await assertNothingLeft(t, ifname, baseline);
    });
  },
);

test(
  'Table = N: every route in table N, /0 included, no rules; Table = off: no routes',
  { skip },
  async () => {
    await withTopology(async (t) => {
      const baseline = await netState(t);
      const ifname = t.newIfname();
      const conf = t.writeConf(
        ifname,
        t.config({ allowedIps: `0.0.0.0/0, ${t.far.v6}/128`, interfaceExtra: 'Table = 1234\n' }),
      );
      ok(await t.wgts('up', conf), 'wgts up (Table = 1234)');
      const table = (await t.exec('ip', ['route', 'show', 'table', '1234'])).stdout;
      assert.match(table, new RegExp(`^default dev ${ifname} scope link`, 'm'));
      const table6 = (await t.exec('ip', ['-6', 'route', 'show', 'table', '1234'])).stdout;
      assert.match(table6, new RegExp(`^${t.far.v6} dev ${ifname} `, 'm'));
      const main = (await t.exec('ip', ['route', 'show', 'dev', ifname])).stdout;
      assert.doesNotMatch(main, /default/);
      const s = await netState(t);
      assert.equal(s.rules4, baseline.rules4);
      assert.equal(s.nft, baseline.nft);
      assert.equal((await t.exec('wg', ['show', ifname, 'fwmark'])).stdout, 'off\n');
      await unreachable(t, t.far.v4);
      ok(await t.wgts('down', conf), 'wgts down');
      await assertNothingLeft(t, ifname, baseline);

      const off = t.newIfname();
      const offConf = t.writeConf(
        off,
        t.config({ allowedIps: '0.0.0.0/0, 198.18.0.0/15', interfaceExtra: 'Table = off\n' }),
      );
      const up = await t.wgts('up', offConf);
      ok(up, 'wgts up (Table = off)');
      assert.doesNotMatch(up.stderr, /route add|rule add|nft/);
      const all = (await t.exec('ip', ['route', 'show', 'table', 'all'])).stdout;
      const through = all.split('\n').filter((l) => l.includes(`dev ${off} `) && !l.includes('proto kernel'));
      assert.deepEqual(through, [], 'only the connected routes of the addresses');
      ok(await t.wgts('down', offConf), 'wgts down');
      await assertNothingLeft(t, off, baseline);
    });
  },
);

test('hooks: PreUp, PostUp, PreDown, PostDown in order with %i; MTU; Address', { skip }, async () => {
  await withTopology(async (t) => {
    const baseline = await netState(t);
    const ifname = t.newIfname();
    const log = join(t.dir, 'hooks.log');
    const state = `$(ip link show %i >/dev/null 2>&1 && echo present || echo absent)`;
    const extra =
      'MTU = 1380\n' +
      'Address = 100.127.0.9/32\n' +
      `PreUp = echo "pre-up %i ${state}" >> ${log}\n` +
      `PostUp = echo "post-up %i ${state} $(ip -o -4 addr show dev %i | wc -l)" >> ${log}\n` +
      `PostUp = echo "post-up-2 $INTERFACE" >> ${log} # a comment the hook keeps\n` +
      `PreDown = echo "pre-down %i ${state}" >> ${log}\n` +
      `PostDown = echo "post-down %i ${state}" >> ${log}\n`;
    const conf = t.writeConf(ifname, t.config({ allowedIps: `${t.far.v4}/32`, interfaceExtra: extra }));
    const up = await t.wgts('up', conf);
    ok(up, 'wgts up');
    assert.match(up.stderr, new RegExp(`^\\[#\\] echo "pre-up ${ifname} `, 'm'));
    const link = (await t.exec('ip', ['-o', 'link', 'show', 'dev', ifname])).stdout;
    assert.match(link, /mtu 1380 /);
    const addrs = (await t.exec('ip', ['-o', 'addr', 'show', 'dev', ifname])).stdout;
    for (const a of [`${t.inner.selfV4}/24`, `${t.inner.selfV6}/64`, '100.127.0.9/32'])
      assert.ok(addrs.includes(a), addrs);
    await reach(t, t.far.v4);
    ok(await t.wgts('down', conf), 'wgts down');
    assert.equal(
      readFileSync(log, 'utf8'),
      `pre-up ${ifname} absent\npost-up ${ifname} present 2\npost-up-2 ${ifname}\n` +
        `pre-down ${ifname} present\npost-down ${ifname} absent\n`,
    );
    await assertNothingLeft(t, ifname, baseline);
  });
});

test(
  'up twice: the second fails cleanly ("already exists") and the first keeps working',
  { skip },
  async () => {
    await withTopology(async (t) => {
      const baseline = await netState(t);
      const ifname = t.newIfname();
      const conf = t.writeConf(ifname, t.config({ allowedIps: '0.0.0.0/0' }));
      ok(await t.wgts('up', conf), 'wgts up');
      await reach(t, t.far.v4);
      const before = await netState(t);
      const again = await t.wgts('up', conf);
      assert.equal(again.code, 1);
      assert.equal(again.stderr, `wgts: \`${ifname}' already exists\n`);
      assert.deepEqual(await netState(t), before);
      assert.equal(daemonPids(ifname).length, 1);
      await reach(t, t.far.v4);
      ok(await t.wgts('down', conf), 'wgts down');
      await assertNothingLeft(t, ifname, baseline);
      const downAgain = await t.wgts('down', conf);
      assert.equal(downAgain.code, 1);
      assert.equal(downAgain.stderr, `wgts: \`${ifname}' is not a WireGuard interface\n`);
    });
  },
);

test('a failing PostUp undoes everything: rules, nft table, link, daemon', { skip }, async () => {
  await withTopology(async (t) => {
    const baseline = await netState(t);
    const ifname = t.newIfname();
    const conf = t.writeConf(
      ifname,
      t.config({ allowedIps: '0.0.0.0/0, ::/0', interfaceExtra: 'PostUp = echo about to fail; exit 3\n' }),
    );
    const up = await t.wgts('up', conf);
    assert.equal(up.code, 1, up.stderr);
    assert.match(up.stderr, /nft -f/, 'the firewall was in place before the hook');
    assert.match(up.stderr, /wgts: hook `echo about to fail; exit 3' failed \(exit status 3\)\n$/);
    assert.match(up.stderr, /\[#\] ip -4 rule delete table 51820\n/);
    assert.match(up.stderr, new RegExp(`\\[#\\] ip link delete dev ${ifname}\\n`));
    await assertNothingLeft(t, ifname, baseline);
  });
});

test('SIGTERM during up undoes everything (wg-quick’s trap)', { skip }, async () => {
  await withTopology(async (t) => {
    const baseline = await netState(t);
    const ifname = t.newIfname();
    const marker = join(t.dir, 'post-up-started');
    const conf = t.writeConf(
      ifname,
      t.config({ allowedIps: '0.0.0.0/0', interfaceExtra: `PostUp = touch ${marker}; exec sleep 30\n` }),
    );
    const proc = spawn(t.ns, process.execPath, [...quickCli(), 'up', conf], { env: quickEnv() });
    await waitFor(() => existsSync(marker), { timeoutMs: 20_000, what: 'PostUp to start' });
    process.kill(proc.pid, 'SIGTERM');
    const exit = await Promise.race([
      proc.exited,
      new Promise<null>((resolve) => setTimeout(() => resolve(null), 20_000)),
    ]);
    assert.notEqual(exit, null, 'wgts up did not exit after SIGTERM');
    assert.equal(exit?.code, 1, proc.output());
    assert.match(proc.output(), /interrupted by SIGTERM/);
    await assertNothingLeft(t, ifname, baseline);
  });
});

test('broken configs: FILE:LINE, exit 1, nothing run, nothing left', { skip }, async () => {
  await withTopology(async (t) => {
    const baseline = await netState(t);
    const marker = join(t.dir, 'pre-up-ran');
    const hook = `PreUp = touch ${marker}\n`;
    const cases: [string, (good: string) => string, number, RegExp][] = [
      ['unknown wg key', (good) => good.replace('[Peer]\n', '[Peer]\nBogusKey = 1\n'), 7, /BogusKey/i],
      ['bad key length', (good) => good.replace(/PublicKey = .*\n/, 'PublicKey = AAAA\n'), 7, /key/i],
      ['bad Address', (good) => good.replace(/Address = .*\n/, 'Address = 100.64.0.1/33\n'), 3, /Address/],
      ['bad MTU', (good) => good.replace(hook, `${hook}MTU = big\n`), 5, /MTU/],
      [
        'bad SaveConfig',
        (good) => good.replace(hook, `${hook}SaveConfig = yes\n`),
        5,
        /neither true nor false/,
      ],
    ];
    for (const [name, mutate, line, re] of cases) {
      const ifname = t.newIfname();
      const text = mutate(t.config({ allowedIps: '0.0.0.0/0', interfaceExtra: hook }));
      const conf = t.writeConf(ifname, text);
      const r = await t.wgts('up', conf);
      assert.equal(r.code, 1, `${name}: ${r.stderr}`);
      assert.ok(r.stderr.startsWith(`wgts: ${conf}:${line}: `), `${name}: ${r.stderr}`);
      assert.match(r.stderr, re, name);
      assert.doesNotMatch(r.stderr, /\[#\]/, `${name}: something ran`);
      assert.equal(existsSync(marker), false, `${name}: PreUp ran`);
      await assertNothingLeft(t, ifname, baseline);
    }
  });
});

test('DNS without resolvconf: a clear FILE:LINE error before anything runs', { skip }, async () => {
  await withTopology(async (t) => {
    const baseline = await netState(t);
    const ifname = t.newIfname();
    const conf = t.writeConf(
      ifname,
      t.config({
        allowedIps: '0.0.0.0/0',
        interfaceExtra: `PreUp = touch ${join(t.dir, 'ran')}\nDNS = 10.0.0.53, corp\n`,
      }),
    );
    const path = (process.env['PATH'] ?? '')
      .split(':')
      .filter((d) => d !== '' && !existsSync(join(d, 'resolvconf')))
      .join(':');
    const r = await t.wgts('up', conf, { PATH: path });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `wgts: ${conf}:5: DNS is set but resolvconf(8) is not on PATH; ` +
        'install resolvconf or openresolv, or remove the DNS line\n',
    );
    assert.equal(existsSync(join(t.dir, 'ran')), false);
    await assertNothingLeft(t, ifname, baseline);
  });
});

/** A resolvconf in DIR/bin that records its arguments and input, and answers -l from what -a stored. */
function fakeResolvconf(dir: string): { bin: string; log: string } {
  const bin = join(dir, 'bin');
  const log = join(dir, 'resolvconf.log');
  const store = join(dir, 'resolvconf.store');
  mkdirSync(bin, { mode: 0o700 });
  const script =
    '#!/bin/bash\n' +
    `echo "ARGS $*" >> ${log}\n` +
    'case "$1" in\n' +
    `  -a) cat > ${store}.$2; sed 's/^/IN /' ${store}.$2 >> ${log} ;;\n` +
    `  -d) rm -f ${store}.$2 ;;\n` +
    `  -l) cat ${store}.$2 2>/dev/null ;;\n` +
    'esac\n';
  writeFileSync(join(bin, 'resolvconf'), script, { mode: 0o755 });
  return { bin, log };
}

test(
  'DNS with resolvconf: -a IF -m 0 -x with servers and search, read back by save, -d on down',
  { skip },
  async () => {
    await withTopology(async (t) => {
      const baseline = await netState(t);
      const ifname = t.newIfname();
      const fake = fakeResolvconf(t.dir);
      const env = { PATH: `${fake.bin}:${process.env['PATH'] ?? ''}` };
      const conf = t.writeConf(
        ifname,
        t.config({
          allowedIps: `${t.far.v4}/32`,
          interfaceExtra: 'DNS = 10.0.0.53, fd00::53, corp.example, lan\n',
        }),
      );
      ok(await t.wgts('up', conf, env), 'wgts up');
      ok(await t.wgts('save', conf, env), 'wgts save');
      const saved = readFileSync(conf, 'utf8');
      assert.match(saved, /^DNS = 10\.0\.0\.53\nDNS = fd00::53\nDNS = corp\.example\nDNS = lan\n/m);
      ok(await t.wgts('down', conf, env), 'wgts down');
      assert.equal(
        readFileSync(fake.log, 'utf8'),
        `ARGS -a ${ifname} -m 0 -x\nIN nameserver 10.0.0.53\nIN nameserver fd00::53\nIN search corp.example lan\n` +
          `ARGS -l ${ifname}\nARGS -d ${ifname} -f\n`,
      );
      await assertNothingLeft(t, ifname, baseline);
    });
  },
);

test('save → down → up round trip; SaveConfig = true saves on down', { skip }, async () => {
  await withTopology(async (t) => {
    const baseline = await netState(t);
    const ifname = t.newIfname();
    const extra = 'MTU = 1360\nTable = auto\nPostUp = true %i # comment\nPreDown = true\nSaveConfig = true\n';
    const conf = t.writeConf(ifname, t.config({ allowedIps: `${t.far.v4}/32`, interfaceExtra: extra }));
    ok(await t.wgts('up', conf), 'wgts up');
    // Change the running state: a listen port, a second allowed IP, one more address.
    const allowed = `${t.far.v4}/32,${t.far.v6}/128`;
    ok(
      await t.exec('wg', [
        'set',
        ifname,
        'listen-port',
        '40111',
        'peer',
        t.peerKeys.publicKey,
        'allowed-ips',
        allowed,
      ]),
      'wg set',
    );
    ok(await t.exec('ip', ['-4', 'address', 'add', '100.127.1.1/32', 'dev', ifname]), 'ip address add');
    ok(await t.wgts('save', conf), 'wgts save');
    const saved = readFileSync(conf, 'utf8');
    const expectedHead =
      `[Interface]\nAddress = ${t.inner.selfV4}/24\nAddress = 100.127.1.1/32\nAddress = ${t.inner.selfV6}/64\n` +
      'MTU = 1360\nTable = auto\nSaveConfig = true\nPostUp = true %i # comment\nPreDown = true\nListenPort = 40111\n' +
      `PrivateKey = ${t.keys.privateKey}\n\n[Peer]\nPublicKey = ${t.peerKeys.publicKey}\n`;
    assert.ok(saved.startsWith(expectedHead), saved);
    assert.match(saved, new RegExp(`^AllowedIPs = ${t.far.v4}/32, ${t.far.v6}/128$`, 'm'));
    assert.match(saved, new RegExp(`^Endpoint = ${t.outer.peer}:${t.peerPort}$`, 'm'));
    const showconf = (await t.exec('wg', ['showconf', ifname])).stdout;

    // SaveConfig: a change made now is written by `down`.
    ok(await t.exec('wg', ['set', ifname, 'listen-port', '40112']), 'wg set');
    ok(await t.wgts('down', conf), 'wgts down');
    await assertNothingLeft(t, ifname, baseline);
    const afterDown = readFileSync(conf, 'utf8');
    assert.equal(afterDown, saved.replace('ListenPort = 40111', 'ListenPort = 40112'));

    ok(await t.wgts('up', conf), 'wgts up (saved file)');
    await reach(t, t.far.v6);
    assert.equal(
      (await t.exec('wg', ['showconf', ifname])).stdout,
      showconf.replace('ListenPort = 40111', 'ListenPort = 40112'),
    );
    assert.match((await t.exec('ip', ['-o', 'link', 'show', 'dev', ifname])).stdout, /mtu 1360 /);
    assert.match((await t.exec('ip', ['-o', 'addr', 'show', 'dev', ifname])).stdout, /100\.127\.1\.1\/32/);
    ok(await t.wgts('down', conf), 'wgts down');
    await assertNothingLeft(t, ifname, baseline);
  });
});

test('without nft: the iptables-restore fallback, then its removal on down', { skip }, async () => {
  await withTopology(async (t) => {
    const baseline = await netState(t);
    // A PATH with ip, sysctl and bash but no nft, and iptables tools that record what they get.
    const bin = join(t.dir, 'bin');
    mkdirSync(bin, { mode: 0o700 });
    for (const tool of ['ip', 'sysctl', 'bash']) {
      const real = execFileSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
      symlinkSync(real, join(bin, tool));
    }
    const log = join(t.dir, 'iptables.log');
    for (const family of ['iptables', 'ip6tables']) {
      const store = join(t.dir, `${family}.rules`);
      const tools: Record<string, string> = {
        [family]: 'exit 0\n',
        [`${family}-restore`]: `echo "${family}-restore $*" >> ${log}\ntee -a ${log} >> ${store}\n`,
        [`${family}-save`]: `[ -f ${store} ] && sed 's/^-I /-A /' ${store} | grep -v '^-D ' || true\n`,
      };
      for (const [name, body] of Object.entries(tools)) {
        writeFileSync(join(bin, name), `#!/bin/bash\nPATH=/usr/bin:/bin\n${body}`, { mode: 0o755 });
      }
    }
    const env = { PATH: bin };
    const ifname = t.newIfname();
    const conf = t.writeConf(ifname, t.config({ allowedIps: '0.0.0.0/0' }));
    const up = await t.wgts('up', conf, env);
    ok(up, 'wgts up');
    assert.doesNotMatch(up.stderr, /nft/);
    await reach(t, t.far.v4);
    const marker = `-m comment --comment "wg-quick(8) rule for ${ifname}"`;
    const rules = (op: string): string =>
      `iptables-restore -n\n*raw\n${op} PREROUTING ! -i ${ifname} -d ${t.inner.selfV4} -m addrtype ! ` +
      `--src-type LOCAL -j DROP ${marker}\nCOMMIT\n*mangle\n` +
      `${op} POSTROUTING -m mark --mark 51820 -p udp -j CONNMARK --save-mark ${marker}\n` +
      `${op} PREROUTING -p udp -j CONNMARK --restore-mark ${marker}\nCOMMIT\n`;
    assert.equal(readFileSync(log, 'utf8'), rules('-I'));
    ok(await t.wgts('down', conf, env), 'wgts down');
    assert.equal(readFileSync(log, 'utf8'), rules('-I') + rules('-D'));
    await assertNothingLeft(t, ifname, baseline);
  });
});

test(
  'WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go: wgts drives wireguard-go the same way',
  { skip },
  async () => {
    await withTopology(async (t) => {
      const baseline = await netState(t);
      const ifname = t.newIfname();
      const conf = t.writeConf(ifname, t.config({ allowedIps: '0.0.0.0/0, ::/0' }));
      const up = await t.wgts('up', conf, { WG_QUICK_USERSPACE_IMPLEMENTATION: 'wireguard-go' });
      ok(up, 'wgts up');
      assert.match(up.stderr, new RegExp(`^\\[#\\] wireguard-go ${ifname}$`, 'm'));
      await reach(t, t.far.v4);
      await reach(t, t.far.v6);
      assert.equal(daemonPids(ifname).length, 1);
      ok(await t.wgts('down', conf), 'wgts down');
      await assertNothingLeft(t, ifname, baseline);
    });
  },
);

// ---------------------------------------------------------------------------------------------
// wgts against the real wg-quick

/** The state worth comparing, with IF, link-local addresses and the kernel's counters normalised. */
async function comparableState(t: QuickTopology, ifname: string): Promise<string> {
  const parts: string[] = [];
  for (const args of [
    ['ip', '-4', 'rule', 'show'],
    ['ip', '-6', 'rule', 'show'],
    ['nft', 'list', 'ruleset'],
    ['ip', '-4', 'route', 'show', 'table', 'all'],
    ['ip', '-6', 'route', 'show', 'table', 'all'],
    ['ip', '-brief', 'address', 'show', 'dev', ifname],
    ['ip', '-o', 'link', 'show', 'dev', ifname],
    ['wg', 'show', ifname, 'fwmark'],
    ['wg', 'show', ifname, 'allowed-ips'],
    ['sysctl', '-n', 'net.ipv4.conf.all.src_valid_mark'],
  ]) {
    const r = await t.exec(args[0]!, args.slice(1));
    let out = `${r.stdout}${r.stderr}`
      .split(ifname)
      .join('IF')
      .replace(/fe80::[0-9a-f:]+/g, 'fe80::LL');
    // Routes: those through IF (the veth's own come and go with its DAD), as a set (with the
    // random link-locals normalised, their order is noise).
    if (args.includes('route')) {
      out = `${out
        .split('\n')
        .filter((l) => l.includes(' dev IF '))
        .sort()
        .join('\n')}\n`;
    }
    parts.push(`$ ${args.join(' ')}\n${out}`);
  }
  return parts
    .join('')
    .replace(/^\d+: IF:/gm, 'N: IF:')
    .replace(/qdisc \S+ /g, 'qdisc Q ')
    .replace(/qlen \d+/g, 'qlen N')
    .replace(/link\/none .*/g, 'link/none');
}

/** The `[#]` lines both print, normalised: IF, the stdin path nft reads, wg's own lines dropped. */
function commands(stderr: string, ifname: string): string[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('[#] '))
    .map((l) =>
      l
        .split(ifname)
        .join('IF')
        .replace(/nft -f \/dev\/(fd\/63|stdin)/, 'nft -f SCRIPT'),
    )
    .filter(
      (l) => !/^\[#\] (wg (setconf|addconf)|ip link add IF type wireguard|wireguard-go|\S+node )/.test(l),
    )
    .sort();
}

/** A config, and the far address it must reach (null: none, Table = off or N). */
type CompareCase = [string, (t: QuickTopology) => string, (t: QuickTopology) => string | null];
const COMPARE_CASES: CompareCase[] = [
  ['0.0.0.0/0 and ::/0', (t) => t.config({ allowedIps: '0.0.0.0/0, ::/0' }), (t) => t.far.v6],
  [
    'narrow AllowedIPs, route MTU 1400',
    (t) => t.config({ allowedIps: `${t.inner.peerV4}/32, ${t.far.v4}/32, 198.18.0.0/15, ${t.far.v6}/128` }),
    (t) => t.far.v4,
  ],
  [
    'Table = 1234 with /0',
    (t) => t.config({ allowedIps: `0.0.0.0/0, ${t.far.v6}/128`, interfaceExtra: 'Table = 1234\n' }),
    () => null,
  ],
  [
    'Table = off, MTU = 1300',
    (t) => t.config({ allowedIps: '0.0.0.0/0', interfaceExtra: 'Table = off\nMTU = 1300\n' }),
    () => null,
  ],
];

for (const [name, config, target] of COMPARE_CASES) {
  test(
    `same state and commands as wg-quick (wireguard-go), after up and after down: ${name}`,
    { skip },
    async (tc) => {
      await withTopology(async (t) => {
        if (name.includes('1400'))
          ok(await t.exec('ip', ['link', 'set', 'dev', t.veth, 'mtu', '1400']), 'veth mtu');
        const ifname = t.newIfname();
        const conf = t.writeConf(ifname, config(t));
        const baseline = await netState(t);
        const far = target(t);

        const real = await t.exec('wg-quick', ['up', conf], {
          env: quickEnv({ WG_QUICK_USERSPACE_IMPLEMENTATION: 'wireguard-go' }),
          timeoutMs: 60_000,
        });
        ok(real, 'wg-quick up');
        if (far !== null) await reach(t, far);
        const realState = await comparableState(t, ifname);
        const realDown = await t.exec('wg-quick', ['down', conf], { env: quickEnv(), timeoutMs: 60_000 });
        ok(realDown, 'wg-quick down');
        const realAfter = await netState(t);
        await waitFor(() => daemonPids(ifname).length === 0, {
          timeoutMs: 3_000,
          what: 'wireguard-go to exit',
        });
        // wg-quick leaves src_valid_mark at 1; put it back so that both runs start alike.
        ok(await t.exec('sysctl', ['-q', 'net.ipv4.conf.all.src_valid_mark=0']), 'sysctl');

        const ours = await t.wgts('up', conf);
        ok(ours, 'wgts up');
        if (far !== null) await reach(t, far);
        const ourState = await comparableState(t, ifname);
        assert.equal(ourState, realState);
        assert.deepEqual(commands(ours.stderr, ifname), commands(real.stderr, ifname));
        const ourDown = await t.wgts('down', conf);
        ok(ourDown, 'wgts down');
        assert.deepEqual(commands(ourDown.stderr, ifname), commands(realDown.stderr, ifname));
        const ourAfter = await netState(t);
        assert.deepEqual(ourAfter, realAfter);
        assert.equal(ourAfter.rules4, baseline.rules4);
        assert.equal(ourAfter.rules6, baseline.rules6);
        assert.equal(ourAfter.nft, baseline.nft);
        tc.diagnostic(
          `identical: ${realState.split('\n').length} lines of state; ` +
            `up ${commands(ours.stderr, ifname).length} and down ${commands(ourDown.stderr, ifname).length} commands`,
        );
      });
    },
  );
}

test(
  'save: same file as `wg-quick save` on the same running interface (but for two wg-quick flaws)',
  { skip },
  async () => {
    await withTopology(async (t) => {
      const ifname = t.newIfname();
      const extra = 'MTU = 1372\nTable = 51999\nPreUp = echo a && echo b\nPostDown = echo c # d\n';
      const text = t.config({ allowedIps: `${t.far.v4}/32`, interfaceExtra: extra });
      const conf = t.writeConf(ifname, text);
      ok(await t.wgts('up', conf), 'wgts up');
      ok(await t.wgts('save', conf), 'wgts save');
      const ours = readFileSync(conf, 'utf8');
      t.writeConf(ifname, text);
      ok(await t.exec('wg-quick', ['save', conf], { env: quickEnv() }), 'wg-quick save');
      const real = readFileSync(conf, 'utf8');
      // wg-quick saves the kernel's generated IPv6 link-local address, and bash 5.2 turns `&` in a
      // hook into `[Interface]\n`; neither is in ours. The wg-quick installed here (1.0.20210914)
      // also cuts a hook at `#`, which upstream no longer does (its unstripped_value), nor we.
      assert.match(real, /^Address = fe80::/m);
      assert.doesNotMatch(ours, /fe80::/);
      assert.match(ours, /^PreUp = echo a && echo b$/m);
      assert.match(ours, /^PostDown = echo c # d$/m);
      const realFixed = real
        .replace(/^Address = fe80::.*\n/m, '')
        .replace('PreUp = echo a [Interface]\n[Interface]\n echo b', 'PreUp = echo a && echo b')
        .replace('PostDown = echo c\n', 'PostDown = echo c # d\n');
      assert.equal(ours, realFixed);
      ok(await t.wgts('down', conf), 'wgts down');
    });
  },
);

test('teardown leaves no namespace, process or file behind', { skip }, async () => {
  assert.deepEqual(await cleanup(), []);
  const held = tracked();
  assert.deepEqual(held.namespaces, []);
  assert.deepEqual(held.pids, []);
  assert.deepEqual(held.paths, []);
  const prefix = `wgts-${process.pid}-`;
  const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  assert.deepEqual(
    netns.split('\n').filter((l) => l.startsWith(prefix)),
    [],
  );
  const ifPrefix = `wgts-${process.pid.toString(36)}`;
  const sockets = existsSync(UAPI_DIR) ? readdirSync(UAPI_DIR).filter((f) => f.startsWith(ifPrefix)) : [];
  assert.deepEqual(sockets, []);
});
