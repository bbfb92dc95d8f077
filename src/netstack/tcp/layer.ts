/**
 * The TCP layer (RFC 9293): demultiplexes segments to connections by their 4-tuple, answers
 * segments for no connection (section 3.10.7.1: RST, never in answer to a RST), runs LISTEN
 * (section 3.10.7.2, listen.ts), holds ACKs until the end of an input batch, and owns the tables
 * and their bounds (constants.ts): connections, TIME-WAIT entries, half-open connections per
 * listener; opening connections is in open.ts. Timers: nextDeadline() is the minimum over the
 * connections (a linear scan, fine for the connection counts of an embedded stack).
 */
import type {
  IpDatagram,
  IpSender,
  SocketAddress,
  StackHost,
  TcpApi,
  TcpConnection,
  TcpConnectionEvents,
  TcpListener,
  TransportProtocol,
} from '../types.js';
import { IPPROTO_TCP } from '../types.js';
import { segmentArrives } from './arrival.js';
import { Tcb, type TcbHost } from './connection.js';
import { resolveTcpOptions } from './constants.js';
import type { ResolvedTcpOptions, TcpOptions } from './constants.js';
import { connectionKey } from './keys.js';
import { listenArrives, type Listener, replyReset } from './listen.js';
import { activeOpen, newTcb, passiveOpen } from './open.js';
import { output } from './output.js';
import { ACK, CHECKSUM_OFFSET, parseSegment, RST, Segment, SYN } from './segment.js';
import { seqGt } from './seq.js';
import { onTimers } from './timers.js';

export class TcpLayer implements TransportProtocol, TcpApi, TcbHost {
  readonly protocol = IPPROTO_TCP;
  readonly options: ResolvedTcpOptions;
  /** Dropped segments by reason. */
  readonly drops: Record<string, number> = Object.create(null) as Record<string, number>;
  /** Segments retransmitted, retransmission timeouts, fast recoveries entered, tail loss probes. */
  readonly counters = { retransmits: 0, timeouts: 0, fastRecoveries: 0, probes: 0 };
  readonly connections = new Map<string, Tcb>();
  /** TIME-WAIT entries in the order they entered (oldest first). */
  private readonly timeWait = new Map<string, Tcb>();
  readonly listeners = new Map<number, Listener[]>();
  /** Local ports in use by connections (count) for ephemeral selection. */
  readonly portUse = new Map<number, number>();
  private readonly dirty = new Set<Tcb>();
  private inBatch = false;
  private readonly seg = new Segment();
  private last: Tcb | null = null;

  constructor(
    readonly ip: IpSender,
    readonly host: StackHost,
    options?: TcpOptions,
  ) {
    this.options = resolveTcpOptions(options);
  }

  /** Connections not in TIME-WAIT. */
  get activeCount(): number {
    return this.connections.size - this.timeWait.size;
  }

  get timeWaitCount(): number {
    return this.timeWait.size;
  }

  now(): number {
    return this.host.now();
  }

  count(name: 'retransmits' | 'timeouts' | 'fastRecoveries' | 'probes'): void {
    this.counters[name]++;
  }

  drop(reason: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }

  transmit(c: Tcb, segment: Uint8Array): void {
    if (!this.ip.send(c.local.address, c.remote.address, IPPROTO_TCP, segment, CHECKSUM_OFFSET)) {
      this.drop('ip-refused');
    }
  }

  sendResetFor(c: Tcb, seq: number): void {
    replyReset(this, c.local, c.remote, seq, 0, false);
  }

  kick(c: Tcb): void {
    if (this.inBatch) {
      this.dirty.add(c);
      return;
    }
    output(c);
    this.host.wake();
  }

  remove(c: Tcb): void {
    if (this.connections.get(c.key) === c) {
      this.connections.delete(c.key);
      const n = (this.portUse.get(c.local.port) ?? 1) - 1;
      if (n > 0) this.portUse.set(c.local.port, n);
      else this.portUse.delete(c.local.port);
    }
    this.timeWait.delete(c.key);
    this.dirty.delete(c);
    if (c.passiveOf !== null) {
      c.passiveOf.halfOpen--;
      c.passiveOf = null;
    }
    if (this.last === c) this.last = null;
  }

  enteredTimeWait(c: Tcb): void {
    this.timeWait.delete(c.key);
    this.timeWait.set(c.key, c);
    // The bound: forget the oldest early (its peer may see a RST for a late segment).
    while (this.timeWait.size > this.options.maxTimeWait) {
      const oldest = this.timeWait.values().next().value as Tcb;
      this.drop('time-wait-overflow');
      oldest.finish(null);
    }
  }

  accepted(c: Tcb): void {
    const l = c.passiveOf;
    if (l !== null) {
      l.halfOpen--;
      c.passiveOf = null;
    }
    const listener = this.lookupListener(c.local.address, c.local.port, false);
    if (listener === null) {
      c.abort();
      return;
    }
    listener.onAccept(c);
  }

  register(c: Tcb): void {
    this.connections.set(c.key, c);
    this.portUse.set(c.local.port, (this.portUse.get(c.local.port) ?? 0) + 1);
  }

  receive(d: IpDatagram): void {
    this.inBatch = true;
    const seg = this.seg;
    const bad = parseSegment(d.payload, seg);
    if (bad !== null) {
      this.drop(bad);
      return;
    }
    if (seg.sourcePort === 0 || seg.destinationPort === 0) {
      this.drop('port-zero');
      return;
    }
    let c = this.last;
    if (
      c === null ||
      c.remote.port !== seg.sourcePort ||
      c.local.port !== seg.destinationPort ||
      !sameBytes(c.remote.address, d.source) ||
      !sameBytes(c.local.address, d.destination)
    ) {
      c =
        this.connections.get(connectionKey(d.destination, seg.destinationPort, d.source, seg.sourcePort)) ??
        null;
    }
    if (c !== null && c.state === 'TIME-WAIT' && seg.flags & SYN && !(seg.flags & RST)) {
      // RFC 9293 section 3.6.1 / RFC 6191: a new SYN above the old sequence space reopens.
      if (seqGt(seg.seq, c.rcvNxt)) {
        c.finish(null);
        c = null;
      }
    }
    if (c === null) {
      this.last = null;
      const l = this.lookupListener(d.destination, seg.destinationPort, true);
      if (l !== null) listenArrives(this, l, d, seg);
      else this.closedArrives(d, seg);
      return;
    }
    this.last = c;
    segmentArrives(c, seg);
    if (!c.gone) this.dirty.add(c);
  }

  /** RFC 9293 section 3.10.7.1: CLOSED answers everything but a RST with a RST. */
  private closedArrives(d: IpDatagram, seg: Segment): void {
    this.drop('no-connection');
    if (seg.flags & RST) return;
    const local = { address: d.destination, port: seg.destinationPort };
    const remote = { address: d.source, port: seg.sourcePort };
    if (seg.flags & ACK) replyReset(this, local, remote, seg.ack, 0, false);
    else replyReset(this, local, remote, 0, (seg.seq + seg.length) >>> 0, true);
  }

  lookupListener(address: Uint8Array, port: number, open: boolean): Listener | null {
    const list = this.listeners.get(port);
    if (list === undefined) return null;
    let any: Listener | null = null;
    for (const l of list) {
      if (open && l.closed) continue;
      if (l.address === null) any = l;
      else if (sameBytes(l.address, address)) return l;
    }
    return any;
  }

  connect(remote: SocketAddress, events: TcpConnectionEvents, local?: Partial<SocketAddress>): TcpConnection {
    return activeOpen(this, remote, events, local);
  }

  listen(
    address: Uint8Array | null,
    port: number,
    backlog: number,
    onAccept: (connection: TcpConnection) => void,
  ): TcpListener {
    return passiveOpen(this, address, port, backlog, onAccept);
  }

  newTcb(local: SocketAddress, remote: SocketAddress, key: string): Tcb {
    return newTcb(this, local, remote, key);
  }

  flush(): void {
    this.inBatch = false;
    if (this.dirty.size === 0) return;
    for (const c of this.dirty) output(c);
    this.dirty.clear();
  }

  nextDeadline(): number {
    if (this.dirty.size > 0) return this.host.now();
    let t = Infinity;
    for (const c of this.connections.values()) {
      const d = c.deadline();
      if (d < t) t = d;
    }
    return t;
  }

  poll(): void {
    const now = this.host.now();
    this.inBatch = true;
    for (const c of this.connections.values()) {
      if (c.deadline() <= now) onTimers(c, now);
    }
    this.flush();
  }
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
