/**
 * What a Tunnel tells an observer as the protocol runs (whitepaper sections 5 and 6): handshake
 * messages made and consumed, sessions established, keypairs created and zeroed, timer decisions
 * (retry, give up, keepalive) and roaming. Sans-I/O: plain values, no strings, no clock. The
 * device turns them into log lines (src/device/peer-log.ts); a library user may count them.
 *
 * A Tunnel without an observer builds none of these objects, so the data path pays one null
 * check when logging is off.
 */
import type { Endpoint } from './tunnel.js';

export type TunnelEvent =
  /** An initiation was made; `attempt` > 1 is a retry after REKEY_TIMEOUT without a response. */
  | { readonly kind: 'initiation-sent'; readonly attempt: number }
  | { readonly kind: 'initiation-received' }
  | { readonly kind: 'response-sent' }
  | { readonly kind: 'response-received' }
  /** A keypair was derived: `localIndex` is its receiver index, `initiator` our role. */
  | { readonly kind: 'keypair-created'; readonly localIndex: number; readonly initiator: boolean }
  /** The first message under a new keypair proved the other side has it: the session is up. */
  | { readonly kind: 'session-established' }
  /** Every keypair and handshake state was wiped (3 × REJECT_AFTER_TIME without a new one). */
  | { readonly kind: 'keys-zeroed' }
  /** A new private key: sessions stop sending until the next handshake. */
  | { readonly kind: 'sessions-expired' }
  | { readonly kind: 'cookie-received'; readonly valid: boolean }
  /** MAX_TIMER_HANDSHAKES retries (REKEY_ATTEMPT_TIME) went unanswered: staged packets dropped. */
  | { readonly kind: 'handshake-given-up'; readonly attempts: number }
  /** Data sent but nothing heard for KEEPALIVE + REKEY_TIMEOUT: a new handshake. */
  | { readonly kind: 'handshake-stale' }
  | { readonly kind: 'keepalive-sent'; readonly persistent: boolean }
  | { readonly kind: 'keepalive-received' }
  /** An authenticated packet came from another address or port than the endpoint (roaming). */
  | { readonly kind: 'endpoint-changed'; readonly endpoint: Endpoint };

export type TunnelEventKind = TunnelEvent['kind'];

/** Receives a Tunnel's events, synchronously, in the order they happen. */
export type TunnelObserver = (event: TunnelEvent) => void;
