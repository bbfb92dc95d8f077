/**
 * One handle's share of the event loop (net.Server's and dgram.Socket's ref()/unref() semantics):
 * an open, ref'd handle holds one reference on the StackDriver's LoopKeeper, so a Node program
 * stays up while it listens or is bound, and unref() lets it exit. The TCP server and the UDP
 * socket each own one.
 */
import type { LoopKeeper } from './driver.js';

export class LoopHold {
  readonly #keeper: LoopKeeper | undefined;
  #refd = true;
  #holding = false;

  constructor(keeper: LoopKeeper | undefined) {
    this.#keeper = keeper;
  }

  /** ref(): the handle counts again, and holds the loop now when it is open. */
  ref(open: boolean): void {
    this.#refd = true;
    if (open) this.hold();
  }

  /** unref(): the handle no longer keeps the program running. */
  unref(): void {
    this.#refd = false;
    this.release();
  }

  /** The handle opened (listening, bound): hold the loop unless unref'd. */
  hold(): void {
    if (this.#holding || !this.#refd) return;
    this.#holding = true;
    this.#keeper?.ref();
  }

  /** The handle closed (or was unref'd): give the reference back. */
  release(): void {
    if (!this.#holding) return;
    this.#holding = false;
    this.#keeper?.unref();
  }
}
