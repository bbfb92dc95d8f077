/**
 * Drives the re-resolution of hostname endpoints (rules in endpoint-name.ts, extension in
 * docs/uapi-extensions.md): the device calls `tick(now)` on each of its timer events, which starts
 * the lookups that are due, and arms its timer for `nextDeadline()`; a lookup's answer moves the
 * peer's endpoint when the rules say so, and its settling calls `wake` so the device re-arms.
 * Lookups run off the data path (getaddrinfo on libuv's pool) and are bounded: one in flight per
 * peer, RESOLVE_MAX_IN_FLIGHT in the whole device (an abandoned lookup still counts until it
 * really ends, since it still holds a pool thread), each given up after RESOLVE_TIMEOUT_MS. Only
 * named peers are visited, so a device without names pays one empty-map check per tick.
 */
import { RESOLVE_MAX_IN_FLIGHT, RESOLVE_TIMEOUT_MS } from '../constants.js';
import { formatEndpoint } from '../uapi/values.js';
import { parseIP } from '../routing/ip.js';
import type { EndpointHostname } from '../uapi/types.js';
import { EndpointName, handshakeStalled, type ResolveReason } from './endpoint-name.js';
import type { Logger } from './logger.js';
import type { Peer } from './peer.js';

/** Resolves a hostname to an address as text (io/host-lookup.ts, or a fake in tests). */
export type HostLookup = (host: string) => Promise<string>;

export interface EndpointResolverOptions {
  readonly lookup: HostLookup;
  /** Milliseconds between interval re-resolutions; 0 = none (stall and retry rules still apply). */
  readonly intervalMs: number;
  readonly log: Logger;
  /** Monotonic milliseconds (the device's clock): a failure's retry is timed from its end. */
  readonly now: () => number;
  /** Per-lookup deadline; default RESOLVE_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  /** Told when a lookup settled, so the device's timer can be armed for `nextDeadline()`. */
  readonly wake?: () => void;
}

class LookupTimeout extends Error {
  readonly code = 'ETIMEOUT';
}

export class EndpointResolver {
  readonly #names = new Map<Peer, EndpointName>();
  readonly #lookup: HostLookup;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #log: Logger;
  readonly #now: () => number;
  /** Lookups not yet settled, abandoned ones included. */
  #running = 0;
  #closed = false;
  readonly #wake: () => void;

  constructor(o: EndpointResolverOptions) {
    this.#lookup = o.lookup;
    this.#intervalMs = o.intervalMs;
    this.#timeoutMs = o.timeoutMs ?? RESOLVE_TIMEOUT_MS;
    this.#log = o.log;
    this.#now = o.now;
    this.#wake = o.wake ?? (() => {});
  }

  /** Peers with a hostname endpoint (the device's housekeeping runs while there are any). */
  get size(): number {
    return this.#names.size;
  }

  /** The name `peer`'s endpoint was configured with, if any. */
  nameOf(peer: Peer): EndpointName | undefined {
    return this.#names.get(peer);
  }

  /**
   * The peer's endpoint was just set to `resolved`: from `name` (which the setter resolved to it),
   * or from an address (null), which forgets any name so an explicit address is never undone.
   */
  set(peer: Peer, name: EndpointHostname | null, resolved: Uint8Array, now: number): void {
    if (name === null) this.#names.delete(peer);
    else this.#names.set(peer, new EndpointName(name, resolved, now));
  }

  delete(peer: Peer): void {
    this.#names.delete(peer);
  }

  close(): void {
    this.#closed = true;
    this.#names.clear();
  }

  /** Starts the lookups that are due (called by the device's scheduler). */
  tick(now: number): void {
    if (this.#names.size === 0) return;
    for (const [peer, name] of this.#names) {
      if (this.#running >= RESOLVE_MAX_IN_FLIGHT) return;
      const reason = name.due(now, handshakeStalled(peer.tunnel.timers), this.#intervalMs);
      if (reason !== null) this.#start(peer, name, reason, now);
    }
  }

  /**
   * When `tick` should run next to start a lookup (Infinity: not until a lookup settles, which
   * calls `wake`, or a peer's handshake stalls, which happens on a tick).
   */
  nextDeadline(): number {
    if (this.#names.size === 0 || this.#running >= RESOLVE_MAX_IN_FLIGHT) return Infinity;
    let at = Infinity;
    for (const [peer, name] of this.#names) {
      at = Math.min(at, name.nextDue(handshakeStalled(peer.tunnel.timers), this.#intervalMs));
    }
    return at;
  }

  #start(peer: Peer, name: EndpointName, reason: ResolveReason, now: number): void {
    name.start(now);
    // To the back of the line, so that under the device-wide cap every due name gets its turn.
    this.#names.delete(peer);
    this.#names.set(peer, name);
    this.#running++;
    const lookup = this.#lookup(name.host);
    const settled = (): void => {
      this.#running--;
      if (!this.#closed) this.#wake();
    };
    void lookup.then(settled, settled);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new LookupTimeout(`no answer in ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
      timer.unref();
    });
    Promise.race([lookup, deadline]).then(
      (text) => {
        clearTimeout(timer);
        if (!this.#current(peer, name)) return;
        const ip = parseIP(text.replace(/%.*$/, ''));
        if (ip === null) this.#failed(peer, name, `not an address: ${JSON.stringify(text)}`);
        else this.#answered(peer, name, ip.bytes);
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (!this.#current(peer, name)) return;
        const code = (err as { code?: unknown } | null)?.code;
        const message = err instanceof Error ? err.message : String(err);
        this.#failed(peer, name, typeof code === 'string' ? `${code} (${message})` : message);
        // Its retry time is set now (a lookup given up at its deadline has not settled yet).
        if (!this.#closed) this.#wake();
      },
    );
    this.#log.verbose(`peer ${peer.id.slice(0, 8)}: resolving ${name.text} (${reason})`);
  }

  /** False once the peer is gone or its name was replaced while the lookup ran. */
  #current(peer: Peer, name: EndpointName): boolean {
    return !this.#closed && this.#names.get(peer) === name;
  }

  #failed(peer: Peer, name: EndpointName, why: string): void {
    const delay = name.failed(this.#now());
    this.#log.error(
      `peer ${peer.id.slice(0, 8)}: cannot resolve ${name.text}: ${why}; endpoint kept, ` +
        `retrying in ${delay / 1000} s`,
    );
  }

  #answered(peer: Peer, name: EndpointName, address: Uint8Array): void {
    const tunnel = peer.tunnel;
    const current = tunnel.endpoint;
    const next = name.succeeded(address, current, handshakeStalled(tunnel.timers));
    if (next === null) return;
    const endpoint = { address: next, port: name.port };
    const was = current === null ? 'none' : formatEndpoint(current);
    // A whole new Endpoint without a sticky source: the old source was chosen for the old address.
    tunnel.endpoint = { ...endpoint, source: null };
    this.#log.verbose(
      `peer ${peer.id.slice(0, 8)}: ${name.text} now resolves to ${formatEndpoint(endpoint)} (endpoint was ${was})`,
    );
  }
}
