/**
 * One connection's transmission control block (RFC 9293 section 3.3.1: the SND.* and RCV.*
 * variables) and the user calls on it (section 3.10.1 to 3.10.6: SEND, RECEIVE's flow control,
 * CLOSE, ABORT). Segment arrival lives in arrival.ts, sending in output.ts, timers in timers.ts;
 * the layer (layer.ts) demultiplexes and owns the tables. Deviations, documented: CLOSE (shutdown)
 * before the handshake completes queues the FIN until ESTABLISHED instead of deleting the TCB
 * (Node's socket.end() semantics); SEND after CLOSE takes nothing (write returns 0) rather than
 * failing; FIN-WAIT-2 has no timeout (the user still owns the connection and may read; Linux's
 * tcp_fin_timeout applies to orphaned sockets only). An orderly close is reported (onClose(null))
 * when TIME-WAIT begins; the TIME-WAIT entry itself stays in the layer for 2*MSL.
 */
import type {
  SocketAddress,
  TcpConnection,
  TcpConnectionEvents,
  TcpErrorCode,
  TcpStateName,
} from '../types.js';
import { NewReno } from './congestion.js';
import type { ResolvedTcpOptions } from './constants.js';
import { Reassembly } from './reassembly.js';
import { oooChunkLimit, FIN_WAIT_2_TIMEOUT_MS } from './constants.js';
import { RtoEstimator } from './rto.js';
import { Scoreboard } from './scoreboard.js';
import { SendBuffer } from './send-buffer.js';
import { sendReset } from './output.js';
import { isSynchronized, nextState, type TcpEvent } from './states.js';

/** What a connection needs from its layer. */
export interface TcbHost {
  readonly options: ResolvedTcpOptions;
  now(): number;
  /** Sends a built segment (checksum field zero). */
  transmit(c: Tcb, segment: Uint8Array): void;
  /** A user call changed what the connection may send or when its timers fire. */
  kick(c: Tcb): void;
  /** Forget the connection (after onClose or abort). */
  remove(c: Tcb): void;
  /** The connection entered TIME-WAIT. */
  enteredTimeWait(c: Tcb): void;
  /** Counts an event in the layer's counters (retransmissions, timeouts, recoveries). */
  count(name: 'retransmits' | 'timeouts' | 'fastRecoveries' | 'probes'): void;
  /** A passive open reached ESTABLISHED: hand it to the listener. */
  accepted(c: Tcb): void;
  /** RFC 9293 section 3.10.7.1: <SEQ=seq><CTL=RST> to the connection's peer. */
  sendResetFor(c: Tcb, seq: number): void;
  drop(reason: string): void;
}

const NO_EVENTS: TcpConnectionEvents = {
  onEstablished() {},
  onData() {},
  onEnd() {},
  onDrain() {},
  onClose() {},
};

export class Tcb implements TcpConnection {
  state: TcpStateName = 'CLOSED';
  events: TcpConnectionEvents = NO_EVENTS;
  /** True once onClose ran or abort() was called: no more callbacks, no more work. */
  gone = false;
  /** True once onClose ran (TIME-WAIT reports the orderly close before the entry goes). */
  notified = false;
  /** The listener's half-open count to release on ESTABLISHED or failure (passive opens). */
  passiveOf: { halfOpen: number } | null = null;
  /** Opened by a listener (else by connect(), simultaneous open included). */
  passive = false;

  // Send sequence variables (RFC 9293 section 3.3.1).
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  maxSndWnd = 0;
  /** The peer's window shift (RFC 7323), applied to every window it sends after the SYN. */
  sndShift = 0;
  /** Our window shift, offered in our SYN; 0 unless both sides agreed. */
  rcvShift = 0;
  sackOk = false;
  /** Payload bytes per segment (the effective send MSS). */
  mss: number;
  readonly buffer: SendBuffer;
  finQueued = false;
  finSent = false;
  /** The FIN's sequence number once sent. */
  finSeq = 0;

  // Receive sequence variables.
  irs = 0;
  rcvNxt = 0;
  /** The right edge we advertised last (RCV.NXT + RCV.WND); never moved left. */
  rcvAdv = 0;
  /** Delivered bytes not yet consumed by the user. */
  unconsumed = 0;
  readonly ooo: Reassembly;
  /** An out-of-order FIN's sequence number, or -1. */
  pendingFin = -1;
  readonly sackEdges = new Uint32Array(8);

  // Retransmission and congestion state.
  readonly rto = new RtoEstimator();
  readonly cc: NewReno;
  readonly scoreboard = new Scoreboard();
  retries = 0;
  rttTiming = false;
  rttSeq = 0;
  rttStart = 0;
  dupAcks = 0;
  /** Bytes that duplicate ACKs reported as having left the network (recovery without SACK). */
  dupAckBytes = 0;
  /** RFC 6582's "recover": SND.NXT when the last recovery or timeout began. */
  recover = 0;
  /** Retransmission walks [rxtNext, rxtLimit), skipping SACKed ranges. */
  rxtNext = 0;
  rxtLimit = 0;
  /** The timer at rtoAt is a tail loss probe (RFC 8985 section 7), not the RTO. */
  tlpArmed = false;
  /** A probe went out and no new data was acknowledged since. */
  tlpSent = false;
  /** scoreboard.sackedEver when SND.UNA was last retransmitted. */
  unaRetransmittedAt = 0;

  // Timers (monotonic ms; Infinity when off).
  rtoAt = Infinity;
  persistAt = Infinity;
  persistBackoff = 0;
  keepAt = Infinity;
  timeWaitAt = Infinity;
  /** release() was called: nobody reads, data is discarded, FIN-WAIT-2 is bounded. */
  orphaned = false;
  /** When an orphaned connection stuck in FIN-WAIT-2 is reaped (FIN_WAIT_2_TIMEOUT_MS). */
  finWait2At = Infinity;
  ackPending = false;
  keepAlive = false;
  keepIdle = 7_200_000;
  keepProbes = 0;
  noDelay = false;

  constructor(
    readonly host: TcbHost,
    readonly local: SocketAddress,
    readonly remote: SocketAddress,
    readonly key: string,
    /** Our MSS (from the MTU), offered in our SYN. */
    readonly ourMss: number,
  ) {
    this.mss = ourMss;
    this.buffer = new SendBuffer(host.options.sendBufferSize);
    this.cc = new NewReno(ourMss);
    this.ooo = new Reassembly(oooChunkLimit(host.options.receiveBufferSize));
  }

  /** Moves along the state diagram (states.ts); a missing edge is a bug in this code. */
  transition(event: TcpEvent): void {
    const next = nextState(this.state, event);
    if (next === null) throw new Error(`TCP: no transition from ${this.state} on ${event}`);
    this.state = next;
    if (next === 'FIN-WAIT-2' && this.orphaned) this.finWait2At = this.host.now() + FIN_WAIT_2_TIMEOUT_MS;
    else if (next !== 'FIN-WAIT-2') this.finWait2At = Infinity;
  }

  get flight(): number {
    return (this.sndNxt - this.sndUna) >>> 0;
  }

  /** The sequence number after the last byte the user wrote. */
  get dataEnd(): number {
    return (this.sndUna + this.buffer.length) >>> 0;
  }

  setEvents(events: TcpConnectionEvents): void {
    this.events = events;
  }

  get writable(): number {
    if (this.gone || this.finQueued) return 0;
    return this.buffer.free;
  }

  write(data: Uint8Array): number {
    if (this.gone || this.finQueued) return 0;
    const s = this.state;
    if (s !== 'ESTABLISHED' && s !== 'CLOSE-WAIT' && s !== 'SYN-SENT' && s !== 'SYN-RECEIVED') return 0;
    const n = this.buffer.write(data);
    if (n > 0) this.host.kick(this);
    return n;
  }

  consume(n: number): void {
    if (!(n >= 0)) throw new RangeError('consume: n must be a non-negative number');
    const before = this.rcvBufferFree();
    this.unconsumed = Math.max(0, this.unconsumed - n);
    if (this.gone) return;
    // RFC 9293 section 3.8.6.2.2: announce the window when it grew by min(buffer/2, MSS).
    const advertised = (this.rcvAdv - this.rcvNxt) | 0;
    const grown = this.rcvBufferFree() - Math.max(advertised, 0);
    const threshold = Math.min(this.host.options.receiveBufferSize >> 1, this.ourMss);
    if (grown >= threshold && before !== this.rcvBufferFree()) {
      this.ackPending = true;
      this.host.kick(this);
    }
  }

  /** Room for new data in the receive window. */
  rcvBufferFree(): number {
    return Math.max(0, this.host.options.receiveBufferSize - this.unconsumed);
  }

  shutdown(): void {
    if (this.gone || this.finQueued) return;
    this.finQueued = true;
    if (this.state === 'ESTABLISHED' || this.state === 'CLOSE-WAIT') this.transition('close');
    this.host.kick(this);
  }

  /** ESTABLISHED was reached with a FIN queued by an early shutdown(). */
  applyQueuedClose(): void {
    if (this.finQueued && (this.state === 'ESTABLISHED' || this.state === 'CLOSE-WAIT')) {
      this.transition('close');
    }
  }

  /**
   * The user closed its socket without resetting (close(2) on a socket with nothing unread): the
   * FIN goes after the buffered data as with shutdown(), no more events are delivered, arriving
   * data is acknowledged and discarded, and a connection whose peer never sends its FIN leaves
   * FIN-WAIT-2 after FIN_WAIT_2_TIMEOUT_MS (Linux's tcp_fin_timeout for orphaned sockets; RFC
   * 9293 sets no bound, but without one a silent peer would hold the entry forever).
   */
  release(): void {
    if (this.gone) return;
    this.orphaned = true;
    this.events = NO_EVENTS;
    this.unconsumed = 0;
    if (this.state === 'FIN-WAIT-2') this.finWait2At = this.host.now() + FIN_WAIT_2_TIMEOUT_MS;
    this.shutdown();
  }

  abort(): void {
    if (this.gone) return;
    // RFC 9293 section 3.10.5: a RST in the synchronized states, then forget everything.
    if (isSynchronized(this.state) && this.state !== 'TIME-WAIT') sendReset(this);
    this.gone = true;
    this.state = 'CLOSED';
    this.host.remove(this);
  }

  setKeepAlive(enable: boolean, idleMs: number): void {
    this.keepAlive = enable;
    if (idleMs > 0) this.keepIdle = idleMs;
    this.keepProbes = 0;
    this.keepAt = enable ? this.host.now() + this.keepIdle : Infinity;
    if (!this.gone) this.host.kick(this);
  }

  setNoDelay(noDelay: boolean): void {
    this.noDelay = noDelay;
    if (!this.gone) this.host.kick(this);
  }

  /** Ends the connection with `error` (null: orderly): onClose once, then forgotten. */
  finish(error: TcpErrorCode | null): void {
    if (this.gone) return;
    this.gone = true;
    this.state = 'CLOSED';
    this.host.remove(this);
    if (this.notified) return;
    this.notified = true;
    this.events.onClose(error);
  }

  /** The earliest timer. */
  deadline(): number {
    return Math.min(this.rtoAt, this.persistAt, this.keepAt, this.timeWaitAt, this.finWait2At);
  }

  /** Any segment from the peer restarts the keepalive idle time. */
  heard(now: number): void {
    if (this.keepAlive) {
      this.keepAt = now + this.keepIdle;
      this.keepProbes = 0;
    }
  }
}
