/**
 * Received TCP data gathered into larger chunks before a socket pushes it (the receive side of
 * src/netstack/socket.ts). The stack delivers one MSS-sized view per segment, a whole device
 * batch of them in one turn; pushing each as its own Buffer made every consumer pay per segment
 * (a proxy piping into a kernel socket made one write(2) per 1,368 bytes, half its CPU). The
 * views are copied once into a chunk of at least CHUNK_BYTES, and the socket pushes the chunk at
 * the end of the turn (a microtask), so a batch costs one push and one downstream write.
 */

/** The smallest chunk allocated: a device batch of full segments fits a few of these. */
const CHUNK_BYTES = 64 * 1024;

export class ReceiveCoalescer {
  #chunk: Buffer | null = null;
  #length = 0;
  /** Chunks already full, waiting with the current one for the end of the turn. */
  readonly #full: Buffer[] = [];

  /** Copies `data` (a view valid only during the caller's call) into the pending chunk. */
  add(data: Uint8Array): void {
    let chunk = this.#chunk;
    if (chunk === null || chunk.length - this.#length < data.length) {
      if (chunk !== null) this.#full.push(chunk.subarray(0, this.#length));
      chunk = this.#chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, data.length));
      this.#length = 0;
    }
    chunk.set(data, this.#length);
    this.#length += data.length;
  }

  get empty(): boolean {
    return this.#length === 0 && this.#full.length === 0;
  }

  /** The pending bytes as chunks, oldest first; the coalescer is empty afterwards. */
  take(): Buffer[] {
    const out = this.#full.splice(0);
    if (this.#chunk !== null && this.#length > 0) out.push(this.#chunk.subarray(0, this.#length));
    this.#chunk = null;
    this.#length = 0;
    return out;
  }
}
