/**
 * Per-source rate limit on handshake messages handled under load: the whitepaper's section 5.3
 * ("Denial of Service Mitigation & Cookies") leaves the policy to the implementation, and this is
 * the Linux kernel's (drivers/net/wireguard/ratelimiter.c; wireguard-go's ratelimiter/ is the same
 * idea): a token bucket per source address holding RATELIMIT_PACKETS_BURSTABLE packets and
 * refilled at RATELIMIT_PACKETS_PER_SECOND. IPv4 sources are keyed by the full address, IPv6
 * sources by their /64, because one host usually owns a whole /64 and could otherwise rotate
 * through 2^64 addresses to dodge the limit.
 *
 * Sans-I/O: time is the caller's monotonic `now` in milliseconds (fractional allowed), and the
 * caller (the device's coarse tick) runs `gc` about every RATELIMIT_GC_INTERVAL_MS; nothing here
 * reads a clock or sets a timer.
 */

import {
  RATELIMIT_GC_INTERVAL_MS,
  RATELIMIT_MAX_ENTRIES,
  RATELIMIT_PACKETS_BURSTABLE,
  RATELIMIT_PACKETS_PER_SECOND,
} from '../constants.js';

/**
 * Tokens are measured in milliseconds of credit, as the kernel measures them in nanoseconds: one
 * packet costs the refill interval of one packet, and the bucket holds the burst's worth. So the
 * refill is simply the elapsed time, with no rate multiplication to round.
 */
const PACKET_COST_MS = 1000 / RATELIMIT_PACKETS_PER_SECOND;
const TOKEN_MAX_MS = PACKET_COST_MS * RATELIMIT_PACKETS_BURSTABLE;

interface Entry {
  /** Last time this source was seen; both the refill origin and the gc age. */
  last: number;
  /** Credit in milliseconds, 0..TOKEN_MAX_MS. */
  tokens: number;
}

/** IPv4 keys are the address as a uint32 number; IPv6 keys are its /64 as a 4-character string. */
type Key = number | string;

export class RateLimiter {
  readonly #table = new Map<Key, Entry>();
  readonly #maxEntries: number;

  /** `maxEntries` exists for tests; the device uses the default RATELIMIT_MAX_ENTRIES. */
  constructor(maxEntries: number = RATELIMIT_MAX_ENTRIES) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
    }
    this.#maxEntries = maxEntries;
  }

  /** Number of sources currently tracked. */
  get size(): number {
    return this.#table.size;
  }

  /**
   * Whether one more handshake message from `ip` (4 or 16 bytes, network order) may be processed
   * at `now`. A source seen for the first time is allowed with the rest of its burst left; when
   * the table is full a new source is refused instead of growing memory (as the kernel does), so
   * a spoofed-source flood cannot exhaust it while known sources keep their buckets.
   */
  allow(ip: Uint8Array, now: number): boolean {
    const key = keyOf(ip);
    const entry = this.#table.get(key);
    if (entry === undefined) {
      if (this.#table.size >= this.#maxEntries) return false;
      this.#table.set(key, { last: now, tokens: TOKEN_MAX_MS - PACKET_COST_MS });
      return true;
    }
    // A clock that went backwards (a caller bug, not possible with a monotonic clock) refills
    // nothing rather than draining the bucket.
    const elapsed = now > entry.last ? now - entry.last : 0;
    const tokens = Math.min(TOKEN_MAX_MS, entry.tokens + elapsed);
    entry.last = now;
    // `>=` as in the kernel (wireguard-go uses `>`, which makes an exact refill fall short).
    if (tokens >= PACKET_COST_MS) {
      entry.tokens = tokens - PACKET_COST_MS;
      return true;
    }
    entry.tokens = tokens;
    return false;
  }

  /**
   * Forget sources idle for more than RATELIMIT_GC_INTERVAL_MS. Harmless to their limits: after
   * that long a bucket has refilled (a full refill takes TOKEN_MAX_MS = 250 ms), which is the
   * state a forgotten source comes back in.
   */
  gc(now: number): void {
    // Deleting the current entry while iterating a Map is well defined in JS.
    for (const [key, entry] of this.#table) {
      if (now - entry.last > RATELIMIT_GC_INTERVAL_MS) this.#table.delete(key);
    }
  }
}

/**
 * Map key for a source address. An IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack
 * socket reports for IPv4 peers) is keyed as the IPv4 address: by its /64 (::) every IPv4 source
 * would share a single bucket.
 */
function keyOf(ip: Uint8Array): Key {
  if (ip.length === 4) return ipv4Key(ip, 0);
  if (ip.length !== 16) throw new RangeError(`source address must be 4 or 16 bytes, got ${ip.length}`);
  if (isIpv4Mapped(ip)) return ipv4Key(ip, 12);
  // The /64 as four UTF-16 code units: no bigint, and a short string is a cheap Map key.
  return String.fromCharCode(
    (ip[0] << 8) | ip[1],
    (ip[2] << 8) | ip[3],
    (ip[4] << 8) | ip[5],
    (ip[6] << 8) | ip[7],
  );
}

function ipv4Key(ip: Uint8Array, at: number): number {
  return ((ip[at] << 24) | (ip[at + 1] << 16) | (ip[at + 2] << 8) | ip[at + 3]) >>> 0;
}

function isIpv4Mapped(ip: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (ip[i] !== 0) return false;
  return ip[10] === 0xff && ip[11] === 0xff;
}
