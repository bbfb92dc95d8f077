/**
 * TCP's numbers in one place (RFC 9293 section 3.8, RFC 6298, RFC 5681, RFC 7323, RFC 1122
 * section 4.2.3), and the memory bounds of the userspace TCP. Spec block first, then our choices.
 *
 * Bounds (a hostile peer cannot grow any of these):
 * - send buffer per connection: `sendBufferSize` (default 1 MiB), grown on demand from 16 KiB;
 * - receive window per connection: `receiveBufferSize` (default 4 MiB). Delivered bytes that the
 *   user has not consumed, plus out-of-order bytes, never exceed it: out-of-order segments are
 *   only stored inside the advertised window, in at most oooChunkLimit() chunks;
 * - connections in total: `maxConnections` (default 10,000), TIME-WAIT entries excluded;
 * - TIME-WAIT entries: `maxTimeWait` (default 4096); beyond it the oldest is forgotten early
 *   (as Linux does on "time wait bucket table overflow");
 * - per listener: `backlog` half-open connections (passive opens are handed over when they are
 *   established, so nothing else waits); SYNs beyond it are dropped and counted;
 * - the sender's SACK scoreboard: SCOREBOARD_MAX_RANGES ranges.
 */

// ---- Spec ----

/** RFC 9293 section 3.7.1: the default send MSS when the peer sends no MSS option. */
export const DEFAULT_MSS_V4 = 536;
export const DEFAULT_MSS_V6 = 1220;
/** IP + TCP header bytes that the MSS excludes (RFC 9293 section 3.7.1, RFC 8200). */
export const HEADER_OVERHEAD_V4 = 40;
export const HEADER_OVERHEAD_V6 = 60;
/** RFC 7323 section 2.3: the largest window shift. */
export const MAX_WINDOW_SHIFT = 14;
/** RFC 6298 section 2.1: the initial RTO (1 s). */
export const RTO_INITIAL_MS = 1000;
/** RFC 6298 section 2.4 says 1 s; we use Linux's 200 ms (TCP_RTO_MIN), documented deviation. */
export const RTO_MIN_MS = 200;
/** RFC 6298 section 2.5 allows a maximum of at least 60 s; Linux's TCP_RTO_MAX is 120 s. */
export const RTO_MAX_MS = 120_000;
/** RFC 6298 section 2: clock granularity G (our clock is milliseconds). */
export const CLOCK_GRANULARITY_MS = 1;
/** RFC 5681 section 3.2: duplicate ACKs that trigger fast retransmit. */
export const DUPACK_THRESHOLD = 3;
/** RFC 6928: initial window of 10 segments. */
export const INITIAL_WINDOW_SEGMENTS = 10;

// ---- Implementation choices ----

/** Maximum segment lifetime: Linux's TIME-WAIT is 60 s, so 2*MSL = 60 s here (MSL 30 s). */
export const TIME_WAIT_MS = 60_000;
/** How long an orphaned connection (Tcb.release) may wait in FIN-WAIT-2 for the peer's FIN. */
export const FIN_WAIT_2_TIMEOUT_MS = 60_000;
/** SYN retransmissions before ETIMEDOUT (Linux tcp_syn_retries = 6: about 127 s). */
export const SYN_RETRIES = 6;
/** Data retransmissions before ETIMEDOUT (Linux tcp_retries2 = 15). */
export const DATA_RETRIES = 15;
/**
 * Out-of-order chunks kept per connection: one per 256 window bytes (at least 64), so full-sized
 * segments always fit the window while a flood of tiny ones stays bounded.
 */
export function oooChunkLimit(receiveBufferSize: number): number {
  return Math.max(64, Math.floor(receiveBufferSize / 256));
}
/** Ranges kept in the sender's SACK scoreboard. */
export const SCOREBOARD_MAX_RANGES = 256;
/** RFC 8985 section 7.2: the probe timeout is 2*SRTT; Linux's floor is 10 ms. */
export const TLP_MIN_MS = 10;
/** RFC 8985 section 7.2's WCDelAckT: the peer's worst-case delayed ACK, added for one segment. */
export const TLP_DELAYED_ACK_MS = 200;
/** Initial send-buffer allocation (it doubles up to sendBufferSize). */
export const SEND_BUFFER_INITIAL = 16 * 1024;

export interface TcpOptions {
  /** Send buffer bytes per connection (default 1 MiB). */
  sendBufferSize?: number;
  /** Receive window bytes per connection (default 4 MiB, at most 1 GiB). */
  receiveBufferSize?: number;
  /** Connections in total, TIME-WAIT excluded (default 10,000). */
  maxConnections?: number;
  /** TIME-WAIT entries kept (default 4096). */
  maxTimeWait?: number;
  /** Keepalive probe interval (default 75 s, Linux tcp_keepalive_intvl). */
  keepAliveIntervalMs?: number;
  /** Unanswered keepalive probes before ETIMEDOUT (default 9, Linux tcp_keepalive_probes). */
  keepAliveProbes?: number;
  /** Offer and use SACK (RFC 2018), default true. */
  sack?: boolean;
  /** Tail loss probes (RFC 8985 section 7), default true. */
  tailLossProbe?: boolean;
}

export interface ResolvedTcpOptions {
  readonly sendBufferSize: number;
  readonly receiveBufferSize: number;
  readonly maxConnections: number;
  readonly maxTimeWait: number;
  readonly keepAliveIntervalMs: number;
  readonly keepAliveProbes: number;
  readonly sack: boolean;
  readonly tailLossProbe: boolean;
}

function positive(name: string, value: number | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new RangeError(`TcpOptions.${name} must be an integer from 1 to ${max}`);
  }
  return value;
}

export function resolveTcpOptions(o: TcpOptions = {}): ResolvedTcpOptions {
  return {
    sendBufferSize: positive('sendBufferSize', o.sendBufferSize, 1 << 20, 1 << 30),
    receiveBufferSize: positive('receiveBufferSize', o.receiveBufferSize, 4 << 20, 1 << 30),
    maxConnections: positive('maxConnections', o.maxConnections, 10_000, 1 << 24),
    maxTimeWait: positive('maxTimeWait', o.maxTimeWait, 4096, 1 << 24),
    keepAliveIntervalMs: positive('keepAliveIntervalMs', o.keepAliveIntervalMs, 75_000, 1 << 30),
    keepAliveProbes: positive('keepAliveProbes', o.keepAliveProbes, 9, 1000),
    sack: o.sack ?? true,
    tailLossProbe: o.tailLossProbe ?? true,
  };
}
