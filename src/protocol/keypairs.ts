/**
 * Transport keypairs and their previous/current/next rotation (whitepaper section 5.4.6 and 6.1;
 * the kernel's noise_keypairs). An initiator's new keypair becomes current at once: it has just
 * received the response, so the responder holds the same keys. A responder's new keypair waits in
 * `next` and is never used to send until a transport message arrives on it — the proof that the
 * initiator derived it too; only then does it rotate into `current`. `previous` keeps the old
 * current so packets in flight across a rekey still decrypt.
 */
import { REJECT_AFTER_MESSAGES, REJECT_AFTER_TIME_MS } from '../constants.js';
import { wipe } from '../crypto/bytes.js';
import { ReplayWindow } from './replay.js';

export class Keypair {
  /** The next nonce to use for sending; reserved before sealing. */
  sendCounter = 0n;
  readonly replay = new ReplayWindow();
  /** Cleared when the counter or age limit is hit, so the send path stops using it. */
  sendingValid = true;

  constructor(
    readonly sendKey: Uint8Array,
    readonly receiveKey: Uint8Array,
    readonly localIndex: number,
    readonly remoteIndex: number,
    readonly isInitiator: boolean,
    /** Monotonic ms at derivation. */
    readonly createdAt: number,
  ) {}

  /** Usable to send at `now`: within REJECT_AFTER_TIME and REJECT_AFTER_MESSAGES. */
  canSend(now: number): boolean {
    return (
      this.sendingValid &&
      now - this.createdAt < REJECT_AFTER_TIME_MS &&
      this.sendCounter < REJECT_AFTER_MESSAGES
    );
  }

  /** Usable to receive at `now` (the counter limit is enforced by the replay window). */
  canReceive(now: number): boolean {
    return now - this.createdAt < REJECT_AFTER_TIME_MS;
  }

  wipe(): void {
    wipe(this.sendKey, this.receiveKey);
    this.sendingValid = false;
  }
}

/** The three slots. Methods return the keypairs they dropped so the caller can free their indices. */
export class Keypairs {
  previous: Keypair | null = null;
  current: Keypair | null = null;
  next: Keypair | null = null;

  /** Installs a freshly derived keypair. */
  install(kp: Keypair): Keypair[] {
    const dropped: Keypair[] = [];
    if (kp.isInitiator) {
      if (this.next) {
        // A responder-side keypair never confirmed: it is older than ours; keep it only as previous.
        if (this.previous) dropped.push(this.previous);
        if (this.current) dropped.push(this.current);
        this.previous = this.next;
        this.next = null;
      } else {
        if (this.previous) dropped.push(this.previous);
        this.previous = this.current;
      }
      this.current = kp;
    } else {
      if (this.next) dropped.push(this.next);
      if (this.previous) dropped.push(this.previous);
      this.next = kp;
      this.previous = null;
    }
    for (const d of dropped) d.wipe();
    return dropped;
  }

  /**
   * A transport message authenticated under `kp`. If that is the waiting `next`, rotate it in
   * (returns true in `confirmed`) and drop the old previous.
   */
  receivedWith(kp: Keypair): { confirmed: boolean; dropped: Keypair[] } {
    if (kp !== this.next) return { confirmed: false, dropped: [] };
    const dropped: Keypair[] = [];
    if (this.previous) dropped.push(this.previous);
    this.previous = this.current;
    this.current = kp;
    this.next = null;
    for (const d of dropped) d.wipe();
    return { confirmed: true, dropped };
  }

  /** The keypair whose local index is `index`, if it is one of ours. */
  byIndex(index: number): Keypair | null {
    if (this.current?.localIndex === index) return this.current;
    if (this.previous?.localIndex === index) return this.previous;
    if (this.next?.localIndex === index) return this.next;
    return null;
  }

  /** Drops all three (key zeroing, private key change, peer removal). */
  clear(): Keypair[] {
    const dropped = [this.previous, this.current, this.next].filter((k): k is Keypair => k !== null);
    this.previous = this.current = this.next = null;
    for (const d of dropped) d.wipe();
    return dropped;
  }
}
