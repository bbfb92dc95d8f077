/**
 * The TCP header (RFC 9293 section 3.1) and the options used here: MSS (RFC 9293 section
 * 3.7.1), window scale (RFC 7323 section 2), SACK-permitted and SACK blocks (RFC 2018). Parsing
 * checks each length once and fills one reusable record; a malformed header or option list yields
 * a drop reason, never an exception. Unknown options are skipped by their length; timestamps
 * (RFC 7323 section 3) are not negotiated, so they are skipped too.
 */

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;

export const TCP_HEADER_LENGTH = 20;
/** The checksum field's offset, for IpSender.send. */
export const CHECKSUM_OFFSET = 16;
/** RFC 2018: at most 4 blocks fit in 40 option bytes; we read up to 4. */
export const MAX_SACK_BLOCKS = 4;

/** One parsed segment. `payload` is a view into the datagram, valid during receive only. */
export class Segment {
  sourcePort = 0;
  destinationPort = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  window = 0;
  payload: Uint8Array = new Uint8Array(0);
  /** -1 when absent. */
  mss = -1;
  /** -1 when absent. */
  windowShift = -1;
  sackPermitted = false;
  sackCount = 0;
  /** Left and right edges, pairs. */
  readonly sack = new Uint32Array(MAX_SACK_BLOCKS * 2);

  /** SEG.LEN: data plus SYN and FIN (RFC 9293 section 3.4). */
  get length(): number {
    return this.payload.length + (this.flags & SYN ? 1 : 0) + (this.flags & FIN ? 1 : 0);
  }
}

export type ParseDrop = 'truncated' | 'bad-offset' | 'bad-option';

/** Fills `seg` from `b`; returns null when it is usable, else why not. */
export function parseSegment(b: Uint8Array, seg: Segment): ParseDrop | null {
  if (b.length < TCP_HEADER_LENGTH) return 'truncated';
  const offset = (b[12]! >> 4) * 4;
  if (offset < TCP_HEADER_LENGTH || offset > b.length) return 'bad-offset';
  seg.sourcePort = (b[0]! << 8) | b[1]!;
  seg.destinationPort = (b[2]! << 8) | b[3]!;
  seg.seq = ((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0;
  seg.ack = ((b[8]! << 24) | (b[9]! << 16) | (b[10]! << 8) | b[11]!) >>> 0;
  seg.flags = b[13]! & 0x3f;
  seg.window = (b[14]! << 8) | b[15]!;
  seg.mss = -1;
  seg.windowShift = -1;
  seg.sackPermitted = false;
  seg.sackCount = 0;
  seg.payload = b.subarray(offset);
  return offset > TCP_HEADER_LENGTH ? parseOptions(b, offset, seg) : null;
}

function parseOptions(b: Uint8Array, end: number, seg: Segment): ParseDrop | null {
  let i = TCP_HEADER_LENGTH;
  while (i < end) {
    const kind = b[i]!;
    if (kind === 0) break; // End of option list.
    if (kind === 1) {
      i++;
      continue;
    }
    if (i + 1 >= end) return 'bad-option';
    const len = b[i + 1]!;
    if (len < 2 || i + len > end) return 'bad-option';
    if (kind === 2 && len === 4) {
      seg.mss = (b[i + 2]! << 8) | b[i + 3]!;
    } else if (kind === 3 && len === 3) {
      seg.windowShift = b[i + 2]!;
    } else if (kind === 4 && len === 2) {
      seg.sackPermitted = true;
    } else if (kind === 5 && len >= 10 && (len - 2) % 8 === 0) {
      const n = Math.min((len - 2) / 8, MAX_SACK_BLOCKS);
      for (let k = 0; k < n; k++) {
        const p = i + 2 + k * 8;
        seg.sack[k * 2] = ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
        seg.sack[k * 2 + 1] = ((b[p + 4]! << 24) | (b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!) >>> 0;
      }
      seg.sackCount = n;
    }
    // Anything else (timestamps, unknown kinds, wrong lengths of known kinds) is skipped.
    i += len;
  }
  return null;
}

/** What goes into an outgoing header. */
export interface SegmentHeader {
  sourcePort: number;
  destinationPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
}

/** SYN options: MSS, NOP + window scale, SACK-permitted + NOP NOP (12 bytes). */
export function synOptionsLength(wscale: boolean, sack: boolean): number {
  return 4 + (wscale ? 4 : 0) + (sack ? 4 : 0);
}

/** SACK option as NOP NOP + kind 5 (4 + 8n bytes). */
export function sackOptionLength(blocks: number): number {
  return blocks === 0 ? 0 : 4 + 8 * blocks;
}

/** Writes the fixed header at the start of `out` (checksum left zero); returns the data offset. */
export function writeHeader(out: Uint8Array, h: SegmentHeader, optionLength: number): number {
  const offset = TCP_HEADER_LENGTH + optionLength;
  out[0] = h.sourcePort >> 8;
  out[1] = h.sourcePort;
  out[2] = h.destinationPort >> 8;
  out[3] = h.destinationPort;
  writeU32(out, 4, h.seq);
  writeU32(out, 8, h.ack);
  out[12] = (offset / 4) << 4;
  out[13] = h.flags;
  out[14] = h.window >> 8;
  out[15] = h.window;
  return offset;
}

export function writeU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = v >>> 16;
  out[at + 2] = v >>> 8;
  out[at + 3] = v;
}

export function writeSynOptions(out: Uint8Array, mss: number, shift: number, sack: boolean): void {
  let i = TCP_HEADER_LENGTH;
  out[i++] = 2;
  out[i++] = 4;
  out[i++] = mss >> 8;
  out[i++] = mss;
  if (shift >= 0) {
    out[i++] = 1;
    out[i++] = 3;
    out[i++] = 3;
    out[i++] = shift;
  }
  if (sack) {
    out[i++] = 4;
    out[i++] = 2;
    out[i++] = 1;
    out[i++] = 1;
  }
}

/** Writes NOP NOP SACK with `blocks` (edge pairs) after the fixed header. */
export function writeSackOption(out: Uint8Array, edges: Uint32Array, blocks: number): void {
  let i = TCP_HEADER_LENGTH;
  out[i++] = 1;
  out[i++] = 1;
  out[i++] = 5;
  out[i++] = 2 + 8 * blocks;
  for (let k = 0; k < blocks * 2; k++, i += 4) writeU32(out, i, edges[k]!);
}
