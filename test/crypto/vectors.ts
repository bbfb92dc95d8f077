/**
 * Loading of the vector files in test/vectors (see its README for where each comes from). The
 * compiled tests run from dist/test/crypto/, so the path climbs back to the repository's
 * test/vectors/. Hex in a vector file is decoded strictly: a typo in a vector must fail loudly,
 * not be truncated the way Buffer.from(s, 'hex') would.
 */
import { readFileSync } from 'node:fs';

export function loadVectors<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../../../test/vectors/${name}`, import.meta.url), 'utf8')) as T;
}

/** Lowercase hex, even length, or it throws. */
export function unhex(text: string): Uint8Array {
  if (!/^(?:[0-9a-f]{2})*$/.test(text)) throw new Error(`bad hex in a vector: ${text.slice(0, 40)}`);
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

export function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/** A copy of `bytes` with one bit flipped. */
export function flipBit(bytes: Uint8Array, byteIndex: number, bit = 0): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[byteIndex] ^= 1 << bit;
  return out;
}
