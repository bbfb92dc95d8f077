/**
 * The receiver-index table (whitepaper section 5.4.2: "I_i is a randomly generated 32-bit
 * index"). Every pending handshake and every keypair owns one random, device-unique index; a
 * response, cookie reply or transport message names its destination by that index, so the table
 * maps it straight to its owner. Random rather than sequential so indices say nothing about how
 * many sessions exist.
 */
import type { RandomSource } from './cookie.js';

export class IndexTable<T> {
  readonly #owners = new Map<number, T>();

  constructor(private readonly random: RandomSource) {}

  /** Allocates a fresh random index for `owner`. */
  allocate(owner: T): number {
    for (;;) {
      const r = this.random(4);
      const index = (r[0]! | (r[1]! << 8) | (r[2]! << 16) | (r[3]! << 24)) >>> 0;
      if (!this.#owners.has(index)) {
        this.#owners.set(index, owner);
        return index;
      }
    }
  }

  release(index: number): void {
    this.#owners.delete(index);
  }

  get(index: number): T | undefined {
    return this.#owners.get(index);
  }

  get size(): number {
    return this.#owners.size;
  }
}
