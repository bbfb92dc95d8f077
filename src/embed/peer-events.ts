/**
 * The events an embedded interface reports about its peers, derived from the protocol core's
 * observer (src/protocol/events.ts, whitepaper sections 5 and 6) and the device's peer table:
 *
 * - `handshake`: a handshake completed, i.e. the Tunnel's `session-established` (as initiator when
 *   the response is consumed, as responder when the initiator's first packet confirms the
 *   session). It is the moment `latestHandshake` changes.
 * - `peer-up` / `peer-down`: a peer is up while it has a session it may still use: its latest
 *   handshake is less than REJECT_AFTER_TIME (180 s) old. Up on the first completed handshake;
 *   down when that age is reached without a new one (checked at that moment, `nextCheck`: an
 *   idle peer with no keepalive goes down 180 s after its last handshake, an active one never,
 *   since rekeying happens after REKEY_AFTER_TIME), when the keys are zeroed or expired by a private key change,
 *   or when the peer is removed. Closing the interface reports nothing.
 * - `endpoint`: the address a peer is sent to changed: by roaming (an authenticated packet from
 *   elsewhere), by configuration, or by re-resolving a hostname endpoint.
 *
 * Events are emitted in a microtask, never from inside the device's packet handling, so a
 * listener that throws or takes its time cannot break the data path mid-batch.
 */
import { REJECT_AFTER_TIME_MS } from '../constants.js';
import { keyToBase64 } from '../crypto/keys.js';
import type { Peer } from '../device/peer.js';
import { formatEndpoint } from '../device/peer-log.js';
import type { TunnelEvent, TunnelObserver } from '../protocol/events.js';

export interface HandshakeEvent {
  /** The peer's public key, base64. */
  readonly publicKey: string;
  /** Where the peer was reached (`192.0.2.1:51820`, `[2001:db8::1]:51820`). */
  readonly endpoint: string | null;
  /** Whether this side sent the initiation. */
  readonly initiator: boolean;
}

export type PeerDownReason = 'expired' | 'keys-zeroed' | 'private-key-changed' | 'removed';

export interface PeerStateEvent {
  readonly publicKey: string;
  readonly endpoint: string | null;
  /** For peer-down: why. */
  readonly reason?: PeerDownReason;
}

export type EndpointChangeReason = 'roaming' | 'config' | 'resolved';

export interface EndpointEvent {
  readonly publicKey: string;
  readonly endpoint: string | null;
  readonly previous: string | null;
  readonly reason: EndpointChangeReason;
}

export interface PeerEventMap {
  handshake: [HandshakeEvent];
  'peer-up': [PeerStateEvent];
  'peer-down': [PeerStateEvent];
  endpoint: [EndpointEvent];
}

type Emit = <K extends keyof PeerEventMap>(name: K, ...args: PeerEventMap[K]) => void;

interface PeerState {
  readonly publicKey: string;
  up: boolean;
  endpoint: string | null;
  initiator: boolean;
}

function endpointText(peer: Peer): string | null {
  const e = peer.tunnel.endpoint;
  return e === null ? null : formatEndpoint(e);
}

export class PeerEvents {
  readonly #states = new Map<Peer, PeerState>();
  /** Told when a peer came up: `nextCheck` may now be earlier. */
  onUp: (() => void) | null = null;

  constructor(
    readonly emit: Emit,
    readonly now: () => number,
  ) {}

  /** The observer for a new peer's Tunnel (chained after the device's log, if any). */
  observe(peer: Peer): TunnelObserver {
    const state: PeerState = {
      publicKey: keyToBase64(peer.publicKey),
      up: false,
      endpoint: endpointText(peer),
      initiator: false,
    };
    this.#states.set(peer, state);
    return (e) => this.#event(peer, state, e);
  }

  #event(peer: Peer, s: PeerState, e: TunnelEvent): void {
    switch (e.kind) {
      case 'keypair-created':
        s.initiator = e.initiator;
        return;
      case 'session-established': {
        const endpoint = endpointText(peer);
        this.#later('handshake', { publicKey: s.publicKey, endpoint, initiator: s.initiator });
        if (!s.up) {
          s.up = true;
          this.#later('peer-up', { publicKey: s.publicKey, endpoint });
          this.onUp?.();
        }
        return;
      }
      case 'keys-zeroed':
        return this.#down(s, 'keys-zeroed');
      case 'sessions-expired':
        return this.#down(s, 'private-key-changed');
      case 'endpoint-changed': {
        const endpoint = formatEndpoint(e.endpoint);
        if (endpoint !== s.endpoint) this.#moved(s, endpoint, 'roaming');
        return;
      }
      default:
        return;
    }
  }

  /** A peer left the device. */
  removed(peer: Peer): void {
    const s = this.#states.get(peer);
    if (s === undefined) return;
    this.#states.delete(peer);
    this.#down(s, 'removed');
  }

  /**
   * Compares every peer with what was last reported: endpoints changed by `reason` (a
   * configuration just applied, or hostname re-resolution on the periodic check), and sessions
   * that reached REJECT_AFTER_TIME.
   */
  check(reason: 'config' | 'resolved'): void {
    const now = this.now();
    for (const [peer, s] of this.#states) {
      const endpoint = endpointText(peer);
      if (endpoint !== s.endpoint) this.#moved(s, endpoint, reason);
      const at = peer.tunnel.lastHandshakeAt;
      if (s.up && (at === null || now - at >= REJECT_AFTER_TIME_MS)) this.#down(s, 'expired');
    }
  }

  /**
   * When `check` next has a session to expire: the earliest time an up peer's latest handshake
   * turns REJECT_AFTER_TIME old (monotonic ms; Infinity when no peer is up). A handshake after
   * that moves it later, which the check at the old time finds and re-arms for.
   */
  nextCheck(): number {
    let at = Infinity;
    for (const [peer, s] of this.#states) {
      if (!s.up) continue;
      const last = peer.tunnel.lastHandshakeAt;
      at = Math.min(at, last === null ? -Infinity : last + REJECT_AFTER_TIME_MS);
    }
    return at;
  }

  /** Takes the endpoints as they are now without reporting them (the configuration at open). */
  adopt(): void {
    for (const [peer, s] of this.#states) s.endpoint = endpointText(peer);
  }

  /** Forgets every peer without reporting (the interface is closing). */
  clear(): void {
    this.#states.clear();
  }

  #down(s: PeerState, reason: PeerDownReason): void {
    if (!s.up) return;
    s.up = false;
    this.#later('peer-down', { publicKey: s.publicKey, endpoint: s.endpoint, reason });
  }

  #moved(s: PeerState, endpoint: string | null, reason: EndpointChangeReason): void {
    const previous = s.endpoint;
    s.endpoint = endpoint;
    this.#later('endpoint', { publicKey: s.publicKey, endpoint, previous, reason });
  }

  #later<K extends keyof PeerEventMap>(name: K, ...args: PeerEventMap[K]): void {
    queueMicrotask(() => this.emit(name, ...args));
  }

  /** Whether the peer is up as defined above. */
  isUp(peer: Peer): boolean {
    return this.#states.get(peer)?.up ?? false;
  }
}
