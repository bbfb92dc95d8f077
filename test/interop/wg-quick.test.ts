/**
 * wg-quick(8) with wgtsd as its userspace implementation, the way a user runs it on a kernel
 * without WireGuard: `WG_QUICK_USERSPACE_IMPLEMENTATION=wgtsd wg-quick up CONF`, where `wgtsd` is a
 * wrapper on PATH that runs this build's daemon. wg-quick starts it without `-f`, so wgtsd must
 * daemonise and return only once `wg setconf` can talk to it; `wg-quick down` deletes the link,
 * which must make the daemon exit.
 *
 * Layout: client namespace A (wg-quick + wgtsd) and server namespace B (wireguard-go configured
 * with `wg` and `ip`), joined by a veth. B also has "remote" addresses on its loopback
 * (198.18.Y.1, 2001:db8:Y::1) that A can reach only through the tunnel.
 *
 * Covered: a full tunnel (AllowedIPs 0.0.0.0/0, ::/0: fwmark 0xca6c on wgtsd's sockets, the two
 * `ip rule`s per family, table 51820, the nftables table, src_valid_mark; pings to B's tunnel
 * addresses and, through the default route, to the remote addresses); a narrow tunnel (routes per
 * allowed IP, no fwmark, no rules; explicit MTU and ListenPort; `wg-quick save`); `up` twice fails
 * cleanly the second time; after every `down`: no link, no rules, no nftables table, no socket and
 * no wgtsd process.
 *
 * wg-quick runs only inside namespaces this test creates, with configuration files in a temporary
 * directory, so the host's routing, rules and firewall are never touched.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  addAddress,
  cleanup,
  createNamespace,
  createVethPair,
  exec,
  execOk,
  ping,
  trackPath,
  uniqueIfname,
  uniqueName,
  waitFor,
  type ExecResult,
} from '../helpers/netns.js';
import {
  configureInterface,
  genKeyPair,
  interopSkipReason,
  startDaemon,
  UAPI_DIR,
  wgShowDump,
  type Daemon,
  type KeyPair,
} from '../helpers/wg-peer.js';
import {
  formatConf,
  makeTempDir,
  makeWgtsdWrapperDir,
  pidAlive,
  randomPublicKey,
  stopPid,
  wgtsdDaemonPids,
  writePrivateFile,
  type ConfInterface,
} from '../helpers/wg-tools.js';

const skip = interopSkipReason(['wgtsd', 'wireguard-go'], ['ping', 'wg-quick', 'nft', 'bash', 'sysctl']);

/** Every interface wg-quick was asked to bring up, for the last-resort cleanup. */
const interfaces: string[] = [];

after(async () => {
  // A failed test may leave a daemonised wgtsd behind: stop it by its pid (deleting the
  // namespaces in cleanup() would also make it exit, as its link goes).
  for (const ifname of interfaces) {
    await Promise.all(wgtsdDaemonPids(ifname).map((pid) => stopPid(pid)));
  }
  await cleanup();
});

const SERVER_PORT = 51821;
const FWMARK_TABLE = 51820;

const X = (process.pid % 250) + 1;
const XX = X.toString(16).padStart(2, '0');
const Y = 91;
const PLAN = {
  outerV4: [`10.${X}.${Y}.1`, `10.${X}.${Y}.2`],
  outerV6: [`fd${XX}:${Y}::1`, `fd${XX}:${Y}::2`],
  innerV4: [`100.${64 + (X % 64)}.${Y}.1`, `100.${64 + (X % 64)}.${Y}.2`],
  innerV6: [`fd${XX}:${Y}:1::1`, `fd${XX}:${Y}:1::2`],
  /** On B's loopback: reachable from A only through the tunnel. */
  remoteV4: `198.18.${Y}.1`,
  remoteV6: `2001:db8:${Y}::1`,
} as const;

interface Fixture {
  readonly nsA: string;
  readonly nsB: string;
  readonly server: Daemon;
  readonly keysA: KeyPair;
  readonly keysB: KeyPair;
  readonly confDir: string;
  readonly binDir: string;
}

let fx: Fixture;

async function createFixture(): Promise<Fixture> {
  const nsA = await createNamespace(uniqueName('qa'));
  const nsB = await createNamespace(uniqueName('qb'));
  await createVethPair(nsA, nsB, {
    v4: [`${PLAN.outerV4[0]}/24`, `${PLAN.outerV4[1]}/24`],
    v6: [`${PLAN.outerV6[0]}/64`, `${PLAN.outerV6[1]}/64`],
  });
  await addAddress(nsB, 'lo', `${PLAN.remoteV4}/32`);
  await addAddress(nsB, 'lo', `${PLAN.remoteV6}/128`);
  const [keysA, keysB] = await Promise.all([genKeyPair(), genKeyPair()]);
  const server = await startDaemon(nsB, { impl: 'wireguard-go' });
  await configureInterface(server, {
    privateKey: keysB.privateKey,
    listenPort: SERVER_PORT,
    addresses: [`${PLAN.innerV4[1]}/24`, `${PLAN.innerV6[1]}/64`],
    peers: [{ publicKey: keysA.publicKey, allowedIps: [`${PLAN.innerV4[0]}/32`, `${PLAN.innerV6[0]}/128`] }],
  });
  return { nsA, nsB, server, keysA, keysB, confDir: makeTempDir('wgquick'), binDir: makeWgtsdWrapperDir() };
}

/**
 * LOG_LEVEL for the daemons wg-quick starts: unset (as users run it: the daemon's output goes to
 * /dev/null) unless WGTS_INTEROP_LOG_LEVEL is set.
 */
const DAEMON_LOG_LEVEL = process.env['WGTS_INTEROP_LOG_LEVEL'];

/** wg-quick's environment: our `wgtsd` first on PATH, and LOG_LEVEL only as DAEMON_LOG_LEVEL. */
function quickEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${fx.binDir}:${process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
    WG_QUICK_USERSPACE_IMPLEMENTATION: 'wgtsd',
    WG_COLOR_MODE: 'never',
  };
  delete env['LOG_LEVEL'];
  if (DAEMON_LOG_LEVEL !== undefined) env['LOG_LEVEL'] = DAEMON_LOG_LEVEL;
  return env;
}

/** The files wg-quick (and so the daemons it started) wrote to, with DAEMON_LOG_LEVEL set. */
const logFiles: string[] = [];

function daemonLogs(): string {
  return logFiles.map((f) => `--- ${f} ---\n${readFileSync(f, 'utf8').trim()}`).join('\n');
}

/**
 * Runs wg-quick in namespace A. With DAEMON_LOG_LEVEL set, the daemonised wgtsd would inherit
 * wg-quick's stdout and stderr and keep our pipes open, so wg-quick then writes to a file instead
 * (the daemon keeps logging there; failures show it), which is read back as `stderr`.
 */
async function wgQuick(verb: 'up' | 'down' | 'save' | 'strip', conf: string): Promise<ExecResult> {
  const opts = { env: quickEnv(), timeoutMs: 30_000 };
  if (DAEMON_LOG_LEVEL === undefined) return exec(fx.nsA, 'wg-quick', [verb, conf], opts);
  const log = join(fx.confDir, `wg-quick-${logFiles.length + 1}.log`);
  logFiles.push(log);
  const script = 'exec wg-quick "$1" "$2" >"$3" 2>&1';
  const r = await exec(fx.nsA, 'bash', ['-c', script, 'wg-quick', verb, conf, log], opts);
  return { ...r, stderr: readFileSync(log, 'utf8') };
}

/** `test`, adding the daemons' logs (if any were kept) to a failure. */
function qtest(name: string, fn: (t: TestContext) => Promise<void>): void {
  test(name, async (t) => {
    try {
      await fn(t);
    } catch (err) {
      if (err instanceof Error && logFiles.length > 0) err.message += `\n${daemonLogs()}`;
      throw err;
    }
  });
}

/** A client configuration file `IFNAME.conf` (wg-quick takes the interface name from it). */
function writeClientConf(ifname: string, cfg: Omit<ConfInterface, 'privateKey'>): string {
  interfaces.push(ifname);
  trackPath(join(UAPI_DIR, `${ifname}.sock`));
  return writePrivateFile(
    fx.confDir,
    `${ifname}.conf`,
    formatConf({ privateKey: fx.keysA.privateKey, ...cfg }),
  );
}

function clientPeer(
  allowedIps: readonly string[],
  outer: 'v4' | 'v6' = 'v4',
): NonNullable<ConfInterface['peers']>[number] {
  const endpoint =
    outer === 'v4' ? `${PLAN.outerV4[1]}:${SERVER_PORT}` : `[${PLAN.outerV6[1]}]:${SERVER_PORT}`;
  return { publicKey: fx.keysB.publicKey, endpoint, allowedIps };
}

function reEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

async function inA(cmd: string, args: readonly string[]): Promise<string> {
  return (await execOk(fx.nsA, cmd, args)).stdout;
}

/** Pings until the first reply (the first packet starts the handshake), bounded. */
async function firstPing(address: string): Promise<void> {
  await waitFor(async () => (await ping(fx.nsA, address, { waitS: 1 })).ok, {
    timeoutMs: 10_000,
    intervalMs: 0,
    what: `a first ping from A to ${address}`,
  });
}

async function pings(address: string, count = 3): Promise<void> {
  const r = await ping(fx.nsA, address, { count, intervalS: 0.05, deadlineS: 5 });
  assert.equal(r.received, count, `ping ${address}:\n${r.output}`);
}

const RULE_NOT_FWMARK = `not from all fwmark 0x${FWMARK_TABLE.toString(16)} lookup ${FWMARK_TABLE}`;
const RULE_SUPPRESS = 'from all lookup main suppress_prefixlength 0';

/** The single wgtsd daemon running `ifname` (waits a little: it has just daemonised). */
async function daemonPid(ifname: string): Promise<number> {
  const pids = await waitFor(
    () => {
      const p = wgtsdDaemonPids(ifname);
      return p.length > 0 ? p : null;
    },
    { timeoutMs: 2_000, what: `the wgtsd daemon for ${ifname}` },
  );
  assert.equal(pids.length, 1, `wgtsd daemons for ${ifname}: ${pids.join(', ')}`);
  return pids[0]!;
}

/** After `down`: no link, no fwmark rules, no nftables table, no socket, no daemon. */
async function assertGone(ifname: string, pid: number): Promise<void> {
  const link = await exec(fx.nsA, 'ip', ['link', 'show', 'dev', ifname]);
  assert.notEqual(link.code, 0, `link ${ifname} still exists:\n${link.stdout}`);
  for (const family of ['-4', '-6']) {
    const rules = await inA('ip', [family, 'rule', 'show']);
    assert.ok(!rules.includes(`lookup ${FWMARK_TABLE}`), `ip ${family} rule left:\n${rules}`);
    assert.ok(!rules.includes('suppress_prefixlength'), `ip ${family} rule left:\n${rules}`);
    const routes = await exec(fx.nsA, 'ip', [family, 'route', 'show', 'table', String(FWMARK_TABLE)]);
    assert.equal(routes.stdout.trim(), '', `routes left in table ${FWMARK_TABLE}:\n${routes.stdout}`);
  }
  const tables = await inA('nft', ['list', 'tables']);
  assert.ok(!tables.includes(`wg-quick-${ifname}`), `nftables table left:\n${tables}`);
  await waitFor(() => !pidAlive(pid), { timeoutMs: 5_000, what: `wgtsd (pid ${pid}) to exit` });
  assert.equal(existsSync(join(UAPI_DIR, `${ifname}.sock`)), false, 'UAPI socket left behind');
  assert.deepEqual(wgtsdDaemonPids(ifname), [], 'a wgtsd daemon is left');
}

function diag(t: TestContext, label: string, r: ExecResult): void {
  t.diagnostic(`${label}: exit ${r.code} in ${r.durationMs} ms`);
  for (const line of r.stderr.trim().split('\n')) if (line !== '') t.diagnostic(`  ${line}`);
}

describe('wg-quick with WG_QUICK_USERSPACE_IMPLEMENTATION=wgtsd', { skip }, () => {
  before(async () => {
    fx = await createFixture();
  });

  for (const outer of ['v4', 'v6'] as const) {
    qtest(
      `full tunnel (0.0.0.0/0, ::/0), outer ${outer}: fwmark rules, traffic via the default route, clean down`,
      async (t) => {
        const ifname = uniqueIfname('q');
        const conf = writeClientConf(ifname, {
          addresses: [`${PLAN.innerV4[0]}/24`, `${PLAN.innerV6[0]}/64`],
          peers: [clientPeer(['0.0.0.0/0', '::/0'], outer)],
        });
        const up = await wgQuick('up', conf);
        diag(t, 'wg-quick up', up);
        assert.equal(up.code, 0, `wg-quick up failed:\n${up.stderr}`);
        assert.match(up.stderr, new RegExp(`\\[#\\] wgtsd ${ifname}`), 'wg-quick started wgtsd');
        const pid = await daemonPid(ifname);
        let down: ExecResult | null = null;
        try {
          // What wg-quick set up for a /0 route.
          assert.equal((await inA('wg', ['show', ifname, 'fwmark'])).trim(), '0xca6c');
          for (const family of ['-4', '-6']) {
            const rules = await inA('ip', [family, 'rule', 'show']);
            assert.ok(rules.includes(RULE_NOT_FWMARK), `ip ${family} rule:\n${rules}`);
            assert.ok(rules.includes(RULE_SUPPRESS), `ip ${family} rule:\n${rules}`);
            const table = await inA('ip', [family, 'route', 'show', 'table', String(FWMARK_TABLE)]);
            assert.match(
              table,
              new RegExp(`^default dev ${ifname}`, 'm'),
              `table ${FWMARK_TABLE}:\n${table}`,
            );
          }
          const tables = await inA('nft', ['list', 'tables']);
          assert.ok(tables.includes(`table ip wg-quick-${ifname}`), tables);
          assert.ok(tables.includes(`table ip6 wg-quick-${ifname}`), tables);
          assert.equal((await inA('sysctl', ['-n', 'net.ipv4.conf.all.src_valid_mark'])).trim(), '1');
          const link = await inA('ip', ['-o', 'link', 'show', 'dev', ifname]);
          assert.match(link, /mtu 1420 /, `MTU = veth route MTU − 80:\n${link}`);
          // The remote addresses are routed only by the default route into the tunnel.
          const route = await inA('ip', ['route', 'get', PLAN.remoteV4]);
          assert.match(route, new RegExp(`dev ${ifname}`), route);

          await firstPing(PLAN.innerV4[1]);
          await pings(PLAN.innerV4[1]);
          await pings(PLAN.innerV6[1]);
          await pings(PLAN.remoteV4);
          await pings(PLAN.remoteV6);
          // The outer packets left through the veth (fwmark 0xca6c bypasses table 51820), from A's
          // veth address: that is the endpoint the server learnt.
          const outerA = outer === 'v4' ? PLAN.outerV4[0] : `[${PLAN.outerV6[0]}]`;
          let server = await wgShowDump(fx.nsB, fx.server.ifname);
          assert.match(server.peers[0]!.endpoint ?? '', new RegExp(`^${reEscape(outerA)}:`));
          const client = await wgShowDump(fx.nsA, ifname);
          assert.equal(client.fwmark, '0xca6c');
          assert.ok(client.peers[0]!.latestHandshake > 0 && client.peers[0]!.rxBytes > 0);
          // A new listen port opens new sockets: they must carry the mark too, or the outer packets
          // would be routed into the tunnel itself.
          await execOk(fx.nsA, 'wg', ['set', ifname, 'listen-port', '51999']);
          await pings(PLAN.remoteV4);
          await pings(PLAN.remoteV6);
          server = await wgShowDump(fx.nsB, fx.server.ifname);
          assert.equal(server.peers[0]!.endpoint, `${outerA}:51999`, 'the server saw the new port');
          t.diagnostic(
            `wgtsd pid ${pid}; pings to ${PLAN.innerV4[1]}, ${PLAN.innerV6[1]}, ${PLAN.remoteV4}, ${PLAN.remoteV6} ok; ` +
              `server sees endpoint ${server.peers[0]!.endpoint}`,
          );

          down = await wgQuick('down', conf);
          diag(t, 'wg-quick down', down);
          assert.equal(down.code, 0, `wg-quick down failed:\n${down.stderr}`);
          await assertGone(ifname, pid);
          const unreachable = await ping(fx.nsA, PLAN.remoteV4, { waitS: 1 });
          assert.equal(unreachable.received, 0, 'the remote address is unreachable without the tunnel');
        } finally {
          if (down === null) await wgQuick('down', conf);
        }
      },
    );
  }

  qtest(
    'narrow AllowedIPs: routes per allowed IP, no fwmark or rules; explicit MTU, port; save',
    async (t) => {
      const ifname = uniqueIfname('q');
      const listenPort = 51830;
      const cfg: Omit<ConfInterface, 'privateKey'> = {
        listenPort,
        mtu: 1380,
        addresses: [`${PLAN.innerV4[0]}/32`, `${PLAN.innerV6[0]}/128`],
        peers: [clientPeer([`${PLAN.innerV4[1]}/32`, `${PLAN.innerV6[1]}/128`, `198.18.${Y}.0/24`])],
      };
      const conf = writeClientConf(ifname, cfg);
      const up = await wgQuick('up', conf);
      diag(t, 'wg-quick up', up);
      assert.equal(up.code, 0, `wg-quick up failed:\n${up.stderr}`);
      const pid = await daemonPid(ifname);
      let down: ExecResult | null = null;
      try {
        assert.equal((await inA('wg', ['show', ifname, 'fwmark'])).trim(), 'off');
        assert.equal((await inA('wg', ['show', ifname, 'listen-port'])).trim(), String(listenPort));
        for (const family of ['-4', '-6']) {
          const rules = await inA('ip', [family, 'rule', 'show']);
          assert.ok(!rules.includes(`lookup ${FWMARK_TABLE}`), `unexpected rule:\n${rules}`);
        }
        const tables = await inA('nft', ['list', 'tables']);
        assert.ok(!tables.includes(`wg-quick-${ifname}`), `unexpected nftables table:\n${tables}`);
        const link = await inA('ip', ['-o', 'link', 'show', 'dev', ifname]);
        assert.match(link, /mtu 1380 /, link);
        const routes4 = await inA('ip', ['-4', 'route', 'show', 'dev', ifname]);
        for (const r of [PLAN.innerV4[1], `198.18.${Y}.0/24`])
          assert.ok(routes4.includes(r), `route ${r}:\n${routes4}`);
        const routes6 = await inA('ip', ['-6', 'route', 'show', 'dev', ifname]);
        assert.ok(routes6.includes(PLAN.innerV6[1]), `route ${PLAN.innerV6[1]}:\n${routes6}`);

        await firstPing(PLAN.innerV4[1]);
        await pings(PLAN.innerV6[1]);
        await pings(PLAN.remoteV4);
        const v6 = await ping(fx.nsA, PLAN.remoteV6, { waitS: 1 });
        assert.equal(v6.received, 0, `${PLAN.remoteV6} is outside AllowedIPs but was reached`);

        // `wg-quick save` writes the running configuration (wg showconf + addresses) back.
        const extra = randomPublicKey();
        await execOk(fx.nsA, 'wg', ['set', ifname, 'peer', extra, 'allowed-ips', '192.0.2.0/24']);
        const save = await wgQuick('save', conf);
        assert.equal(save.code, 0, `wg-quick save failed:\n${save.stderr}`);
        const saved = readFileSync(conf, 'utf8');
        for (const line of [
          `Address = ${PLAN.innerV4[0]}/32`,
          `Address = ${PLAN.innerV6[0]}/128`,
          `ListenPort = ${listenPort}`,
          `PrivateKey = ${fx.keysA.privateKey}`,
          `PublicKey = ${fx.keysB.publicKey}`,
          `AllowedIPs = ${PLAN.innerV4[1]}/32, ${PLAN.innerV6[1]}/128, 198.18.${Y}.0/24`,
          `Endpoint = ${PLAN.outerV4[1]}:${SERVER_PORT}`,
          `PublicKey = ${extra}`,
          'AllowedIPs = 192.0.2.0/24',
        ]) {
          assert.ok(saved.split('\n').includes(line), `saved config lacks "${line}":\n${saved}`);
        }

        down = await wgQuick('down', conf);
        diag(t, 'wg-quick down', down);
        assert.equal(down.code, 0, `wg-quick down failed:\n${down.stderr}`);
        await assertGone(ifname, pid);
      } finally {
        if (down === null) await wgQuick('down', conf);
      }
    },
  );

  qtest('wg-quick up twice: the second fails cleanly and leaves the first running', async (t) => {
    const ifname = uniqueIfname('q');
    const conf = writeClientConf(ifname, {
      addresses: [`${PLAN.innerV4[0]}/24`, `${PLAN.innerV6[0]}/64`],
      peers: [clientPeer([`${PLAN.innerV4[1]}/32`, `${PLAN.innerV6[1]}/128`])],
    });
    const up = await wgQuick('up', conf);
    assert.equal(up.code, 0, `wg-quick up failed:\n${up.stderr}`);
    const pid = await daemonPid(ifname);
    let down: ExecResult | null = null;
    try {
      await firstPing(PLAN.innerV4[1]);
      const initial = await inA('wg', ['showconf', ifname]);
      const again = await wgQuick('up', conf);
      diag(t, 'second wg-quick up', again);
      assert.notEqual(again.code, 0, 'a second wg-quick up succeeded');
      assert.match(again.stderr, /already exists/, again.stderr);
      assert.ok(!/\[#\] wgtsd/.test(again.stderr), 'the second up started a daemon');
      assert.ok(pidAlive(pid), 'the first daemon died');
      assert.deepEqual(wgtsdDaemonPids(ifname), [pid], 'a second daemon runs');
      assert.equal(await inA('wg', ['showconf', ifname]), initial, 'the configuration changed');
      await pings(PLAN.innerV4[1]);
      await pings(PLAN.innerV6[1]);

      down = await wgQuick('down', conf);
      assert.equal(down.code, 0, `wg-quick down failed:\n${down.stderr}`);
      await assertGone(ifname, pid);
      const downAgain = await wgQuick('down', conf);
      diag(t, 'second wg-quick down', downAgain);
      assert.notEqual(downAgain.code, 0, 'a second wg-quick down succeeded');
      assert.match(downAgain.stderr, /is not a WireGuard interface/, downAgain.stderr);
    } finally {
      if (down === null) await wgQuick('down', conf);
    }
  });

  qtest('wg-quick up failing after the daemon started (bad Address): link and daemon are gone', async (t) => {
    const ifname = uniqueIfname('q');
    const conf = writeClientConf(ifname, {
      addresses: [`${PLAN.innerV4[0]}/24`, '100.300.1.1/24'],
      peers: [clientPeer([`${PLAN.innerV4[1]}/32`])],
    });
    const up = await wgQuick('up', conf);
    diag(t, 'wg-quick up with a bad Address', up);
    assert.notEqual(up.code, 0, 'wg-quick up with a bad Address succeeded');
    assert.match(up.stderr, new RegExp(`\\[#\\] wgtsd ${ifname}`), 'wg-quick never started wgtsd');
    assert.match(up.stderr, new RegExp(`\\[#\\] ip link delete dev ${ifname}`), 'wg-quick did not undo');
    // wg-quick's trap deleted the link: the daemon notices and exits, removing its socket.
    await waitFor(() => wgtsdDaemonPids(ifname).length === 0, {
      timeoutMs: 5_000,
      what: `the wgtsd daemon for ${ifname} to exit`,
    });
    await waitFor(() => !existsSync(join(UAPI_DIR, `${ifname}.sock`)), {
      timeoutMs: 2_000,
      what: `${ifname}.sock to be removed`,
    });
    const link = await exec(fx.nsA, 'ip', ['link', 'show', 'dev', ifname]);
    assert.notEqual(link.code, 0, `link ${ifname} still exists`);
  });

  qtest('nothing is left behind', async () => {
    for (const ifname of interfaces) {
      assert.deepEqual(wgtsdDaemonPids(ifname), [], `wgtsd for ${ifname} still runs`);
      assert.equal(existsSync(join(UAPI_DIR, `${ifname}.sock`)), false, `${ifname}.sock left`);
    }
    const links = await inA('ip', ['-o', 'link', 'show']);
    for (const ifname of interfaces) assert.ok(!links.includes(`${ifname}:`), `${ifname} left in A`);
  });
});
