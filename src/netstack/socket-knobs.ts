/**
 * The per-socket settings of net.Socket that are not the byte stream itself, kept for a
 * TcpSocket (src/netstack/socket.ts): the idle timeout of setTimeout() ('timeout' after that long
 * without reads or writes; unref'd timers like Node's), the connect timeout, TCP keepalive
 * (RFC 9293 section 3.8.4) and Nagle (section 3.7.4) settings made before the connection exists
 * and applied once it does, and the socket's ref on the driver (an open ref'd socket keeps the
 * program alive).
 */
import type { LoopKeeper } from './driver.js';
import type { TcpConnection } from './types.js';

/** Linux's default keepalive idle time (tcp_keepalive_time), used when setKeepAlive gets 0. */
export const DEFAULT_KEEPALIVE_IDLE_MS = 7_200_000;

export class SocketKnobs {
  readonly #keeper: LoopKeeper | null;
  readonly #onIdle: () => void;
  #refd = false;
  #idleMs = 0;
  #idleTimer: NodeJS.Timeout | null = null;
  #connectTimer: NodeJS.Timeout | null = null;
  #keepAlive: { enable: boolean; idleMs: number } | null = null;
  #noDelay: boolean | null = null;

  constructor(keeper: LoopKeeper | null, onIdle: () => void) {
    this.#keeper = keeper;
    this.#onIdle = onIdle;
  }

  /** The idle timeout in ms (0: none). */
  get idleMs(): number {
    return this.#idleMs;
  }

  setIdleTimeout(ms: number): void {
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
    this.#idleMs = ms;
    if (ms > 0) {
      // Unref'd like Node's socket timers: the socket's own ref decides whether the loop waits.
      this.#idleTimer = setTimeout(this.#onIdle, ms);
      this.#idleTimer.unref();
    }
  }

  /** Activity: the idle period starts again (also after a 'timeout' already fired). */
  touch(): void {
    this.#idleTimer?.refresh();
  }

  startConnectTimer(ms: number, onExpiry: () => void): void {
    this.clearConnectTimer();
    this.#connectTimer = setTimeout(onExpiry, ms);
    this.#connectTimer.unref();
  }

  clearConnectTimer(): void {
    if (this.#connectTimer !== null) clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
  }

  setKeepAlive(enable: boolean, initialDelay: number): void {
    this.#keepAlive = { enable, idleMs: initialDelay > 0 ? initialDelay : DEFAULT_KEEPALIVE_IDLE_MS };
  }

  setNoDelay(noDelay: boolean): void {
    this.#noDelay = noDelay;
  }

  /** Hands the settings made so far to the connection. */
  apply(conn: TcpConnection): void {
    if (this.#keepAlive !== null) conn.setKeepAlive(this.#keepAlive.enable, this.#keepAlive.idleMs);
    if (this.#noDelay !== null) conn.setNoDelay(this.#noDelay);
  }

  ref(): void {
    if (this.#refd) return;
    this.#refd = true;
    this.#keeper?.ref();
  }

  unref(): void {
    if (!this.#refd) return;
    this.#refd = false;
    this.#keeper?.unref();
  }

  /** The socket is gone: no timers, no ref. */
  close(): void {
    this.clearConnectTimer();
    this.setIdleTimeout(0);
    this.unref();
  }
}
