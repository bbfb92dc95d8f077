/**
 * The thread gate (issue 11 "Multi-core": the two-namespace benchmark must not regress with
 * threads on): a batch's AEAD wakes only as many crypto workers as the machine has CPUs to spare.
 *
 * Why: a crypto worker only pays when it runs on a CPU that would otherwise idle. On a machine
 * with no idle CPU (2 CPUs at full load: the JavaScript thread fills one, the kernel's UDP, TUN
 * and TCP work the other) a worker takes its CPU from the kernel work the tunnel also waits for,
 * and the wake-ups cost more than the slices save. So while batches flow, every SAMPLE_MS the
 * gate reads how much CPU the machine left idle (/proc/stat, idle + iowait) and how much the
 * pool's workers used (native poolStats: they would give that back), and lets the native pool
 * wake spareThreads() of them per batch (native setSpareThreads). Nothing runs while the tunnel
 * is idle or lightly used: the gate samples only from the tick() of a batch big enough to be
 * spread.
 *
 * WGTS_THREAD_GATE=off turns it off (every thread of WGTS_THREADS is used for a big batch), for
 * tests that must see slices, and for machines where /proc/stat does not show this process's
 * CPUs (a cpuset smaller than the host).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { NativeAddon, PoolStats } from '../io/native.js';

/** How often the gate re-decides while batches flow (ms): /proc/stat counts in 10 ms ticks. */
export const SAMPLE_MS = 200;
/** A worker is worth waking when it gets at least this share of a CPU that would otherwise idle. */
export const WORKER_MIN_CPU = 0.7;
/**
 * The fewest datagrams a batch that two threads share can hold: native/limits.h spreads a batch
 * only when each thread gets WGTS_THREAD_MIN_BYTES (256 KiB), and a datagram carries at most
 * 65,535 bytes. Smaller batches (an idle ping's batch of one) never tick the gate, so no sample
 * lands on the latency path.
 */
export const MIN_SPREAD_PACKETS = Math.ceil((2 * 262_144) / 65_535);
/** /proc/stat's unit (USER_HZ): ticks per second on every Linux architecture Node runs on. */
const USER_HZ = 100;

/**
 * How many workers a batch may wake: the CPUs the machine left idle plus those the workers used,
 * less what one worker needs to pay (WORKER_MIN_CPU), within 0..threads - 1.
 */
export function spareThreads(idleCpus: number, workerCpus: number, threads: number): number {
  const free = Math.max(0, idleCpus) + Math.max(0, workerCpus);
  const spare = Math.floor(free + 1 - WORKER_MIN_CPU);
  return Math.max(0, Math.min(threads - 1, spare));
}

/** The idle (idle + iowait) and all ticks of /proc/stat's first line, or null if it is not one. */
export function parseProcStat(text: string): { idle: number; total: number } | null {
  const line = text.slice(0, text.indexOf('\n') >>> 0);
  const m = /^cpu\s+((?:\d+\s*){4,})/.exec(line);
  if (m === null) return null;
  const f = m[1]!.trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is inside user already).
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { idle: f[3]! + (f[4] ?? 0), total };
}

/** WGTS_THREAD_GATE's value: true (on: unset, empty or "on"), false ("off"), or an Error. */
export function parseGate(value: string | undefined): boolean | Error {
  const v = value?.trim() ?? '';
  if (v === '' || v === 'on') return true;
  if (v === 'off') return false;
  return new Error(`WGTS_THREAD_GATE=${value} is neither on nor off`);
}

/**
 * The machine's idle ticks from /proc/stat. Opened for each read (three system calls every
 * SAMPLE_MS under load) rather than kept open: a daemon's descriptors are all accounted for.
 */
function readIdleTicks(): number | null {
  let fd: number | null = null;
  try {
    fd = openSync('/proc/stat', 'r');
    const buf = Buffer.alloc(512); // the first line, "cpu  user nice system idle ...", fits
    const n = readSync(fd, buf, 0, buf.length, 0);
    return parseProcStat(buf.toString('latin1', 0, n))?.idle ?? null;
  } catch {
    return null;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

interface Sample {
  readonly at: number; // ms, the clock's
  readonly idleTicks: number;
  readonly busyUs: number;
}

export interface GateSources {
  /** The machine's idle ticks (USER_HZ) so far, or null when unknown. */
  readonly idleTicks: () => number | null;
  /** Milliseconds on a monotonic clock. */
  readonly now: () => number;
}

/** One per process, like the native pool it steers (threadGate below). */
export class ThreadGate {
  #native: NativeAddon | null = null;
  #last: Sample | null = null;
  #next = 0;
  #sources: GateSources;

  constructor(sources: GateSources = { idleTicks: readIdleTicks, now: () => performance.now() }) {
    this.#sources = sources;
  }

  /**
   * Steers `native`'s pool (null, or `on` false: stops steering and lifts the cap). Called when
   * the thread count is applied (threads.ts applyThreads).
   */
  configure(native: NativeAddon | null, on: boolean): void {
    const usable =
      native !== null && typeof native.setSpareThreads === 'function' && native.poolStats !== undefined;
    if (usable && !on) native.setSpareThreads!(63);
    this.#native = usable && on ? native : null;
    this.#last = null;
    this.#next = 0;
  }

  /**
   * From each batch of `count` datagrams before its AEAD: re-decides at most every SAMPLE_MS, and
   * only for a batch that could be spread at all; cheap otherwise.
   */
  tick(count: number): void {
    if (this.#native === null || count < MIN_SPREAD_PACKETS) return;
    const now = this.#sources.now();
    if (now < this.#next) return;
    this.#next = now + SAMPLE_MS;
    this.#sample(now, this.#native);
  }

  #sample(now: number, native: NativeAddon): void {
    const stats: PoolStats = native.poolStats!();
    if (stats.threads <= 1) return; // nothing to gate; the cap stays as it is
    const idleTicks = this.#sources.idleTicks();
    const last = this.#last;
    this.#last = idleTicks === null ? null : { at: now, idleTicks, busyUs: stats.busyUs };
    if (idleTicks === null || last === null || now <= last.at) return;
    const seconds = (now - last.at) / 1000;
    const idleCpus = (idleTicks - last.idleTicks) / USER_HZ / seconds;
    const workerCpus = (stats.busyUs - last.busyUs) / 1e6 / seconds;
    const spare = spareThreads(idleCpus, workerCpus, stats.threads);
    if (spare !== stats.spare) native.setSpareThreads!(spare);
  }
}

/** The process's gate (the native pool is one per process too). */
export const threadGate = new ThreadGate();
