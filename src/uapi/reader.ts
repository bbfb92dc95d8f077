/**
 * Framing of the UAPI byte stream (wireguard.com/xplatform; wireguard-go's IpcHandle in
 * device/uapi.go): a verb line, `get=1` or `set=1`, then for `set` key=value lines up to a blank
 * line, and for `get` exactly one more byte, which must be the newline of the blank line. Several
 * requests may follow each other on one connection. No sockets here: bytes in, events out.
 *
 * What wireguard-go does, and this reader reports for the server to do:
 * - a verb line other than exactly `get=1` / `set=1` (no CR allowed) → close without a reply;
 * - `get=1` followed by any byte but `\n` → reply errno=-EINVAL, consume that one byte only, and
 *   read the next verb from what follows (`get=1\nx\n\n` therefore gets -22 and then a close);
 * - set lines end at `\n`, one `\r` before it is dropped (bufio.ScanLines), so `\r\n` works and
 *   a line holding only `\r` ends the request;
 * - a set line of 64 KiB or more → reply errno=-EIO and close (bufio.Scanner's token limit).
 * Additions, for bounded memory: a verb line that long closes the connection (wireguard-go
 * buffers it without limit), and a set request over `maxRequestBytes` in all is answered -EIO and
 * the connection closed (wireguard-go streams lines into the device and needs no cap; we validate
 * the whole request before applying any of it, so we must hold it; it is held packed, see
 * set-lines.ts). Lines are decoded as latin1, one character per byte, so lengths are byte counts
 * and no input can fail to decode.
 */
import { EINVAL, EIO } from './errno.js';
import { SetLines } from './set-lines.js';

export interface RequestReaderOptions {
  /** Longest line accepted, in bytes without its newline; default 65535 (as wireguard-go). */
  readonly maxLineBytes?: number;
  /** Largest set request accepted, all lines with their newlines; default 64 MiB. */
  readonly maxRequestBytes?: number;
}

export type ReaderEvent =
  /** A complete `get=1\n\n`: reply with the device state. */
  | { readonly kind: 'get' }
  /** A complete set request: its lines, without `set=1` and without the blank line. */
  | { readonly kind: 'set'; readonly lines: SetLines }
  /** Reply `errno=N` and carry on reading requests. */
  | { readonly kind: 'reply'; readonly errno: number; readonly reason: string }
  /** Reply `errno=N`, then close: the stream cannot be resynchronised. Nothing follows. */
  | { readonly kind: 'fail'; readonly errno: number; readonly reason: string }
  /** Close without a reply. Nothing follows. */
  | { readonly kind: 'close'; readonly reason: string };

export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 - 1;
/** Room for 100,000 peers as `wg setconf` sends them, or 130,560 allowed IPs many times over. */
export const DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024;

const NL = 0x0a;
const CR = 0x0d;

type State = 'verb' | 'get-byte' | 'set' | 'done';

export class RequestReader {
  readonly #maxLine: number;
  readonly #maxRequest: number;
  #state: State = 'verb';
  #partial: Buffer[] = [];
  #partialBytes = 0;
  #lines = new SetLines();
  #requestBytes = 0;
  #events: ReaderEvent[] = [];

  constructor(options: RequestReaderOptions = {}) {
    this.#maxLine = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.#maxRequest = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  }

  /** True when part of a request has arrived but not all of it. */
  get midRequest(): boolean {
    return this.#state === 'get-byte' || this.#state === 'set' || this.#partialBytes > 0;
  }

  /** True once a `fail` or `close` event was produced: further input is ignored. */
  get finished(): boolean {
    return this.#state === 'done';
  }

  /** Feeds bytes from the connection. */
  push(chunk: Uint8Array): void {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    let pos = 0;
    while (pos < buf.length && this.#state !== 'done') {
      if (this.#state === 'get-byte') {
        const byte = buf[pos++]!;
        this.#state = 'verb';
        if (byte === NL) this.#events.push({ kind: 'get' });
        else {
          const reason = `trailing character in UAPI get: ${JSON.stringify(String.fromCharCode(byte))}`;
          this.#events.push({ kind: 'reply', errno: EINVAL, reason });
        }
        continue;
      }
      const nl = buf.indexOf(NL, pos);
      const end = nl < 0 ? buf.length : nl;
      if (this.#partialBytes + (end - pos) > this.#maxLine) {
        this.#tooLong();
        return;
      }
      if (nl < 0) {
        // Copy: keeping a view would pin the whole chunk Node handed us.
        this.#partial.push(Buffer.from(buf.subarray(pos)));
        this.#partialBytes += buf.length - pos;
        return;
      }
      if (this.#partialBytes > 0) {
        const line = Buffer.concat([...this.#partial, buf.subarray(pos, nl)]);
        this.#partial = [];
        this.#partialBytes = 0;
        this.#line(line, 0, line.length);
      } else {
        // Straight from the chunk: no view object per line (a large set is 400,000 lines).
        this.#line(buf, pos, nl);
      }
      pos = nl + 1;
    }
  }

  /** The next event, in stream order, or null when no complete one is buffered. */
  take(): ReaderEvent | null {
    return this.#events.shift() ?? null;
  }

  /** The line buf[start, end), without its newline. */
  #line(buf: Buffer, start: number, end: number): void {
    if (this.#state === 'verb') {
      const verb = buf.toString('latin1', start, end);
      if (verb === 'get=1') this.#state = 'get-byte';
      else if (verb === 'set=1') {
        this.#state = 'set';
        this.#lines = new SetLines();
        this.#requestBytes = end - start + 1;
      } else
        this.#finish({
          kind: 'close',
          reason: `invalid UAPI operation: ${JSON.stringify(verb.slice(0, 64))}`,
        });
      return;
    }
    const stop = end > start && buf[end - 1] === CR ? end - 1 : end;
    if (stop === start) {
      this.#events.push({ kind: 'set', lines: this.#lines });
      this.#lines = new SetLines();
      this.#state = 'verb';
      return;
    }
    this.#requestBytes += end - start + 1;
    if (this.#requestBytes > this.#maxRequest) {
      this.#lines = new SetLines();
      this.#finish({ kind: 'fail', errno: EIO, reason: `set request larger than ${this.#maxRequest} bytes` });
      return;
    }
    this.#lines.append(buf, start, stop);
  }

  #tooLong(): void {
    const reason = `line longer than ${this.#maxLine} bytes`;
    if (this.#state === 'set') this.#finish({ kind: 'fail', errno: EIO, reason });
    else this.#finish({ kind: 'close', reason: `invalid UAPI operation: ${reason}` });
  }

  #finish(event: ReaderEvent): void {
    this.#events.push(event);
    this.#state = 'done';
    this.#partial = [];
    this.#partialBytes = 0;
    this.#lines = new SetLines();
  }
}
