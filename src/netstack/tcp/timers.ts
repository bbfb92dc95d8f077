/**
 * A connection's timers (RFC 9293 section 3.8.1 retransmission, 3.8.6.1 zero-window probing,
 * 3.8.4 keepalive, 3.6 TIME-WAIT; RFC 6298 section 5 for the retransmission timer's rules).
 * Each is one deadline field on the TCB; the layer calls onTimers when the earliest has passed.
 * Keepalive and window probes are the Linux kind: an ACK carrying SND.UNA - 1, which the peer
 * must answer with an ACK (RFC 9293 section 3.8.4 allows the one-garbage-byte form; this one
 * needs none). The persist timer never gives up while the peer answers.
 */
import type { Tcb } from './connection.js';
import { DATA_RETRIES, RTO_MAX_MS, SYN_RETRIES, TIME_WAIT_MS } from './constants.js';
import { output, sendSegment, sendSyn, tailLossProbe } from './output.js';
import { ACK } from './segment.js';
import { seqAdd } from './seq.js';

/** Enters (or restarts) TIME-WAIT: the user hears an orderly close now; the entry stays 2*MSL. */
export function enterTimeWait(c: Tcb): void {
  c.rtoAt = c.persistAt = c.keepAt = Infinity;
  c.timeWaitAt = c.host.now() + TIME_WAIT_MS;
  c.ooo.clear();
  c.host.enteredTimeWait(c);
  if (!c.notified) {
    c.notified = true;
    c.events.onClose(null);
  }
}

export function onTimers(c: Tcb, now: number): void {
  if (c.timeWaitAt <= now) {
    c.transition('timeout-2msl');
    c.finish(null);
    return;
  }
  if (c.finWait2At <= now) {
    c.host.drop('fin-wait-2-timeout');
    c.finish(null);
    return;
  }
  if (c.rtoAt <= now) retransmissionTimeout(c, now);
  if (c.gone) return;
  if (c.persistAt <= now) windowProbe(c, now);
  if (c.keepAt <= now) keepAliveProbe(c, now);
}

/** RFC 6298 section 5.4 to 5.7, and RFC 5681 section 3.1's loss window. */
function retransmissionTimeout(c: Tcb, now: number): void {
  c.rtoAt = Infinity;
  if (c.state === 'SYN-SENT' || c.state === 'SYN-RECEIVED') {
    if (++c.retries > SYN_RETRIES) {
      if (c.passiveOf !== null) c.host.drop('syn-ack-timeout');
      c.finish('ETIMEDOUT');
      return;
    }
    c.rto.expired();
    sendSyn(c, c.state === 'SYN-RECEIVED');
    c.rtoAt = now + c.rto.rto;
    return;
  }
  if (c.flight === 0) return;
  if (c.tlpArmed) {
    tailLossProbe(c);
    return;
  }
  if (++c.retries > DATA_RETRIES) {
    c.finish('ETIMEDOUT');
    return;
  }
  c.host.count('timeouts');
  c.cc.onTimeout(c.flight, c.mss);
  c.rto.expired();
  // After a second expiry in a row the receiver may have dropped what it SACKed (RFC 2018 8).
  if (c.rto.backoff > 1) c.scoreboard.clear();
  c.recover = c.sndNxt;
  c.rxtNext = c.sndUna;
  c.rxtLimit = c.sndNxt;
  c.dupAcks = 0;
  c.dupAckBytes = 0;
  c.rttTiming = false;
  output(c);
  c.rtoAt = now + c.rto.rto;
}

/** RFC 9293 section 3.8.6.1: probe a zero window, backing off like the RTO. */
function windowProbe(c: Tcb, now: number): void {
  if (c.sndWnd > 0 || c.flight > 0) {
    c.persistAt = Infinity;
    c.persistBackoff = 0;
    output(c);
    return;
  }
  sendSegment(c, seqAdd(c.sndUna, -1), ACK, 0);
  c.persistBackoff++;
  c.persistAt = now + Math.min(c.rto.rto * 2 ** c.persistBackoff, RTO_MAX_MS);
}

/** RFC 9293 section 3.8.4 (RFC 1122 4.2.3.6): probe an idle connection, give up after N. */
function keepAliveProbe(c: Tcb, now: number): void {
  const s = c.state;
  if (!c.keepAlive || (s !== 'ESTABLISHED' && s !== 'CLOSE-WAIT' && s !== 'FIN-WAIT-2')) {
    c.keepAt = c.keepAlive ? now + c.keepIdle : Infinity;
    return;
  }
  if (c.flight > 0) {
    // Unacknowledged data: the retransmission timer watches the peer (as Linux does).
    c.keepAt = now + c.keepIdle;
    return;
  }
  if (c.keepProbes >= c.host.options.keepAliveProbes) {
    c.finish('ETIMEDOUT');
    return;
  }
  c.keepProbes++;
  sendSegment(c, seqAdd(c.sndUna, -1), ACK, 0);
  c.keepAt = now + c.host.options.keepAliveIntervalMs;
}
