/**
 * Reads exact byte counts from a stream during a protocol handshake (SOCKS5's greeting, RFC 1929
 * credentials, the request), then hands any bytes read past the handshake back to the stream so
 * the data phase sees them. Rejects when the stream ends, fails or the deadline passes.
 */
import type { Duplex } from 'node:stream';

export class ByteReader {
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  private readonly onData = (chunk: Buffer): void => {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    this.settle();
  };
  private readonly onEnd = (): void => this.fail(new Error('connection closed during the handshake'));
  private readonly onError = (err: Error): void => this.fail(err);

  constructor(private readonly stream: Duplex) {
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('close', this.onEnd);
    stream.on('error', this.onError);
  }

  read(n: number): Promise<Buffer> {
    if (this.waiting !== null) throw new Error('ByteReader: one read at a time');
    return new Promise((resolve, reject) => {
      this.waiting = { n, resolve, reject };
      this.settle();
    });
  }

  async readByte(): Promise<number> {
    return (await this.read(1))[0]!;
  }

  fail(err: Error): void {
    if (this.failure === null) this.failure = err;
    this.settle();
  }

  /** Stops reading and gives unread bytes back to the stream (paused, for pipe() to resume). */
  release(): void {
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('close', this.onEnd);
    this.stream.off('error', this.onError);
    this.stream.pause();
    if (this.buffered.length > 0) this.stream.unshift(this.buffered);
    this.buffered = Buffer.alloc(0);
  }

  private settle(): void {
    const w = this.waiting;
    if (w === null) return;
    if (this.buffered.length >= w.n) {
      this.waiting = null;
      const out = this.buffered.subarray(0, w.n);
      this.buffered = this.buffered.subarray(w.n);
      w.resolve(out);
    } else if (this.failure !== null) {
      this.waiting = null;
      w.reject(this.failure);
    }
  }
}
