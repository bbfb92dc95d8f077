/**
 * The lines of one UAPI `set=1` request while it is held (wireguard.com/xplatform), packed as
 * bytes: one newline-terminated line after another in blocks of BLOCK_BYTES, instead of one string
 * per line. A string per line costs a header, alignment and an array slot, up to 20 times its
 * bytes for short lines; packed, a request costs what it weighs, which is what the server's memory
 * budget (budget.ts) counts. Lines come back as latin1 strings, one character per byte, made as
 * they are iterated, so only the line being parsed exists as a string.
 */

/** Large enough that per-block overhead does not matter, small enough that slack does not. */
const BLOCK_BYTES = 64 * 1024;
const NL = 0x0a;

export class SetLines implements Iterable<string> {
  readonly #blocks: Buffer[] = [];
  #current: Buffer | null = null;
  #used = 0;
  #count = 0;
  #bytes = 0;

  /** Lines from an array (for tests and callers that already have them). */
  static of(lines: Iterable<string>): SetLines {
    const out = new SetLines();
    for (const line of lines) {
      const b = Buffer.from(line, 'latin1');
      out.append(b, 0, b.length);
    }
    return out;
  }

  /** Number of lines. */
  get length(): number {
    return this.#count;
  }

  /** Bytes held, newlines included. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Adds the line buf[start, end), which holds no newline. */
  append(buf: Uint8Array, start: number, end: number): void {
    const size = end - start + 1;
    if (this.#current === null || this.#used + size > this.#current.length) {
      this.#seal();
      this.#current = Buffer.allocUnsafe(Math.max(BLOCK_BYTES, size));
      this.#used = 0;
    }
    this.#current.set(buf.subarray(start, end), this.#used);
    this.#current[this.#used + size - 1] = NL;
    this.#used += size;
    this.#count++;
    this.#bytes += size;
  }

  *[Symbol.iterator](): Iterator<string> {
    const blocks =
      this.#current === null ? this.#blocks : [...this.#blocks, this.#current.subarray(0, this.#used)];
    for (const block of blocks) {
      for (let start = 0; start < block.length;) {
        const nl = block.indexOf(NL, start);
        yield block.toString('latin1', start, nl);
        start = nl + 1;
      }
    }
  }

  /** Closes the block being filled, keeping only its used part. */
  #seal(): void {
    if (this.#current === null) return;
    this.#blocks.push(
      this.#used === this.#current.length
        ? this.#current
        : Buffer.from(this.#current.subarray(0, this.#used)),
    );
    this.#current = null;
  }
}
