/**
 * Whether a peer's sticky source address still fits its route: the kernel's socket.c send4 keeps
 * a cached source only while the route to the peer leaves through the interface the peer's
 * packets arrived on (`rt->dst.dev->ifindex != endpoint->src_if4` clears it), and re-checks on
 * the first send after the endpoint changed or a route changed (its dst_cache is reset by either).
 * wireguard-go asks netlink the same (RTM_GETROUTE with the source, RTA_OIF against the arrival
 * ifindex) after each route change. Both do it for IPv4 only (the kernel's send6 keeps a source
 * as long as the address is ours), and so do we, on the send path:
 *
 * - the bind's route watch says whether anything changed (src/io/route-watch.ts: the event loop
 *   reads the kernel's notifications, so asking costs no system call; it is still asked at most
 *   once a millisecond, and a change within that millisecond is seen by the next send after it);
 * - per peer, the last answer is kept with what it was asked for (remote, source, interface) and
 *   the change count it belongs to, so a peer whose endpoint object is renewed by every received
 *   packet asks the kernel once per real change, not once per packet;
 * - a route through another interface, or a kernel that refuses the source, means: forget it.
 *
 * A bind that cannot tell (the fakes, a source without an arrival interface) keeps every source;
 * so does an IPv6 one, as in the kernel.
 */
import type { Bind, Endpoint } from '../io/bind.js';
import type { Peer } from './peer.js';

/** The last check of one peer's source. */
interface Check {
  readonly changes: number;
  readonly address: Uint8Array;
  readonly port: number;
  readonly source: Uint8Array;
  readonly ifindex: number;
  readonly fits: boolean;
}

export class SourceRoutes {
  readonly #bind: Bind;
  /** Monotonic milliseconds, for draining the route watch (real time: it is about I/O). */
  readonly #clock: () => number;
  /** Route or address changes seen so far (a check is valid for one value). */
  #changes = 0;
  #drainedAt = -Infinity;
  readonly #checks = new WeakMap<Peer, Check>();

  constructor(bind: Bind, clock: () => number = () => performance.now()) {
    this.#bind = bind;
    this.#clock = clock;
  }

  /** Whether `endpoint`'s source (if any) may still be used for `peer`. */
  fits(peer: Peer, endpoint: Endpoint): boolean {
    const source = endpoint.source;
    const ifindex = endpoint.sourceIfindex ?? 0;
    const bind = this.#bind;
    if (source?.length !== 4 || ifindex === 0 || bind.routeInterface === undefined) return true;
    const now = this.#clock();
    if (now - this.#drainedAt >= 1) {
      this.#drainedAt = now;
      if (bind.routesChanged?.() === true) this.#changes++;
    }
    const last = this.#checks.get(peer);
    if (
      last !== undefined &&
      last.changes === this.#changes &&
      last.port === endpoint.port &&
      last.ifindex === ifindex &&
      sameBytes(last.address, endpoint.address) &&
      sameBytes(last.source, source)
    ) {
      return last.fits;
    }
    const fits = bind.routeInterface(endpoint) === ifindex;
    this.#checks.set(peer, {
      changes: this.#changes,
      address: endpoint.address,
      port: endpoint.port,
      source,
      ifindex,
      fits,
    });
    return fits;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
