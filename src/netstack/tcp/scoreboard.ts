/**
 * The sender's SACK scoreboard (RFC 2018 section 5, RFC 6675 section 3): the ranges above
 * SND.UNA that the receiver reported holding. Retransmission skips them and the pipe estimate
 * subtracts them. Blocks outside (SND.UNA, SND.MAX] are ignored (D-SACK, RFC 2883, or bogus);
 * the number of ranges is bounded.
 */
import { SCOREBOARD_MAX_RANGES } from './constants.js';
import { seqDiff, seqGt, seqLe, seqLt, seqMax, seqMin } from './seq.js';

export class Scoreboard {
  /** Sorted, merged [left, right) pairs. */
  private edges: number[] = [];
  /** Bytes covered. */
  sacked = 0;
  /** Bytes ever newly covered (a counter: loss detection compares its growth). */
  sackedEver = 0;
  /** The highest right edge (valid when ranges exist). */
  highest = 0;

  get empty(): boolean {
    return this.edges.length === 0;
  }

  /** Adds one reported block; returns false when it was ignored. */
  add(left: number, right: number, sndUna: number, sndMax: number): boolean {
    if (!seqLt(left, right) || seqLe(right, sndUna) || seqGt(right, sndMax)) return false;
    if (seqLt(left, sndUna)) left = sndUna;
    const e = this.edges;
    let i = 0;
    while (i < e.length && seqLt(e[i + 1]!, left)) i += 2;
    let j = i;
    while (j < e.length && seqLe(e[j]!, right)) {
      left = seqMin(left, e[j]!);
      right = seqMax(right, e[j + 1]!);
      j += 2;
    }
    if (j === i && e.length >= SCOREBOARD_MAX_RANGES * 2) return false;
    e.splice(i, j - i, left, right);
    const before = this.sacked;
    this.recount();
    this.sackedEver += this.sacked - before;
    return true;
  }

  /** Forgets everything at or below the new SND.UNA. */
  advance(sndUna: number): void {
    const e = this.edges;
    let k = 0;
    while (k < e.length && seqLe(e[k + 1]!, sndUna)) k += 2;
    if (k > 0) e.splice(0, k);
    if (e.length > 0 && seqLt(e[0]!, sndUna)) e[0] = sndUna;
    this.recount();
  }

  /** If `seq` is inside a range, that range's right edge, else -1. */
  sackedEnd(seq: number): number {
    const e = this.edges;
    for (let i = 0; i < e.length; i += 2) {
      if (seqLt(seq, e[i]!)) return -1;
      if (seqLt(seq, e[i + 1]!)) return e[i + 1]!;
    }
    return -1;
  }

  /** The left edge of the first range starting after `seq`, or -1. */
  nextSacked(seq: number): number {
    const e = this.edges;
    for (let i = 0; i < e.length; i += 2) if (seqGt(e[i]!, seq)) return e[i]!;
    return -1;
  }

  /** Bytes covered inside [from, to). */
  sackedWithin(from: number, to: number): number {
    let n = 0;
    const e = this.edges;
    for (let i = 0; i < e.length; i += 2) {
      const l = seqMax(e[i]!, from);
      const r = seqMin(e[i + 1]!, to);
      if (seqLt(l, r)) n += seqDiff(r, l);
    }
    return n;
  }

  clear(): void {
    this.edges = [];
    this.sacked = 0;
  }

  private recount(): void {
    let n = 0;
    const e = this.edges;
    for (let i = 0; i < e.length; i += 2) n += seqDiff(e[i + 1]!, e[i]!);
    this.sacked = n;
    this.highest = e.length > 0 ? e[e.length - 1]! : 0;
  }
}
