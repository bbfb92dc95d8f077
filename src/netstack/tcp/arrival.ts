/**
 * SEGMENT ARRIVES for an existing connection (RFC 9293 section 3.10.7.3 SYN-SENT and 3.10.7.4
 * the synchronized states), one function per step of the RFC: first the sequence number check,
 * second RST (RFC 5961 section 3: only an exact RCV.NXT match resets, an in-window one draws a
 * challenge ACK), fourth SYN (RFC 5961 section 4: challenge ACK), fifth ACK (acks.ts), seventh
 * the segment text, eighth FIN. The third (security) and sixth (URG) steps have no work: no
 * compartments here, and urgent data is delivered inline (RFC 6093). Data carried on a SYN or
 * SYN-ACK is not queued; the peer retransmits it (documented simplification).
 */
import { processAck } from './acks.js';
import type { Tcb } from './connection.js';
import { DEFAULT_MSS_V4, DEFAULT_MSS_V6, MAX_WINDOW_SHIFT } from './constants.js';
import { sendAck, sendSyn, output } from './output.js';
import { ACK, FIN, RST, SYN, type Segment } from './segment.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from './seq.js';
import { enterTimeWait } from './timers.js';

/** The smallest MSS we accept from a peer (Linux clamps to 48 bytes of payload; we use 64). */
const MIN_PEER_MSS = 64;

/** SYN options (RFC 9293 3.7.1, RFC 7323 2.2, RFC 2018 2): what both ends agreed. */
export function negotiate(c: Tcb, seg: Segment): void {
  const fallback = c.remote.address.length === 4 ? DEFAULT_MSS_V4 : DEFAULT_MSS_V6;
  const peerMss = seg.mss >= 0 ? seg.mss : fallback;
  c.mss = Math.max(MIN_PEER_MSS, Math.min(c.ourMss, peerMss));
  if (seg.windowShift >= 0) {
    c.sndShift = Math.min(seg.windowShift, MAX_WINDOW_SHIFT);
  } else {
    c.sndShift = 0;
    c.rcvShift = 0;
  }
  c.sackOk = seg.sackPermitted && c.host.options.sack;
  c.cc.cwnd = Math.max(c.cc.cwnd, 10 * c.mss);
}

export function segmentArrives(c: Tcb, seg: Segment): void {
  if (c.state === 'SYN-SENT') synSent(c, seg);
  else synchronized(c, seg);
}

/** RFC 9293 section 3.10.7.3. */
function synSent(c: Tcb, seg: Segment): void {
  const f = seg.flags;
  if (f & ACK && (seqLe(seg.ack, c.iss) || seqGt(seg.ack, c.sndNxt))) {
    if (!(f & RST)) c.host.sendResetFor(c, seg.ack);
    c.host.drop('bad-ack');
    return;
  }
  if (f & RST) {
    if (f & ACK) c.finish('ECONNREFUSED');
    else c.host.drop('rst-without-ack');
    return;
  }
  if (!(f & SYN)) {
    c.host.drop('no-syn');
    return;
  }
  c.irs = seg.seq;
  c.rcvNxt = seqAdd(seg.seq, 1);
  c.rcvAdv = c.rcvNxt;
  negotiate(c, seg);
  if (f & ACK) {
    c.sndUna = seg.ack;
    c.transition('rcv-syn-ack');
    // RFC 7323 section 2.2: the window in a SYN-ACK is not scaled.
    c.sndWnd = seg.window;
    c.maxSndWnd = c.sndWnd;
    c.sndWl1 = seg.seq;
    c.sndWl2 = seg.ack;
    if (c.retries === 0) c.rto.sample(c.host.now() - c.rttStart);
    c.retries = 0;
    c.rtoAt = Infinity;
    c.recover = c.sndUna;
    c.rxtNext = c.rxtLimit = c.sndUna;
    c.heard(c.host.now());
    c.applyQueuedClose();
    sendAck(c);
    c.events.onEstablished();
    if (!c.gone) output(c);
    return;
  }
  // Simultaneous open.
  c.transition('rcv-syn');
  sendSyn(c, true);
}

function synchronized(c: Tcb, seg: Segment): void {
  const originalSeq = seg.seq;
  if (!first(c, seg)) return;
  if (seg.flags & RST) return second(c, originalSeq);
  if (seg.flags & SYN) return fourth(c);
  if (!(seg.flags & ACK)) {
    c.host.drop('no-ack');
    return;
  }
  c.heard(c.host.now());
  if (!processAck(c, seg)) return;
  if (c.gone) return;
  seventh(c, seg);
  if (c.gone) return;
  eighth(c, seg);
}

/**
 * First: the acceptability test of RFC 9293 section 3.10.7.4, then trimming the segment to the
 * window (old bytes and a repeated SYN off the front, bytes beyond the window and the FIN off the
 * back). A zero window still accepts the ACK of a segment at RCV.NXT. Returns false to drop.
 */
function first(c: Tcb, seg: Segment): boolean {
  const wnd = Math.max(0, seqDiff(c.rcvAdv, c.rcvNxt));
  const len = seg.length;
  const seq = seg.seq;
  const inWindow = (s: number): boolean => seqGe(s, c.rcvNxt) && seqLt(s, seqAdd(c.rcvNxt, wnd));
  let ok: boolean;
  if (len === 0) ok = wnd === 0 ? seq === c.rcvNxt : inWindow(seq);
  else if (wnd === 0)
    ok = seq === c.rcvNxt; // Only its ACK will be used.
  else ok = inWindow(seq) || inWindow(seqAdd(seq, len - 1));
  if (!ok) {
    // A retransmitted FIN in TIME-WAIT restarts the 2*MSL wait (RFC 9293 3.10.7.4, eighth step).
    if (c.state === 'TIME-WAIT' && seg.flags & FIN) enterTimeWait(c);
    if (!(seg.flags & RST)) {
      c.ackPending = true;
      sendAck(c);
    }
    c.host.drop(len > 0 && seqLt(seq, c.rcvNxt) ? 'duplicate' : 'out-of-window');
    return false;
  }
  if (seg.flags & RST) return true;
  // Trim the front.
  let head = seqDiff(c.rcvNxt, seq);
  if (head > 0) {
    if (seg.flags & SYN) {
      seg.flags &= ~SYN;
      head--;
    }
    seg.payload = seg.payload.subarray(Math.min(head, seg.payload.length));
    seg.seq = c.rcvNxt;
  }
  // Trim the back.
  const room = Math.max(0, seqDiff(seqAdd(c.rcvNxt, wnd), seg.seq));
  if (seg.payload.length > room) {
    seg.payload = seg.payload.subarray(0, room);
    seg.flags &= ~FIN;
    c.ackPending = true; // The sender (a window probe, perhaps) learns our window from the ACK.
    c.host.drop('beyond-window');
  }
  return true;
}

/** Second: RST (RFC 9293 section 3.10.7.4 and RFC 5961 section 3.2). */
function second(c: Tcb, seq: number): void {
  if (seq !== c.rcvNxt) {
    sendAck(c); // Challenge ACK: a blind attacker cannot know RCV.NXT exactly.
    c.host.drop('rst-challenge');
    return;
  }
  switch (c.state) {
    case 'SYN-RECEIVED':
      // A passive open goes back to LISTEN (the listener still listens); an active one refused.
      c.finish(c.passive ? 'ECONNRESET' : 'ECONNREFUSED');
      return;
    case 'CLOSING':
    case 'LAST-ACK':
    case 'TIME-WAIT':
      c.finish(null);
      return;
    default:
      c.finish('ECONNRESET');
  }
}

/** Fourth: a SYN in a synchronized state draws a challenge ACK (RFC 5961 section 4.2). */
function fourth(c: Tcb): void {
  sendAck(c);
  c.host.drop('syn-in-window');
}

/** Seventh: the segment text (RFC 9293 section 3.10.7.4). */
function seventh(c: Tcb, seg: Segment): void {
  const s = c.state;
  const data = seg.payload;
  if (data.length === 0) return;
  if (s !== 'ESTABLISHED' && s !== 'FIN-WAIT-1' && s !== 'FIN-WAIT-2') {
    c.host.drop('data-after-fin');
    return;
  }
  if (seg.seq === c.rcvNxt) {
    deliver(c, data);
    if (!c.ooo.empty && !c.gone) {
      c.rcvNxt = c.ooo.drain(c.rcvNxt, (v) => deliverHeld(c, v));
      // A filled hole is acknowledged at once (RFC 5681 section 4.2).
      c.ackPending = true;
      if (!c.gone) sendAck(c);
    }
  } else {
    if (!c.ooo.insert(seg.seq, data)) c.host.drop('ooo-full');
    // Out of order: acknowledge at once so the sender sees duplicate ACKs (RFC 5681 section 4.2).
    c.ackPending = true;
    sendAck(c);
  }
}

function deliver(c: Tcb, data: Uint8Array): void {
  c.rcvNxt = seqAdd(c.rcvNxt, data.length);
  if (c.orphaned) return;
  c.unconsumed += data.length;
  c.ackPending = true;
  c.events.onData(data);
}

function deliverHeld(c: Tcb, data: Uint8Array): void {
  if (c.orphaned) return;
  c.unconsumed += data.length;
  if (!c.gone) c.events.onData(data);
}

/** Eighth: FIN, in sequence or remembered until the data before it arrives. */
function eighth(c: Tcb, seg: Segment): void {
  if (seg.flags & FIN) {
    const finSeq = seqAdd(seg.seq, seg.payload.length);
    if (finSeq !== c.rcvNxt) {
      c.pendingFin = finSeq;
      return;
    }
  } else if (c.pendingFin < 0 || c.pendingFin !== c.rcvNxt) {
    return;
  }
  c.pendingFin = -1;
  const s = c.state;
  if (s === 'CLOSE-WAIT' || s === 'CLOSING' || s === 'LAST-ACK') return; // A repeated FIN.
  if (s === 'TIME-WAIT') {
    // A retransmitted FIN: acknowledge it and restart the 2*MSL wait.
    sendAck(c);
    enterTimeWait(c);
    return;
  }
  c.rcvNxt = seqAdd(c.rcvNxt, 1);
  c.ackPending = true;
  sendAck(c);
  if (s === 'FIN-WAIT-2') {
    c.transition('rcv-fin');
    c.events.onEnd();
    enterTimeWait(c);
    return;
  }
  c.transition('rcv-fin');
  c.events.onEnd();
}
