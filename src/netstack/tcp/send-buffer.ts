/**
 * The send buffer (RFC 9293 section 3.8.6's "send queue"): bytes the user wrote that are not yet
 * acknowledged, from SND.UNA onwards. A ring, grown by doubling from SEND_BUFFER_INITIAL up to
 * its bound, so an idle connection costs little and a busy one copies each byte once in (write)
 * and once out (into the segment being built), with no per-segment allocation here. Nothing is
 * allocated until the first write, so idle and passive-only connections cost no buffer.
 */
import { SEND_BUFFER_INITIAL } from './constants.js';

export class SendBuffer {
  private ring: Uint8Array;
  /** Index of the byte at SND.UNA. */
  private head = 0;
  /** Bytes held. */
  length = 0;

  constructor(readonly limit: number) {
    this.ring = new Uint8Array(0);
  }

  get free(): number {
    return this.limit - this.length;
  }

  /** Copies as much of `data` as fits; returns the bytes taken. */
  write(data: Uint8Array): number {
    const n = Math.min(data.length, this.free);
    if (n === 0) return 0;
    if (this.length + n > this.ring.length) this.grow(this.length + n);
    const cap = this.ring.length;
    const tail = (this.head + this.length) % cap;
    const first = Math.min(n, cap - tail);
    this.ring.set(data.subarray(0, first), tail);
    if (first < n) this.ring.set(data.subarray(first, n), 0);
    this.length += n;
    return n;
  }

  /** Drops `n` acknowledged bytes from the front. */
  release(n: number): void {
    const k = Math.min(n, this.length);
    if (k === 0) return;
    this.head = (this.head + k) % this.ring.length;
    this.length -= k;
    if (this.length === 0) this.head = 0;
  }

  /** Copies `n` bytes starting `offset` bytes after the front into `out` at `at`. */
  copyOut(offset: number, n: number, out: Uint8Array, at: number): void {
    const cap = this.ring.length;
    const start = (this.head + offset) % cap;
    const first = Math.min(n, cap - start);
    out.set(this.ring.subarray(start, start + first), at);
    if (first < n) out.set(this.ring.subarray(0, n - first), at + first);
  }

  private grow(need: number): void {
    let cap = Math.max(this.ring.length, SEND_BUFFER_INITIAL);
    while (cap < need) cap *= 2;
    cap = Math.min(cap, this.limit);
    const next = new Uint8Array(cap);
    this.copyOut(0, this.length, next, 0);
    this.ring = next;
    this.head = 0;
  }
}
