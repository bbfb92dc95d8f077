/**
 * An in-memory TcpApi for the socket-layer tests: every connection loops back to a listener of
 * the same fake, and the TcpConnection contract of src/netstack/types.ts is kept faithfully
 * (RFC 9293's user interface, section 3.9.1): write() takes only what the send buffer has room
 * for, data moves to the peer only while the peer's receive window (capacity minus bytes not yet
 * consume()d) is open, onDrain fires when send-buffer space was freed, shutdown() delivers onEnd
 * after the buffered data, both FINs make onClose(null), abort() resets the peer (ECONNRESET).
 * A SYN to one of our addresses with no listener is refused (ECONNREFUSED); a SYN to any other
 * address is never answered (for connect timeouts). Like the real stack it is sans-I/O: work
 * happens in poll(), and wake() asks the driver for one.
 */
import type {
  SocketAddress,
  TcpApi,
  TcpConnection,
  TcpConnectionEvents,
  TcpListener,
  TcpStateName,
} from '../../src/netstack/types.js';

export interface FakeTcpOptions {
  readonly addresses: readonly Uint8Array[];
  readonly wake: () => void;
  readonly sendBuffer?: number;
  readonly receiveWindow?: number;
  /** Largest onData chunk (an MSS). */
  readonly segment?: number;
}

function coded(code: string): Error {
  return Object.assign(new Error(code), { code });
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export class FakeConnection implements TcpConnection {
  state: TcpStateName;
  events: TcpConnectionEvents | null;
  peer: FakeConnection | null = null;
  readonly chunks: Buffer[] = [];
  queued = 0;
  /** Delivered to onData, not yet consume()d: what occupies our receive window. */
  unconsumed = 0;
  maxUnconsumed = 0;
  finQueued = false;
  finSent = false;
  resetPending = false;
  keepAlive: [boolean, number] | null = null;
  noDelay: boolean | null = null;

  constructor(
    private readonly fake: FakeTcp,
    readonly local: SocketAddress,
    readonly remote: SocketAddress,
    state: TcpStateName,
    events: TcpConnectionEvents | null,
  ) {
    this.state = state;
    this.events = events;
  }

  setEvents(events: TcpConnectionEvents): void {
    this.events = events;
  }

  get writable(): number {
    return this.fake.sendBuffer - this.queued;
  }

  write(data: Uint8Array): number {
    if (this.finQueued || (this.state !== 'ESTABLISHED' && this.state !== 'CLOSE-WAIT')) return 0;
    const n = Math.min(data.length, this.writable);
    if (n > 0) {
      this.chunks.push(Buffer.from(data.subarray(0, n)));
      this.queued += n;
      this.fake.wake();
    }
    return n;
  }

  consume(n: number): void {
    if (n < 0 || n > this.unconsumed)
      throw new RangeError(`consume(${n}) with ${this.unconsumed} unconsumed`);
    this.unconsumed -= n;
    this.fake.wake();
  }

  shutdown(): void {
    this.finQueued = true;
    this.fake.wake();
  }

  abort(): void {
    if (this.state === 'CLOSED') return;
    this.fake.aborts++;
    this.state = 'CLOSED';
    this.events = null;
    if (this.peer !== null && this.peer.state !== 'CLOSED') this.peer.resetPending = true;
    this.fake.wake();
  }

  setKeepAlive(enable: boolean, idleMs: number): void {
    this.keepAlive = [enable, idleMs];
  }

  setNoDelay(noDelay: boolean): void {
    this.noDelay = noDelay;
  }

  /** Takes up to `n` bytes off the send queue. */
  take(n: number): Buffer {
    const parts: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const head = this.chunks[0]!;
      if (head.length <= need) {
        parts.push(head);
        this.chunks.shift();
        need -= head.length;
      } else {
        parts.push(head.subarray(0, need));
        this.chunks[0] = head.subarray(need);
        need = 0;
      }
    }
    this.queued -= n;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }
}

interface FakeListener {
  readonly address: Uint8Array | null;
  readonly onAccept: (connection: TcpConnection) => void;
}

export class FakeTcp implements TcpApi {
  readonly sendBuffer: number;
  readonly receiveWindow: number;
  readonly segment: number;
  readonly connections: FakeConnection[] = [];
  /** abort() calls (RSTs sent). */
  aborts = 0;
  readonly #listeners = new Map<number, FakeListener>();
  #nextPort = 49152;

  constructor(private readonly options: FakeTcpOptions) {
    this.sendBuffer = options.sendBuffer ?? 65536;
    this.receiveWindow = options.receiveWindow ?? 65536;
    this.segment = options.segment ?? 1400;
  }

  wake(): void {
    this.options.wake();
  }

  #isLocal(address: Uint8Array): boolean {
    return this.options.addresses.some((a) => same(a, address));
  }

  connect(remote: SocketAddress, events: TcpConnectionEvents, local?: Partial<SocketAddress>): TcpConnection {
    const address =
      local?.address ?? this.options.addresses.find((a) => a.length === remote.address.length) ?? null;
    if (address === null || !this.#isLocal(address)) throw coded('EADDRNOTAVAIL');
    const port = local?.port ?? this.#nextPort++;
    const conn = new FakeConnection(
      this,
      { address, port },
      { address: Uint8Array.from(remote.address), port: remote.port },
      'SYN-SENT',
      events,
    );
    this.connections.push(conn);
    this.wake();
    return conn;
  }

  listen(
    address: Uint8Array | null,
    port: number,
    _backlog: number,
    onAccept: (connection: TcpConnection) => void,
  ): TcpListener {
    const chosen = port === 0 ? this.#nextPort++ : port;
    if (this.#listeners.has(chosen)) throw coded('EADDRINUSE');
    this.#listeners.set(chosen, { address, onAccept });
    const listeners = this.#listeners;
    return {
      local: { address: address ?? new Uint8Array(16), port: chosen },
      close: () => listeners.delete(chosen),
    };
  }

  /** Work is due whenever something can move; the fake has no timers of its own. */
  nextDeadline(): number {
    return this.connections.some((c) => this.#canProgress(c)) ? 0 : Infinity;
  }

  #canProgress(c: FakeConnection): boolean {
    if (c.resetPending) return true;
    if (c.state === 'SYN-SENT') return this.#isLocal(c.remote.address);
    if (c.state === 'CLOSED' || c.peer === null) return false;
    const window = this.receiveWindow - c.peer.unconsumed;
    return (c.queued > 0 && window > 0) || (c.finQueued && c.queued === 0 && !c.finSent);
  }

  poll(): void {
    for (let pass = 0; pass < 64 && this.connections.some((c) => this.#canProgress(c)); pass++) {
      for (const c of [...this.connections]) this.#step(c);
    }
    for (let i = this.connections.length - 1; i >= 0; i--) {
      if (this.connections[i]!.state === 'CLOSED') this.connections.splice(i, 1);
    }
  }

  #step(c: FakeConnection): void {
    if (c.resetPending) {
      c.resetPending = false;
      c.state = 'CLOSED';
      const events = c.events;
      c.events = null;
      events?.onClose('ECONNRESET');
      return;
    }
    if (c.state === 'SYN-SENT') return this.#handshake(c);
    const peer = c.peer;
    if (c.state === 'CLOSED' || peer === null) return;
    let freed = false;
    while (c.queued > 0 && this.receiveWindow - peer.unconsumed > 0 && peer.state !== 'CLOSED') {
      const n = Math.min(this.segment, c.queued, this.receiveWindow - peer.unconsumed);
      const data = c.take(n);
      freed = true;
      peer.unconsumed += n;
      peer.maxUnconsumed = Math.max(peer.maxUnconsumed, peer.unconsumed);
      peer.events?.onData(data);
    }
    if (freed) c.events?.onDrain();
    if (c.finQueued && c.queued === 0 && !c.finSent) {
      c.finSent = true;
      c.state = peer.finSent ? 'CLOSING' : 'FIN-WAIT-1';
      peer.state = peer.finSent ? peer.state : 'CLOSE-WAIT';
      peer.events?.onEnd();
      if (peer.finSent) {
        for (const end of [c, peer]) {
          end.state = 'CLOSED';
          const events = end.events;
          end.events = null;
          events?.onClose(null);
        }
      }
    }
  }

  #handshake(c: FakeConnection): void {
    if (!this.#isLocal(c.remote.address)) return; // no answer: the SYN went into the void
    const listener = this.#listeners.get(c.remote.port);
    if (listener === undefined || (listener.address !== null && !same(listener.address, c.remote.address))) {
      c.state = 'CLOSED';
      const events = c.events;
      c.events = null;
      events?.onClose('ECONNREFUSED');
      return;
    }
    const server = new FakeConnection(this, c.remote, c.local, 'ESTABLISHED', null);
    server.peer = c;
    c.peer = server;
    c.state = 'ESTABLISHED';
    this.connections.push(server);
    listener.onAccept(server);
    c.events?.onEstablished();
  }
}
