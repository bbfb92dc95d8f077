/**
 * A route and address change watch driven by the event loop: the NETLINK_ROUTE subscription of
 * native/route-check.c (RTMGRP_IPV4/IPV6_ROUTE and _IFADDR, the changes that reset the kernel's
 * dst_cache and so its sticky source and route MTU), read by a native reader when the kernel
 * posts to it, instead of drained by a system call from the data path.
 *
 * Why: the padding cap (src/device/route-mtu.ts) and the sticky source check
 * (src/device/sticky-source.ts) each asked their own watch with a non-blocking recv() on the
 * first packet of every millisecond, so an idle ping paid two extra system calls on its send hop
 * (strace and perf trace of a slow ping, bench/hops.mjs). Routes change rarely: now the loop
 * tells us when they do, and asking costs a field read.
 *
 * A change is seen on the loop turn after the kernel announced it, as the throttled drain saw it
 * up to a millisecond late before; an overrun of the socket (ENOBUFS) counts as a change. When
 * the reader cannot be made, every call drains the socket as before (`drain`).
 */
import { startEventReader } from './event-reader.js';
import type { NativeAddon, ReaderHandle } from './native.js';

export class RouteWatch {
  readonly #native: NativeAddon;
  #fd: number;
  #reader: ReaderHandle | null = null;
  /** Changes announced so far (a user keeps the value it last saw). */
  #generation = 1;

  constructor(native: NativeAddon) {
    this.#native = native;
    this.#fd = native.routeCheckWatch();
    try {
      this.#reader = startEventReader(native, this.#fd, (count, err) => this.#onEvent(count, err));
    } catch {
      this.#reader = null; // drained per call instead
    }
  }

  /** Whether the kernel announced a change since `seen` (a value `generation` gave). */
  changedSince(seen: number): boolean {
    if (this.#fd < 0) return true;
    if (this.#reader === null && this.#native.routeCheckChanged(this.#fd)) this.#generation++;
    return this.#generation !== seen;
  }

  /** The current change count, to pass to changedSince later. */
  get generation(): number {
    return this.#generation;
  }

  /** Stops the reader and closes the socket. Idempotent; afterwards every answer is "changed". */
  close(): void {
    if (this.#fd < 0) return;
    if (this.#reader !== null) this.#native.readerClose(this.#reader);
    this.#reader = null;
    this.#native.closeFd(this.#fd);
    this.#fd = -1;
  }

  #onEvent(count: number, err: number): void {
    if (count > 0 || err !== 0) this.#generation++;
    // A reader of kind 0 stops after any error; an overrun (ENOBUFS) is not the end of the
    // socket, so listen again. EBADF and the like mean it is gone: fall back to "changed".
    if (err !== 0 && this.#reader !== null && this.#fd >= 0) {
      if (err === -105 /* ENOBUFS */) this.#native.readerStart(this.#reader);
      else this.close();
    }
  }
}
