/**
 * TAI64N timestamps (whitepaper section 5.1, cr.yp.to/libtai/tai64.html): 8 bytes big-endian of
 * 2^62 + 10 + unix seconds, then 4 bytes big-endian nanoseconds. The initiation carries one so a
 * responder can refuse replays: a timestamp must be strictly greater than the last accepted one.
 * Nanoseconds are rounded down to a power of two below 1 s / 50 (the kernel's whitening), so the
 * timestamp does not leak fine-grained clock readings, while still increasing at the
 * 50-initiations-per-second limit.
 */
import { INITIATIONS_PER_SECOND, TIMESTAMP_LENGTH } from '../constants.js';

const TAI64_EPOCH_OFFSET = (1n << 62n) + 10n;
// Largest power of two not above 1e9 / 50 = 20,000,000 ns: 2^24 = 16,777,216.
const WHITEN_GRANULE = 2 ** Math.floor(Math.log2(1e9 / INITIATIONS_PER_SECOND));

/** Encodes unix time given as whole seconds and nanoseconds; nanoseconds are whitened. */
export function tai64n(unixSeconds: bigint, nanoseconds: number): Uint8Array {
  if (nanoseconds < 0 || nanoseconds >= 1e9 || !Number.isInteger(nanoseconds)) {
    throw new RangeError('nanoseconds must be an integer in [0, 1e9)');
  }
  const out = new Uint8Array(TIMESTAMP_LENGTH);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, TAI64_EPOCH_OFFSET + unixSeconds, false);
  view.setUint32(8, nanoseconds - (nanoseconds % WHITEN_GRANULE), false);
  return out;
}

/** A TAI64N label for a wall-clock reading in milliseconds since the unix epoch (Date.now()). */
export function tai64nFromMillis(unixMillis: number): Uint8Array {
  const ms = Math.floor(unixMillis);
  const seconds = Math.floor(ms / 1000);
  return tai64n(BigInt(seconds), (ms - seconds * 1000) * 1e6);
}

/** Decodes to unix seconds and nanoseconds (for diagnostics and tests). */
export function decodeTai64n(stamp: Uint8Array): { unixSeconds: bigint; nanoseconds: number } {
  if (stamp.length !== TIMESTAMP_LENGTH) throw new TypeError(`TAI64N is ${TIMESTAMP_LENGTH} bytes`);
  const view = new DataView(stamp.buffer, stamp.byteOffset, stamp.length);
  return {
    unixSeconds: view.getBigUint64(0, false) - TAI64_EPOCH_OFFSET,
    nanoseconds: view.getUint32(8, false),
  };
}

/** True when `a` is strictly later than `b` (big-endian byte order is time order). */
export function tai64nAfter(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < TIMESTAMP_LENGTH; i++) {
    if (a[i] !== b[i]) return a[i]! > b[i]!;
  }
  return false;
}
