/**
 * How many threads the native bulk AEAD spreads a big batch over (issue 11 "Multi-core";
 * native/crypto-pool.c): WGTS_THREADS=N sets it, else defaultThreads (one thread on up to 2 CPUs,
 * else the available parallelism capped at THREADS_CAP). 1 is the single-thread path (everything on the JavaScript thread). Threads
 * only seal and open bytes within one synchronous call; counters, keypairs and every other
 * protocol decision stay in TypeScript, so per-peer order is the caller's index order.
 */
import { availableParallelism } from 'node:os';
import { tryLoadNative, type NativeAddon } from '../io/native.js';
import type { Logger } from './logger.js';

/** The default's ceiling: past ~8 slices one batch (~45-2,900 packets) stops paying for wake-ups. */
export const THREADS_CAP = 8;
/** The most the native pool accepts (crypto-pool.h WGTS_POOL_MAX). */
export const THREADS_MAX = 64;

/**
 * The default for a machine with `cpus` usable CPUs: one thread up to 2 CPUs, else the CPU count
 * up to THREADS_CAP. At full load a 2-CPU machine has no CPU to spare for a crypto worker: the
 * JavaScript thread fills one and the kernel's UDP, TUN and TCP work the other. Measured on this
 * project's 2-CPU machine (bench/run.mjs, two runs of 5 rounds, two threads against one): one TCP
 * stream 1.01x and 0.88x, UDP delivered 0.85x and 0.89x.
 */
export function defaultThreads(cpus: number = availableParallelism()): number {
  const n = Math.floor(cpus);
  return n <= 2 ? 1 : Math.min(THREADS_CAP, n);
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
 * Applies WGTS_THREADS (or the default) to the native addon and returns the thread count in use:
 * 1 when the addon does not load or predates setThreads. Idempotent; a bad value is logged as
 * an error.
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
  return native.setThreads(want);
}

/** The thread count the native addon uses now (1 when it does not load or predates threads). */
export function currentThreads(native: NativeAddon | null = tryLoadNative()): number {
  return native?.getThreads?.() ?? 1;
}
