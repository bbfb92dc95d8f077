/**
 * The retransmission timer's estimator (RFC 6298 sections 2 and 5): SRTT and RTTVAR from RTT
 * samples taken one segment at a time and never from a retransmitted segment (Karn's algorithm,
 * section 3), RTO = SRTT + max(G, 4*RTTVAR) bounded to [RTO_MIN_MS, RTO_MAX_MS], doubled on each
 * expiry (section 5.5). RTO_MIN_MS is Linux's 200 ms rather than the RFC's 1 s (documented in
 * constants.ts).
 */
import { CLOCK_GRANULARITY_MS, RTO_INITIAL_MS, RTO_MAX_MS, RTO_MIN_MS } from './constants.js';

export class RtoEstimator {
  srtt = 0;
  rttvar = 0;
  /** The current RTO, backoff included. */
  rto = RTO_INITIAL_MS;
  /** Expiries since the last new acknowledgement. */
  backoff = 0;
  hasSample = false;

  /** RFC 6298 sections 2.2 and 2.3. */
  sample(rttMs: number): void {
    const r = Math.max(rttMs, 0);
    if (!this.hasSample) {
      this.srtt = r;
      this.rttvar = r / 2;
      this.hasSample = true;
    } else {
      // alpha = 1/8, beta = 1/4.
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.backoff = 0;
    this.rto = this.base();
  }

  /** Section 5.5: back off the timer. */
  expired(): void {
    this.backoff++;
    this.rto = Math.min(this.rto * 2, RTO_MAX_MS);
  }

  /**
   * New data was acknowledged: the retry count ends, but the backed-off RTO stays until a valid
   * sample from a segment that was not retransmitted (Karn's algorithm, RFC 6298 section 3).
   */
  acknowledged(): void {
    this.backoff = 0;
  }

  private base(): number {
    const v = this.srtt + Math.max(CLOCK_GRANULARITY_MS, 4 * this.rttvar);
    return Math.min(Math.max(v, RTO_MIN_MS), RTO_MAX_MS);
  }
}
