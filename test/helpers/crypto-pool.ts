/**
 * For tests of the crypto pool's counters and cap (test/device/thread-gate.test.ts,
 * test/metrics/crypto-metrics.test.ts): the native addon when it has poolStats, and a batch big
 * enough for two threads to share (native/limits.h WGTS_THREAD_MIN_BYTES: 256 KiB each).
 */
import { loadNative, type NativeAddon } from '../../src/io/native.js';

/** The addon with poolStats/setSpareThreads, or null (then `noPool` says why). */
export const poolNative = ((): NativeAddon | null => {
  try {
    const n = loadNative();
    return typeof n.poolStats === 'function' ? n : null;
  } catch {
    return null;
  }
})();
export const noPool = poolNative === null ? 'native addon with poolStats missing' : false;

/** Seals 800 x 1,420 bytes (~1.1 MB) in one batch; returns the worker wake-ups it caused. */
export function sealBigBatch(n: NativeAddon): number {
  const stride = 16 + 1420 + 16;
  const buffer = new Uint8Array(800 * stride);
  const offsets = new Uint32Array(800).map((_, k) => k * stride);
  const lengths = new Uint32Array(800).fill(1420);
  const before = n.poolStats!().wakes;
  n.sealBatch(new Uint8Array(32).fill(7), 1, 0n, buffer, offsets, lengths, 0, 800);
  return n.poolStats!().wakes - before;
}
