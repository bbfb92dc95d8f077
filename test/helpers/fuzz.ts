/**
 * Helpers for the protocol fuzz and mutation tests (DESIGN.md habits 3 and 4: bad network input is
 * a `drop`, never an exception, and never a state change). A seeded PRNG so every run is
 * reproducible from its seed, a RandomSource built on it for the tunnels, little-endian field
 * accessors for the wire formats (whitepaper section 5.4), the datagram mutation operators, and
 * the X25519 low-order points (the published list of points of small order on Curve25519 and
 * their non-canonical encodings, as libsodium and the kernel's curve25519 selftest enumerate
 * them). Not for cryptography: test/ only.
 */
import type { RandomSource } from '../../src/protocol/cookie.js';

/** xoshiro128** seeded through SplitMix32: fast, 2^128 − 1 period, good enough for test inputs. */
export class Prng {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  constructor(seed: number) {
    let x = seed | 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) | 0;
    };
    this.#s0 = next();
    this.#s1 = next();
    this.#s2 = next();
    this.#s3 = next();
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1;
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.#s1, 5), 7), 9);
    const t = this.#s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return result >>> 0;
  }

  /** An integer in [0, n), n ≤ 2^32 (modulo bias is irrelevant here). */
  below(n: number): number {
    return this.u32() % n;
  }

  /** An integer in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.u32() < p * 0x1_0000_0000;
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    let i = 0;
    for (; i + 4 <= length; i += 4) {
      const r = this.u32();
      out[i] = r;
      out[i + 1] = r >>> 8;
      out[i + 2] = r >>> 16;
      out[i + 3] = r >>> 24;
    }
    for (; i < length; i++) out[i] = this.u32();
    return out;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }

  /** Picks by weight: `entries` are [weight, value]. */
  weighted<T>(entries: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of entries) total += w;
    let r = this.below(total);
    for (const [w, v] of entries) {
      if (r < w) return v;
      r -= w;
    }
    return entries[entries.length - 1]![1];
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A deterministic RandomSource (as the tunnels take) drawing from `prng`. */
export function randomSourceFrom(prng: Prng): RandomSource {
  return (length: number) => prng.bytes(length);
}

// ---- little-endian fields ------------------------------------------------------------------------

export function readU32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}

export function readU64(b: Uint8Array, off: number): bigint {
  return (BigInt(readU32(b, off + 4)) << 32n) | BigInt(readU32(b, off));
}

export function writeU64(b: Uint8Array, off: number, v: bigint): void {
  writeU32(b, off, Number(v & 0xffffffffn));
  writeU32(b, off + 4, Number((v >> 32n) & 0xffffffffn));
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
}

export function fromHex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'hex'));
}

/** Whether `a[from, to)` equals `b[from, to)` (both at least `to` long). */
export function rangeEqual(a: Uint8Array, b: Uint8Array, from: number, to: number): boolean {
  if (a.length < to || b.length < to) return false;
  for (let i = from; i < to; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && rangeEqual(a, b, 0, a.length);
}

// ---- mutation operators (each returns a new array that differs from its input) ------------------

/** Flips `count` random bits (distinct positions are not guaranteed; an even overlap is re-flipped). */
export function flipBits(prng: Prng, d: Uint8Array, count: number): Uint8Array {
  const out = Uint8Array.from(d);
  if (out.length === 0) return out;
  for (let i = 0; i < count; i++) {
    const bit = prng.below(out.length * 8);
    out[bit >>> 3] ^= 1 << (bit & 7);
  }
  if (bytesEqual(out, d)) out[0] ^= 1;
  return out;
}

/** Replaces `count` random bytes with different values. */
export function substituteBytes(
  prng: Prng,
  d: Uint8Array,
  count: number,
  from = 0,
  to = d.length,
): Uint8Array {
  const out = Uint8Array.from(d);
  if (to <= from) return out;
  for (let i = 0; i < count; i++) {
    const at = from + prng.below(to - from);
    out[at] = (out[at]! + 1 + prng.below(255)) & 0xff;
  }
  return out;
}

/** A strict prefix of random length. */
export function truncate(prng: Prng, d: Uint8Array): Uint8Array {
  return d.subarray(0, d.length === 0 ? 0 : prng.below(d.length)).slice();
}

/** Appends 1..max bytes (random, or zeros: padding-like extensions are a classic parser trap). */
export function extend(prng: Prng, d: Uint8Array, max: number): Uint8Array {
  const extra = prng.between(1, max);
  const out = new Uint8Array(d.length + extra);
  out.set(d);
  if (prng.chance(0.5)) out.set(prng.bytes(extra), d.length);
  return out;
}

/** `length` random bytes. */
export function garbage(prng: Prng, length: number): Uint8Array {
  return prng.bytes(length);
}

/**
 * The X25519 points of small order (orders 1, 2, 4 and 8), in canonical and non-canonical
 * encodings, including the ones with the (ignored) top bit set. DH with any of them is all zeros.
 */
export const LOW_ORDER_POINTS: readonly Uint8Array[] = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '0100000000000000000000000000000000000000000000000000000000000080',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
].map(fromHex);
