/**
 * The session table of a UDP forward: one outgoing socket per source address and port, so answers
 * find their way back (the endpoint-independent mapping of RFC 4787 §4.1). The table is bounded
 * (a new source beyond the limit is a counted drop, never an eviction of a live session) and a
 * session idle for longer than its timeout is closed by a periodic sweep.
 */
export interface UdpSessionCounters {
  forwarded: number;
  returned: number;
  dropped: number;
  sessions: number;
}

export const UDP_MAX_SESSIONS = 1024;

interface Entry<S> {
  readonly session: S;
  lastSeen: number;
}

export class UdpSessions<S extends { close(): void }> {
  private readonly table = new Map<string, Entry<S>>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly idleMs: number,
    readonly counters: UdpSessionCounters,
    private readonly max = UDP_MAX_SESSIONS,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = setInterval(() => this.sweep(), Math.max(100, Math.min(idleMs / 2, 10_000)));
    this.timer.unref();
  }

  /** The session of `key`, created when new; null when the table is full. */
  get(key: string, create: () => S): S | null {
    const found = this.table.get(key);
    if (found !== undefined) {
      found.lastSeen = this.now();
      return found.session;
    }
    if (this.table.size >= this.max) {
      this.counters.dropped++;
      return null;
    }
    const entry = { session: create(), lastSeen: this.now() };
    this.table.set(key, entry);
    this.counters.sessions = this.table.size;
    return entry.session;
  }

  touch(key: string): void {
    const found = this.table.get(key);
    if (found !== undefined) found.lastSeen = this.now();
  }

  get size(): number {
    return this.table.size;
  }

  sweep(): void {
    const cutoff = this.now() - this.idleMs;
    for (const [key, e] of this.table) {
      if (e.lastSeen <= cutoff) {
        this.table.delete(key);
        e.session.close();
      }
    }
    this.counters.sessions = this.table.size;
  }

  closeAll(): void {
    clearInterval(this.timer);
    for (const e of this.table.values()) e.session.close();
    this.table.clear();
    this.counters.sessions = 0;
  }
}
