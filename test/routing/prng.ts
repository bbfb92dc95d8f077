/**
 * A small seeded PRNG for the routing tests (SplitMix32-style: a Weyl sequence through an integer
 * hash), so randomized comparisons are reproducible: a failure prints its seed and replays exactly.
 * Not for cryptography; test/ only.
 */

export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed | 0;
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  u32(): number {
    this.state = (this.state + 0x9e3779b9) | 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** An integer in [0, n) for n up to 2^32 (modulo bias is irrelevant for tests). */
  below(n: number): number {
    return this.u32() % n;
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.u32() & 0xff;
    return out;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }
}
