/**
 * wgtsd as a process, for test/daemon: a clean environment (no inherited LOG_LEVEL or WG_*), the
 * daemon processes serving an interface found by pid through /proc (a daemonised wgtsd is not our
 * child), their session and parent, bounded waits for them to exit, and kills by pid. Daemons
 * found here are remembered and `killRemembered()` stops whatever of them still runs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './netns.js';
import { UAPI_DIR, WGTSD_MAIN } from './wg-peer.js';

export { WGTSD_MAIN };

/** This process's environment without LOG_LEVEL and the WG_* variables, plus `extra`. */
export function cleanEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'LOG_LEVEL' || k.startsWith('WG_') || k === 'WGTSD_READY_FD') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export function socketOf(ifname: string): string {
  return join(UAPI_DIR, `${ifname}.sock`);
}

const remembered = new Set<number>();

/** Pids of wgtsd processes whose command line ends with `ifname` (the daemon and any parent). */
export function daemonPids(ifname: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8')
        .split('\0')
        .filter((x) => x !== '');
    } catch {
      continue;
    }
    if (argv.includes(WGTSD_MAIN) && argv[argv.length - 1] === ifname) pids.push(Number(entry));
  }
  for (const pid of pids) remembered.add(pid);
  return pids;
}

/** The one daemon for `ifname`, waiting (bounded) for it to appear. */
export async function daemonPid(ifname: string, timeoutMs = 3_000): Promise<number> {
  return waitFor(
    () => {
      const pids = daemonPids(ifname);
      return pids.length === 1 ? pids[0]! : null;
    },
    { timeoutMs, intervalMs: 20, what: `one wgtsd process for ${ifname}` },
  );
}

export interface ProcStat {
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
  readonly session: number;
}

/** Fields of /proc/PID/stat, or null when the process is gone (or a zombie). */
export function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  if (f[0] === 'Z' || f[0] === 'X') return null;
  return { state: f[0]!, ppid: Number(f[1]), pgrp: Number(f[2]), session: Number(f[3]) };
}

export function alive(pid: number): boolean {
  return procStat(pid) !== null;
}

/** Waits (bounded) until `pid` is gone; returns how long it took. */
export async function waitGone(pid: number, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  await waitFor(() => !alive(pid), { timeoutMs, intervalMs: 10, what: `pid ${pid} to exit` });
  return Date.now() - t0;
}

/** Sends `signal` to `pid` if it still runs. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone
  }
}

/** SIGKILLs every remembered daemon that still runs (by pid). */
export async function killRemembered(): Promise<void> {
  for (const pid of remembered) {
    if (alive(pid)) {
      signal(pid, 'SIGKILL');
      try {
        await waitGone(pid, 2_000);
      } catch {
        // nothing more to do
      }
    }
  }
  remembered.clear();
}

/** Remembers a pid found some other way (e.g. printed by a helper) for killRemembered. */
export function remember(pid: number): void {
  remembered.add(pid);
}
