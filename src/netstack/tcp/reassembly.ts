/**
 * The receiver's out-of-order store (RFC 9293 section 3.10.7.4, seventh step: segments beyond
 * RCV.NXT but inside the window are kept) and the SACK blocks that describe it (RFC 2018 section
 * 4: the first block holds the most recently received segment). Held data is kept as runs of
 * contiguous bytes, each a list of copied chunks, so a long run behind one hole is one run (cheap
 * SACK blocks, no re-copying when runs join). New data is trimmed against what is held, so nothing
 * overlaps. Bounds: the caller offers only bytes inside the advertised window, and the number of
 * chunks is capped (a flood of tiny segments cannot cost more than `maxChunks` small objects).
 */
import { seqAdd, seqDiff, seqGt, seqLe, seqLt } from './seq.js';

interface Run {
  seq: number;
  end: number;
  chunks: Uint8Array[];
}

export class Reassembly {
  /** Sorted, non-overlapping, non-adjacent. */
  private runs: Run[] = [];
  bytes = 0;
  private chunkCount = 0;
  private lastSeq = 0;

  constructor(readonly maxChunks: number) {}

  get empty(): boolean {
    return this.runs.length === 0;
  }

  /** Index of the first run ending after `seq`. */
  private firstEndingAfter(seq: number): number {
    let lo = 0;
    let hi = this.runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (seqGt(this.runs[mid]!.end, seq)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /**
   * Stores `data` starting at `seq` (strictly after RCV.NXT, inside the window). Returns false
   * when the chunk limit refused (part of) it.
   */
  insert(seq: number, data: Uint8Array): boolean {
    const end = seqAdd(seq, data.length);
    this.lastSeq = seq;
    const runs = this.runs;
    let start = seq;
    let i = this.firstEndingAfter(start);
    while (seqLt(start, end)) {
      const r = runs[i];
      if (r !== undefined && seqLe(r.seq, start)) {
        start = r.end;
        i++;
        continue;
      }
      const gapEnd = r === undefined || seqLt(end, r.seq) ? end : r.seq;
      if (this.chunkCount >= this.maxChunks) return false;
      const piece = data.slice(seqDiff(start, seq), seqDiff(gapEnd, seq));
      this.bytes += piece.length;
      this.chunkCount++;
      const left = i > 0 ? runs[i - 1] : undefined;
      if (left !== undefined && left.end === start) {
        left.chunks.push(piece);
        left.end = gapEnd;
        if (r !== undefined && r.seq === gapEnd) {
          for (const c of r.chunks) left.chunks.push(c);
          left.end = r.end;
          runs.splice(i, 1);
        }
        start = left.end;
      } else if (r !== undefined && r.seq === gapEnd) {
        r.chunks.unshift(piece);
        r.seq = start;
        start = r.end;
        i++;
      } else {
        runs.splice(i, 0, { seq: start, end: gapEnd, chunks: [piece] });
        start = gapEnd;
        i++;
      }
    }
    return true;
  }

  /**
   * Hands over every run that now starts at or before `rcvNxt`, in order (bytes before `rcvNxt`
   * cut off); returns the new RCV.NXT.
   */
  drain(rcvNxt: number, deliver: (data: Uint8Array) => void): number {
    let next = rcvNxt;
    const runs = this.runs;
    while (runs.length > 0 && seqLe(runs[0]!.seq, next)) {
      const r = runs.shift()!;
      let at = r.seq;
      for (const c of r.chunks) {
        this.bytes -= c.length;
        this.chunkCount--;
        const cEnd = seqAdd(at, c.length);
        if (seqGt(cEnd, next)) {
          const view = seqLt(at, next) ? c.subarray(seqDiff(next, at)) : c;
          next = cEnd;
          deliver(view);
        }
        at = cEnd;
      }
    }
    return next;
  }

  /**
   * Writes up to `max` SACK blocks (edge pairs) into `out`: the run with the latest arrival
   * first, then the highest others. Returns the block count.
   */
  sackBlocks(out: Uint32Array, max: number): number {
    const runs = this.runs;
    let n = 0;
    const first = this.firstEndingAfter(this.lastSeq);
    const hasFirst = first < runs.length && seqLe(runs[first]!.seq, this.lastSeq);
    if (hasFirst) {
      out[0] = runs[first]!.seq;
      out[1] = runs[first]!.end;
      n = 1;
    }
    for (let r = runs.length - 1; r >= 0 && n < max; r--) {
      if (hasFirst && r === first) continue;
      out[n * 2] = runs[r]!.seq;
      out[n * 2 + 1] = runs[r]!.end;
      n++;
    }
    return n;
  }

  clear(): void {
    this.runs = [];
    this.bytes = 0;
    this.chunkCount = 0;
  }
}
