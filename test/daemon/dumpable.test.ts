/**
 * wgtsd is not dumpable (issue 11 "Key material lingers"; src/daemon/harden.ts).
 *
 *   1. disableCoreDumps() in a child process: prctl(PR_GET_DUMPABLE) reads 1 before and 0 after
 *      (the native getter; /proc/PID/status has no such field). Needs only the native addon.
 *   2. A running wgtsd writes no core dump: in a namespace, with RLIMIT_CORE unlimited and a
 *      scratch working directory, SIGABRT leaves no core file, where a `sleep` started the same
 *      way (the control) leaves one. Needs root, ip, unshare, prlimit, /dev/net/tun, and a
 *      kernel core_pattern that writes files (a piped pattern skips).
 *
 * (A /proc/PID/environ refusal check was tried and dropped: this machine's kernel lets a reader
 * of the same uid and capabilities through whatever the flag says, so it could not fail.)
 * Names carry the tag `ky`.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn as spawnChild } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { loadNative } from '../../src/io/native.js';
import {
  cleanup,
  createNamespace,
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
import { announcementPath } from '../../src/uapi/extensions.js';
import { WGTSD_MAIN, cleanEnv, daemonPid, killRemembered, signal, socketOf } from '../helpers/wgtsd.js';

const HARDEN = new URL('../../src/daemon/harden.js', import.meta.url).href;
const NATIVE = new URL('../../src/io/native.js', import.meta.url).href;

let nativeWhy: string | false = false;
try {
  loadNative();
} catch (err) {
  nativeWhy = `native addon not loadable: ${(err as Error).message.slice(0, 80)}`;
}

after(async () => {
  await killRemembered();
  await cleanup();
});

// Reports the flag, turns dumps off, reports again.
const CHILD = `
const { loadNative } = await import(${JSON.stringify(NATIVE)});
const { disableCoreDumps } = await import(${JSON.stringify(HARDEN)});
const native = loadNative();
const before = native.dumpable();
const result = disableCoreDumps();
console.log(JSON.stringify({ before, result, after: native.dumpable() }));
`;

test('disableCoreDumps turns PR_SET_DUMPABLE from 1 to 0', { skip: nativeWhy }, async () => {
  const child = spawnChild(process.execPath, ['--input-type=module', '-e', CHILD], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await Promise.race([
    new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve)),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('child timed out')), 10_000).unref()),
  ]);
  const r = JSON.parse(line) as { before: number; result: string | null; after: number };
  assert.deepEqual(r, { before: 1, result: null, after: 0 });
});

function corePatternWhy(): string | false {
  const pattern = readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim();
  return pattern.startsWith('|') || pattern.includes('/')
    ? `core_pattern ${pattern} does not write into the cwd`
    : false;
}

const daemonWhy =
  nativeWhy ||
  interopSkipReason(['wgtsd'], ['unshare']) ||
  prerequisitesMissing(['ip', 'unshare', 'prlimit', 'sh']) ||
  corePatternWhy();

/** Runs `argv` in `ns` from `dir` with an unlimited core size. */
function withCores(ns: string, dir: string, argv: readonly string[]): TrackedProcess {
  return spawn(ns, 'sh', ['-c', 'cd "$0" && exec prlimit --core=unlimited -- "$@"', dir, ...argv], {
    env: cleanEnv(),
  });
}

const cores = (dir: string): string[] => readdirSync(dir).filter((f) => f.startsWith('core'));

test(
  'a running wgtsd leaves no core dump on SIGABRT, where a control process leaves one',
  { skip: daemonWhy },
  async () => {
    const ns = await createNamespace(uniqueName('ky'));
    const controlDir = mkdtempSync(join(tmpdir(), 'ky-core-control-'));
    const daemonDir = mkdtempSync(join(tmpdir(), 'ky-core-wgtsd-'));
    trackPath(controlDir);
    trackPath(daemonDir);

    const control = withCores(ns, controlDir, ['sleep', '30']);
    await waitFor(() => readFileSync(`/proc/${control.pid}/cmdline`, 'utf8').startsWith('sleep'), {
      timeoutMs: 5_000,
      intervalMs: 10,
      what: 'the control sleep',
    });
    signal(control.pid, 'SIGABRT');
    const c = await control.exited;
    assert.equal(c.signal, 'SIGABRT');
    assert.equal(cores(controlDir).length, 1, 'the control left no core: the check below could not fail');

    const ifname = uniqueIfname('k');
    trackPath(socketOf(ifname));
    trackPath(announcementPath(socketOf(ifname))); // a killed daemon cannot withdraw it
    trackLink(ns, ifname);
    const daemon = withCores(ns, daemonDir, [process.execPath, WGTSD_MAIN, '-f', ifname]);
    try {
      await waitFor(
        () => {
          if (daemon.hasExited()) throw new Error(`wgtsd exited: ${daemon.output()}`);
          return existsSync(socketOf(ifname));
        },
        { timeoutMs: 10_000, intervalMs: 20, what: `${ifname} socket` },
      );
      const pid = await daemonPid(ifname);
      assert.equal(pid, daemon.pid, 'sh and prlimit exec into the daemon');
      signal(pid, 'SIGABRT');
      const d = await daemon.exited;
      assert.equal(d.signal, 'SIGABRT');
      assert.deepEqual(cores(daemonDir), [], 'wgtsd wrote a core dump');
    } finally {
      await daemon.stop();
    }
  },
);
