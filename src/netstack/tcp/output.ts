/**
 * Sending (RFC 9293 section 3.8.6.2.1 sender-side SWS avoidance and Nagle, RFC 5681/6675
 * congestion limits, RFC 2018 SACK blocks in our ACKs, RFC 7323 window scaling). `output` first
 * retransmits what recovery marked lost ([rxtNext, rxtLimit) minus SACKed ranges), then sends new
 * data while the estimated pipe is below cwnd and the peer's window allows, then the FIN, and
 * finally a pure ACK if one is still owed. Each segment is built into one fresh Uint8Array:
 * header, options, and the payload copied straight from the send ring.
 */
import type { Tcb } from './connection.js';
import { ACK, FIN, PSH, RST, SYN, sackOptionLength, synOptionsLength, TCP_HEADER_LENGTH } from './segment.js';
import { writeHeader, writeSackOption, writeSynOptions } from './segment.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqLt, seqMin } from './seq.js';
import { TLP_DELAYED_ACK_MS, TLP_MIN_MS } from './constants.js';

function seqSub(a: number, n: number): number {
  return (a - n) >>> 0;
}

/** The window field to send, moving the advertised right edge (never left: RFC 9293 3.8.6.2.2). */
export function windowField(c: Tcb): number {
  const unit = 1 << c.rcvShift;
  const free = Math.min(c.rcvBufferFree(), 0xffff * unit);
  const right = seqAdd(c.rcvNxt, free - (free % unit));
  if (seqGt(right, c.rcvAdv)) c.rcvAdv = right;
  return Math.min(0xffff, Math.max(0, seqDiff(c.rcvAdv, c.rcvNxt)) >>> c.rcvShift);
}

/**
 * Builds and sends one segment: `dataLen` bytes from the send buffer at `seq` (which must lie
 * inside it), ACK for RCV.NXT and our window, SACK blocks when out-of-order data is held.
 */
export function sendSegment(c: Tcb, seq: number, flags: number, dataLen: number): void {
  let blocks = 0;
  if (c.sackOk && !c.ooo.empty && flags & ACK) blocks = c.ooo.sackBlocks(c.sackEdges, 3);
  const optLen = sackOptionLength(blocks);
  const out = new Uint8Array(TCP_HEADER_LENGTH + optLen + dataLen);
  const window = windowField(c);
  const offset = writeHeader(
    out,
    {
      sourcePort: c.local.port,
      destinationPort: c.remote.port,
      seq,
      ack: flags & ACK ? c.rcvNxt : 0,
      flags,
      window,
    },
    optLen,
  );
  if (blocks > 0) writeSackOption(out, c.sackEdges, blocks);
  if (dataLen > 0) c.buffer.copyOut(seqDiff(seq, c.sndUna), dataLen, out, offset);
  if (flags & ACK) c.ackPending = false;
  c.host.transmit(c, out);
}

/** Our SYN or SYN-ACK (RFC 9293 section 3.5, options RFC 7323 / RFC 2018). */
export function sendSyn(c: Tcb, withAck: boolean): void {
  const offerShift = withAck ? c.rcvShift > 0 || c.sndShift > 0 : true;
  const sack = withAck ? c.sackOk : c.host.options.sack;
  const optLen = synOptionsLength(offerShift, sack);
  const out = new Uint8Array(TCP_HEADER_LENGTH + optLen);
  writeHeader(
    out,
    {
      sourcePort: c.local.port,
      destinationPort: c.remote.port,
      seq: c.iss,
      ack: withAck ? c.rcvNxt : 0,
      flags: withAck ? SYN | ACK : SYN,
      // RFC 7323 section 2.2: the window in a SYN is never scaled.
      window: Math.min(0xffff, c.rcvBufferFree()),
    },
    optLen,
  );
  if (withAck) c.rcvAdv = seqAdd(c.rcvNxt, Math.min(0xffff, c.rcvBufferFree()));
  writeSynOptions(out, c.ourMss, offerShift ? c.rcvShift : -1, sack);
  c.host.transmit(c, out);
}

/** A pure ACK (from SND.NXT, so the peer's acceptability test passes). */
export function sendAck(c: Tcb): void {
  sendSegment(c, c.sndNxt, ACK, 0);
}

/** A RST for this connection (ABORT, RFC 9293 section 3.10.5). */
export function sendReset(c: Tcb): void {
  sendSegment(c, c.sndNxt, RST | ACK, 0);
}

/** RFC 6675's pipe: bytes in flight, minus SACKed bytes, minus holes marked lost but not resent. */
export function pipe(c: Tcb): number {
  let p = c.flight - c.scoreboard.sacked - c.dupAckBytes;
  if (seqLt(c.rxtNext, c.rxtLimit)) {
    const end = seqMin(c.rxtLimit, c.sndNxt);
    if (seqLt(c.rxtNext, end)) {
      p -= seqDiff(end, c.rxtNext) - c.scoreboard.sackedWithin(c.rxtNext, end);
    }
  }
  return Math.max(0, p);
}

function canSendData(c: Tcb): boolean {
  const s = c.state;
  return (
    s === 'ESTABLISHED' || s === 'CLOSE-WAIT' || s === 'FIN-WAIT-1' || s === 'CLOSING' || s === 'LAST-ACK'
  );
}

/**
 * Arms the retransmission timer when data is outstanding (RFC 6298 section 5.1; `restart` for
 * 5.3). Outside recovery, with an RTT sample, the first expiry is a tail loss probe after
 * max(2*SRTT, 10 ms) (RFC 8985 section 7.2) when that comes before the RTO.
 */
export function armTimer(c: Tcb, restart: boolean): void {
  if (c.flight === 0) {
    c.rtoAt = Infinity;
    c.tlpArmed = false;
    return;
  }
  if (!restart && c.rtoAt !== Infinity) return;
  const now = c.host.now();
  const pto = probeTimeout(c);
  if (pto < c.rto.rto) {
    c.rtoAt = now + pto;
    c.tlpArmed = true;
    return;
  }
  c.rtoAt = now + c.rto.rto;
  c.tlpArmed = false;
}

/** RFC 8985 section 7.2's PTO, or Infinity when no probe may be scheduled now. */
function probeTimeout(c: Tcb): number {
  if (
    !c.host.options.tailLossProbe ||
    !c.rto.hasSample ||
    c.tlpSent ||
    (c.state !== 'ESTABLISHED' && c.state !== 'CLOSE-WAIT') ||
    seqLt(c.sndUna, c.recover)
  ) {
    return Infinity;
  }
  // With one segment in flight, allow for the peer's delayed ACK.
  return Math.max(2 * c.rto.srtt, TLP_MIN_MS) + (c.flight <= c.mss ? TLP_DELAYED_ACK_MS : 0);
}

/** RFC 8985 section 7.2: the probe is rescheduled after each transmission of new data. */
function rescheduleProbe(c: Tcb): void {
  const pto = probeTimeout(c);
  if (pto >= c.rto.rto) return;
  const at = c.host.now() + pto;
  if (c.tlpArmed || at < c.rtoAt) {
    c.rtoAt = at;
    c.tlpArmed = true;
  }
}

function armRto(c: Tcb): void {
  armTimer(c, false);
}

/** RFC 8985 section 7.3: the probe resends the last segment, whatever cwnd says. */
export function tailLossProbe(c: Tcb): void {
  c.tlpSent = true;
  c.tlpArmed = false;
  c.host.count('probes');
  const last = seqSub(c.sndNxt, c.mss);
  c.rxtNext = seqLt(last, c.sndUna) ? c.sndUna : last;
  c.rxtLimit = c.sndNxt;
  retransmitOne(c, true);
  c.rtoAt = c.host.now() + c.rto.rto;
}

/** Sends whatever the windows allow; ends with a pure ACK if one is owed. */
export function output(c: Tcb): void {
  if (c.gone) return;
  if (canSendData(c)) {
    const before = c.sndNxt;
    while (retransmitOne(c) || sendNewOne(c));
    if (c.sndNxt !== before) rescheduleProbe(c);
    // Zero window with data waiting and nothing in flight: probe (RFC 9293 section 3.8.6.1).
    if (c.sndWnd === 0 && seqLt(c.sndNxt, c.dataEnd) && c.flight === 0 && c.persistAt === Infinity) {
      c.persistAt = c.host.now() + c.rto.rto;
    }
  }
  if (c.ackPending) sendAck(c);
}

/** One retransmission from [rxtNext, rxtLimit); false when there is none to send now. */
function retransmitOne(c: Tcb, force = false): boolean {
  if (seqLt(c.rxtNext, c.sndUna)) c.rxtNext = c.sndUna;
  for (;;) {
    if (!seqLt(c.rxtNext, c.rxtLimit) || !seqLt(c.rxtNext, c.sndNxt)) return false;
    const e = c.scoreboard.sackedEnd(c.rxtNext);
    if (e < 0) break;
    c.rxtNext = e;
  }
  const p = pipe(c);
  if (!force && p > 0 && p + c.mss > c.cc.cwnd) return false;
  let end = seqMin(seqMin(c.rxtLimit, c.sndNxt), seqAdd(c.rxtNext, c.mss));
  const nextSack = c.scoreboard.nextSacked(c.rxtNext);
  if (nextSack >= 0) end = seqMin(end, nextSack);
  const dataEnd = c.dataEnd;
  const dataLen = seqDiff(seqMin(end, dataEnd), c.rxtNext);
  const fin = c.finSent && seqGt(end, c.finSeq);
  if (dataLen <= 0 && !fin) {
    c.rxtNext = end;
    return seqLt(c.rxtNext, c.rxtLimit);
  }
  sendSegment(c, c.rxtNext, ACK | (fin ? FIN : 0), Math.max(0, dataLen));
  if (c.rxtNext === c.sndUna) c.unaRetransmittedAt = c.scoreboard.sackedEver;
  // Karn: the timed segment, once retransmitted, gives no sample.
  if (c.rttTiming && seqGe(c.rttSeq, c.rxtNext) && seqLt(c.rttSeq, end)) c.rttTiming = false;
  c.rxtNext = end;
  c.host.count('retransmits');
  armRto(c);
  return true;
}

/** One new segment (or the FIN); false when nothing may go now. */
function sendNewOne(c: Tcb): boolean {
  const dataEnd = c.dataEnd;
  const unsent = seqDiff(dataEnd, c.sndNxt);
  if (unsent <= 0) return sendFin(c);
  const p = pipe(c);
  if (p > 0 && p + c.mss > c.cc.cwnd) return false;
  const windowLeft = seqDiff(seqAdd(c.sndUna, c.sndWnd), c.sndNxt);
  const len = Math.min(c.mss, unsent, windowLeft);
  if (len <= 0) return false;
  if (len < c.mss && c.flight > 0) {
    // Sender SWS avoidance: a window-limited runt waits unless it is half the largest window.
    if (len < unsent && len < c.maxSndWnd / 2) return false;
    // Nagle (RFC 9293 section 3.7.4): one small segment in flight at a time.
    if (len === unsent && !c.noDelay && !c.finQueued) return false;
  }
  const seq = c.sndNxt;
  const fin = c.finQueued && len === unsent;
  sendSegment(c, seq, ACK | (len === unsent ? PSH : 0) | (fin ? FIN : 0), len);
  c.sndNxt = seqAdd(seq, len + (fin ? 1 : 0));
  if (fin) {
    c.finSent = true;
    c.finSeq = seqAdd(seq, len);
  }
  if (!c.rttTiming) {
    c.rttTiming = true;
    c.rttSeq = seq;
    c.rttStart = c.host.now();
  }
  armRto(c);
  return !fin;
}

function sendFin(c: Tcb): boolean {
  if (!c.finQueued || c.finSent || !seqGe(c.sndNxt, c.dataEnd)) return false;
  c.finSent = true;
  c.finSeq = c.sndNxt;
  sendSegment(c, c.sndNxt, ACK | FIN, 0);
  c.sndNxt = seqAdd(c.sndNxt, 1);
  armRto(c);
  return false;
}
