/**
 * The one memory budget of a UAPI server: bytes of set requests in flight, across all of its
 * connections. wireguard-go has no such limit (it streams each line into the device); we validate
 * a whole set before applying any of it, so we must hold it, and without a shared cap N clients
 * each sending one large request hold N times the largest request (measured: one 60 MiB set took
 * wgtsd from 54 MB to 1.14 GB RSS, four in parallel to 2.5 GB).
 *
 * What is counted: the bytes each connection reads, from the first byte of a request until it is
 * answered; the reader holds a set's lines packed as they arrived (set-lines.ts), so that is what
 * they weigh (plus at most one partly filled 64 KiB block per connection, which the floor covers). The parsed form of a set is not counted: the server parses and applies in chunks of
 * SET_CHUNK_ITEMS under its one lock, so at most one chunk of parsed state exists at any time,
 * whatever the request's size.
 *
 * Rules:
 * - Every holder (connection) gets its first `floorBytes` free, outside the shared pool: gets, `wg
 *   set` and small setconfs are never held up by large requests. The floor is bounded by the
 *   server's connection cap, so the total is `capBytes + maxConnections × floorBytes`.
 * - Beyond its floor a holder draws from the shared pool of `capBytes`. A draw the pool covers is
 *   granted at once (a request under way is never queued behind one that has not started, which
 *   would only wait for it); one it cannot cover waits, its socket paused, and waiters are served
 *   in arrival order as others release.
 * - Waiting cannot deadlock: when every holder of pool bytes is itself waiting, nobody would ever
 *   release, so the waiter holding the most is refused (the server answers it -EIO, wireguard-go's
 *   errno for a request it cannot read, and closes it), which frees its bytes for the rest. (A
 *   single request larger than the pool meets the reader's per-request cap, which the server sets
 *   to the pool's size, and gets the same -EIO.) A holder that is slow but not
 *   waiting (a trickle) keeps its bytes until its request deadline, so waiting is bounded in time.
 */

/** The default shared pool: a `wg setconf` of 150,000 peers, each with an endpoint and two allowed IPs, fits. */
export const DEFAULT_UAPI_BUDGET_BYTES = 32 * 1024 * 1024;
/** The default free allowance of each connection. */
export const DEFAULT_UAPI_FLOOR_BYTES = 64 * 1024;
/** One party drawing on the budget: a connection. Its callbacks come in a later microtask. */
export interface BudgetHolder {
  /** The draw it waited for was granted: carry on. */
  granted(): void;
  /** It cannot be granted without deadlock: answer -EIO and close (release follows). */
  refused(): void;
}

interface Account {
  /** Bytes charged in all (floor included). */
  held: number;
  /** Bytes of `held` drawn from the shared pool. */
  pooled: number;
  /** A draw waiting for the pool, or 0. */
  waiting: number;
}

export class UapiBudget {
  readonly capBytes: number;
  readonly floorBytes: number;
  #inUse = 0;
  #peak = 0;
  readonly #accounts = new Map<BudgetHolder, Account>();
  /** Holders waiting, in arrival order. */
  readonly #queue: BudgetHolder[] = [];

  constructor(capBytes = DEFAULT_UAPI_BUDGET_BYTES, floorBytes = DEFAULT_UAPI_FLOOR_BYTES) {
    if (!(capBytes > 0) || !(floorBytes >= 0)) throw new RangeError('budget sizes must be positive');
    this.capBytes = capBytes;
    this.floorBytes = floorBytes;
  }

  /** Shared-pool bytes in use now. */
  get inUse(): number {
    return this.#inUse;
  }

  /** The most shared-pool bytes ever in use at once. */
  get peak(): number {
    return this.#peak;
  }

  /** Holders waiting for the pool now. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Bytes `holder` holds (floor included). */
  heldBy(holder: BudgetHolder): number {
    return this.#accounts.get(holder)?.held ?? 0;
  }

  /**
   * Charges `bytes` to `holder`. True: granted now. False: the holder waits until `granted()` (or
   * `refused()`) is called; it must not draw again before then.
   */
  charge(holder: BudgetHolder, bytes: number): boolean {
    let a = this.#accounts.get(holder);
    if (a === undefined) {
      a = { held: 0, pooled: 0, waiting: 0 };
      this.#accounts.set(holder, a);
    }
    if (a.waiting > 0) throw new RangeError('a waiting holder cannot draw again');
    const fromPool = Math.max(0, a.held + bytes - this.floorBytes) - a.pooled;
    a.held += bytes;
    if (fromPool <= 0) return true;
    if (this.#inUse + fromPool <= this.capBytes) {
      this.#draw(a, fromPool);
      return true;
    }
    a.waiting = fromPool;
    this.#queue.push(holder);
    this.#breakDeadlock();
    return false;
  }

  /** Returns everything `holder` holds (and drops its wait, if any). */
  release(holder: BudgetHolder): void {
    if (this.#drop(holder)) this.#grantWaiting();
  }

  #drop(holder: BudgetHolder): boolean {
    const a = this.#accounts.get(holder);
    if (a === undefined) return false;
    this.#accounts.delete(holder);
    this.#inUse -= a.pooled;
    const i = this.#queue.indexOf(holder);
    if (i >= 0) this.#queue.splice(i, 1);
    return true;
  }

  #draw(a: Account, bytes: number): void {
    a.pooled += bytes;
    this.#inUse += bytes;
    if (this.#inUse > this.#peak) this.#peak = this.#inUse;
  }

  /** Grants waiters in arrival order while the pool covers the first of them. */
  #grantWaiting(): void {
    while (this.#queue.length > 0) {
      const holder = this.#queue[0]!;
      const a = this.#accounts.get(holder)!;
      if (this.#inUse + a.waiting > this.capBytes) break;
      this.#queue.shift();
      this.#draw(a, a.waiting);
      a.waiting = 0;
      // Never from inside charge(): the holder learns it waits (false) before it is told to go on.
      queueMicrotask(() => holder.granted());
    }
    this.#breakDeadlock();
  }

  /** When no holder outside the queue holds pool bytes, nothing will be released: refuse one. */
  #breakDeadlock(): void {
    if (this.#queue.length === 0) return;
    for (const a of this.#accounts.values()) if (a.pooled > 0 && a.waiting === 0) return;
    let victim = this.#queue[0]!;
    for (const h of this.#queue)
      if (this.#accounts.get(h)!.held > this.#accounts.get(victim)!.held) victim = h;
    // Dropped first, so the refusal's own release (when its connection closes) finds nothing.
    this.#drop(victim);
    queueMicrotask(() => victim.refused());
    this.#grantWaiting();
  }
}
