/**
 * Receive-side replay protection for transport data messages: the whitepaper's section 5.4.6
 * ("Subsequent Messages: Exchange of Data Packets") asks receivers to reject replayed counters
 * with a sliding window, and WireGuard implements that window as RFC 6479's ring of bit words
 * (the kernel's `counter_validate` in drivers/net/wireguard/receive.c, wireguard-go's
 * replay/replay.go). The ring holds REPLAY_WINDOW_RING_BITS bits; one 64-bit word of it is held
 * back so the word being reused never overlaps the window, leaving REPLAY_WINDOW_SIZE (8128)
 * usable counters behind the greatest one seen. A counter is acceptable iff it is below
 * REJECT_AFTER_MESSAGES, not more than REPLAY_WINDOW_SIZE behind the greatest counter marked, and
 * not marked before.
 *
 * Unlike the kernel, which validates and marks in one step after decryption, the window is split
 * in two (DESIGN.md habit 5): `check` is pure and runs before the AEAD open so that garbage is
 * dropped cheaply, and `mark` runs only once the tag verified, so a forged packet with a huge
 * counter can never move the window (which would make every genuine packet look too old).
 */

import { REJECT_AFTER_MESSAGES, REPLAY_WINDOW_RING_BITS, REPLAY_WINDOW_SIZE } from '../constants.js';

/**
 * The ring is stored as 32-bit words (Uint32Array) rather than the kernel's 64-bit longs: JS
 * bitwise operators work on 32 bits. The window size stays 8128 as everywhere else: with 32-bit
 * words the held-back slack is two words instead of one, which only makes the invariant easier
 * to keep (an in-window counter is at most 254 words behind the top word, in a ring of 256).
 */
const WORD_BITS = 32;
const WORD_SHIFT = 5;
const WORD_BIT_MASK = WORD_BITS - 1;
const RING_WORDS = REPLAY_WINDOW_RING_BITS / WORD_BITS;
const RING_WORD_MASK = RING_WORDS - 1;
const RING_BIT_MASK = REPLAY_WINDOW_RING_BITS - 1;
const RING_BITS_BIG = BigInt(REPLAY_WINDOW_RING_BITS);
const RING_BIT_MASK_BIG = BigInt(RING_BIT_MASK);
/** Below this, a bigint counter converts to a number exactly, so the hot path can stay in numbers. */
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

export class ReplayWindow {
  /** RFC 6479 bitmap: bit (c mod 8192) records whether counter c (within the window) was marked. */
  readonly #ring = new Uint32Array(RING_WORDS);
  /**
   * Greatest counter marked (0 while nothing was: counter 0 then sits at the top of the window,
   * unmarked, which is exactly the kernel's behaviour for a fresh counter).
   */
  #greatest = 0n;
  /** `#greatest` as a number while it is a safe integer, so the common case needs no bigint maths. */
  #greatestNum = 0;
  #greatestIsSafe = true;
  /** Ring bit position of `#greatest` (its low 13 bits), kept so bit positions are number maths. */
  #top = 0;
  /** Whether anything was marked since construction or `reset()`; only for the `greatest` getter. */
  #any = false;

  /** Greatest counter accepted by `mark` so far, or undefined when none was. */
  get greatest(): bigint | undefined {
    return this.#any ? this.#greatest : undefined;
  }

  /** Forget every counter: used when a keypair is (re)installed. */
  reset(): void {
    this.#ring.fill(0);
    this.#greatest = 0n;
    this.#greatestNum = 0;
    this.#greatestIsSafe = true;
    this.#top = 0;
    this.#any = false;
  }

  /**
   * Whether a packet with this counter may be decrypted: below REJECT_AFTER_MESSAGES, inside the
   * window and not yet marked. Changes nothing, so an unauthenticated packet cannot affect state.
   * A negative value is not a u64 wire counter and is refused rather than thrown on.
   */
  check(counter: bigint): boolean {
    if (counter < 0n || counter >= REJECT_AFTER_MESSAGES) return false;
    const delta = this.#delta(counter);
    // Ahead of everything marked: never seen (the ring slots above the top are kept clear).
    if (delta > 0) return true;
    if (delta < -REPLAY_WINDOW_SIZE) return false;
    const pos = (this.#top + delta) & RING_BIT_MASK;
    return (this.#ring[pos >>> WORD_SHIFT] & (1 << (pos & WORD_BIT_MASK))) === 0;
  }

  /**
   * Record a counter whose packet authenticated, sliding the window forward if it is the newest.
   * Returns false (and changes nothing) if it is past the limit, too old, or already marked: the
   * last can happen when two packets with the same counter passed `check` and were decrypted
   * concurrently, and the caller must then drop the second one.
   */
  mark(counter: bigint): boolean {
    if (counter < 0n || counter >= REJECT_AFTER_MESSAGES) return false;
    const delta = this.#delta(counter);
    if (delta > 0) {
      this.#advance(counter, delta);
      const pos = this.#top;
      this.#ring[pos >>> WORD_SHIFT] |= 1 << (pos & WORD_BIT_MASK);
      this.#any = true;
      return true;
    }
    if (delta < -REPLAY_WINDOW_SIZE) return false;
    const pos = (this.#top + delta) & RING_BIT_MASK;
    const index = pos >>> WORD_SHIFT;
    const bit = 1 << (pos & WORD_BIT_MASK);
    const word = this.#ring[index];
    if ((word & bit) !== 0) return false;
    this.#ring[index] = word | bit;
    this.#any = true;
    return true;
  }

  /**
   * `counter - greatest` as a number: exact whenever its magnitude is below the ring size, and
   * ±Infinity beyond it (callers only need "too far" there). While both values are safe integers
   * (every counter below 2^53, i.e. centuries of traffic) this allocates no bigint.
   */
  #delta(counter: bigint): number {
    if (this.#greatestIsSafe && counter <= MAX_SAFE_BIG) return Number(counter) - this.#greatestNum;
    const d = counter - this.#greatest;
    if (d >= RING_BITS_BIG) return Infinity;
    if (d <= -RING_BITS_BIG) return -Infinity;
    return Number(d);
  }

  /**
   * Move the top of the window from `#greatest` to `counter` (delta > 0 ahead): zero every ring
   * word the window newly enters, so stale bits from counters 8192 apart cannot read as "seen".
   * The work is bounded by the ring size however far the jump.
   */
  #advance(counter: bigint, delta: number): void {
    if (delta >= REPLAY_WINDOW_RING_BITS) {
      // The whole previous window falls out: clear everything (fill allocates nothing).
      this.#ring.fill(0);
      this.#top = Number(counter & RING_BIT_MASK_BIG);
    } else {
      // Words entered = (top word of counter) - (top word of greatest), from the bit offset.
      const oldTop = this.#top;
      const oldWord = oldTop >>> WORD_SHIFT;
      const entered = ((oldTop & WORD_BIT_MASK) + delta) >>> WORD_SHIFT;
      for (let i = 1; i <= entered; i++) this.#ring[(oldWord + i) & RING_WORD_MASK] = 0;
      this.#top = (oldTop + delta) & RING_BIT_MASK;
    }
    this.#greatest = counter;
    this.#greatestIsSafe = counter <= MAX_SAFE_BIG;
    this.#greatestNum = this.#greatestIsSafe ? Number(counter) : 0;
  }
}
