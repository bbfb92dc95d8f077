/**
 * The per-peer timer state machine (whitepaper section 6, "Timers & Stateless Reaction"), in the
 * kernel's form: five deadlines, hooks named after the events that arm or disarm them, and one
 * decision function, `due(now)`, that says which have expired. Deadlines are monotonic
 * milliseconds (Infinity when disarmed); nothing here reads a clock or schedules anything. Every
 * deadline a hook arms is also told to `onArm` (when set): the device queues the peer there and
 * sleeps until the earliest deadline of all peers (src/device/deadline-queue.ts), then calls
 * `due` for the peers whose time came. A deadline pushed later is told too; the device ignores
 * it (the peer wakes at the old one, finds nothing due, and is queued again at `nextDeadline`).
 *
 *   retransmitHandshake  REKEY_TIMEOUT + jitter after an initiation; resend, give up after
 *                        MAX_TIMER_HANDSHAKES retries (then zero keys in 3 × REJECT_AFTER_TIME)
 *   sendKeepalive        KEEPALIVE_TIMEOUT after data arrived and nothing went back
 *   newHandshake         KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter after data was sent and
 *                        nothing authenticated came back
 *   zeroKeyMaterial      3 × REJECT_AFTER_TIME after a session was derived
 *   persistentKeepalive  the configured interval after any authenticated packet in either direction
 */
import {
  KEEPALIVE_TIMEOUT_MS,
  KEY_ZEROING_AFTER_MS,
  MAX_TIMER_HANDSHAKES,
  NEW_HANDSHAKE_AFTER_MS,
  REKEY_TIMEOUT_MS,
} from '../constants.js';

export type TimerAction =
  | 'retransmitHandshake'
  | 'giveUpHandshake'
  | 'sendKeepalive'
  | 'newHandshake'
  | 'zeroKeyMaterial'
  | 'persistentKeepalive';

const OFF = Infinity;

export class Timers {
  retransmitHandshakeAt = OFF;
  sendKeepaliveAt = OFF;
  newHandshakeAt = OFF;
  zeroKeyMaterialAt = OFF;
  persistentKeepaliveAt = OFF;
  /** Retries of the current handshake attempt (the kernel's timer_handshake_attempts). */
  handshakeAttempts = 0;
  needAnotherKeepalive = false;
  sentLastMinuteHandshake = false;
  /** Persistent keepalive interval in seconds; 0 is off. */
  persistentKeepaliveInterval = 0;

  /**
   * Told each deadline a hook or `due` arms (a finite monotonic time), so a scheduler can sleep
   * until the earliest one instead of polling. Null: nobody listens.
   */
  onArm: ((at: number) => void) | null = null;

  /** `jitter()` returns a random delay in [0, REKEY_TIMEOUT_JITTER_MAX_MS). */
  constructor(private readonly jitter: () => number) {}

  #armed(at: number): number {
    this.onArm?.(at);
    return at;
  }

  // ---- hooks ------------------------------------------------------------------------------------

  /** A data packet (not a keepalive) was sent. */
  onDataSent(now: number): void {
    if (this.newHandshakeAt === OFF)
      this.newHandshakeAt = this.#armed(now + NEW_HANDSHAKE_AFTER_MS + this.jitter());
  }

  /** A data packet (not a keepalive) was received. */
  onDataReceived(now: number): void {
    if (this.sendKeepaliveAt === OFF) this.sendKeepaliveAt = this.#armed(now + KEEPALIVE_TIMEOUT_MS);
    else this.needAnotherKeepalive = true;
  }

  /** Any authenticated packet (handshake, data or keepalive) was sent: it doubles as a keepalive. */
  onAnyAuthenticatedPacketSent(): void {
    this.sendKeepaliveAt = OFF;
  }

  /** Any authenticated packet was received: the peer is alive, no new handshake is needed yet. */
  onAnyAuthenticatedPacketReceived(): void {
    this.newHandshakeAt = OFF;
  }

  /** Any authenticated packet went either way: push the persistent keepalive back. */
  onAnyAuthenticatedPacketTraversal(now: number): void {
    if (this.persistentKeepaliveInterval > 0) {
      this.persistentKeepaliveAt = this.#armed(now + this.persistentKeepaliveInterval * 1000);
    }
  }

  /** An initiation was sent. */
  onHandshakeInitiated(now: number): void {
    this.retransmitHandshakeAt = this.#armed(now + REKEY_TIMEOUT_MS + this.jitter());
  }

  /** A handshake completed (response consumed, or first data on a responder's new keypair). */
  onHandshakeComplete(): void {
    this.retransmitHandshakeAt = OFF;
    this.handshakeAttempts = 0;
    this.sentLastMinuteHandshake = false;
  }

  /** New transport keys exist: they must be gone 3 × REJECT_AFTER_TIME from now unless renewed. */
  onSessionDerived(now: number): void {
    this.zeroKeyMaterialAt = this.#armed(now + KEY_ZEROING_AFTER_MS);
  }

  /** The persistent keepalive interval changed; `now` arms the first one. */
  setPersistentKeepalive(seconds: number, now: number): void {
    this.persistentKeepaliveInterval = seconds;
    this.persistentKeepaliveAt = seconds > 0 ? this.#armed(now + seconds * 1000) : OFF;
  }

  /** Disarms everything (peer removed or keys zeroed). */
  stopAll(): void {
    this.retransmitHandshakeAt = OFF;
    this.sendKeepaliveAt = OFF;
    this.newHandshakeAt = OFF;
    this.zeroKeyMaterialAt = OFF;
    this.persistentKeepaliveAt = OFF;
    this.needAnotherKeepalive = false;
  }

  // ---- the decision function --------------------------------------------------------------------

  /**
   * Which timers have expired at `now`, in the order to act on them. Each expired timer is
   * disarmed (or re-armed where the rule says so) as it is reported, so a second call at the same
   * `now` reports nothing.
   */
  due(now: number): TimerAction[] {
    const actions: TimerAction[] = [];
    if (this.retransmitHandshakeAt <= now) {
      this.retransmitHandshakeAt = OFF;
      if (this.handshakeAttempts > MAX_TIMER_HANDSHAKES) {
        actions.push('giveUpHandshake');
        this.sendKeepaliveAt = OFF;
        if (this.zeroKeyMaterialAt === OFF) this.zeroKeyMaterialAt = this.#armed(now + KEY_ZEROING_AFTER_MS);
      } else {
        this.handshakeAttempts++;
        actions.push('retransmitHandshake');
      }
    }
    if (this.sendKeepaliveAt <= now) {
      this.sendKeepaliveAt = OFF;
      actions.push('sendKeepalive');
      if (this.needAnotherKeepalive) {
        this.needAnotherKeepalive = false;
        this.sendKeepaliveAt = this.#armed(now + KEEPALIVE_TIMEOUT_MS);
      }
    }
    if (this.newHandshakeAt <= now) {
      this.newHandshakeAt = OFF;
      actions.push('newHandshake');
    }
    if (this.zeroKeyMaterialAt <= now) {
      this.zeroKeyMaterialAt = OFF;
      actions.push('zeroKeyMaterial');
    }
    if (this.persistentKeepaliveAt <= now) {
      this.persistentKeepaliveAt = OFF;
      if (this.persistentKeepaliveInterval > 0) actions.push('persistentKeepalive');
    }
    return actions;
  }

  /** The earliest armed deadline, for a scheduler that wants to sleep until then. */
  nextDeadline(): number {
    return Math.min(
      this.retransmitHandshakeAt,
      this.sendKeepaliveAt,
      this.newHandshakeAt,
      this.zeroKeyMaterialAt,
      this.persistentKeepaliveAt,
    );
  }
}

/** Re-exported for callers that rate-limit initiations the way the kernel does. */
export const MIN_INITIATION_INTERVAL_MS = REKEY_TIMEOUT_MS;
