/**
 * Where a daemonised wgtsd logs (src/daemon/log-sink.ts): the file named by WGTS_LOG_FILE or
 * `--log-file`, else syslog through a `logger` child. Nothing reaches the terminal that started
 * it. The syslog case runs the daemon in a private mount namespace whose /dev is a tmpfs holding
 * only the TUN, /dev/null and a /dev/log bound to a stream socket this test listens on (util-linux
 * logger falls back to a stream socket), so the host's syslog is never touched; killing the
 * logger child must leave the daemon serving, and a new one takes over.
 *
 * Needs root, /dev/net/tun, ip, wg, unshare, mount and logger; skips otherwise. Namespace lg-d,
 * interfaces lgwg2..lgwg4, all removed by name.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanup, createNamespace, deleteNamespace, exec, execOk, spawn, waitFor } from '../helpers/netns.js';
import { genKeyPair, interopSkipReason, writeSecretFile } from '../helpers/wg-peer.js';
import { errnos, rawExchange } from '../uapi/helpers.js';
import {
  WGTSD_MAIN,
  alive,
  cleanEnv,
  daemonPid,
  killRemembered,
  signal,
  socketOf,
  waitGone,
} from '../helpers/wgtsd.js';

const skip = interopSkipReason(['wgtsd'], ['unshare', 'mount', 'logger', 'wg']);
const NS = 'lg-d';
let dir = '';

before(async () => {
  if (skip) return;
  await exec(null, 'ip', ['netns', 'del', NS]); // a killed run's leftovers
  await createNamespace(NS);
  dir = mkdtempSync(join(tmpdir(), 'lg-logs-'));
});

afterEach(async () => {
  await killRemembered();
});

after(async () => {
  if (skip) return;
  await deleteNamespace(NS).catch(() => {});
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `wgtsd ARGS` daemonised in NS; returns the daemon's pid once the parent exited 0, silent. */
async function daemonised(
  args: readonly string[],
  env: Record<string, string>,
  ifname: string,
): Promise<number> {
  const parent = spawn(NS, process.execPath, [WGTSD_MAIN, ...args], { env: cleanEnv(env) });
  const exit = await parent.exited;
  assert.equal(exit.code, 0, parent.output());
  assert.equal(parent.output(), '', 'the daemon writes nothing to the terminal that started it');
  return daemonPid(ifname);
}

async function stop(pid: number): Promise<void> {
  signal(pid, 'SIGTERM');
  await waitGone(pid, 5_000);
}

const waitText = (read: () => string, pattern: RegExp, what: string): Promise<unknown> =>
  waitFor(() => pattern.test(read()), { timeoutMs: 10_000, what }).catch((err: Error) => {
    throw new Error(`${err.message}\n--- got ---\n${read()}`);
  });

test(
  'WGTS_LOG_FILE: a daemonised wgtsd logs its verbose lines to the file, and no key',
  { skip },
  async () => {
    const file = join(dir, 'env.log');
    const pid = await daemonised(['lgwg2'], { LOG_LEVEL: 'verbose', WGTS_LOG_FILE: file }, 'lgwg2');
    const read = (): string => (existsSync(file) ? readFileSync(file, 'utf8') : '');
    await waitText(read, /^DEBUG: \(lgwg2\) [\d-]+ [\d:]+ device started/m, 'device started in the file');
    const keys = await genKeyPair();
    const peer = await genKeyPair();
    await execOk(NS, 'wg', [
      'set',
      'lgwg2',
      'private-key',
      writeSecretFile(keys.privateKey),
      'peer',
      peer.publicKey,
    ]);
    await waitText(read, /UAPI: updating private key\n.*peer\(\S{4}…\S{4}\) created$/m, 'UAPI lines');
    await stop(pid);
    assert.match(read(), /shutting down: SIGTERM/);
    assert.ok(!read().includes(keys.privateKey), 'the private key is never logged');
  },
);

test('--log-file PATH with LOG_LEVEL unset: errors only, in the file', { skip }, async () => {
  const file = join(dir, 'arg.log');
  const pid = await daemonised(['--log-file', file, 'lgwg3'], {}, 'lgwg3');
  const bad = await rawExchange(socketOf('lgwg3'), 'set=1\nbogus=1\n\n', {
    until: (s) => s.endsWith('\n\n'),
  });
  assert.deepEqual(errnos(bad.reply), [-22]);
  const read = (): string => (existsSync(file) ? readFileSync(file, 'utf8') : '');
  await waitText(read, /^ERROR: \(lgwg3\) .*bogus/m, 'the error line');
  await stop(pid);
  assert.doesNotMatch(read(), /DEBUG/);
});

/** A stream socket standing in for /dev/log: everything received, as text. */
async function fakeSyslog(path: string): Promise<{ server: Server; text: () => string }> {
  let text = '';
  const server = createServer((c) => c.on('data', (d: Buffer) => (text += d.toString('utf8'))));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, resolve);
  });
  return { server, text: () => text };
}

/** Pids of `pid`'s children. */
function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .split(' ')
      .filter((x) => x !== '')
      .map(Number);
  } catch {
    return [];
  }
}

test(
  'daemonised without a log file: syslog through logger, priorities kept; a killed logger is replaced',
  { skip },
  async () => {
    const sock = join(dir, 'log.sock');
    const syslog = await fakeSyslog(sock);
    try {
      // A private /dev in a private mount namespace: /dev/log is our socket, the host's is untouched.
      const old = join(dir, 'olddev');
      const script = [
        'set -e',
        `mkdir -p ${old}`,
        `mount --rbind /dev ${old}`,
        'mount -t tmpfs lgdev /dev',
        'mkdir /dev/net',
        'touch /dev/net/tun /dev/null /dev/log',
        `mount --bind ${old}/net/tun /dev/net/tun`,
        `mount --bind ${old}/null /dev/null`,
        `mount --bind ${sock} /dev/log`,
        `exec ip netns exec ${NS} "$0" "$1" lgwg4`,
      ].join('\n');
      const parent = spawn(
        null,
        'unshare',
        ['-m', '--propagation', 'private', 'sh', '-c', script, process.execPath, WGTSD_MAIN],
        {
          env: cleanEnv({ LOG_LEVEL: 'verbose' }),
        },
      );
      assert.equal((await parent.exited).code, 0, parent.output());
      const pid = await daemonPid('lgwg4');
      await waitText(
        syslog.text,
        new RegExp(`^<30>.* wgtsd\\[${pid}\\]: DEBUG: \\(lgwg4\\) device started`, 'm'),
        'device started at daemon.info',
      );
      assert.doesNotMatch(syslog.text(), /\(lgwg4\) \d{4}-/, 'syslog stamps lines itself');
      const badRequest = async (): Promise<void> => {
        const bad = await rawExchange(socketOf('lgwg4'), 'set=1\nbogus=1\n\n', {
          until: (s) => s.endsWith('\n\n'),
        });
        assert.deepEqual(errnos(bad.reply), [-22]);
      };
      await badRequest();
      await waitText(
        syslog.text,
        new RegExp(`^<27>.* wgtsd\\[${pid}\\]: ERROR: \\(lgwg4\\) .*bogus`, 'm'),
        'an error at daemon.err',
      );

      // Kill the logger: the daemon keeps serving, and within RESPAWN_MS a new logger carries lines.
      const loggers = children(pid);
      assert.equal(loggers.length, 1, `one logger child: ${loggers.join(' ')}`);
      const before = syslog.text().length;
      signal(loggers[0]!, 'SIGKILL');
      await waitFor(
        async () => {
          await badRequest();
          return syslog.text().slice(before).includes('bogus');
        },
        { timeoutMs: 15_000, intervalMs: 250, what: 'a line through a new logger' },
      );
      assert.ok(alive(pid));
      assert.notDeepEqual(children(pid), loggers);
      await stop(pid);
    } finally {
      syslog.server.close();
    }
  },
);
