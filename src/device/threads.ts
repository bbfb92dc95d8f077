/**
 * How many threads the native bulk AEAD spreads a big batch over (issue 11 "Multi-core";
 * native/crypto-pool.c): WGTS_THREADS=N sets it, else defaultThreads (the available parallelism
 * capped at THREADS_CAP); the thread gate (thread-gate.ts) wakes only as many as the machine has
 * idle CPU for. 1 is the single-thread path (everything on the JavaScript thread). Threads
 * only seal and open bytes within one synchronous call; counters, keypairs and every other
 * protocol decision stay in TypeScript, so per-peer order is the caller's index order.
 */
import { availableParallelism } from 'node:os';
import { tryLoadNative, type NativeAddon } from '../io/native.js';
import type { Logger } from './logger.js';
import { parseGate, threadGate } from './thread-gate.js';

/** The default's ceiling: past ~8 slices one batch (~45-2,900 packets) stops paying for wake-ups. */
export const THREADS_CAP = 8;
/** The most the native pool accepts (crypto-pool.h WGTS_POOL_MAX). */
export const THREADS_MAX = 64;

/**
 * The default for a machine with `cpus` usable CPUs: one thread per CPU, up to THREADS_CAP. The
 * thread gate (thread-gate.ts) wakes a worker only for CPU the machine leaves idle, so where the
 * kernel's network work needs every CPU (2 CPUs at full load: the JavaScript thread fills one,
 * UDP, TUN and TCP the other) the workers sleep rather than take it. Measured on this project's
 * 2-CPU machine before the gate, two threads against one (bench/run.mjs, 5 rounds each): one TCP
 * stream 1.01x and 0.88x, UDP delivered 0.85x and 0.89x; with the gate, two threads against one
 * (3 rounds): one stream 0.97x, 4 streams 1.09x, UDP 1.26x.
 */
export function defaultThreads(cpus: number = availableParallelism()): number {
  return Math.max(1, Math.min(THREADS_CAP, Math.floor(cpus)));
}

/**
 * WGTS_THREADS's value: a decimal integer 1..THREADS_MAX gives it, empty or unset gives null
 * (use the default), anything else gives Error (the caller logs it and uses the default).
 */
export function parseThreads(value: string | undefined): number | null | Error {
  if (value === undefined || value.trim() === '') return null;
  const s = value.trim();
  if (!/^[0-9]+$/.test(s)) return new Error(`WGTS_THREADS=${value} is not a number`);
  const n = Number(s);
  if (n < 1 || n > THREADS_MAX) return new Error(`WGTS_THREADS=${value} is outside 1..${THREADS_MAX}`);
  return n;
}

/**
 * Applies WGTS_THREADS (or the default) to the native addon, and WGTS_THREAD_GATE to the thread
 * gate (thread-gate.ts: workers only on CPUs the machine has to spare), and returns the thread
 * count in use: 1 when the addon does not load or predates setThreads. Idempotent; a bad value is
 * logged as an error.
 */
export function applyThreads(
  log?: Logger,
  env: NodeJS.ProcessEnv = process.env,
  native: NativeAddon | null = tryLoadNative(),
): number {
  if (native === null || typeof native.setThreads !== 'function') return 1;
  const parsed = parseThreads(env['WGTS_THREADS']);
  if (parsed instanceof Error) log?.error(`${parsed.message}; using ${defaultThreads()}`);
  const want = typeof parsed === 'number' ? parsed : defaultThreads();
  const gate = parseGate(env['WGTS_THREAD_GATE']);
  if (gate instanceof Error) log?.error(`${gate.message}; using on`);
  const threads = native.setThreads(want);
  threadGate.configure(native, gate !== false);
  return threads;
}

/** The thread count the native addon uses now (1 when it does not load or predates threads). */
export function currentThreads(native: NativeAddon | null = tryLoadNative()): number {
  return native?.getThreads?.() ?? 1;
}
