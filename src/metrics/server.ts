/**
 * The metrics endpoint: an HTTP/1.1 server that answers `GET /metrics` with the text exposition
 * and nothing else (404 for any other path, 405 with `Allow: GET` for another method on
 * /metrics). It faces whatever can reach its address, so it is bounded: headers of at most
 * MAX_HEADER_BYTES that must arrive within HEADERS_TIMEOUT_MS (a slowloris connection is cut),
 * a whole request within REQUEST_TIMEOUT_MS, idle keep-alive connections closed, at most
 * MAX_CONNECTIONS at once (more are refused by the kernel-accepted socket being closed at once),
 * and concurrent scrapes share one rendering (scrape.ts).
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { formatListenAddress, type ListenAddress } from './listen-address.js';
import { CONTENT_TYPE, yieldTurn } from './text-format.js';

const MAX_HEADER_BYTES = 8 * 1024;
const HEADERS_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** How often Node checks the two timeouts above (its default, 30 s, would let them overrun). */
const TIMEOUT_CHECK_MS = 1_000;
/** A connection idle this long (no bytes either way) is destroyed. */
const IDLE_TIMEOUT_MS = 15_000;
const MAX_CONNECTIONS = 16;
const MAX_REQUESTS_PER_SOCKET = 100;

export const METRICS_PATH = '/metrics';

export class MetricsServer {
  readonly #server: Server;
  readonly #scrape: () => Promise<readonly string[]>;
  readonly #onError: (err: Error) => void;

  /** `scrape` renders the body in pieces; `onError` hears scrape failures (answered 500). */
  constructor(scrape: () => Promise<readonly string[]>, onError: (err: Error) => void = () => {}) {
    this.#scrape = scrape;
    this.#onError = onError;
    this.#server = createServer(
      {
        maxHeaderSize: MAX_HEADER_BYTES,
        headersTimeout: HEADERS_TIMEOUT_MS,
        requestTimeout: REQUEST_TIMEOUT_MS,
        keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
        connectionsCheckingInterval: TIMEOUT_CHECK_MS,
      },
      (req, res) => this.#handle(req, res),
    );
    this.#server.maxConnections = MAX_CONNECTIONS;
    this.#server.maxRequestsPerSocket = MAX_REQUESTS_PER_SOCKET;
    this.#server.setTimeout(IDLE_TIMEOUT_MS, (socket) => socket.destroy());
    // A malformed request (bad syntax, oversized headers) gets a bare 400/431 and a close.
    this.#server.on('clientError', (err: Error & { code?: string }, socket) => {
      if (!socket.writable) {
        socket.destroy();
        return;
      }
      const status =
        err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    });
  }

  /** Listens on `address`; rejects with an error naming it (EADDRINUSE, EADDRNOTAVAIL, ...). */
  listen(address: ListenAddress): Promise<void> {
    return new Promise((resolve, reject) => {
      const failed = (err: Error & { code?: string }): void => {
        const code = err.code === undefined ? '' : ` (${err.code})`;
        const why = err.code === 'EADDRINUSE' ? 'address already in use' : err.message;
        reject(
          Object.assign(new Error(`cannot serve metrics on ${formatListenAddress(address)}: ${why}${code}`), {
            code: err.code,
          }),
        );
      };
      this.#server.once('error', failed);
      const done = (): void => {
        this.#server.off('error', failed);
        resolve();
      };
      if (address.host === '') this.#server.listen(address.port, done);
      else this.#server.listen(address.port, address.host, done);
    });
  }

  /** The bound port (after listen). */
  get port(): number {
    const a = this.#server.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path !== METRICS_PATH) return plain(res, 404, 'Not Found\n');
    if (req.method !== 'GET') {
      res.setHeader('Allow', 'GET');
      return plain(res, 405, 'Method Not Allowed\n');
    }
    this.#scrape().then(
      (chunks) => void send(res, chunks).catch(() => res.destroy()),
      (err: unknown) => {
        this.#onError(err instanceof Error ? err : new Error(String(err)));
        if (!res.destroyed) plain(res, 500, 'Internal Server Error\n');
      },
    );
  }
}

/**
 * Writes the body's pieces in turn (chunked transfer encoding), waiting for the socket to drain
 * and letting the event loop run between pieces, so a large body neither piles up in memory
 * twice nor holds the data path. A client that goes away ends it.
 */
async function send(res: ServerResponse, chunks: readonly string[]): Promise<void> {
  if (res.destroyed) return;
  res.writeHead(200, {
    'Content-Type': CONTENT_TYPE,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  for (const chunk of chunks) {
    if (res.destroyed) return;
    if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
    else await yieldTurn();
  }
  res.end();
}

/** A short text answer that closes the connection (any request body is not read). */
function plain(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    Connection: 'close',
  });
  res.end(body);
}
