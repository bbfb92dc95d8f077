/**
 * The fifth step of RFC 9293 section 3.10.7.4 (the ACK field), with RFC 5961 section 5's ACK
 * acceptance range, RFC 6298 RTT sampling, RFC 5681 / RFC 6582 duplicate ACKs and NewReno
 * recovery, RFC 6675-style loss marking from SACK blocks (RFC 2018), the send window update and
 * the FIN-acknowledged transitions. Two additions in the spirit of Linux: an RTT sample when a
 * SACK block first covers the timed segment (so samples keep coming while a hole waits), and a
 * lost retransmission is detected when DupThresh segments' worth of data sent after it was
 * SACKed: the retransmission walk starts again from SND.UNA (instead of waiting for the RTO).
 */
import type { Tcb } from './connection.js';
import { DUPACK_THRESHOLD } from './constants.js';
import { armTimer, sendAck } from './output.js';
import { SYN, FIN, type Segment } from './segment.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqLt, seqMax } from './seq.js';
import { enterTimeWait } from './timers.js';

/** Returns false when the segment must be dropped (or the connection ended). */
export function processAck(c: Tcb, seg: Segment): boolean {
  const ack = seg.ack;
  if (c.state === 'SYN-RECEIVED') {
    if (!(seqGt(ack, c.sndUna) && seqGe(c.sndNxt, ack))) {
      c.host.sendResetFor(c, ack);
      c.host.drop('bad-ack');
      return false;
    }
    c.sndUna = ack;
    c.transition('rcv-ack-of-syn');
    c.sndWnd = seg.window << c.sndShift;
    c.maxSndWnd = c.sndWnd;
    c.sndWl1 = seg.seq;
    c.sndWl2 = ack;
    if (c.retries === 0) c.rto.sample(c.host.now() - c.rttStart);
    c.retries = 0;
    c.rtoAt = Infinity;
    c.recover = c.sndUna;
    c.rxtNext = c.rxtLimit = c.sndUna;
    c.applyQueuedClose();
    // A passive open goes to its listener; an active one came through a simultaneous open.
    if (c.passive) c.host.accepted(c);
    else c.events.onEstablished();
    if (c.gone) return false;
  }
  if (c.state === 'TIME-WAIT') return true;
  // RFC 5961 section 5.2: acceptable from SND.UNA - MAX.SND.WND to SND.NXT.
  if (seqGt(ack, c.sndNxt)) {
    sendAck(c);
    c.host.drop('ack-unsent');
    return false;
  }
  if (seqLt(ack, seqAdd(c.sndUna, -Math.max(c.maxSndWnd, 1)))) {
    sendAck(c);
    c.host.drop('ack-too-old');
    return false;
  }
  if (c.sackOk && seg.sackCount > 0) readSack(c, seg);
  const windowBefore = c.sndWnd;
  const newWindow = seg.window << c.sndShift;
  if (seqGt(ack, c.sndUna)) {
    newlyAcked(c, ack);
  } else if (
    ack === c.sndUna &&
    c.flight > 0 &&
    seg.payload.length === 0 &&
    !(seg.flags & (SYN | FIN)) &&
    newWindow === windowBefore
  ) {
    duplicateAck(c);
  }
  if (c.sackOk && seqLt(c.sndUna, c.recover) && !c.scoreboard.empty) {
    // In recovery or after a timeout: holes below the highest SACK are lost.
    c.rxtLimit = seqMax(c.rxtLimit, c.scoreboard.highest);
    if (
      seqGt(c.rxtNext, c.sndUna) &&
      c.scoreboard.sackedEver - c.unaRetransmittedAt >= DUPACK_THRESHOLD * c.mss
    ) {
      c.rxtNext = c.sndUna;
      c.unaRetransmittedAt = c.scoreboard.sackedEver;
    }
  }
  maybeRecover(c);
  // Send window update (RFC 9293 section 3.10.7.4): only from a newer segment.
  if (seqLt(c.sndWl1, seg.seq) || (c.sndWl1 === seg.seq && seqGe(ack, c.sndWl2))) {
    c.sndWnd = newWindow;
    c.sndWl1 = seg.seq;
    c.sndWl2 = ack;
    if (newWindow > c.maxSndWnd) c.maxSndWnd = newWindow;
    if (newWindow > 0) {
      c.persistAt = Infinity;
      c.persistBackoff = 0;
    }
  }
  return finAcked(c);
}

function readSack(c: Tcb, seg: Segment): void {
  for (let k = 0; k < seg.sackCount; k++) {
    if (!c.scoreboard.add(seg.sack[k * 2]!, seg.sack[k * 2 + 1]!, c.sndUna, c.sndNxt)) {
      c.host.drop('sack-ignored');
    }
  }
  if (c.rttTiming && c.scoreboard.sackedEnd(c.rttSeq) >= 0) {
    c.rto.sample(c.host.now() - c.rttStart);
    c.rttTiming = false;
  }
}

function newlyAcked(c: Tcb, ack: number): void {
  const acked = seqDiff(ack, c.sndUna);
  const sackedBefore = c.scoreboard.sacked;
  const finCovered = c.finSent && seqGt(ack, c.finSeq);
  c.buffer.release(acked - (finCovered ? 1 : 0));
  c.sndUna = ack;
  const now = c.host.now();
  if (c.rttTiming && seqGt(ack, c.rttSeq)) {
    c.rto.sample(now - c.rttStart);
    c.rttTiming = false;
  }
  c.rto.acknowledged();
  c.retries = 0;
  c.scoreboard.advance(ack);
  if (c.cc.inRecovery) {
    if (seqGe(ack, c.recover)) {
      c.cc.exitRecovery();
      c.dupAckBytes = 0;
      c.rxtLimit = c.rxtNext = ack;
    } else if (!c.sackOk) {
      // RFC 6582 section 3.2 step 5: a partial ACK retransmits the next segment at once.
      c.dupAckBytes = Math.max(0, c.dupAckBytes - acked);
      c.rxtNext = ack;
      c.rxtLimit = seqAdd(ack, c.mss);
    }
  } else {
    // Bytes SACKed earlier were already counted as delivered: grow by the new ones only.
    c.cc.onAck(Math.max(0, acked - (sackedBefore - c.scoreboard.sacked)), c.mss);
  }
  c.dupAcks = 0;
  c.tlpSent = false;
  armTimer(c, true);
  if (acked > (finCovered ? 1 : 0) && !c.finQueued) c.events.onDrain();
}

function duplicateAck(c: Tcb): void {
  c.dupAcks++;
  if (c.cc.inRecovery && !c.sackOk) c.dupAckBytes += c.mss;
  if (!c.cc.inRecovery && c.dupAcks >= DUPACK_THRESHOLD) enterRecovery(c);
}

/** RFC 6675 section 5's trigger: DupThresh segments' worth of SACKed data above SND.UNA. */
function maybeRecover(c: Tcb): void {
  if (c.cc.inRecovery || !c.sackOk || c.scoreboard.empty) return;
  // After a tail loss probe any SACK shows the hole (RFC 8985 section 7.4's recovery).
  if (c.scoreboard.sacked >= DUPACK_THRESHOLD * c.mss || c.tlpSent) enterRecovery(c);
}

/** Fast retransmit and the start of recovery (RFC 5681 section 3.2, RFC 6582 section 3.2). */
function enterRecovery(c: Tcb): void {
  // RFC 6582 section 3.2 step 2: not again for losses from the same window.
  if (seqLt(c.sndUna, c.recover)) return;
  c.host.count('fastRecoveries');
  c.cc.enterRecovery(c.flight, c.mss);
  c.recover = c.sndNxt;
  c.rxtNext = c.sndUna;
  c.rxtLimit = c.sackOk && !c.scoreboard.empty ? c.scoreboard.highest : seqAdd(c.sndUna, c.mss);
  c.dupAckBytes = c.sackOk ? 0 : DUPACK_THRESHOLD * c.mss;
  c.rttTiming = false;
}

/** Our FIN acknowledged: FIN-WAIT-1, CLOSING and LAST-ACK move on. */
function finAcked(c: Tcb): boolean {
  if (!c.finSent || !seqGt(c.sndUna, c.finSeq)) return true;
  switch (c.state) {
    case 'FIN-WAIT-1':
      c.transition('rcv-ack-of-fin');
      return true;
    case 'CLOSING':
      c.transition('rcv-ack-of-fin');
      enterTimeWait(c);
      return true;
    case 'LAST-ACK':
      c.transition('rcv-ack-of-fin');
      c.finish(null);
      return false;
    default:
      return true;
  }
}
