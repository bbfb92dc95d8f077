/**
 * Congestion control: NewReno (RFC 5681 slow start and congestion avoidance, RFC 6582 fast
 * recovery), with the window counted in bytes. Slow start grows by the bytes acknowledged
 * (appropriate byte counting, RFC 3465, without its L = 2*SMSS cap: Linux does the same, and one
 * ACK may cover a whole input batch). During recovery the sender follows RFC 6675's pipe rule
 * (output.ts): cwnd stays at ssthresh and segments go out while the estimated pipe is below it.
 */
import { INITIAL_WINDOW_SEGMENTS } from './constants.js';

/** The largest cwnd we grow to: far above any window a peer may advertise (1 GiB). */
const CWND_CAP = 1 << 30;

export class NewReno {
  cwnd: number;
  ssthresh = CWND_CAP;
  inRecovery = false;
  private counted = 0;

  constructor(mss: number) {
    this.cwnd = INITIAL_WINDOW_SEGMENTS * mss;
  }

  /** RFC 5681 section 3.1: new data acknowledged outside recovery. */
  onAck(acked: number, mss: number): void {
    if (this.cwnd < this.ssthresh) {
      this.cwnd = Math.min(this.cwnd + acked, CWND_CAP);
      return;
    }
    // Congestion avoidance: one SMSS per cwnd of acknowledged bytes.
    this.counted += acked;
    if (this.counted >= this.cwnd) {
      this.counted -= this.cwnd;
      this.cwnd = Math.min(this.cwnd + mss, CWND_CAP);
    }
  }

  /** RFC 5681 equation (4), RFC 6582 section 3.2 step 2. */
  enterRecovery(flight: number, mss: number): void {
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * mss);
    this.cwnd = this.ssthresh;
    this.inRecovery = true;
  }

  /** RFC 6582 section 3.2 step 3: a full acknowledgement ends recovery. */
  exitRecovery(): void {
    this.cwnd = this.ssthresh;
    this.inRecovery = false;
    this.counted = 0;
  }

  /** RFC 5681 section 3.1 equation (4) and the loss window of one segment. */
  onTimeout(flight: number, mss: number): void {
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * mss);
    this.cwnd = mss;
    this.inRecovery = false;
    this.counted = 0;
  }
}
