/**
 * The re-resolution rules for a peer whose endpoint was configured as a hostname (the wgts UAPI
 * extension `wgts_endpoint_hostname`, docs/uapi-extensions.md). WireGuard itself knows only
 * addresses (whitepaper section 2: the endpoint is an IP and port, updated by roaming); wg(8)
 * resolves a name once. These rules decide, with time passed in and no I/O, when to look the name
 * up again and whether an answer replaces the peer's endpoint:
 *
 * When (due):
 * - every `intervalMs` after the last lookup started ('interval'; 0 = never);
 * - sooner while the handshake stalls: RESOLVE_STALL_ATTEMPTS initiations in a row got no response
 *   within REKEY_TIMEOUT, then at most once per RESOLVE_STALL_GAP_MS ('stall'). Waiting for the
 *   attempt to be given up (REKEY_ATTEMPT_TIME, 90 s) would keep a moved peer unreachable for a
 *   minute and a half; one unanswered initiation may be a lost datagram;
 * - after a failed lookup only the backoff counts ('retry': RESOLVE_RETRY_MIN_MS doubling up to
 *   RESOLVE_RETRY_MAX_MS), so a dead resolver is not asked every tick;
 * - never while a lookup for this name is in flight.
 *
 * Whether (succeeded), the roaming rule: the endpoint is replaced only when the name now gives
 * another address than it gave last time (the name moved: that is news), or while the handshake
 * stalls and the endpoint is not the name's address (the current endpoint, roamed-to or not, does
 * not answer; the name is the configured truth). An unchanged answer leaves a roamed-to endpoint
 * alone, so an authenticated packet from a new address keeps winning until the name changes.
 * A failed lookup never touches the endpoint.
 */
import {
  RESOLVE_RETRY_MAX_MS,
  RESOLVE_RETRY_MIN_MS,
  RESOLVE_STALL_ATTEMPTS,
  RESOLVE_STALL_GAP_MS,
} from '../constants.js';
import type { Timers } from '../protocol/timers.js';
import type { EndpointHostname } from '../uapi/types.js';

export type ResolveReason = 'interval' | 'stall' | 'retry';

/** True while the peer's current handshake attempt has gone unanswered long enough (see header). */
export function handshakeStalled(timers: Timers): boolean {
  return timers.retransmitHandshakeAt !== Infinity && timers.handshakeAttempts >= RESOLVE_STALL_ATTEMPTS;
}

/** The delay before retry number `failures` (1 = after the first failure). */
export function retryDelay(failures: number): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  return Math.min(RESOLVE_RETRY_MIN_MS * 2 ** exponent, RESOLVE_RETRY_MAX_MS);
}

function sameAddress(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export class EndpointName {
  readonly host: string;
  readonly port: number;
  /** The address the name gave last (at first, what the CLI resolved it to). */
  resolved: Uint8Array;
  /** When the last lookup started (at first, when the name was configured). */
  startedAt: number;
  /** Failed lookups in a row; while > 0, retryAt decides. */
  failures = 0;
  retryAt = Infinity;
  inFlight = false;

  constructor(name: EndpointHostname, resolved: Uint8Array, now: number) {
    this.host = name.host;
    this.port = name.port;
    this.resolved = Uint8Array.from(resolved);
    this.startedAt = now;
  }

  /** `host:port`, for messages. */
  get text(): string {
    return `${this.host}:${this.port}`;
  }

  /**
   * The earliest time `due` can say a lookup should start, given the same `stalled` (Infinity:
   * not before something changes: a lookup settles, or the handshake stalls, which only happens
   * on a timer event of the peer).
   */
  nextDue(stalled: boolean, intervalMs: number): number {
    if (this.inFlight) return Infinity;
    if (this.failures > 0) return this.retryAt;
    let at = intervalMs > 0 ? this.startedAt + intervalMs : Infinity;
    if (stalled) at = Math.min(at, this.startedAt + RESOLVE_STALL_GAP_MS);
    return at;
  }

  /** Why a lookup should start at `now`; null when none should. */
  due(now: number, stalled: boolean, intervalMs: number): ResolveReason | null {
    if (this.inFlight) return null;
    if (this.failures > 0) return now >= this.retryAt ? 'retry' : null;
    if (stalled && now - this.startedAt >= RESOLVE_STALL_GAP_MS) return 'stall';
    if (intervalMs > 0 && now - this.startedAt >= intervalMs) return 'interval';
    return null;
  }

  /** A lookup starts. */
  start(now: number): void {
    this.inFlight = true;
    this.startedAt = now;
  }

  /** The lookup failed (or timed out): the endpoint stays; returns the delay before the retry. */
  failed(now: number): number {
    this.inFlight = false;
    this.failures++;
    const delay = retryDelay(this.failures);
    this.retryAt = now + delay;
    return delay;
  }

  /**
   * The lookup gave `address`. Returns the address the peer's endpoint must now take (with this
   * name's port), or null to leave the endpoint as it is (see the header's roaming rule).
   * `current` is the peer's endpoint now; `stalled` its handshake state now.
   */
  succeeded(
    address: Uint8Array,
    current: { readonly address: Uint8Array; readonly port: number } | null,
    stalled: boolean,
  ): Uint8Array | null {
    this.inFlight = false;
    this.failures = 0;
    this.retryAt = Infinity;
    const moved = !sameAddress(address, this.resolved);
    this.resolved = Uint8Array.from(address);
    if (moved) return this.resolved;
    const atName = current !== null && current.port === this.port && sameAddress(current.address, address);
    return stalled && !atName ? this.resolved : null;
  }
}
