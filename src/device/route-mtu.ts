/**
 * Padding capped at the route MTU (whitepaper section 5.4.6 pads "to a multiple of 16 up to the
 * MTU"; the kernel's wg_xmit takes that MTU from the packet's route, dst_mtu(skb_dst(skb)), and
 * the selftest checks that `ip route add ... dev wg0 mtu 1299` on a 1300-byte device keeps a
 * 1297-byte packet at 1299 bytes rather than 1300). A daemon reads bare IP packets from the TUN,
 * without their route, so it asks the kernel: the MTU of the route to the packet's destination
 * (a UDP connect and IP_MTU / IPV6_MTU, native/route-mtu.c), cached per destination and
 * forgotten whenever the kernel announces a route or address change (route-check.c's
 * NETLINK_ROUTE subscription, read by the event loop: src/io/route-watch.ts), with a time limit
 * as a backstop.
 *
 * Cost on the data path: nothing for a packet whose length is already a multiple of 16 (padding
 * adds nothing) or whose padding cannot pass the route MTU... which we cannot know without asking,
 * so every other packet costs a hash and a compare in a fixed table of 256 destinations (no
 * allocation); a miss costs the lookup (a few microseconds). Routes are asked in the daemon's own
 * namespace: when the TUN sits in another one, the answer is the daemon namespace's route, and the
 * cap never rises above the link MTU either way (padding less than the kernel would is harmless).
 */
import { loadNative } from '../io/native.js';
import { RouteWatch } from '../io/route-watch.js';
import { paddedLength } from '../protocol/transport.js';

/** Where route MTUs come from: the kernel (nativeRouteMtuSource) or a test's fake. */
export interface RouteMtuSource {
  /** The MTU of the route to the 4 or 16 address bytes at b[at..]; 0 when there is none. */
  lookup(family: 4 | 6, b: Uint8Array, at: number): number;
  /** Whether any route changed since the last call. */
  changed(): boolean;
  /** Releases what the source holds (the native one: its netlink socket). */
  close?(): void;
}

const SLOTS = 256;
/** A cached route MTU is asked again after this long even without a change notification. */
const ENTRY_TTL_MS = 10_000;
/** Route changes are looked for at most this often. */
const REFRESH_MS = 1;

export class RouteMtus {
  readonly #source: RouteMtuSource;
  readonly #keys = new Uint8Array(SLOTS * 16);
  readonly #families = new Uint8Array(SLOTS);
  readonly #mtus = new Int32Array(SLOTS);
  readonly #expires = new Float64Array(SLOTS);
  #checkedAt = -Infinity;
  /** Lookups that went to the kernel (for tests and stats). */
  misses = 0;

  constructor(source: RouteMtuSource) {
    this.#source = source;
  }

  /** Releases the source (the device's close does this). Idempotent. */
  close(): void {
    this.#source.close?.();
  }

  /**
   * Call once per batch read from the TUN: forgets every cached MTU if routes changed. Asks the
   * source at most once a millisecond (draining the netlink watch is a system call, ~4 µs here,
   * too much per packet when every batch holds one).
   */
  refresh(now: number): void {
    if (now - this.#checkedAt < REFRESH_MS) return;
    this.#checkedAt = now;
    if (this.#source.changed()) this.#families.fill(0);
  }

  /**
   * The padding cap for the IP packet at b[at .. at + length): the smaller of `linkMtu` and its
   * route's MTU. Asks only when padding could add bytes.
   */
  capFor(b: Uint8Array, at: number, length: number, linkMtu: number, now: number): number {
    if (paddedLength(length, linkMtu) === length) return linkMtu;
    const family = b[at]! >> 4 === 4 ? 4 : 6;
    const dst = at + (family === 4 ? 16 : 24);
    const n = family === 4 ? 4 : 16;
    let h = 0x811c9dc5;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ b[dst + i]!, 0x01000193);
    const slot = (h ^ (h >>> 8) ^ (h >>> 16)) & (SLOTS - 1);
    const k = slot * 16;
    let hit = this.#families[slot] === family && this.#expires[slot]! > now;
    for (let i = 0; hit && i < n; i++) hit = this.#keys[k + i] === b[dst + i];
    if (!hit) {
      this.misses++;
      this.#mtus[slot] = this.#source.lookup(family, b, dst);
      this.#families[slot] = family;
      this.#expires[slot] = now + ENTRY_TTL_MS;
      for (let i = 0; i < n; i++) this.#keys[k + i] = b[dst + i]!;
    }
    const route = this.#mtus[slot]!;
    return route > 0 && route < linkMtu ? route : linkMtu;
  }
}

/**
 * Route MTUs from the kernel of the daemon's namespace (native/route-mtu.c), forgotten on the
 * change notifications of a RouteWatch of its own (read by the event loop: asking costs no
 * system call).
 */
export function nativeRouteMtuSource(): RouteMtuSource {
  const native = loadNative();
  const watch = new RouteWatch(native);
  let seen = watch.generation;
  return {
    lookup: (family, b, at) => native.routeMtu(family, b, at),
    // Once closed, every answer is "changed", so nothing stale is ever kept.
    changed: () => {
      if (!watch.changedSince(seen)) return false;
      seen = watch.generation;
      return true;
    },
    close: () => watch.close(),
  };
}
