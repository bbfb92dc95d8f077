/**
 * Errors that help, against real daemons and the real `wg` (Debian's wireguard-tools) as the
 * oracle. Two wgtsd daemons run in a network namespace of our own, inside a private mount
 * namespace whose /run/wireguard is a fresh tmpfs, so the socket directory holds exactly our
 * sockets (other tests' daemons come and go in the shared one) and `wg` and `wgts` see the same
 * directory in the same order:
 *
 * - as user nobody, every show form (and set/setconf/addconf/syncconf) prints what wg prints,
 *   byte for byte, exit status included: each interface listed, each `Permission denied`;
 * - as root, a missing interface, a stale socket and a path that is not a socket print wg's line
 *   and then a hint that tells them apart; listing with a stale socket present matches wg;
 * - a listen port already taken: wg's line plus the port, for `wgts set`, `wgts setconf` and
 *   `wgts up` (which rolls back), and the daemon's log names it;
 * - without root or without CAP_NET_ADMIN, `wgts up`/`down` and wgtsd say what they need and
 *   create nothing.
 *
 * Needs root, wg, setpriv, nsenter, unshare; skips otherwise.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cleanup,
  createNamespace,
  exec,
  spawn,
  trackPath,
  waitFor,
  type TrackedProcess,
} from '../helpers/netns.js';
import { interopSkipReason } from '../helpers/wg-peer.js';
import { cleanEnv, WGTSD_MAIN } from '../helpers/wgtsd.js';
import { daemonPids } from './quick-helpers.js';
import { CLI_MAIN } from './helpers.js';

const skip = interopSkipReason(['wgtsd'], ['wg', 'setpriv', 'nsenter', 'unshare']);
const TAG = process.pid.toString(36);
const NS = `op-${TAG}-er`;
const IF1 = `opwg${TAG}a`;
const IF2 = `opwg${TAG}b`;
const IF3 = `opwg${TAG}c`;
const SOCKET_DIR = '/var/run/wireguard';
const NOBODY = ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'];
const NO_NET_ADMIN = ['setpriv', '--inh-caps=-net_admin', '--bounding-set=-net_admin'];
const WGTS = [process.execPath, CLI_MAIN];
const PRIVILEGE = '(run it with sudo; in a container: --cap-add NET_ADMIN --device /dev/net/tun)';

let holder: TrackedProcess | null = null;
const daemons: TrackedProcess[] = [];
let files = '';

/** Where this process sees the private socket directory. */
function privateDir(): string {
  return `/proc/${holder!.pid}/root${realpathSync(SOCKET_DIR)}`;
}

/** The environment of every command: no inherited colour, key or log settings. */
const ENV = cleanEnv({ WGTS_WARMUP: '0' });
delete ENV['WGTS_UAPI_DIR'];

/** Runs `argv` in the private mount namespace (and network namespace NS with `net`). */
function inside(argv: readonly string[], opts: { net?: boolean; timeoutMs?: number } = {}) {
  const net = opts.net === true ? ['ip', 'netns', 'exec', NS] : [];
  return exec(null, 'nsenter', ['-t', String(holder!.pid), '-m', '--', ...net, ...argv], {
    env: ENV,
    timeoutMs: opts.timeoutMs ?? 20_000,
  });
}

/** A socket file whose listener has exited: a stale socket, as a crashed daemon leaves. */
async function staleSocket(name: string): Promise<void> {
  const path = join(SOCKET_DIR, `${name}.sock`);
  const r = await inside([
    process.execPath,
    '-e',
    "require('net').createServer().listen(process.argv[1], () => process.exit(0))",
    path,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(join(privateDir(), `${name}.sock`)));
}

before(async () => {
  if (skip !== false) return;
  await createNamespace(NS);
  files = mkdtempSync(join(tmpdir(), 'op-err-'));
  trackPath(files);
  holder = spawn(null, 'unshare', [
    '-m',
    '--propagation',
    'private',
    'sh',
    '-c',
    `mkdir -p ${SOCKET_DIR} && mount -t tmpfs -o mode=0755 op-uapi ${SOCKET_DIR} && echo ready && exec sleep 900`,
  ]);
  await holder.waitForOutput(/ready/, 10_000);
  for (const ifname of [IF1, IF2]) {
    daemons.push(
      spawn(
        null,
        'nsenter',
        [
          '-t',
          String(holder.pid),
          '-m',
          '--',
          'ip',
          'netns',
          'exec',
          NS,
          process.execPath,
          WGTSD_MAIN,
          '-f',
          ifname,
        ],
        { env: ENV },
      ),
    );
  }
  await waitFor(() => [IF1, IF2].every((n) => existsSync(join(privateDir(), `${n}.sock`))), {
    timeoutMs: 30_000,
    what: 'both daemons listening',
  });
});

after(async () => {
  for (const d of daemons) await d.stop();
  for (const pid of daemonPids(IF3)) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // gone
    }
  }
  await holder?.stop();
  await cleanup();
});

test(
  'as nobody, every show form and the set commands print what wg prints, byte for byte',
  { skip },
  async () => {
    // A root-owned stale socket too: nobody cannot connect to it (EACCES), so wg lists it.
    await staleSocket(`opst${TAG}`);
    const conf = join(files, 'empty.conf');
    writeFileSync(conf, '', { mode: 0o644 });
    const forms = [
      [],
      ['show'],
      ['show', 'all'],
      ['show', 'interfaces'],
      ['show', IF1],
      ['show', IF1, 'dump'],
      ['show', 'all', 'dump'],
      ['show', 'all', 'public-key'],
      ['showconf', IF1],
      ['set', IF1, 'listen-port', '1'],
      ['setconf', IF1, conf],
      ['addconf', IF1, conf],
      ['syncconf', IF1, conf],
    ];
    for (const args of forms) {
      const wg = await inside([...NOBODY, 'wg', ...args]);
      const wgts = await inside([...NOBODY, ...WGTS, ...args]);
      const what = `${args.join(' ') || '(none)'}\n--- wg ${wg.code}\n${wg.stdout}${wg.stderr}--- wgts ${wgts.code}\n${wgts.stdout}${wgts.stderr}`;
      assert.equal(wgts.stdout, wg.stdout, what);
      assert.equal(wgts.stderr, wg.stderr, what);
      assert.equal(wgts.code, wg.code, what);
    }
    // The oracle did see the case under test: every interface listed, each one refused.
    const listed = await inside([...NOBODY, 'wg', 'show', 'interfaces']);
    for (const n of [IF1, IF2, `opst${TAG}`]) assert.match(listed.stdout, new RegExp(`\\b${n}\\b`));
    const all = await inside([...NOBODY, 'wg', 'show']);
    assert.match(all.stderr, new RegExp(`^Unable to access interface ${IF1}: Permission denied$`, 'm'));
    assert.equal(all.code, 1);
    rmSync(join(privateDir(), `opst${TAG}.sock`));
  },
);

test(
  "missing, stale and non-socket interfaces: wg's line, then a hint telling them apart",
  { skip },
  async () => {
    const dir = privateDir();
    const compare = async (args: string[], hint: RegExp): Promise<void> => {
      const wgts = await inside([...WGTS, ...args]);
      assert.equal(wgts.code, 1);
      assert.equal(wgts.stdout, '');
      const [first, second, ...rest] = wgts.stderr.split('\n');
      assert.match(first!, /^Unable to (access|modify) interface: (Protocol not supported|No such device)$/);
      assert.match(second!, hint, wgts.stderr);
      assert.deepEqual(rest, ['']);
      return;
    };
    // What wg says for each (one line, the same for all three).
    const missing = `opmi${TAG}`;
    const wgMissing = await inside(['wg', 'show', missing]);
    assert.equal(wgMissing.code, 1);
    assert.match(wgMissing.stderr, /^Unable to access interface: (Protocol not supported|No such device)\n$/);
    const stale = `opst${TAG}`;
    await staleSocket(stale);
    const wgStale = await inside(['wg', 'show', stale]);
    assert.equal(wgStale.stderr, wgMissing.stderr);
    assert.ok(!existsSync(join(dir, `${stale}.sock`)), 'wg removes a stale socket');
    writeFileSync(join(dir, `opfi${TAG}.sock`), '');
    const wgFile = await inside(['wg', 'show', `opfi${TAG}`]);
    assert.equal(wgFile.stderr, wgMissing.stderr);

    const start = (n: string) => `; start it with \`wgts up ${n}' or \`wgtsd ${n}'$`;
    await compare(
      ['show', missing],
      new RegExp(
        `^wgts: no interface ${missing}: no daemon serves it \\(${SOCKET_DIR}/${missing}\\.sock does not exist\\)${start(missing)}`,
      ),
    );
    await compare(['showconf', missing], /^wgts: no interface /);
    await compare(['set', missing, 'listen-port', '1'], /^wgts: no interface /);
    await staleSocket(stale);
    await compare(
      ['show', stale],
      new RegExp(
        `^wgts: the daemon of ${stale} is gone: nothing listens on ${SOCKET_DIR}/${stale}\\.sock \\(now removed\\)${start(stale)}`,
      ),
    );
    assert.ok(!existsSync(join(dir, `${stale}.sock`)), 'wgts removes it too');
    await compare(['show', stale], /^wgts: no interface /);
    await compare(
      ['show', `opfi${TAG}`],
      new RegExp(`^wgts: ${SOCKET_DIR}/opfi${TAG}\\.sock is not a socket, so no daemon serves opfi${TAG}$`),
    );
    rmSync(join(dir, `opfi${TAG}.sock`));

    // Listing skips (and removes) a stale socket silently, as wg does: the same bytes.
    for (const args of [['show'], ['show', 'interfaces'], ['show', 'all', 'dump']]) {
      await staleSocket(stale);
      const wg = await inside(['wg', ...args]);
      await staleSocket(stale);
      const wgts = await inside([...WGTS, ...args]);
      assert.deepEqual(
        { out: wgts.stdout, err: wgts.stderr, code: wgts.code },
        { out: wg.stdout, err: wg.stderr, code: wg.code },
        args.join(' '),
      );
      assert.ok(!existsSync(join(dir, `${stale}.sock`)));
    }
  },
);

test(
  'a listen port in use is named: set, setconf, up (rolled back) and the daemon log',
  { skip },
  async () => {
    const port = Number((await inside(['wg', 'show', IF2, 'listen-port'])).stdout.trim());
    assert.ok(port > 0);
    const wg = await inside(['wg', 'set', IF1, 'listen-port', String(port)]);
    assert.equal(wg.stderr, 'Unable to modify interface: Address already in use\n');
    const hint =
      `wgts: UDP port ${port} is already in use by another socket (\`ss -ulpn sport = :${port}' shows which); ` +
      'choose another port (ListenPort, listen-port), or 0 for a random one\n';
    const set = await inside([...WGTS, 'set', IF1, 'listen-port', String(port)]);
    assert.deepEqual({ code: set.code, err: set.stderr }, { code: 1, err: wg.stderr + hint });
    const conf = join(files, `${IF3}.conf`);
    writeFileSync(
      conf,
      `[Interface]\nPrivateKey = GNGoRiCtuH8K8TJr9R5XEbiZgLQiXDqhXXM6Kc4M71Y=\nListenPort = ${port}\n`,
      { mode: 0o600 },
    );
    const setconf = await inside([...WGTS, 'setconf', IF1, conf]);
    assert.deepEqual({ code: setconf.code, err: setconf.stderr }, { code: 1, err: wg.stderr + hint });
    // The UAPI error path: the daemon that refused says which port.
    await daemons[0]!.waitForOutput(new RegExp(`cannot bind port ${port}: .*Address already in use`), 10_000);

    const up = await inside([...WGTS, 'up', conf], { net: true, timeoutMs: 60_000 });
    assert.equal(up.code, 1, up.stderr);
    assert.ok(up.stderr.includes(`wgts: ${wg.stderr}${hint}`), up.stderr);
    assert.match(up.stderr, new RegExp(`\\[#\\] ip link delete dev ${IF3}`), 'rolled back');
    assert.equal((await exec(NS, 'ip', ['link', 'show', 'dev', IF3])).code, 1, 'no link left');
    assert.equal(existsSync(join(privateDir(), `${IF3}.sock`)), false, 'no socket left');
  },
);

test('without root or CAP_NET_ADMIN, wgts up/down and wgtsd say what they need', { skip }, async () => {
  const conf = join(files, `${IF3}.conf`);
  writeFileSync(conf, '[Interface]\nPrivateKey = GNGoRiCtuH8K8TJr9R5XEbiZgLQiXDqhXXM6Kc4M71Y=\n', {
    mode: 0o600,
  });
  for (const who of [NOBODY, NO_NET_ADMIN]) {
    const up = await inside([...who, ...WGTS, 'up', conf], { net: true });
    assert.deepEqual(
      { code: up.code, out: up.stdout, err: up.stderr },
      {
        code: 1,
        out: '',
        err: `wgts: \`up' needs root or CAP_NET_ADMIN to create a network interface ${PRIVILEGE}\n`,
      },
    );
    const down = await inside([...who, ...WGTS, 'down', IF1], { net: true });
    assert.deepEqual(
      { code: down.code, err: down.stderr },
      {
        code: 1,
        err: `wgts: \`down' needs root or CAP_NET_ADMIN to remove a network interface ${PRIVILEGE}\n`,
      },
    );
    // wgtsd in the foreground (through its logger) and daemonised (the parent reports the child).
    for (const fg of [['-f'], []]) {
      const d = await inside([...who, process.execPath, WGTSD_MAIN, ...fg, IF3], { net: true });
      assert.equal(d.code, 1, d.stderr);
      assert.match(
        d.stderr,
        new RegExp(
          `cannot create TUN device ${IF3}: .*\\((EACCES|EPERM)\\); wgtsd needs root or CAP_NET_ADMIN to create a network interface`,
        ),
      );
    }
  }
  assert.equal((await exec(NS, 'ip', ['link', 'show', 'dev', IF3])).code, 1, 'no link created');
  assert.equal(existsSync(join(privateDir(), `${IF3}.sock`)), false, 'no socket created');
});
