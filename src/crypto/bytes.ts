/**
 * Byte helpers every secret-handling path needs (DESIGN.md habit 6): constant-time comparison,
 * wiping, an all-zero test that does not branch on the data, and strict hex.
 */
import { timingSafeEqual } from 'node:crypto';

/** Constant-time equality for equal-length inputs; different lengths are unequal (length is public). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

/** True when every byte is zero, in time independent of the contents. */
export function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < bytes.length; i++) acc |= bytes[i]!;
  return acc === 0;
}

/** Overwrites key material that is no longer needed. */
export function wipe(...buffers: readonly (Uint8Array | null | undefined)[]): void {
  for (const b of buffers) b?.fill(0);
}

const HEX_RE = /^(?:[0-9a-f]{2})*$/;

/** Lowercase hex only, even length; null otherwise (Buffer.from(s, 'hex') silently truncates). */
export function parseHex(text: string): Uint8Array | null {
  if (!HEX_RE.test(text)) return null;
  return new Uint8Array(Buffer.from(text, 'hex'));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/** Concatenates byte arrays into one new array. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
