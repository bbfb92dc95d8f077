/**
 * The bounded queue in front of handshake processing (wireguard-go's queue.handshake, the kernel's
 * handshake_queue). Handshake messages cost Diffie-Hellman, so they never run inline with the
 * receive path: they wait here, the queue drops new arrivals when full, and its length decides
 * "under load" — at 1/8 of capacity, and for UNDER_LOAD_AFTER_MS after that — which switches the
 * responder to answering with cookie replies. The queue drains in small slices so transport
 * traffic keeps flowing through the event loop during a flood.
 */
import { HANDSHAKE_QUEUE_SIZE, UNDER_LOAD_AFTER_MS, UNDER_LOAD_QUEUE_THRESHOLD } from '../constants.js';
import type { Endpoint } from '../protocol/tunnel.js';

export interface QueuedHandshake {
  readonly datagram: Uint8Array;
  readonly from: Endpoint;
}

/**
 * How many queued messages one source (an IPv4 address, an IPv6 /64) may hold: a single flooding
 * host fills at most this share of the queue (twice what turns on "under load"), so the real peers'
 * handshakes still find room and get their cookie replies instead of being dropped on a full queue.
 */
export const PER_SOURCE_LIMIT = HANDSHAKE_QUEUE_SIZE / 4;

/** The per-source key of an address of `length` bytes at address[at..]: the v4 address, a v6 /64. */
function sourceKey(address: Uint8Array, at = 0, length = address.length - at): number | string {
  if (length === 4)
    return (
      ((address[at]! << 24) | (address[at + 1]! << 16) | (address[at + 2]! << 8) | address[at + 3]!) >>> 0
    );
  let k = '';
  for (let i = 0; i < 8 && i < length; i++) k += String.fromCharCode(address[at + i]!);
  return k;
}

export class HandshakeQueue {
  #items: QueuedHandshake[] = [];
  readonly #perSource = new Map<number | string, number>();
  /** Messages refused because their source already held its share of the queue. */
  sourceLimited = 0;
  #head = 0;
  #underLoadUntil = -Infinity;
  dropped = 0;

  constructor(
    readonly capacity = HANDSHAKE_QUEUE_SIZE,
    readonly perSourceLimit = Math.max(1, Math.floor((PER_SOURCE_LIMIT * capacity) / HANDSHAKE_QUEUE_SIZE)),
  ) {}

  /**
   * Whether a message from `address` (or its `length` bytes at `at`, so a receive slot can be
   * asked without a view) would be refused: full queue, or its source's share used.
   */
  refuses(address: Uint8Array, at = 0, length = address.length - at): boolean {
    if (this.length >= this.capacity) return true;
    if ((this.#perSource.get(sourceKey(address, at, length)) ?? 0) >= this.perSourceLimit) {
      this.sourceLimited++;
      return true;
    }
    return false;
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  get full(): boolean {
    return this.length >= this.capacity;
  }

  /** Enqueues, or returns false (and counts a drop) when full. */
  push(item: QueuedHandshake): boolean {
    if (this.length >= this.capacity) {
      this.dropped++;
      return false;
    }
    this.#items.push(item);
    const key = sourceKey(item.from.address);
    this.#perSource.set(key, (this.#perSource.get(key) ?? 0) + 1);
    return true;
  }

  shift(): QueuedHandshake | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head++]!;
    const key = sourceKey(item.from.address);
    const n = (this.#perSource.get(key) ?? 1) - 1;
    if (n <= 0) this.#perSource.delete(key);
    else this.#perSource.set(key, n);
    // Compact once the consumed prefix dominates, so memory stays bounded by capacity.
    if (this.#head > 64 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** The kernel's rule: under load while the queue holds ≥ 1/8 of capacity, and for 1 s after. */
  underLoad(now: number): boolean {
    if (this.length >= Math.max(1, (UNDER_LOAD_QUEUE_THRESHOLD * this.capacity) / HANDSHAKE_QUEUE_SIZE)) {
      this.#underLoadUntil = now + UNDER_LOAD_AFTER_MS;
      return true;
    }
    return now < this.#underLoadUntil;
  }

  clear(): void {
    this.#perSource.clear();
    this.#items = [];
    this.#head = 0;
  }
}
