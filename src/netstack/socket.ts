/**
 * A TCP connection of the userspace stack as a net.Socket-shaped stream.Duplex. It maps
 * RFC 9293's user interface (section 3.9.1: OPEN, SEND, RECEIVE, CLOSE, ABORT) onto Node's
 * stream contract: write() is SEND with the send buffer's room as backpressure (the callback of
 * _write waits for onDrain when the connection took less than the chunk), RECEIVE is onData
 * pushed into the readable side, and the bytes are consume()d only once the reader takes them,
 * so a reader that stops reading closes the TCP window (section 3.8.6) instead of growing a
 * buffer. end() is CLOSE (a half close, FIN after the data); destroy() is close(2)'s choice
 * between CLOSE and ABORT (see _destroy), resetAndDestroy() is ABORT (RST). Events,
 * errors (`connect ECONNREFUSED 10.0.0.2:80` with errno/code/syscall/address/port) and the
 * allowHalfOpen rule follow net.Socket.
 */
import { ReceiveCoalescer } from './receive-coalescer.js';
import { Duplex } from 'node:stream';
import type { LoopKeeper } from './driver.js';
import type { TunnelSocket } from './network-types.js';
import type { TcpConnection, TcpConnectionEvents, TcpErrorCode } from './types.js';
import { familyName, formatIP } from './addresses.js';
import { systemError } from './socket-errors.js';
import { SocketKnobs } from './socket-knobs.js';

export interface TcpSocketOptions {
  /** Counts this socket while it is open and ref'd (the StackDriver), so the program stays up. */
  readonly keeper?: LoopKeeper;
  /** net.Socket's allowHalfOpen: false (default) ends our side once the peer's FIN was read. */
  readonly allowHalfOpen?: boolean;
}

interface PendingWrite {
  readonly chunk: Buffer;
  offset: number;
  readonly callback: (error?: Error | null) => void;
}

export class TcpSocket extends Duplex implements TunnelSocket {
  #conn: TcpConnection | null = null;
  /** Set once destroyed: stack callbacks that still arrive are ignored. */
  #detached = false;
  #connecting = false;
  #remote: { address: string; port: number; family: 'IPv4' | 'IPv6' } | undefined;
  #local: { address: string; port: number } | undefined;
  readonly #knobs: SocketKnobs;
  #pendingWrite: PendingWrite | null = null;
  #pendingFinal: ((error?: Error | null) => void) | null = null;
  /** Bytes the reader took, to be consume()d at the end of this microtask (one window update). */
  #toConsume = 0;
  #consumeQueued = false;
  /** Bytes pushed while the readable buffer was full: consume()d when the reader asks (_read). */
  #held = 0;
  readonly #received = new ReceiveCoalescer();
  #pushQueued = false;
  #peerEnded = false;
  #shutdownSent = false;
  /** resetAndDestroy() was called: destroy aborts whatever the state. */
  #reset = false;
  /** The connection reported onClose: it no longer exists in the stack. */
  #closed = false;
  #bytesRead = 0;
  #bytesWritten = 0;

  readonly #events: TcpConnectionEvents = {
    onEstablished: () => this.#onEstablished(),
    onData: (data) => this.#onData(data),
    onEnd: () => this.#onEnd(),
    onDrain: () => this.#continueWrite(),
    onClose: (error) => this.#onClose(error),
  };

  constructor(options: TcpSocketOptions = {}) {
    super({ allowHalfOpen: options.allowHalfOpen ?? false, emitClose: false, decodeStrings: true });
    this.#knobs = new SocketKnobs(options.keeper ?? null, () => this.emit('timeout'));
    this.ref();
  }

  // ---- how the network and the server hand connections over ----

  /**
   * The active open has begun (a name may still be resolving): `connecting` turns true and the
   * connect timeout, if any, starts now, so it covers the lookup as net.connect's does.
   */
  beginConnect(host: string, port: number, timeoutMs?: number): void {
    this.#connecting = true;
    this.#remote = { address: host, port, family: host.includes(':') ? 'IPv6' : 'IPv4' };
    if (timeoutMs !== undefined && timeoutMs > 0) {
      this.#knobs.startConnectTimer(timeoutMs, () => {
        this.destroy(systemError('connect', 'ETIMEDOUT', this.#remote?.address, this.#remote?.port));
      });
    }
  }

  /** Starts the handshake through `open` (TcpApi.connect bound to the resolved remote). */
  openConnection(open: (events: TcpConnectionEvents) => TcpConnection): void {
    if (this.destroyed) return;
    let conn: TcpConnection;
    try {
      conn = open(this.#events);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code !== 'string') throw error;
      this.destroy(systemError('connect', code, this.#remote?.address, this.#remote?.port));
      return;
    }
    this.#attach(conn);
  }

  /** A passive open, already established (handed over by TcpApi.listen's onAccept). */
  adopt(conn: TcpConnection): void {
    this.#attach(conn);
    conn.setEvents(this.#events);
    this.#applyOptions();
  }

  #attach(conn: TcpConnection): void {
    this.#conn = conn;
    const remote = formatIP(conn.remote.address);
    this.#remote = { address: remote, port: conn.remote.port, family: familyName(conn.remote.address) };
    this.#local = { address: formatIP(conn.local.address), port: conn.local.port };
  }

  // ---- stack events ----

  #onEstablished(): void {
    if (this.#detached || this.#conn === null) return;
    this.#connecting = false;
    this.#knobs.clearConnectTimer();
    // The local end may only be final now (an ephemeral port chosen at SYN time).
    this.#local = { address: formatIP(this.#conn.local.address), port: this.#conn.local.port };
    this.#applyOptions();
    this.#knobs.touch();
    this.emit('connect');
    this.emit('ready');
    this.#continueWrite();
  }

  #onData(data: Uint8Array): void {
    if (this.#detached) {
      // Data for a socket the user closed: nobody will read it (Linux answers with RST).
      if (!this.#closed && this.#conn !== null) {
        this.#closed = true;
        this.#conn.abort();
      }
      return;
    }
    if (data.length === 0) return;
    const n = data.length;
    this.#bytesRead += n;
    this.#knobs.touch();
    // The view is only valid during the call: copied, and pushed with the rest of the turn's.
    this.#received.add(data);
    if (this.#pushQueued) return;
    this.#pushQueued = true;
    queueMicrotask(() => this.#pushReceived());
  }

  /** Pushes what arrived this turn (ReceiveCoalescer), before an end or an error is delivered. */
  #pushReceived(): void {
    this.#pushQueued = false;
    if (this.#detached) return;
    for (const chunk of this.#received.take()) {
      if (this.push(chunk)) this.#queueConsume(chunk.length);
      else this.#held += chunk.length;
    }
  }

  #onEnd(): void {
    if (this.#detached) return;
    this.#pushReceived();
    this.#peerEnded = true;
    this.push(null);
  }

  #onClose(error: TcpErrorCode | null): void {
    if (this.#detached) return;
    this.#closed = true;
    this.#knobs.clearConnectTimer();
    this.#pushReceived();
    if (error !== null) {
      this.destroy(this.#errorFor(error));
      return;
    }
    // Orderly: both FINs are through. The stream ends itself (autoDestroy) once it is read.
    if (!this.#peerEnded) {
      this.#peerEnded = true;
      this.push(null);
    }
  }

  #errorFor(code: TcpErrorCode): Error {
    if (this.#connecting) return systemError('connect', code, this.#remote?.address, this.#remote?.port);
    return systemError(code === 'EPIPE' ? 'write' : 'read', code);
  }

  // ---- stream.Duplex ----

  override _read(): void {
    if (this.#held > 0) {
      this.#queueConsume(this.#held);
      this.#held = 0;
    }
  }

  #queueConsume(n: number): void {
    this.#toConsume += n;
    if (this.#consumeQueued) return;
    this.#consumeQueued = true;
    queueMicrotask(() => {
      this.#consumeQueued = false;
      const bytes = this.#toConsume;
      this.#toConsume = 0;
      if (this.#conn !== null && !this.#detached && !this.#closed) this.#conn.consume(bytes);
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#pendingWrite = { chunk, offset: 0, callback };
    this.#continueWrite();
  }

  /** Feeds the pending chunk to the send buffer; resumes on onDrain when it was full. */
  #continueWrite(): void {
    const conn = this.#conn;
    if (conn === null || this.#connecting || this.#detached) return;
    const pending = this.#pendingWrite;
    if (pending !== null) {
      while (pending.offset < pending.chunk.length) {
        const rest = pending.offset === 0 ? pending.chunk : pending.chunk.subarray(pending.offset);
        const taken = conn.write(rest);
        if (taken <= 0) return;
        pending.offset += taken;
        this.#bytesWritten += taken;
        this.#knobs.touch();
      }
      this.#pendingWrite = null;
      pending.callback();
    }
    const final = this.#pendingFinal;
    if (final !== null && this.#pendingWrite === null) {
      this.#pendingFinal = null;
      this.#shutdown(final);
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.#conn === null || this.#connecting) {
      this.#pendingFinal = callback;
      return;
    }
    this.#shutdown(callback);
  }

  #shutdown(callback: (error?: Error | null) => void): void {
    if (!this.#closed) this.#conn?.shutdown();
    this.#shutdownSent = true;
    callback();
  }

  /**
   * destroy() closes the way close(2) on a Linux socket does, which is what net.Socket.destroy()
   * amounts to: ABORT (RST) while connecting or when received data was never read (RFC 2525
   * section 2.17), otherwise CLOSE (a FIN after what the connection already took) and the stack
   * finishes the close on its own. Data that arrives after that resets the connection, as Linux
   * does for a closed socket. resetAndDestroy() always aborts.
   */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const unread = this.readableLength > 0;
    const abortive = this.#reset || this.#connecting || unread;
    this.#detached = true;
    this.#connecting = false;
    this.#knobs.close();
    const conn = this.#conn;
    if (conn !== null && !this.#closed) {
      if (abortive) {
        this.#closed = true;
        conn.abort();
      } else if (!this.#shutdownSent) {
        this.#shutdownSent = true;
        if (conn.release !== undefined) conn.release();
        else conn.shutdown();
      } else conn.release?.();
    }
    callback(error);
    const hadError = error !== null && error !== undefined;
    // Like net.Socket, whose 'close' waits for the handle's close callback: a later turn.
    setImmediate(() => this.emit('close', hadError));
  }

  /** net.Socket.resetAndDestroy(): ABORT, whatever the state (the peer sees ECONNRESET). */
  resetAndDestroy(): this {
    this.#reset = true;
    return this.destroy();
  }

  // ---- net.Socket's properties and knobs ----

  get remoteAddress(): string | undefined {
    return this.#conn === null ? undefined : this.#remote?.address;
  }
  get remotePort(): number | undefined {
    return this.#conn === null ? undefined : this.#remote?.port;
  }
  get remoteFamily(): 'IPv4' | 'IPv6' | undefined {
    return this.#conn === null ? undefined : this.#remote?.family;
  }
  get localAddress(): string | undefined {
    return this.#local?.address;
  }
  get localPort(): number | undefined {
    return this.#local?.port;
  }
  get connecting(): boolean {
    return this.#connecting;
  }
  /** net.Socket.pending: not connected yet. */
  get pending(): boolean {
    return this.#conn === null || this.#connecting;
  }
  get bytesRead(): number {
    return this.#bytesRead;
  }
  get bytesWritten(): number {
    return this.#bytesWritten;
  }
  /** The idle timeout set by setTimeout (undefined when none), as net.Socket.timeout. */
  get timeout(): number | undefined {
    return this.#knobs.idleMs > 0 ? this.#knobs.idleMs : undefined;
  }
  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.#connecting) return 'opening';
    if (this.destroyed || this.#conn === null) return 'closed';
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    return this.writable ? 'writeOnly' : 'closed';
  }

  /** net.Socket.address(): the local end. */
  address(): { address: string; family: 'IPv4' | 'IPv6'; port: number } | Record<string, never> {
    if (this.#conn === null || this.#local === undefined) return {};
    return {
      address: this.#local.address,
      family: familyName(this.#conn.local.address),
      port: this.#local.port,
    };
  }

  setKeepAlive(enable = false, initialDelay = 0): this {
    this.#knobs.setKeepAlive(enable, initialDelay);
    this.#applyOptions();
    return this;
  }

  setNoDelay(noDelay = true): this {
    this.#knobs.setNoDelay(noDelay);
    this.#applyOptions();
    return this;
  }

  /** Options set before the connection existed reach it once it does. */
  #applyOptions(): void {
    const conn = this.#conn;
    if (conn === null || this.#connecting || this.#detached) return;
    this.#knobs.apply(conn);
  }

  /** Emits 'timeout' after `timeout` ms without reads or writes (0 disables), as net.Socket. */
  setTimeout(timeout: number, callback?: () => void): this {
    if (!Number.isFinite(timeout) || timeout < 0) throw new RangeError(`invalid socket timeout ${timeout}`);
    this.#knobs.setIdleTimeout(this.destroyed ? 0 : timeout);
    if (callback !== undefined) {
      if (timeout === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    return this;
  }

  ref(): this {
    if (!this.destroyed) this.#knobs.ref();
    return this;
  }

  unref(): this {
    this.#knobs.unref();
    return this;
  }
}
