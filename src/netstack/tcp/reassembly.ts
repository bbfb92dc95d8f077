/**
 * The receiver's out-of-order store (RFC 9293 section 3.10.7.4, seventh step: segments beyond
 * RCV.NXT but inside the window are kept) and the SACK blocks that describe it (RFC 2018 section
 * 4: the first block holds the most recently received segment). Segments are copied in, trimmed
 * against what is already held so nothing overlaps; the caller only offers bytes inside the
 * advertised window, and the number of pieces is bounded, so a hostile peer cannot grow it.
 */
import { OOO_MAX_SEGMENTS } from './constants.js';
import { seqAdd, seqDiff, seqGe, seqLe, seqLt } from './seq.js';

interface Piece {
  seq: number;
  data: Uint8Array;
}

export class Reassembly {
  /** Sorted by seq, non-overlapping. */
  private pieces: Piece[] = [];
  bytes = 0;
  private lastSeq = 0;

  get empty(): boolean {
    return this.pieces.length === 0;
  }

  /**
   * Stores `data` starting at `seq` (strictly after RCV.NXT, inside the window). Returns false
   * when the piece limit refused it.
   */
  insert(seq: number, data: Uint8Array): boolean {
    let start = seq;
    const end = seqAdd(seq, data.length);
    this.lastSeq = seq;
    let i = 0;
    const list = this.pieces;
    while (i < list.length && seqLe(seqAdd(list[i]!.seq, list[i]!.data.length), start)) i++;
    // Walk the pieces that may overlap [start, end), filling the gaps between them.
    while (seqLt(start, end)) {
      const p = list[i];
      const gapEnd = p === undefined || seqLt(end, p.seq) ? end : p.seq;
      if (seqLt(start, gapEnd)) {
        if (list.length >= OOO_MAX_SEGMENTS) return false;
        const from = seqDiff(start, seq);
        const copy = data.slice(from, from + seqDiff(gapEnd, start));
        list.splice(i, 0, { seq: start, data: copy });
        this.bytes += copy.length;
        i++;
      }
      if (p === undefined) break;
      start = seqAdd(p.seq, p.data.length);
      if (seqGe(gapEnd, end)) break;
      i++;
    }
    return true;
  }

  /**
   * Hands over every piece that now starts at or before `rcvNxt`, in order (the part before
   * `rcvNxt` cut off); returns the new RCV.NXT.
   */
  drain(rcvNxt: number, deliver: (data: Uint8Array) => void): number {
    let next = rcvNxt;
    const list = this.pieces;
    let k = 0;
    while (k < list.length && seqLe(list[k]!.seq, next)) {
      const p = list[k]!;
      const end = seqAdd(p.seq, p.data.length);
      this.bytes -= p.data.length;
      k++;
      if (seqLe(end, next)) continue;
      const view = p.data.subarray(seqDiff(next, p.seq));
      next = end;
      deliver(view);
    }
    if (k > 0) list.splice(0, k);
    return next;
  }

  /**
   * Writes up to `max` SACK blocks (edge pairs) into `out`: merged runs of held data, the run
   * with the latest arrival first. Returns the block count.
   */
  sackBlocks(out: Uint32Array, max: number): number {
    const list = this.pieces;
    let n = 0;
    let first = -1;
    const runs: number[] = [];
    for (let i = 0; i < list.length;) {
      const left = list[i]!.seq;
      let right = seqAdd(left, list[i]!.data.length);
      let latest = left === this.lastSeq;
      i++;
      while (i < list.length && list[i]!.seq === right) {
        if (list[i]!.seq === this.lastSeq) latest = true;
        right = seqAdd(list[i]!.seq, list[i]!.data.length);
        i++;
      }
      if (latest && first < 0) first = runs.length;
      runs.push(left, right);
    }
    const order: number[] = [];
    if (first >= 0) order.push(first);
    for (let r = runs.length - 2; r >= 0 && order.length < max; r -= 2) if (r !== first) order.push(r);
    for (const r of order.slice(0, max)) {
      out[n * 2] = runs[r]!;
      out[n * 2 + 1] = runs[r + 1]!;
      n++;
    }
    return n;
  }

  clear(): void {
    this.pieces = [];
    this.bytes = 0;
  }
}
