/**
 * Shared pieces of the hostile-input tests: running the adversary in a namespace, counting what a
 * tcpdump saw, reading wgtsd's WGTS_STATS lines and its RSS.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { exec, spawn, type TrackedProcess } from '../helpers/netns.js';
import type { DeviceStats } from '../../src/device/device.js';
import type { AdversaryReport } from './adversary.js';

export const ADVERSARY = fileURLToPath(new URL('./adversary.js', import.meta.url));

/** Runs the adversary in `ns` with `args` (bounded by its own caps, and by `timeoutMs` here). */
export async function adversary(
  ns: string,
  mode: string,
  args: readonly string[],
  timeoutMs = 40_000,
): Promise<AdversaryReport> {
  const r = await exec(ns, process.execPath, [ADVERSARY, mode, ...args], { timeoutMs });
  if (r.code !== 0) throw new Error(`adversary ${mode} exited ${r.code ?? r.signal}: ${r.stderr}`);
  return JSON.parse(r.stdout) as AdversaryReport;
}

/** A tcpdump in `ns` on `dev` with a BPF `filter`; `stop()` returns the number of packets captured. */
export interface Capture {
  readonly proc: TrackedProcess;
  stop(): Promise<number>;
}

export async function startCapture(
  ns: string,
  dev: string,
  filter: string,
  write?: string,
): Promise<Capture> {
  const args = ['-i', dev, '-nn', '-l', ...(write ? ['-w', write, '-U'] : []), filter];
  const proc = spawn(ns, 'tcpdump', args);
  await proc.waitForOutput(/listening on/, 5_000);
  return {
    proc,
    async stop(): Promise<number> {
      await proc.stop({ signal: 'SIGINT' });
      const m = /(\d+) packets? captured/.exec(proc.output());
      if (!m) throw new Error(`tcpdump: ${proc.output()}`);
      return Number(m[1]);
    },
  };
}

export type StatsLine = DeviceStats & {
  readonly seq: number;
  readonly queueLength: number;
  readonly rss: number;
};

/** Every `STATS:` line wgtsd printed so far (WGTS_STATS=1), oldest first. */
export function statsLines(output: string): StatsLine[] {
  const out: StatsLine[] = [];
  for (const line of output.split('\n')) {
    const i = line.indexOf('STATS: ');
    if (i >= 0) {
      try {
        out.push(JSON.parse(line.slice(i + 7)) as StatsLine);
      } catch {
        // a line cut by the log buffer
      }
    }
  }
  return out;
}

/** The newest `STATS:` line, or null before the first. */
export function lastStats(output: string): StatsLine | null {
  const all = statsLines(output);
  return all.length > 0 ? all[all.length - 1]! : null;
}

/** VmRSS of `pid` in KiB. */
export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** Runs iperf3 -c in `ns` against `server` for `seconds`; returns received Mbit/s. */
export async function iperf(ns: string, server: string, seconds: number): Promise<number> {
  const r = await exec(
    ns,
    'iperf3',
    ['-c', server, '-t', String(seconds), '-J', '--connect-timeout', '3000'],
    {
      timeoutMs: (seconds + 10) * 1000,
    },
  );
  if (r.code !== 0) {
    throw new Error(
      `iperf3: exit ${r.code ?? r.signal} after ${r.durationMs} ms: ${r.stdout.slice(0, 800)} ${r.stderr}`,
    );
  }
  const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
  return Math.round(j.end.sum_received.bits_per_second / 1e5) / 10;
}
