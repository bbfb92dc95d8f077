/**
 * The transport crypto's thread pool, one per process (native/crypto-pool.c, steered by
 * src/device/thread-gate.ts): how many threads it may use, how many workers the thread gate lets
 * a batch wake now, and the workers' wake-ups and busy seconds. What tells an operator whether
 * WGTS_THREADS buys anything on this machine: workers that are never woken, or a spare count of
 * 0 under load, mean the machine has no idle CPU for them. Left out where the addon does not
 * load or predates the pool's counters.
 */
import { tryLoadNative, type NativeAddon } from '../io/native.js';
import type { Exposition } from './text-format.js';

export function writeCryptoMetrics(out: Exposition, native: NativeAddon | null = tryLoadNative()): void {
  const stats = native?.poolStats?.();
  if (stats === undefined) return;
  out.single(
    'wgts_crypto_threads',
    'gauge',
    'Threads that may seal and open one big batch (WGTS_THREADS), the calling thread included',
    '',
    stats.threads,
  );
  out.single(
    'wgts_crypto_spare_threads',
    'gauge',
    'Workers the thread gate lets one batch wake now (idle CPU the machine has for them)',
    '',
    Math.min(stats.spare, stats.threads - 1),
  );
  out.single(
    'wgts_crypto_worker_wakes_total',
    'counter',
    'Crypto worker wake-ups sent for big batches',
    '',
    stats.wakes,
  );
  out.single(
    'wgts_crypto_worker_seconds_total',
    'counter',
    'Time crypto workers spent sealing and opening batches',
    '',
    stats.busyUs / 1e6,
  );
}
