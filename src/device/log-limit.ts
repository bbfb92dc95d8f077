/**
 * Rate limit for repeated log lines: per key (a peer and an event kind, or an event kind alone),
 * LOG_BURST lines per LOG_WINDOW_MS, then silence counted; the count is reported when the window
 * ends. A flood of invalid packets or handshake attempts thus costs a map lookup per event, never
 * a formatted line. State is bounded: at most LOG_KEYS keys, beyond which new keys share one
 * overflow key; ended windows are forgotten by `flush`.
 */

/** Lines per key per window before further ones are only counted. */
export const LOG_BURST = 10;
export const LOG_WINDOW_MS = 10_000;
/** Keys tracked at once (one per peer and kind is the common case). */
export const LOG_KEYS = 1024;
/** The key lines of new keys share once LOG_KEYS are tracked. */
export const OVERFLOW_KEY = '(other)';

interface Window {
  start: number;
  lines: number;
  suppressed: number;
}

/** Told how many lines under `key` were held back in a window that ended. */
export type SuppressedReport = (key: string, suppressed: number) => void;

export class LogLimiter {
  readonly #windows = new Map<string, Window>();

  constructor(
    readonly burst = LOG_BURST,
    readonly windowMs = LOG_WINDOW_MS,
    readonly capacity = LOG_KEYS,
  ) {}

  /** Keys tracked now (bounded by capacity + 1). */
  get size(): number {
    return this.#windows.size;
  }

  /**
   * Whether a line under `key` may be written at `now` (counted as suppressed when not). When
   * the key's previous window ended with lines held back, `report` hears of them first, so the
   * count comes before the next line.
   */
  allow(key: string, now: number, report: SuppressedReport): boolean {
    let w = this.#windows.get(key);
    if (w === undefined) {
      if (this.#windows.size >= this.capacity && key !== OVERFLOW_KEY)
        return this.allow(OVERFLOW_KEY, now, report);
      w = { start: now, lines: 0, suppressed: 0 };
      this.#windows.set(key, w);
    } else if (now - w.start >= this.windowMs) {
      if (w.suppressed > 0) report(key, w.suppressed);
      w.start = now;
      w.lines = 0;
      w.suppressed = 0;
    }
    if (w.lines < this.burst) {
      w.lines++;
      return true;
    }
    w.suppressed++;
    return false;
  }

  /** Reports and forgets every window that ended by `now` (call about once a second). */
  flush(now: number, report: SuppressedReport): void {
    for (const [key, w] of this.#windows) {
      if (now - w.start < this.windowMs) continue;
      if (w.suppressed > 0) report(key, w.suppressed);
      this.#windows.delete(key);
    }
  }
}
