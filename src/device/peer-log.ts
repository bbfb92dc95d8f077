/**
 * The device's verbose log of protocol events: each Tunnel's events (src/protocol/events.ts) and
 * the device's own handshake decisions become lines naming the peer by a short key,
 * `peer(AbCd…wXyZ)` (the first and last four base64 characters of its public key, as wireguard-go
 * names peers), rate-limited per peer and kind (log-limit.ts). It exists only while verbose
 * logging is on: the device then gives each Tunnel an observer; otherwise none, and no event is
 * built.
 *
 * Key material never appears here; public keys only as the short name.
 */
import {
  KEY_ZEROING_AFTER_MS,
  MAX_TIMER_HANDSHAKES,
  NEW_HANDSHAKE_AFTER_MS,
  REKEY_TIMEOUT_MS,
} from '../constants.js';
import { keyToBase64 } from '../crypto/keys.js';
import type { TunnelEvent, TunnelObserver } from '../protocol/events.js';
import type { Endpoint } from '../protocol/tunnel.js';
import { formatIP } from '../routing/ip-format.js';
import { LogLimiter } from './log-limit.js';
import type { Logger } from './logger.js';

/** `peer(AbCd…wXyZ)`: the first and last four characters of the key's base64 (before the `=`). */
export function peerName(publicKey: Uint8Array): string {
  const b64 = keyToBase64(publicKey);
  return `peer(${b64.slice(0, 4)}…${b64.slice(39, 43)})`;
}

/** `192.0.2.1:51820` or `[2001:db8::1]:51820`. */
export function formatEndpoint(e: Pick<Endpoint, 'address' | 'port'>): string {
  const ip = formatIP(e.address);
  return e.address.length === 16 ? `[${ip}]:${e.port}` : `${ip}:${e.port}`;
}

const seconds = (ms: number): string => `${ms / 1000} s`;

/** The line for an event (after the peer's name). */
export function describeEvent(e: TunnelEvent): string {
  switch (e.kind) {
    case 'initiation-sent':
      return e.attempt === 1
        ? 'sending handshake initiation'
        : `no handshake response after ${seconds(REKEY_TIMEOUT_MS)}, sending handshake initiation again (try ${e.attempt})`;
    case 'initiation-received':
      return 'received handshake initiation';
    case 'response-sent':
      return 'sending handshake response';
    case 'response-received':
      return 'received handshake response';
    case 'keypair-created':
      return `keypair ${e.localIndex} created (${e.initiator ? 'initiator' : 'responder'})`;
    case 'session-established':
      return 'handshake complete: session established';
    case 'keys-zeroed':
      return `no new session for ${seconds(KEY_ZEROING_AFTER_MS)}: keypairs zeroed`;
    case 'sessions-expired':
      return 'private key changed: sessions expired';
    case 'cookie-received':
      return e.valid
        ? 'received cookie reply (peer under load)'
        : 'received cookie reply that does not verify';
    case 'handshake-given-up':
      return `handshake did not complete after ${e.attempts} attempts (${seconds(MAX_TIMER_HANDSHAKES * REKEY_TIMEOUT_MS)}), giving up: staged packets dropped`;
    case 'handshake-stale':
      return `nothing heard ${seconds(NEW_HANDSHAKE_AFTER_MS)} after sending data: new handshake`;
    case 'keepalive-sent':
      return e.persistent ? 'sending persistent keepalive' : 'sending keepalive';
    case 'keepalive-received':
      return 'received keepalive';
    case 'endpoint-changed':
      return `endpoint changed to ${formatEndpoint(e.endpoint)}`;
  }
}

/** Something with a public key: a Peer. */
interface Named {
  readonly publicKey: Uint8Array;
}

export class PeerLog {
  readonly #names = new WeakMap<Named, string>();
  readonly #limiter: LogLimiter;
  readonly #report = (key: string, n: number): void =>
    this.log.verbose(`${key}: ${n} similar line${n === 1 ? '' : 's'} suppressed`);

  constructor(
    readonly log: Logger,
    readonly now: () => number,
    limiter = new LogLimiter(),
  ) {
    this.#limiter = limiter;
  }

  /** The peer's short name, computed once. */
  name(peer: Named): string {
    let name = this.#names.get(peer);
    if (name === undefined) {
      name = peerName(peer.publicKey);
      this.#names.set(peer, name);
    }
    return name;
  }

  /** A line about `peer`, not rate-limited (configuration changes: an operator's doing). */
  say(peer: Named, message: string): void {
    this.log.verbose(`${this.name(peer)} ${message}`);
  }

  /**
   * A line about `peer` of a kind that may repeat, rate-limited per peer and kind. `message` is
   * called only when the line is written.
   */
  limited(peer: Named | null, kind: string, message: () => string): void {
    const name = peer === null ? '' : this.name(peer);
    if (!this.#limiter.allow(peer === null ? kind : `${name} ${kind}`, this.now(), this.#report)) return;
    this.log.verbose(peer === null ? message() : `${name} ${message()}`);
  }

  /** Datagrams for `peer` dropped because it has no endpoint (both data paths). */
  unsent(peer: Named, n: number): void {
    this.limited(peer, 'no-endpoint', () => `has no endpoint: ${n} datagram(s) not sent`);
  }

  /**
   * An authenticated packet from `peer` whose content was refused (both data paths): its inner
   * source is not one of the peer's allowed IPs, or it is not a whole IP packet.
   */
  innerRefused(peer: Named, reason: 'disallowed-source' | 'not-ip'): void {
    this.limited(peer, reason, () =>
      reason === 'disallowed-source'
        ? 'packet with a source address outside its allowed IPs dropped'
        : 'packet that is not a whole IP packet dropped',
    );
  }

  /** The observer a peer's Tunnel reports to. */
  observerFor(peer: Named): TunnelObserver {
    return (e) => this.limited(peer, e.kind, () => describeEvent(e));
  }

  /** Reports held-back counts of windows that ended (the device calls this once a second). */
  flush(): void {
    this.#limiter.flush(this.now(), this.#report);
  }
}
