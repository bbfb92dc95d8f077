/**
 * Byte helpers every secret-handling path needs (DESIGN.md habit 6): constant-time comparison,
 * wiping, an all-zero test that does not branch on the data, and strict hex; plus BytePool, which
 * carves the many small, long-lived public byte strings of a large device (peer public keys,
 * endpoint and prefix addresses) out of shared chunks.
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

/**
 * A zeroed array for a secret, on its own ArrayBuffer. V8 keeps a small `new Uint8Array(n)` (up
 * to 64 bytes) inside the JavaScript heap, and its garbage collector moves such objects, leaving
 * the old bytes behind where no wipe reaches them; an ArrayBuffer's store lives outside the heap
 * and never moves, so wiping it wipes the only copy.
 */
export function secretBytes(length: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(length));
}

/** A copy of `bytes` in a `secretBytes` array (for keys a caller hands over and may reuse). */
export function secretCopy(bytes: Uint8Array): Uint8Array {
  const out = secretBytes(bytes.length);
  out.set(bytes);
  return out;
}

/** Value of a lowercase hex digit by char code (-1 for anything else, uppercase included). */
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) HEX_VALUE['0123456789abcdef'.charCodeAt(i)] = i;

/**
 * Decodes `text` (lowercase hex, even length) into `out` at `at`; false, with `out` possibly
 * partly written, on anything else. No regex and no intermediate Buffer: the UAPI decodes two
 * keys per peer, 200,000 for a large `wg setconf`.
 */
export function decodeHexInto(text: string, out: Uint8Array, at = 0): boolean {
  const n = text.length;
  if ((n & 1) !== 0 || at + n / 2 > out.length) return false;
  for (let i = 0, j = at; i < n; i += 2, j++) {
    const c0 = text.charCodeAt(i);
    const c1 = text.charCodeAt(i + 1);
    // Char codes past the table (non-ASCII) are no hex digit; reading them would give undefined.
    const hi = c0 < 128 ? HEX_VALUE[c0]! : -1;
    const lo = c1 < 128 ? HEX_VALUE[c1]! : -1;
    if ((hi | lo) < 0) return false;
    out[j] = (hi << 4) | lo;
  }
  return true;
}

/** Lowercase hex only, even length; null otherwise (Buffer.from(s, 'hex') silently truncates). */
export function parseHex(text: string): Uint8Array | null {
  if ((text.length & 1) !== 0) return null;
  const out = new Uint8Array(text.length / 2);
  return decodeHexInto(text, out) ? out : null;
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

/** Bytes per BytePool chunk (Node's Buffer.poolSize). */
const POOL_CHUNK = 8 * 1024;

/**
 * Small byte arrays as views into shared 8 KiB chunks, the way Node pools small Buffers (but
 * plain Uint8Arrays, which compare and print like any other). A standalone Uint8Array of 4 to 32
 * bytes costs about 230 bytes of V8 heap (the typed array, its ArrayBuffer and the backing store);
 * a view into a chunk costs about 90. With a 100,000-peer device holding a public key and an
 * endpoint address per peer, and the UAPI parsing keys, addresses and prefixes for each, that is
 * the difference between a third and a tenth of the per-peer footprint. A chunk lives as long as
 * any view into it, so only public, long-lived or short-lived-together data belongs here: never
 * secrets (a wiped key must not share memory whose lifetime others decide).
 */
export class BytePool {
  #chunk = new ArrayBuffer(0);
  #used = 0;

  /** `length` zero bytes (length at most a chunk). */
  alloc(length: number): Uint8Array {
    if (!Number.isInteger(length) || length < 0 || length > POOL_CHUNK) {
      throw new RangeError(`BytePool allocates 0..${POOL_CHUNK} bytes, got ${length}`);
    }
    if (this.#used + length > this.#chunk.byteLength) {
      this.#chunk = new ArrayBuffer(POOL_CHUNK);
      this.#used = 0;
    }
    const view = new Uint8Array(this.#chunk, this.#used, length);
    // Keep views 8-byte aligned, as Node's pool does: a neighbour's bytes never share a word.
    this.#used = (this.#used + length + 7) & ~7;
    return view;
  }

  /** A pooled copy of `bytes`. */
  copy(bytes: Uint8Array): Uint8Array {
    const view = this.alloc(bytes.length);
    view.set(bytes);
    return view;
  }
}
