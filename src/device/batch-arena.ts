/**
 * The reused byte arena of the batched transport data path (batch-send.ts, batch-receive.ts):
 * transport data messages (whitepaper section 5.4.6) laid out for the native AEAD calls, datagram
 * k at bytes[offsets[k] .. + lengths[k]), each 16-aligned with room for the 16-byte header and
 * the 16-byte tag. One arena per direction and device, allocated once and reused for every batch:
 * no buffer per packet, so the data path makes almost no garbage.
 */
import { TRANSPORT_HEADER_SIZE } from '../constants.js';

/** Datagrams one arena holds before it is flushed. */
export const ARENA_SLOTS = 1024;
/** Arena bytes: a TCP window's worth of MTU-sized packets, or a few 64 KB ones. */
const ARENA_BYTES = 2 << 20;
/** Header, AEAD tag and alignment around each packet in the arena. */
const OVERHEAD = TRANSPORT_HEADER_SIZE + 16 + 15;

export class Arena {
  readonly bytes = new Uint8Array(ARENA_BYTES);
  readonly view = new DataView(this.bytes.buffer);
  readonly offsets = new Uint32Array(ARENA_SLOTS);
  readonly lengths = new Uint32Array(ARENA_SLOTS);
  count = 0;
  cursor = 0;

  /** Whether a datagram of `length` bytes (plus overhead) still fits. */
  fits(length: number): boolean {
    return this.count < ARENA_SLOTS && this.cursor + length + OVERHEAD <= ARENA_BYTES;
  }

  /** Takes the next slot at the cursor, 16-aligned; the caller fills it. */
  take(length: number, room: number): number {
    const at = this.cursor;
    const k = this.count++;
    this.offsets[k] = at;
    this.lengths[k] = length;
    this.cursor = (at + room + 15) & ~15;
    return k;
  }

  reset(): void {
    this.count = 0;
    this.cursor = 0;
  }
}
