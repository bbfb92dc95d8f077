/**
 * wgtsd as a process in a network namespace (REFERENCE.md "Daemon"; TEST-PLAN "Faults": daemon
 * SIGTERM, `ip link del`): daemonising (the parent returns only once the TUN exists and the
 * socket listens, the daemon keeps running detached), `-f` and WG_PROCESS_FOREGROUND=1, bad usage
 * and bad interface names, the socket directory and socket modes (under umask 077), stale and live
 * sockets, the ways to stop (SIGTERM, SIGINT, link deleted, socket removed), LOG_LEVEL, and
 * inherited WG_TUN_FD / WG_UAPI_FD descriptors.
 *
 * Needs root, /dev/net/tun, ip and unshare; skips otherwise. Every daemon gets a unique interface
 * name (the socket directory is shared by all namespaces) and is stopped by pid.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cleanup,
  createNamespace,
  exec,
  prerequisitesMissing,
  spawn,
  trackLink,
  trackPath,
  uniqueIfname,
  uniqueName,
  waitFor,
  type TrackedProcess,
} from '../helpers/netns.js';
import { interopSkipReason } from '../helpers/wg-peer.js';
import { errnos, rawExchange } from '../uapi/helpers.js';
import {
  WGTSD_MAIN,
  alive,
  cleanEnv,
  daemonPid,
  daemonPids,
  killRemembered,
  procStat,
  remember,
  signal,
  socketOf,
  waitGone,
} from '../helpers/wgtsd.js';

const skip = interopSkipReason(['wgtsd'], ['unshare']) || prerequisitesMissing(['ip', 'unshare']);

let ns = '';

before(async () => {
  if (skip) return;
  ns = await createNamespace(uniqueName('d'));
});

/** Foreground daemons of the current test: stopped after it whatever happened. */
const running: TrackedProcess[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
  await killRemembered();
});

after(async () => {
  await killRemembered();
  await cleanup();
});

/** A fresh interface name whose socket and link cleanup will remove. */
function newIf(where: string = ns): { ifname: string; sock: string } {
  const ifname = uniqueIfname('w');
  const sock = socketOf(ifname);
  trackPath(sock);
  trackLink(where, ifname);
  return { ifname, sock };
}

/** Runs wgtsd to completion (the daemonising parent, or a refused start). */
function runWgtsd(args: readonly string[], env: Record<string, string> = {}, where: string = ns) {
  return exec(where, process.execPath, [WGTSD_MAIN, ...args], { env: cleanEnv(env), timeoutMs: 10_000 });
}

/** Starts wgtsd in the foreground as a tracked child and waits for its socket. */
async function foreground(
  ifname: string,
  opts: { env?: Record<string, string>; args?: readonly string[] } = {},
): Promise<TrackedProcess> {
  const proc = spawn(ns, process.execPath, [WGTSD_MAIN, ...(opts.args ?? ['-f']), ifname], {
    env: cleanEnv(opts.env ?? {}),
  });
  remember(proc.pid);
  running.push(proc);
  // Until it answers: a stale socket file may be there before the daemon replaces it.
  await waitFor(
    async () => {
      if (proc.hasExited()) throw new Error(`exited: ${proc.output()}`);
      return existsSync(socketOf(ifname)) && /errno=0\n\n$/.test(await get(socketOf(ifname)));
    },
    { timeoutMs: 10_000, intervalMs: 10, what: `${ifname} socket` },
  );
  return proc;
}

async function get(sock: string): Promise<string> {
  const r = await rawExchange(sock, 'get=1\n\n', { until: (s) => /errno=-?\d+\n\n$/.test(s), waitMs: 3_000 });
  return r.reply;
}

async function linkIndex(ifname: string, where: string = ns): Promise<number | null> {
  const r = await exec(where, 'ip', ['-o', 'link', 'show', 'dev', ifname], { timeoutMs: 3_000 });
  return r.code === 0 ? Number(r.stdout.split(':')[0]) : null;
}

/** Exit info of a tracked process, waiting at most `ms`. */
async function exitWithin(proc: TrackedProcess, ms: number): Promise<{ code: number | null; ms: number }> {
  const t0 = Date.now();
  const info = await Promise.race([
    proc.exited,
    new Promise<null>((resolve) => setTimeout(() => resolve(null), ms)),
  ]);
  assert.ok(info !== null, `${proc.command} still running after ${ms} ms:\n${proc.output()}`);
  return { code: info.code, ms: Date.now() - t0 };
}

describe('wgtsd process', { skip }, () => {
  test('without -f: returns once the TUN exists and the socket listens; the daemon runs on, detached', async () => {
    const { ifname, sock } = newIf();
    const r = await runWgtsd([ifname]);
    // Checked the moment the parent returned: the socket answers and the link exists.
    const reply = await get(sock);
    assert.equal(r.code, 0, r.stderr);
    assert.match(reply, /^listen_port=\d+\nerrno=0\n\n$/);
    assert.notEqual(await linkIndex(ifname), null);
    assert.equal(r.stdout + r.stderr, '', 'nothing printed by default');
    const pid = await daemonPid(ifname);
    const st = procStat(pid)!;
    assert.equal(st.session, pid, 'the daemon leads its own session (setsid)');
    assert.notEqual(st.ppid, process.pid);
    // Still there a little later; the socket is srwx------.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(alive(pid));
    assert.match(await get(sock), /errno=0\n\n$/);
    const s = statSync(sock);
    assert.ok(s.isSocket());
    assert.equal(s.mode & 0o777, 0o700);
    signal(pid, 'SIGTERM');
    await waitGone(pid, 3_000);
    assert.equal(existsSync(sock), false, 'socket removed');
    assert.equal(await linkIndex(ifname), null, 'TUN gone');
  });

  test('-f stays in the foreground; SIGINT: clean exit, socket removed, TUN gone', async () => {
    const { ifname, sock } = newIf();
    const proc = await foreground(ifname);
    assert.deepEqual(daemonPids(ifname), [proc.pid], 'the process we started is the daemon');
    assert.match(await get(sock), /errno=0\n\n$/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(proc.hasExited(), false);
    proc.child.kill('SIGINT');
    const { code, ms } = await exitWithin(proc, 3_000);
    assert.equal(code, 0, proc.output());
    assert.ok(ms < 1_500, `${ms} ms`);
    assert.equal(existsSync(sock), false);
    assert.equal(await linkIndex(ifname), null);
  });

  test('WG_PROCESS_FOREGROUND=1 without -f stays in the foreground; SIGTERM: clean exit, socket removed', async () => {
    const { ifname, sock } = newIf();
    const proc = await foreground(ifname, { args: [], env: { WG_PROCESS_FOREGROUND: '1' } });
    assert.deepEqual(daemonPids(ifname), [proc.pid]);
    assert.match(await get(sock), /errno=0\n\n$/);
    proc.child.kill('SIGTERM');
    const { code, ms } = await exitWithin(proc, 3_000);
    assert.equal(code, 0, proc.output());
    assert.ok(ms < 1_500, `${ms} ms`);
    assert.equal(existsSync(sock), false);
    assert.equal(await linkIndex(ifname), null);
  });

  test('bad usage: the usage message and exit 1; --help and --version exit 0', async () => {
    const name = uniqueIfname('w');
    const cases = [[], ['-f'], ['--foreground'], [name, name], ['-f', name, name], ['-x', name], ['--bogus']];
    const results = await Promise.all(cases.map((args) => runWgtsd(args)));
    cases.forEach((args, i) => {
      assert.equal(results[i]!.code, 1, JSON.stringify(args));
      assert.match(
        results[i]!.stderr,
        /^wgtsd: .+\nUsage: wgtsd \[-f\/--foreground\] .*INTERFACE-NAME\nTry 'wgtsd --help' for more information\.\n$/,
        JSON.stringify(args),
      );
    });
    const help = await runWgtsd(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: wgtsd/);
    const version = await runWgtsd(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^wgtsd v\d/);
    assert.equal(existsSync(socketOf(name)), false);
  });

  test('invalid interface names are refused with exit 1, with or without -f, creating nothing', async () => {
    const names = ['', '.', '..', 'a/b', 'a b', 'a\tb', 'a:b', '0123456789abcdef', 'éééééééé'];
    const cases = [...names.map((bad) => [bad]), ['-f', 'a:b'], ['-f', '..'], ['-f', '0123456789abcdef']];
    const results = await Promise.all(cases.map((args) => runWgtsd(args)));
    cases.forEach((args, i) => {
      assert.equal(results[i]!.code, 1, JSON.stringify(args));
      assert.match(results[i]!.stderr, /invalid interface name/, JSON.stringify(args));
    });
    for (const bad of names) {
      if (!bad.includes('/') && bad !== '' && bad !== '.' && bad !== '..') {
        assert.equal(existsSync(socketOf(bad)), false, bad);
      }
    }
    const links = await exec(ns, 'ip', ['-o', 'link', 'show']);
    assert.doesNotMatch(links.stdout, /a:b|0123456789abcdef|éé/);
  });

  test('socket directory mode 0755 and socket srwx------, whatever the umask (a private /run)', async () => {
    for (const umask of ['077', '000']) {
      const ifname = uniqueIfname('w');
      trackLink(ns, ifname);
      // A fresh tmpfs on /run in a private mount namespace: the daemon must create the directory.
      const proc = spawn(
        ns,
        'unshare',
        [
          '-m',
          '--propagation',
          'private',
          'sh',
          '-c',
          `mount -t tmpfs wgts-test /run && umask ${umask} && exec "$0" "$@"`,
          process.execPath,
          WGTSD_MAIN,
          '-f',
          ifname,
        ],
        { env: cleanEnv() },
      );
      remember(proc.pid);
      running.push(proc);
      const root = `/proc/${proc.pid}/root/run/wireguard`;
      await waitFor(
        () => {
          if (proc.hasExited()) throw new Error(`exited: ${proc.output()}`);
          return existsSync(`${root}/${ifname}.sock`);
        },
        { timeoutMs: 10_000, intervalMs: 10, what: 'socket in the private /run' },
      );
      const dir = statSync(root);
      assert.equal(
        dir.mode & 0o7777,
        0o755,
        `umask ${umask}: directory mode ${(dir.mode & 0o7777).toString(8)}`,
      );
      const sock = statSync(`${root}/${ifname}.sock`);
      assert.ok(sock.isSocket());
      assert.equal(
        sock.mode & 0o7777,
        0o700,
        `umask ${umask}: socket mode ${(sock.mode & 0o7777).toString(8)}`,
      );
      assert.match(await get(`${root}/${ifname}.sock`), /errno=0\n\n$/);
      assert.equal(existsSync(socketOf(ifname)), false, 'nothing in the real /run');
      proc.child.kill('SIGTERM');
      assert.equal((await exitWithin(proc, 3_000)).code, 0);
    }
  });

  test('a stale socket (nobody listening) is removed and the daemon starts', async () => {
    const { ifname, sock } = newIf();
    // A listener killed before it could clean up leaves its socket file behind.
    const r = await exec(null, process.execPath, [
      '-e',
      "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))",
      sock,
    ]);
    assert.equal(r.signal, 'SIGKILL');
    assert.ok(statSync(sock).isSocket());
    const refused = await rawExchange(sock, 'get=1\n\n').catch((err: NodeJS.ErrnoException) => err.code);
    assert.equal(refused, 'ECONNREFUSED');
    const proc = await foreground(ifname);
    assert.match(await get(sock), /errno=0\n\n$/, 'the new daemon answers on the path');
    proc.child.kill('SIGTERM');
    assert.equal((await exitWithin(proc, 3_000)).code, 0);
  });

  test('a second daemon for a live interface is refused (same namespace, another, daemonised); the first keeps working', async () => {
    const { ifname, sock } = newIf();
    const first = await foreground(ifname);
    const index = await linkIndex(ifname);
    const before = await get(sock);
    const other = await createNamespace(uniqueName('d2'));
    trackLink(other, ifname);
    const attempts = [
      [['-f', ifname], ns],
      [['-f', ifname], other],
      [[ifname], ns],
      [[ifname], other],
    ] as const;
    const results = await Promise.all(attempts.map(([args, where]) => runWgtsd(args, {}, where)));
    attempts.forEach(([args, where], i) => {
      const r = results[i]!;
      assert.notEqual(r.code, 0, `${args.join(' ')} in ${where}`);
      assert.match(r.stderr, /already run by another daemon/, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.durationMs < 5_000);
    });
    assert.equal(await linkIndex(ifname, other), null, 'no TUN was created in the other namespace');
    assert.equal(first.hasExited(), false);
    assert.equal(await linkIndex(ifname), index);
    assert.equal(await get(sock), before);
    assert.deepEqual(daemonPids(ifname), [first.pid]);
    first.child.kill('SIGTERM');
    assert.equal((await exitWithin(first, 3_000)).code, 0);
  });

  test('`ip link del` makes the daemon exit within a second, removing its socket', async () => {
    const { ifname, sock } = newIf();
    const proc = await foreground(ifname);
    const del = await exec(ns, 'ip', ['link', 'del', 'dev', ifname]);
    assert.equal(del.code, 0, del.stderr);
    const { code, ms } = await exitWithin(proc, 3_000);
    assert.equal(code, 0, proc.output());
    assert.ok(ms < 1_000, `exited ${ms} ms after the link was deleted`);
    assert.equal(existsSync(sock), false);
  });

  test('removing its socket file makes the daemon exit and take its TUN with it', async () => {
    const { ifname, sock } = newIf();
    const proc = await foreground(ifname);
    await exec(null, 'rm', ['-f', sock]);
    const { code, ms } = await exitWithin(proc, 3_000);
    assert.equal(code, 0, proc.output());
    assert.ok(ms < 1_000, `${ms} ms`);
    assert.equal(await linkIndex(ifname), null);
  });

  test('LOG_LEVEL: verbose prints logs, the default prints only errors, silent prints nothing', async () => {
    const outputs: Record<string, string> = {};
    for (const level of ['verbose', 'default', 'silent']) {
      const { ifname, sock } = newIf();
      const proc = await foreground(ifname, { env: level === 'default' ? {} : { LOG_LEVEL: level } });
      // A bad request makes the daemon log an error.
      const bad = await rawExchange(sock, 'set=1\nbogus=1\n\n', { until: (s) => s.endsWith('\n\n') });
      assert.deepEqual(errnos(bad.reply), [-22]);
      await get(sock);
      proc.child.kill('SIGTERM');
      assert.equal((await exitWithin(proc, 3_000)).code, 0);
      outputs[level] = proc.output();
    }
    assert.match(outputs.verbose!, /^DEBUG: \(wgts-\w+\) .*UAPI listener started$/m);
    assert.match(outputs.verbose!, /shutting down: SIGTERM/);
    assert.match(outputs.verbose!, /^ERROR: .*IPC error -22/m);
    assert.doesNotMatch(outputs.default!, /DEBUG/);
    assert.match(outputs.default!, /^ERROR: .*IPC error -22/m);
    assert.equal(outputs.silent, '');
  });

  test('the JIT warm-up runs before the UAPI socket listens; WGTS_WARMUP=0 skips it', async () => {
    const outputs: Record<string, string> = {};
    for (const warm of ['1', '0']) {
      const { ifname, sock } = newIf();
      const proc = await foreground(ifname, { env: { LOG_LEVEL: 'verbose', WGTS_WARMUP: warm } });
      assert.match(await get(sock), /errno=0\n\n$/);
      proc.child.kill('SIGTERM');
      assert.equal((await exitWithin(proc, 3_000)).code, 0);
      outputs[warm] = proc.output();
    }
    const on = outputs['1']!;
    const line = /JIT warm-up: (\d+) round trips \((\d+) bulk\) in (\d+) ms(?: \(stopped: (.*)\))?$/m.exec(
      on,
    );
    assert.ok(line !== null, on);
    // A loaded CI machine may hit the time limit; nothing else may stop it.
    assert.ok(line[4] === undefined || line[4] === 'time limit', line[0]);
    assert.ok(Number(line[1]) >= 100 && Number(line[2]) > 0, line[0]);
    assert.ok(on.indexOf('JIT warm-up') < on.indexOf('UAPI listener started'), on);
    assert.doesNotMatch(outputs['0']!, /JIT warm-up/);
    assert.match(outputs['0']!, /UAPI listener started/);
  });

  test("daemonised, the daemon writes nothing to the starter's output (it logs to a file or syslog)", async () => {
    const { ifname } = newIf();
    const file = join(tmpdir(), `${ifname}.log`);
    trackPath(file);
    const parent = spawn(ns, process.execPath, [WGTSD_MAIN, ifname], {
      env: cleanEnv({ LOG_LEVEL: 'verbose', WGTS_LOG_FILE: file }),
    });
    assert.equal((await exitWithin(parent, 5_000)).code, 0);
    const pid = await daemonPid(ifname);
    await waitFor(() => existsSync(file) && /UAPI listener started/.test(readFileSync(file, 'utf8')), {
      timeoutMs: 3_000,
      what: 'the log file',
    });
    signal(pid, 'SIGTERM');
    await waitGone(pid, 3_000);
    assert.equal(parent.output(), '');
  });

  test('a start that fails after daemonising reports why in the parent, exit 1', async () => {
    const { ifname } = newIf();
    // A name only the TUN driver refuses (a pattern with two '%' it cannot expand), and bad
    // inherited descriptors: each fails in the daemonised child, and the parent says why.
    const [r1, r2, r3, r4] = await Promise.all([
      runWgtsd(['wg%d%d']),
      runWgtsd([ifname], { WG_TUN_FD: 'x' }),
      runWgtsd(['-f', ifname], { WG_UAPI_FD: '-1' }),
      // LOG_LEVEL=silent: nothing printed, still exit 1.
      runWgtsd([ifname], { WG_TUN_FD: 'x', LOG_LEVEL: 'silent' }),
    ]);
    assert.equal(r1.code, 1);
    assert.match(r1.stderr, /^wgtsd: cannot create TUN device wg%d%d/);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /WG_TUN_FD=x is not a file descriptor/);
    assert.equal(r3.code, 1);
    assert.match(r3.stderr, /WG_UAPI_FD=-1 is not a file descriptor/);
    assert.deepEqual([r4.code, r4.stdout, r4.stderr], [1, '', '']);
    assert.equal(existsSync(socketOf(ifname)), false);
  });

  test('a name the kernel completes (wgtsd%d): socket and link watch use the real name', async () => {
    const pattern = `${uniqueIfname('w').slice(0, 11)}p%d`;
    const r = await runWgtsd([pattern]);
    assert.equal(r.code, 0, r.stderr);
    const real = pattern.replace('%d', '0');
    trackLink(ns, real);
    trackPath(socketOf(real));
    const pid = await daemonPid(pattern);
    assert.equal(existsSync(socketOf(pattern)), false);
    assert.match(await get(socketOf(real)), /errno=0\n\n$/);
    assert.notEqual(await linkIndex(real), null);
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.ok(alive(pid), 'still running (it watches the real link)');
    await exec(ns, 'ip', ['link', 'del', 'dev', real]);
    await waitGone(pid, 2_000);
    assert.equal(existsSync(socketOf(real)), false);
  });
});

/**
 * A parent in the namespace that opens the TUN and the UAPI socket itself and hands them to wgtsd
 * as fds 3 and 4 (WG_TUN_FD=3, WG_UAPI_FD=4), then exits, as wireguard-go's daemonising parent does.
 * With `daemonise`, wgtsd is started without -f and must pass the descriptors on to its own child.
 */
const FD_PARENT = `
import { loadNative } from ${JSON.stringify(new URL('../../src/io/native.js', import.meta.url).href)};
import { createServer } from 'node:net';
import { spawn } from 'node:child_process';
const [ifname, sock, main, daemonise] = process.argv.slice(1);
const native = loadNative();
const tun = native.tunOpen(ifname, 0);
const ifindex = native.linkIndex(tun.name);
process.umask(0o077);
const server = createServer();
server.listen(sock, () => {
  const uapiFd = server._handle.fd;
  const args = daemonise === '1' ? [main, ifname] : [main, '-f', ifname];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'ignore', daemonise === '1' ? 'pipe' : 'ignore', tun.fd, uapiFd],
    detached: true,
    env: { ...process.env, WG_TUN_FD: '3', WG_UAPI_FD: '4' },
  });
  if (daemonise === '1') {
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    child.on('exit', (code) => {
      console.log(JSON.stringify({ ifindex, code, err }));
      process.exit(0);
    });
  } else {
    child.unref();
    console.log(JSON.stringify({ ifindex, pid: child.pid }));
    process.exit(0);
  }
});
`;

describe('inherited descriptors (WG_TUN_FD, WG_UAPI_FD)', { skip }, () => {
  for (const daemonise of [false, true]) {
    test(`a parent opens the TUN and the socket and passes them as fds 3/4 (${daemonise ? 'daemonising' : '-f'})`, async () => {
      const { ifname, sock } = newIf();
      const r = await exec(
        ns,
        process.execPath,
        ['--input-type=module', '-e', FD_PARENT, ifname, sock, WGTSD_MAIN, daemonise ? '1' : '0'],
        { env: cleanEnv(), timeoutMs: 10_000 },
      );
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { ifindex: number; pid?: number; code?: number; err?: string };
      if (daemonise) assert.equal(out.code, 0, out.err);
      const pid = await daemonPid(ifname);
      if (out.pid !== undefined) assert.equal(pid, out.pid);
      // The daemon serves the inherited socket and drives the inherited TUN: no other link appeared.
      assert.match(await get(sock), /errno=0\n\n$/);
      const set = await rawExchange(sock, `set=1\nprivate_key=${'a8'.repeat(31)}6a\n\n`, {
        until: (s) => s.endsWith('\n\n'),
      });
      assert.deepEqual(errnos(set.reply), [0]);
      assert.equal(await linkIndex(ifname), out.ifindex);
      const links = await exec(ns, 'ip', ['-o', 'link', 'show']);
      assert.equal(
        links.stdout
          .trim()
          .split('\n')
          .filter((l) => !/^\d+: lo:/.test(l)).length,
        1,
        links.stdout,
      );
      const mtu = await exec(ns, 'cat', [`/sys/class/net/${ifname}/mtu`]);
      assert.equal(mtu.stdout.trim(), '1420');
      // It watches the standard socket path and removes it on SIGTERM.
      signal(pid, 'SIGTERM');
      await waitGone(pid, 3_000);
      assert.equal(existsSync(sock), false);
      assert.equal(await linkIndex(ifname), null);
    });
  }

  test("removing the inherited socket's file stops the daemon", async () => {
    const { ifname, sock } = newIf();
    const r = await exec(
      ns,
      process.execPath,
      ['--input-type=module', '-e', FD_PARENT, ifname, sock, WGTSD_MAIN, '0'],
      {
        env: cleanEnv(),
      },
    );
    assert.equal(r.code, 0, r.stderr);
    const pid = await daemonPid(ifname);
    // Once it answers, it has started (a connection waits in the inherited backlog until then).
    assert.match(await get(sock), /errno=0\n\n$/);
    await exec(null, 'rm', ['-f', sock]);
    assert.ok((await waitGone(pid, 2_000)) < 1_000);
  });
});
