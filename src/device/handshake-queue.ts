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

export class HandshakeQueue {
  #items: QueuedHandshake[] = [];
  #head = 0;
  #underLoadUntil = -Infinity;
  dropped = 0;

  constructor(readonly capacity = HANDSHAKE_QUEUE_SIZE) {}

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
    return true;
  }

  shift(): QueuedHandshake | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head++];
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
    this.#items = [];
    this.#head = 0;
  }
}
