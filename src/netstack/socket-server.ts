/**
 * A listening TCP endpoint of the userspace stack in net.Server's shape: RFC 9293's passive OPEN
 * (section 3.9.1) on TcpApi.listen, each accepted connection handed over as a TcpSocket through
 * the 'connection' event. Like net.Server, listen() reports through events on a later tick
 * ('listening', or 'error' with `listen EADDRINUSE: address already in use :::80`), close() stops
 * accepting and emits 'close' once the last accepted socket is gone, and a listening server keeps
 * the program alive unless unref'd.
 *
 * Deviation: the stack's listen takes one address or "every local address of either family", so
 * '0.0.0.0' and '::' both listen on every address (Node's '0.0.0.0' is IPv4 only). Hosts must be
 * IP literals; a name is refused with ENOTFOUND rather than resolved.
 */
import { LoopHold } from './loop-hold.js';
import { EventEmitter } from 'node:events';
import type { LoopKeeper } from './driver.js';
import type { TunnelServer, TunnelSocket } from './network-types.js';
import type { TcpApi, TcpConnection, TcpListener } from './types.js';
import { familyName, formatIP, isUnspecified, parseHost, sameAddress } from './addresses.js';
import { lookupError, systemError } from './socket-errors.js';
import { TcpSocket } from './socket.js';

export interface TcpServerOptions {
  readonly tcp: TcpApi;
  readonly keeper?: LoopKeeper;
  readonly allowHalfOpen?: boolean;
  /** The stack's own addresses: listening on any other literal fails with EADDRNOTAVAIL. */
  readonly addresses?: readonly Uint8Array[];
}

/** Node's default listen backlog. */
const DEFAULT_BACKLOG = 511;

function codedError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

export class TcpServer extends EventEmitter implements TunnelServer {
  readonly #options: TcpServerOptions;
  #listener: TcpListener | null = null;
  /** What address() reports: the host as given ('::' when none). */
  #host = '::';
  readonly #connections = new Set<TcpSocket>();
  readonly #loop: LoopHold;
  #closeQueued = false;

  constructor(options: TcpServerOptions, onConnection?: (socket: TunnelSocket) => void) {
    super();
    this.#options = options;
    this.#loop = new LoopHold(options.keeper);
    if (onConnection !== undefined) this.on('connection', onConnection);
  }

  get listening(): boolean {
    return this.#listener !== null;
  }

  listen(port?: number, host?: string, backlog?: number, callback?: () => void): this;
  listen(port?: number, callback?: () => void): this;
  listen(...args: unknown[]): this {
    const callback = typeof args[args.length - 1] === 'function' ? (args.pop() as () => void) : undefined;
    const [port = 0, host, backlog = DEFAULT_BACKLOG] = args as [number?, string?, number?];
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`invalid port ${port}`);
    if (this.#listener !== null) {
      throw codedError('ERR_SERVER_ALREADY_LISTEN', 'Listen method has been called more than once');
    }
    if (callback !== undefined) this.once('listening', callback);
    const shown = host ?? '::';
    const bytes = parseHost(shown);
    if (bytes === null) {
      process.nextTick(() => this.emit('error', lookupError(shown)));
      return this;
    }
    const own = this.#options.addresses;
    if (!isUnspecified(bytes) && own !== undefined && !own.some((a) => sameAddress(a, bytes))) {
      process.nextTick(() => this.emit('error', systemError('listen', 'EADDRNOTAVAIL', shown, port, true)));
      return this;
    }
    try {
      this.#listener = this.#options.tcp.listen(isUnspecified(bytes) ? null : bytes, port, backlog, (conn) =>
        this.#accept(conn),
      );
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code !== 'string') throw error;
      process.nextTick(() => this.emit('error', systemError('listen', code, formatIP(bytes), port, true)));
      return this;
    }
    this.#host = formatIP(bytes);
    this.#loop.hold();
    process.nextTick(() => this.emit('listening'));
    return this;
  }

  #accept(conn: TcpConnection): void {
    const socket = new TcpSocket({
      ...(this.#options.keeper !== undefined ? { keeper: this.#options.keeper } : {}),
      allowHalfOpen: this.#options.allowHalfOpen ?? false,
    });
    socket.adopt(conn);
    this.#connections.add(socket);
    socket.once('close', () => {
      this.#connections.delete(socket);
      if (this.#listener === null) this.#emitCloseIfDrained();
    });
    this.emit('connection', socket);
  }

  address(): { address: string; family: 'IPv4' | 'IPv6'; port: number } | null {
    const listener = this.#listener;
    if (listener === null) return null;
    const bytes = parseHost(this.#host);
    return {
      address: this.#host,
      family: bytes === null ? 'IPv6' : familyName(bytes),
      port: listener.local.port,
    };
  }

  /** Stops accepting; 'close' (and the callback) once every accepted socket has closed too. */
  close(callback?: (err?: Error) => void): this {
    if (callback !== undefined) {
      if (this.#listener === null) {
        this.once('close', () => callback(codedError('ERR_SERVER_NOT_RUNNING', 'Server is not running.')));
      } else {
        this.once('close', () => callback());
      }
    }
    this.#listener?.close();
    this.#listener = null;
    this.#loop.release();
    this.#emitCloseIfDrained();
    return this;
  }

  /** net.Server.getConnections. */
  getConnections(callback: (error: Error | null, count: number) => void): this {
    const count = this.#connections.size;
    process.nextTick(() => callback(null, count));
    return this;
  }

  #emitCloseIfDrained(): void {
    if (this.#connections.size > 0 || this.#closeQueued) return;
    this.#closeQueued = true;
    process.nextTick(() => {
      this.#closeQueued = false;
      this.emit('close');
    });
  }

  ref(): this {
    this.#loop.ref(this.#listener !== null);
    return this;
  }

  unref(): this {
    this.#loop.unref();
    return this;
  }
}
