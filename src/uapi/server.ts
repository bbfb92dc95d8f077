/**
 * The UAPI server (wireguard.com/xplatform; wireguard-go's IpcHandle in device/uapi.go and
 * ipc/uapi_unix.go): serves a UapiTarget on a unix stream socket, a path or an inherited listening
 * descriptor (WG_UAPI_FD). Requests on one connection are answered in order, one `errno=N` reply
 * each (a get's body comes first); an unknown verb closes the connection without a reply; framing
 * follows RequestReader. Gets and sets from all connections run one at a time, as wireguard-go's
 * ipcMutex makes them, so a get never sees half a set.
 *
 * Beyond wireguard-go, deliberately:
 * - A set is validated whole before anything is applied; a client that disconnects (or half-
 *   closes) before the blank line applies nothing. wireguard-go applies line by line and applies a
 *   truncated request at EOF.
 * - Pipelined requests are all answered; wireguard-go's bufio.Scanner swallows whatever follows a
 *   set in the same read.
 * - Slow clients are cut off: a request must complete within `requestTimeoutMs` of its first byte,
 *   a connection idle between requests (or not reading its reply) for `idleTimeoutMs` is closed.
 *   At most `maxConnections` are open at once: a new one evicts the longest-idle connection (one
 *   with no request under way), and is refused only when every connection is mid-request.
 * - Memory is bounded across connections by one UapiBudget (budget.ts): a connection that would
 *   exceed it waits, and a request that cannot fit is answered -EIO. A valid set is then applied
 *   in chunks of SET_CHUNK_ITEMS under the lock, after a first pass has validated all of it, so
 *   parsed state stays small however large the request. wireguard-go has none of these limits.
 * - Nothing it logs carries key material (redact.ts): a malformed line may hold a private key.
 * - Handlers never throw: a failure of the target (or a bug) is logged and answered errno=-EIO.
 *
 * Socket path policy (directory, umask, stale sockets, removal) belongs to the daemon.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { wipe } from '../crypto/bytes.js';
import { EIO, UapiError, errnoName } from './errno.js';
import { UapiBudget, type BudgetHolder } from './budget.js';
import { SET_CHUNK_ITEMS, encodeGet, parseSetChunks } from './codec.js';
import { redactSecrets } from './redact.js';
import { RequestReader, type ReaderEvent } from './reader.js';
import type { SetLines } from './set-lines.js';
import type { DeviceSet, UapiTarget } from './types.js';

/** Where wireguard-go (and wgtsd) put an interface's UAPI socket. */
export function uapiSocketPath(ifname: string): string {
  return `/var/run/wireguard/${ifname}.sock`;
}

/** The logger the server writes to; the daemon's Logger fits. */
export interface UapiLogger {
  verbose(message: string): void;
  error(message: string): void;
}

export interface UapiServerOptions {
  readonly logger?: UapiLogger;
  /** Close a connection that sends no request (or does not read its reply) for this long; default 120 s. */
  readonly idleTimeoutMs?: number;
  /** Close a connection whose request is not complete this long after its first byte; default 30 s. */
  readonly requestTimeoutMs?: number;
  /** Connections open at once; beyond it the longest-idle is evicted (or the new one refused); default 64. */
  readonly maxConnections?: number;
  /** Longest line, without its newline; default 65535 (wireguard-go's bufio.Scanner limit). */
  readonly maxLineBytes?: number;
  /** Largest set request; default the budget's shared pool (32 MiB). */
  readonly maxRequestBytes?: number;
  /** The memory budget shared by all connections; default `new UapiBudget()` (see budget.ts). */
  readonly budget?: UapiBudget;
}

const SILENT: UapiLogger = { verbose: () => {}, error: () => {} };

/** `log` with key material redacted from every message: the one gate all server logging passes. */
function redacting(log: UapiLogger): UapiLogger {
  return {
    verbose: (message) => log.verbose(redactSecrets(message)),
    error: (message) => log.error(redactSecrets(message)),
  };
}

function reply(errno: number): string {
  return `errno=${errno}\n\n`;
}

export class UapiServer {
  readonly #target: UapiTarget;
  readonly #log: UapiLogger;
  readonly #idleMs: number;
  readonly #requestMs: number;
  readonly #maxLine: number | undefined;
  readonly #maxRequest: number;
  readonly #maxConnections: number;
  readonly #budget: UapiBudget;
  readonly #server: Server;
  readonly #connections = new Set<Connection>();
  /** Serialises target access across connections (wireguard-go's ipcMutex). */
  #lock: Promise<void> = Promise.resolve();

  constructor(target: UapiTarget, options: UapiServerOptions = {}) {
    this.#target = target;
    this.#log = redacting(options.logger ?? SILENT);
    this.#idleMs = options.idleTimeoutMs ?? 120_000;
    this.#requestMs = options.requestTimeoutMs ?? 30_000;
    this.#maxLine = options.maxLineBytes;
    this.#budget = options.budget ?? new UapiBudget();
    this.#maxRequest = options.maxRequestBytes ?? this.#budget.capBytes;
    this.#maxConnections = options.maxConnections ?? 64;
    this.#server = createServer({ allowHalfOpen: true }, (socket) => this.#accept(socket));
    this.#server.on('error', (err) => this.#log.error(`UAPI listener: ${err.message}`));
  }

  /** Number of open connections. */
  get connections(): number {
    return this.#connections.size;
  }

  /** The memory budget its connections share. */
  get budget(): UapiBudget {
    return this.#budget;
  }

  /** Listens on a unix socket path (which must not exist). */
  listen(path: string): Promise<void> {
    return this.#listen(() => this.#server.listen(path));
  }

  /** Listens on an inherited, already listening unix socket descriptor (WG_UAPI_FD). */
  listenFd(fd: number): Promise<void> {
    return this.#listen(() => this.#server.listen({ fd }));
  }

  /** Stops listening and drops every open connection; resolves once the listener is closed. */
  close(): Promise<void> {
    for (const c of this.#connections) c.socket.destroy();
    return new Promise((resolve) => {
      if (!this.#server.listening) resolve();
      else this.#server.close(() => resolve());
    });
  }

  #listen(start: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        this.#server.off('listening', onListening);
        reject(err);
      };
      const onListening = (): void => {
        this.#server.off('error', onError);
        resolve();
      };
      this.#server.once('error', onError);
      this.#server.once('listening', onListening);
      try {
        start();
      } catch (err) {
        this.#server.off('error', onError);
        this.#server.off('listening', onListening);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  #accept(socket: Socket): void {
    if (this.#connections.size >= this.#maxConnections && !this.#evictIdle()) {
      this.#log.verbose(`UAPI connection refused: ${this.#maxConnections} open, all mid-request`);
      socket.destroy();
      return;
    }
    const reader = new RequestReader({
      ...(this.#maxLine !== undefined ? { maxLineBytes: this.#maxLine } : {}),
      maxRequestBytes: this.#maxRequest,
    });
    const conn = new Connection(
      socket,
      reader,
      this.#idleMs,
      this.#requestMs,
      this.#log,
      this.#budget,
      (ev) => this.#handle(ev),
    );
    this.#connections.add(conn);
    socket.once('close', () => {
      this.#connections.delete(conn);
      this.#budget.release(conn);
    });
  }

  /** Closes the connection idle the longest, if any is idle; true when one was closed. */
  #evictIdle(): boolean {
    let oldest: Connection | null = null;
    for (const c of this.#connections)
      if (c.idle && (oldest === null || c.idleSince < oldest.idleSince)) oldest = c;
    if (oldest === null) return false;
    this.#log.verbose('UAPI connection closed: evicted (idle longest) to admit a new one');
    // Out of the count now: its close event comes later, and the new connection takes its place.
    this.#connections.delete(oldest);
    oldest.socket.destroy();
    return true;
  }

  #exclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = this.#lock.then(fn);
    this.#lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** The reply to one event (null: none), never a rejection. */
  async #handle(ev: ReaderEvent): Promise<Reply | null> {
    switch (ev.kind) {
      case 'get':
        try {
          // Bytes, not text: a 100,000-peer reply is 32 MiB, which as a string the socket would
          // first have to copy into a Buffer of its own.
          return await this.#exclusive(() => encodeGet(this.#target.snapshot()));
        } catch (err) {
          this.#log.error(`UAPI get failed: ${describe(err)}`);
          return reply(EIO);
        }
      case 'set':
        return reply(await this.#set(ev.lines));
      case 'reply':
      case 'fail':
        this.#log.error(`IPC error ${ev.errno}: ${ev.reason}`);
        return reply(ev.errno);
      case 'close':
        this.#log.error(ev.reason);
        return null;
    }
  }

  async #set(lines: SetLines): Promise<number> {
    let errno: number;
    try {
      errno = await this.#exclusive(() => applySetInChunks(this.#target, lines));
    } catch (err) {
      if (err instanceof UapiError) {
        this.#log.error(`IPC error ${err.errno}: ${err.message}`);
        return err.errno;
      }
      this.#log.error(`UAPI set failed: ${describe(err)}`);
      return EIO;
    }
    if (Number.isSafeInteger(errno) && errno <= 0) {
      if (errno !== 0) this.#log.error(`IPC error ${errno}: set refused by the device (${errnoName(errno)})`);
      return errno;
    }
    this.#log.error(`UAPI set: the device returned ${String(errno)}, not 0 or a negative errno`);
    return Number.isSafeInteger(errno) ? -errno : EIO;
  }
}

/**
 * Validates all of a set, then applies it chunk by chunk (the caller holds the lock, so no get sees
 * a part). Only the first chunk carries device keys, the only ones that can fail to apply (a port
 * in use): later chunks are peers only, which a device always accepts. Throws UapiError when a line
 * is invalid, before anything is applied. Deviation, for requests of more than one chunk (over
 * SET_CHUNK_ITEMS peers and allowed IPs) that also change the private key: the device's kick of
 * staged packets after a key change (apply.ts) runs after the first chunk, so an existing peer
 * whose endpoint a later chunk changes starts that handshake at its old endpoint and reaches the
 * new one on the retry.
 */
async function applySetInChunks(target: UapiTarget, lines: SetLines): Promise<number> {
  const check = parseSetChunks(lines, SET_CHUNK_ITEMS);
  for (let c = check.next(); c.done !== true; c = check.next()) wipeKeys(c.value);
  for (const chunk of parseSetChunks(lines, SET_CHUNK_ITEMS)) {
    const errno = await target.apply(chunk);
    wipeKeys(chunk); // the device keeps its own copies
    if (errno !== 0) return errno;
  }
  return 0;
}

/** Wipes the private and preshared keys a set decoded (key hygiene: no copy outlives its use). */
function wipeKeys(set: DeviceSet): void {
  wipe(set.privateKey, ...set.peers.map((p) => p.presharedKey));
}

/** What goes back for one request: text for the short errno replies, bytes for a get's body. */
type Reply = string | Uint8Array;

function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

/**
 * One client connection: feeds the reader, answers events in order, enforces the timeouts, and
 * charges what it reads to the shared budget until its requests are answered.
 */
class Connection implements BudgetHolder {
  readonly socket: Socket;
  readonly #reader: RequestReader;
  readonly #idleMs: number;
  readonly #requestMs: number;
  readonly #log: UapiLogger;
  readonly #budget: UapiBudget;
  readonly #handle: (ev: ReaderEvent) => Promise<Reply | null>;
  /** A chunk read but not yet fed to the reader: it waits for the budget. */
  #waiting: Buffer | null = null;
  /** performance.now() of the last request answered (or of the connect). */
  idleSince = performance.now();
  #busy = false;
  #eof = false;
  #closed = false;
  #timer: NodeJS.Timeout | null = null;
  #timerKind: 'idle' | 'request' | null = null;

  constructor(
    socket: Socket,
    reader: RequestReader,
    idleMs: number,
    requestMs: number,
    log: UapiLogger,
    budget: UapiBudget,
    handle: (ev: ReaderEvent) => Promise<Reply | null>,
  ) {
    this.socket = socket;
    this.#reader = reader;
    this.#idleMs = idleMs;
    this.#requestMs = requestMs;
    this.#log = log;
    this.#budget = budget;
    this.#handle = handle;
    socket.on('data', (chunk: Buffer) => {
      if (this.#budget.charge(this, chunk.length)) this.#feed(chunk);
      else {
        // Over budget: read nothing more until others release (or we are refused).
        this.socket.pause();
        this.#waiting = chunk;
        if (!this.#reader.midRequest) this.#arm('request');
      }
    });
    socket.on('end', () => {
      this.#eof = true;
      if (this.#waiting === null) void this.#pump();
    });
    socket.on('error', (err) => this.#log.verbose(`UAPI connection error: ${err.message}`));
    socket.on('close', () => {
      this.#closed = true;
      this.#clearTimer();
    });
    this.#arm('idle');
  }

  /** True when it may be evicted: no request under way, no reply being written, none waiting. */
  get idle(): boolean {
    return !this.#busy && this.#waiting === null && !this.#reader.midRequest && !this.#closed;
  }

  granted(): void {
    const chunk = this.#waiting;
    this.#waiting = null;
    if (chunk === null || this.#closed) return;
    if (!this.#busy) this.socket.resume();
    this.#feed(chunk);
  }

  refused(): void {
    this.#waiting = null;
    this.#log.error(
      `IPC error ${EIO}: request refused, UAPI memory budget (${this.#budget.capBytes} bytes) exhausted`,
    );
    this.#shutdown(reply(EIO));
  }

  #feed(chunk: Buffer): void {
    this.#reader.push(chunk);
    if (!this.#busy) this.#updateTimer();
    void this.#pump();
  }

  #arm(kind: 'idle' | 'request'): void {
    this.#clearTimer();
    this.#timerKind = kind;
    this.#timer = setTimeout(
      () => {
        this.#log.verbose(
          `UAPI connection closed: ${kind === 'idle' ? 'idle too long' : 'request not completed in time'}`,
        );
        this.socket.destroy();
      },
      kind === 'idle' ? this.#idleMs : this.#requestMs,
    );
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerKind = null;
  }

  /** A request under way keeps its deadline (a trickle cannot extend it); otherwise idle. */
  #updateTimer(): void {
    if (this.#reader.midRequest) {
      if (this.#timerKind !== 'request') this.#arm('request');
    } else if (this.#timerKind !== 'idle') this.#arm('idle');
  }

  async #pump(): Promise<void> {
    if (this.#busy || this.#closed) return;
    this.#busy = true;
    try {
      for (let ev = this.#reader.take(); ev !== null; ev = this.#reader.take()) {
        this.socket.pause();
        this.#clearTimer();
        const text = await this.#handle(ev);
        if (this.#closed) return;
        if (ev.kind === 'fail' || ev.kind === 'close') {
          this.#shutdown(text);
          return;
        }
        if (text !== null && !this.socket.write(text)) await this.#drained();
        if (this.#closed) return;
      }
      if (!this.#reader.midRequest && this.#waiting === null) {
        // Everything read is answered: its bytes are no longer held.
        this.#budget.release(this);
        this.idleSince = performance.now();
      }
      if (this.#eof) {
        // The client half-closed: no request can complete any more. A partial one is dropped.
        if (this.#reader.midRequest) this.#log.verbose('UAPI client ended mid-request: nothing applied');
        this.#shutdown(null);
        return;
      }
      if (this.#waiting === null) this.socket.resume();
      this.#updateTimer();
    } catch (err) {
      this.#log.error(`UAPI connection failed: ${describe(err)}`);
      this.socket.destroy();
    } finally {
      this.#busy = false;
    }
  }

  /** Waits until the reply is handed to the kernel; a client not reading it meets the idle timeout. */
  #drained(): Promise<void> {
    this.#arm('idle');
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  /** Writes the last words, if any, then closes once they are flushed (bounded by the idle timer). */
  #shutdown(text: Reply | null): void {
    if (text !== null) this.socket.write(text);
    this.socket.destroySoon();
    this.#arm('idle');
  }
}
