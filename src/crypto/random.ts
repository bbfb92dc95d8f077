/**
 * A pooled reader of the operating system's CSPRNG (node:crypto's randomFillSync), for the many
 * small random values a device draws: receiver indices, ephemeral keys, and the rekey jitter that
 * every data packet sent after a received one asks for (timers.ts onDataSent). One
 * crypto.randomBytes call costs about 50 µs on a cold path here — most of the latency budget of a
 * packet — while a copy out of a 4 KiB pool refilled in one call costs a few. The bytes are as good
 * as randomBytes': each is handed out once, copied, and wiped from the pool at once, so the pool
 * never holds a value someone already has.
 */
import { randomFillSync } from 'node:crypto';
import { secretCopy } from './bytes.js';

const POOL_BYTES = 4096;
/** From this size on a draw is treated as a secret key. */
const SECRET_BYTES = 32;

export class RandomPool {
  readonly #pool = new Uint8Array(POOL_BYTES);
  #at = POOL_BYTES;

  /** `n` fresh random bytes (a new array). Larger requests bypass the pool. */
  bytes(n: number): Uint8Array {
    if (!Number.isInteger(n) || n < 0)
      throw new RangeError(`random byte count must be a non-negative integer, got ${n}`);
    if (n > POOL_BYTES / 4) return randomFillSync(new Uint8Array(n));
    if (this.#at + n > POOL_BYTES) {
      randomFillSync(this.#pool);
      this.#at = 0;
    }
    // Key-sized draws (ephemeral private keys) go outside the JavaScript heap, where the garbage
    // collector cannot leave moved copies behind (bytes.ts secretBytes); small ones stay cheap.
    const out =
      n >= SECRET_BYTES
        ? secretCopy(this.#pool.subarray(this.#at, this.#at + n))
        : this.#pool.slice(this.#at, this.#at + n);
    this.#pool.fill(0, this.#at, this.#at + n);
    this.#at += n;
    return out;
  }
}

const shared = new RandomPool();

/** `n` fresh random bytes from the process-wide pool (the Device's default random source). */
export function randomPooled(n: number): Uint8Array {
  return shared.bytes(n);
}
