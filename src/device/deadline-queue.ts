/**
 * The device's timer queue (whitepaper section 6, "Timers & Stateless Reaction", driven the way
 * the kernel drives its per-peer timers: each armed for its own expiry, none polled): a binary
 * min-heap of (deadline, key) with lazy deletion, so one process-wide timer can sleep until the
 * earliest deadline of all peers.
 *
 * Why lazy: a peer's deadlines move on nearly every packet (persistent keepalive is pushed back
 * by each authenticated packet), almost always later. A later deadline costs nothing here: the
 * peer's entry stays where it was, fires early, and the device re-queues the peer at its real
 * deadline then. Only a deadline earlier than the one queued for the key pushes a new entry; the
 * older one goes stale and is skipped when it comes up. The heap is rebuilt from the live keys
 * when stale entries outnumber them, so it stays O(keys).
 */

interface Entry<K> {
  readonly at: number;
  readonly key: K;
}

/** Stale entries tolerated beyond twice the live ones before the heap is rebuilt. */
const COMPACT_SLACK = 64;

export class DeadlineQueue<K> {
  #heap: Entry<K>[] = [];
  /** The earliest deadline queued for each key (its live entry). */
  readonly #queued = new Map<K, number>();

  /** Keys queued. */
  get size(): number {
    return this.#queued.size;
  }

  /** The earliest deadline queued for `key`, Infinity when none. */
  queuedAt(key: K): number {
    return this.#queued.get(key) ?? Infinity;
  }

  /**
   * Queues `key` at `at` unless it is already queued at or before `at` (a finite number; Infinity
   * is ignored). Returns whether a new entry was queued: then `at` may be the new earliest.
   */
  add(key: K, at: number): boolean {
    if (!(at < (this.#queued.get(key) ?? Infinity))) return false;
    this.#queued.set(key, at);
    this.#push({ at, key });
    if (this.#heap.length > 2 * this.#queued.size + COMPACT_SLACK) this.#compact();
    return true;
  }

  /** Forgets `key` (its entries go stale). */
  delete(key: K): void {
    this.#queued.delete(key);
  }

  clear(): void {
    this.#heap = [];
    this.#queued.clear();
  }

  /** The earliest live deadline, Infinity when nothing is queued. */
  earliest(): number {
    this.#dropStaleTop();
    return this.#heap.length === 0 ? Infinity : this.#heap[0]!.at;
  }

  /**
   * Takes every key queued at or before `now` off the queue, earliest first, appending each to
   * `out` once. The caller runs them and queues them again at their next deadlines.
   */
  takeDue(now: number, out: K[]): void {
    for (;;) {
      this.#dropStaleTop();
      const top = this.#heap[0];
      if (top === undefined || top.at > now) return;
      this.#pop();
      this.#queued.delete(top.key);
      out.push(top.key);
    }
  }

  #live(e: Entry<K>): boolean {
    return this.#queued.get(e.key) === e.at;
  }

  #dropStaleTop(): void {
    while (this.#heap.length > 0 && !this.#live(this.#heap[0]!)) this.#pop();
  }

  #compact(): void {
    const heap = this.#heap;
    this.#heap = [];
    for (const e of heap) if (this.#live(e)) this.#push(e);
  }

  #push(e: Entry<K>): void {
    const h = this.#heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.at <= e.at) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = e;
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && h[r]!.at < h[l]!.at ? r : l;
      if (h[c]!.at >= last.at) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
}
