/**
 * The clock of the userspace stack. The stack is sans-I/O (src/netstack/types.ts): every layer
 * reports its earliest deadline and does its timed work in poll(). StackDriver turns that into
 * ONE Node timer armed at the next deadline, re-armed after every poll and whenever the stack
 * calls wake() (coalesced through queueMicrotask, so a burst of API calls costs one re-arm).
 *
 * Node programs exit when nothing ref'd is left on the event loop. A net.Socket that is open and
 * ref'd keeps its program alive even when no timer is due, and an unref'd one does not. Sockets
 * here hold no handle of their own, so they count themselves through ref()/unref() and the driver
 * keeps its single timer ref'd while the count is above zero (armed at the longest delay Node
 * allows when no deadline is due); with a count of zero the timer is unref'd and never holds the
 * program open.
 */

/** Anything with deadlines: a NetStack, or a single transport in tests. */
export interface Pollable {
  /** The earliest monotonic ms at which poll() has work, or Infinity. */
  nextDeadline(): number;
  poll(): void;
}

/** What sockets use to keep the event loop alive while they are open and ref'd. */
export interface LoopKeeper {
  ref(): void;
  unref(): void;
}

/** The subset of a Node timer the driver uses. */
export interface DriverTimer {
  ref(): unknown;
  unref(): unknown;
}

/** Injectable time, so tests can drive the driver with fake deadlines. */
export interface DriverClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): DriverTimer;
  clearTimeout(timer: DriverTimer): void;
}

/** setTimeout's largest delay (a signed 32-bit ms count); longer ones fire at once. */
export const MAX_TIMER_DELAY = 0x7fffffff;

const nodeClock: DriverClock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
};

export class StackDriver implements LoopKeeper {
  readonly #target: Pollable;
  readonly #clock: DriverClock;
  #timer: DriverTimer | null = null;
  /** The deadline the timer is armed for (Infinity: a keep-alive timer, or none). */
  #armedFor = Infinity;
  #refs = 0;
  #wakeQueued = false;
  #closed = false;

  constructor(target: Pollable, clock: DriverClock = nodeClock) {
    this.#target = target;
    this.#clock = clock;
    this.#arm();
  }

  /** Sockets holding the loop open. */
  get refs(): number {
    return this.#refs;
  }

  /** Whether a timer is armed now (for tests and diagnostics). */
  get armed(): boolean {
    return this.#timer !== null;
  }

  /** The stack's wake(): a deadline may have moved earlier. Re-arms once per microtask burst. */
  wake(): void {
    if (this.#wakeQueued || this.#closed) return;
    this.#wakeQueued = true;
    queueMicrotask(() => {
      this.#wakeQueued = false;
      if (this.#closed) return;
      // Work that is already due runs now rather than one timer turn later (a write's segment).
      if (this.#target.nextDeadline() <= this.#clock.now()) this.#target.poll();
      this.#arm();
    });
  }

  ref(): void {
    if (this.#closed) return;
    this.#refs++;
    if (this.#refs === 1) this.#arm();
  }

  unref(): void {
    if (this.#refs === 0) throw new RangeError('StackDriver.unref() without a matching ref()');
    this.#refs--;
    if (this.#refs === 0) this.#arm();
  }

  /** Stops driving: clears the timer; later wake() and ref() calls do nothing. */
  close(): void {
    this.#closed = true;
    this.#clear();
  }

  #fire = (): void => {
    this.#timer = null;
    this.#armedFor = Infinity;
    if (this.#closed) return;
    if (this.#target.nextDeadline() <= this.#clock.now()) this.#target.poll();
    this.#arm();
  };

  #clear(): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#armedFor = Infinity;
  }

  /** Arms the one timer for the target's next deadline (or for keep-alive), ref'd iff refs > 0. */
  #arm(): void {
    if (this.#closed) return;
    const deadline = this.#target.nextDeadline();
    if (deadline === Infinity && this.#refs === 0) {
      this.#clear();
      return;
    }
    // An armed timer for the same deadline stays; only its ref state may need to follow refs.
    if (this.#timer !== null && this.#armedFor === deadline) {
      if (this.#refs > 0) this.#timer.ref();
      else this.#timer.unref();
      return;
    }
    this.#clear();
    const delay =
      deadline === Infinity
        ? MAX_TIMER_DELAY
        : Math.min(MAX_TIMER_DELAY, Math.max(0, deadline - this.#clock.now()));
    const timer = this.#clock.setTimeout(this.#fire, Math.ceil(delay));
    if (this.#refs === 0) timer.unref();
    this.#timer = timer;
    this.#armedFor = deadline;
  }
}
