/**
 * ICMP "unreachable" for a packet read from the TUN that no peer can carry, as the kernel's
 * wg_xmit answers one (drivers/net/wireguard/device.c: no peer for the destination, or a peer
 * without an endpoint): ICMPv4 Destination Unreachable, code 1 Host Unreachable (RFC 792), or
 * ICMPv6 Destination Unreachable, code 3 Address Unreachable (RFC 4443 section 3.1), written
 * back into the TUN so the sender learns at once ("Destination Host Unreachable") instead of
 * waiting out a timeout. wireguard-go drops such packets silently.
 *
 * When no error is sent, following RFC 1122 section 3.2.2, RFC 1812 section 4.3.2.7 and RFC 4443
 * section 2.4 (e), as the kernel's icmp_send and icmp6_send do:
 *   - the invoking packet is itself an ICMP error (or an ICMPv6 redirect, or an unknown ICMPv4
 *     type), or it is not the first fragment of its datagram;
 *   - its destination is multicast or the limited broadcast (a subnet-directed broadcast is the
 *     kernel's to know, not ours: such a packet never reaches a point-to-point TUN anyway);
 *   - its source does not name one host: unspecified, "this network", loopback, multicast,
 *     class E / limited broadcast.
 * Deviation: RFC 4443 would allow an error for a non-first IPv6 fragment (the kernel sends one);
 * we send none, as for IPv4: a fragment without the transport header cannot be matched to a
 * socket by the sender, and it keeps one rule for both families.
 *
 * Errors are rate-limited with the kernel's defaults, so a flood of unroutable packets cannot be
 * turned into a flood of (larger) errors: a global bucket of 50 refilled at 1,000 per second
 * (net.ipv4.icmp_msgs_per_sec / icmp_msgs_burst) and a bucket per destination of 6 refilled at 1
 * per second (icmp_ratelimit = 1000 ms, XRLIM_BURST_FACTOR 6), the latter in a fixed table of
 * 256 slots hashed by address (colliding destinations share one), so memory never grows.
 *
 * Quoting: ICMPv4 quotes as much of the invoking packet as keeps the error within 576 bytes
 * (the kernel's icmp_send; RFC 1812 section 4.3.2.3); ICMPv6 as much as keeps it within the
 * minimum MTU of 1280 bytes (RFC 4443 section 2.4 (c)). No IP options are sent or echoed.
 *
 * The error's source address: the kernel picks one of its own addresses (for a local sender, the
 * sender's own address). A daemon writing into a TUN cannot: a packet arriving with one of the
 * host's own addresses as its source is dropped as a martian by IPv4. We use the invoking
 * packet's destination, the address that could not be reached: it routes back into this TUN, so
 * it passes the kernel's reverse-path checks, and ping prints "From <that address> icmp_seq=N
 * Destination Host Unreachable".
 */

/** ICMP Destination Unreachable (RFC 792) and its code 1, Host Unreachable. */
export const ICMP4_DEST_UNREACH = 3;
export const ICMP4_HOST_UNREACH = 1;
/** ICMPv6 Destination Unreachable (RFC 4443 section 3.1) and its code 3, Address Unreachable. */
export const ICMP6_DEST_UNREACH = 1;
export const ICMP6_ADDR_UNREACH = 3;
/** The largest ICMPv4 error the kernel sends (RFC 1812 section 4.3.2.3: 576 bytes). */
export const ICMP4_ERROR_MAX = 576;
/** IPv6's minimum MTU (RFC 8200 section 5), the cap on an ICMPv6 error (RFC 4443 section 2.4 (c)). */
export const ICMP6_ERROR_MAX = 1280;
/** The kernel's default TTL / hop limit for the errors it sends (net.ipv4.ip_default_ttl). */
const ERROR_TTL = 64;
/** RFC 1812 section 4.3.2.5: ICMP errors carry precedence "internetwork control" (0xc0). */
const TOS_INTERNETCONTROL = 0xc0;
const TOS_MASK = 0x1e;

const PROTO_ICMP = 1;
const PROTO_ICMPV6 = 58;
/** ICMPv4 error types (RFC 792, RFC 1812): unreachable, source quench, redirect, time exceeded, parameter problem. */
const ICMP4_ERRORS = new Set([3, 4, 5, 11, 12]);
/** Types above this are unknown to the kernel, which sends no error for them (NR_ICMP_TYPES). */
const ICMP4_MAX_KNOWN_TYPE = 18;
const ICMP6_REDIRECT = 137;

/** Global bucket: the kernel's icmp_msgs_per_sec and icmp_msgs_burst. */
export const ICMP_GLOBAL_PER_SECOND = 1000;
export const ICMP_GLOBAL_BURST = 50;
/** Per destination: one token per icmp_ratelimit (1000 ms), XRLIM_BURST_FACTOR (6) at most. */
export const ICMP_PER_DESTINATION_INTERVAL_MS = 1000;
export const ICMP_PER_DESTINATION_BURST = 6;
const DESTINATION_SLOTS = 256;

/** RFC 1071 ones'-complement sum of b[start..end), folded to 16 bits (not complemented). */
export function onesComplementSum(b: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (i < end) sum += b[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

function checksum(b: Uint8Array, start: number, end: number, initial = 0): number {
  return ~onesComplementSum(b, start, end, initial) & 0xffff;
}

/** Whether the IPv4 address at b[at..at+4) names one host (RFC 1122 section 3.2.1.3, RFC 1812 5.3.7). */
function ipv4Unicast(b: Uint8Array, at: number): boolean {
  const first = b[at]!;
  return first !== 0 && first !== 127 && first < 224;
}

/** Whether the IPv4 destination at b[at..at+4) is multicast (224/4) or the limited broadcast. */
function ipv4MulticastOrBroadcast(b: Uint8Array, at: number): boolean {
  return b[at]! >= 224;
}

function ipv6Multicast(b: Uint8Array, at: number): boolean {
  return b[at] === 0xff;
}

function ipv6Unspecified(b: Uint8Array, at: number): boolean {
  for (let i = 0; i < 16; i++) if (b[at + i] !== 0) return false;
  return true;
}

function ipv6Loopback(b: Uint8Array, at: number): boolean {
  for (let i = 0; i < 15; i++) if (b[at + i] !== 0) return false;
  return b[at + 15] === 1;
}

/**
 * Builds the ICMPv4 Host Unreachable for the IPv4 packet at b[at .. at + length), or null when
 * none may be sent for it (see the module comment). `id` is the error's IP identification.
 */
export function buildIcmp4Unreachable(
  b: Uint8Array,
  at: number,
  length: number,
  id: number,
): Uint8Array | null {
  if (length < 20 || b[at]! >> 4 !== 4) return null;
  const ihl = (b[at]! & 0x0f) * 4;
  const total = (b[at + 2]! << 8) | b[at + 3]!;
  if (ihl < 20 || ihl > length || total < ihl) return null;
  if ((((b[at + 6]! << 8) | b[at + 7]!) & 0x1fff) !== 0) return null; // not the first fragment
  if (!ipv4Unicast(b, at + 12) || ipv4MulticastOrBroadcast(b, at + 16)) return null;
  if (b[at + 9] === PROTO_ICMP) {
    if (length < ihl + 1) return null;
    const type = b[at + ihl]!;
    if (type > ICMP4_MAX_KNOWN_TYPE || ICMP4_ERRORS.has(type)) return null;
  }
  // A superpacket's total length may be the segments' (or 0 with TSO); quote what we hold.
  const available = total > 0 && total <= length ? total : length;
  const quoted = Math.min(available, ICMP4_ERROR_MAX - 20 - 8);
  const out = new Uint8Array(20 + 8 + quoted);
  const size = out.length;
  out[0] = 0x45;
  out[1] = (b[at + 1]! & TOS_MASK) | TOS_INTERNETCONTROL;
  out[2] = size >> 8;
  out[3] = size & 0xff;
  out[4] = (id >> 8) & 0xff;
  out[5] = id & 0xff;
  // flags and fragment offset 0: the kernel's ICMP socket does not set DF (IP_PMTUDISC_DONT)
  out[8] = ERROR_TTL;
  out[9] = PROTO_ICMP;
  out.set(b.subarray(at + 16, at + 20), 12); // from the address that could not be reached
  out.set(b.subarray(at + 12, at + 16), 16); // to the sender
  const ip = checksum(out, 0, 20);
  out[10] = ip >> 8;
  out[11] = ip & 0xff;
  out[20] = ICMP4_DEST_UNREACH;
  out[21] = ICMP4_HOST_UNREACH;
  out.set(b.subarray(at, at + quoted), 28);
  const icmp = checksum(out, 20, size);
  out[22] = icmp >> 8;
  out[23] = icmp & 0xff;
  return out;
}

/**
 * Where the upper-layer header of the IPv6 packet at b[at .. at + length) starts and which it
 * is, skipping extension headers (hop-by-hop, routing, destination options, fragment, AH), or
 * null when it cannot be found or this is not the first fragment.
 */
function ipv6UpperLayer(b: Uint8Array, at: number, length: number): { next: number; offset: number } | null {
  let next = b[at + 6]!;
  let offset = 40;
  for (let hops = 0; hops < 16; hops++) {
    if (next === 0 || next === 43 || next === 60) {
      if (offset + 2 > length) return null;
      const nh = b[at + offset]!;
      offset += (b[at + offset + 1]! + 1) * 8;
      next = nh;
    } else if (next === 44) {
      if (offset + 8 > length) return null;
      if ((((b[at + offset + 2]! << 8) | b[at + offset + 3]!) & 0xfff8) !== 0) return null;
      next = b[at + offset]!;
      offset += 8;
    } else if (next === 51) {
      if (offset + 2 > length) return null;
      const nh = b[at + offset]!;
      offset += (b[at + offset + 1]! + 2) * 4;
      next = nh;
    } else {
      return { next, offset };
    }
  }
  return null;
}

/**
 * Builds the ICMPv6 Address Unreachable for the IPv6 packet at b[at .. at + length), or null when
 * none may be sent for it (see the module comment).
 */
export function buildIcmp6Unreachable(b: Uint8Array, at: number, length: number): Uint8Array | null {
  if (length < 40 || b[at]! >> 4 !== 6) return null;
  const src = at + 8;
  const dst = at + 24;
  if (ipv6Unspecified(b, src) || ipv6Multicast(b, src) || ipv6Loopback(b, src)) return null;
  if (ipv6Multicast(b, dst)) return null;
  const upper = ipv6UpperLayer(b, at, length);
  if (upper === null) return null;
  if (upper.next === PROTO_ICMPV6) {
    if (upper.offset + 1 > length) return null;
    const type = b[at + upper.offset]!;
    if (type < 128 || type === ICMP6_REDIRECT) return null; // an error (or a redirect)
  }
  const total = 40 + ((b[at + 4]! << 8) | b[at + 5]!);
  const available = total <= length ? total : length;
  const quoted = Math.min(available, ICMP6_ERROR_MAX - 40 - 8);
  const payload = 8 + quoted;
  const out = new Uint8Array(40 + payload);
  out[0] = 0x60;
  out[4] = payload >> 8;
  out[5] = payload & 0xff;
  out[6] = PROTO_ICMPV6;
  out[7] = ERROR_TTL;
  out.set(b.subarray(dst, dst + 16), 8);
  out.set(b.subarray(src, src + 16), 24);
  out[40] = ICMP6_DEST_UNREACH;
  out[41] = ICMP6_ADDR_UNREACH;
  out.set(b.subarray(at, at + quoted), 48);
  // RFC 8200 section 8.1 pseudo-header: source, destination, upper-layer length, next header.
  let pseudo = onesComplementSum(out, 8, 40);
  pseudo += (payload >>> 16) + (payload & 0xffff) + PROTO_ICMPV6;
  const icmp = checksum(out, 40, out.length, pseudo);
  out[42] = icmp >> 8;
  out[43] = icmp & 0xff;
  return out;
}

/**
 * The device's ICMP "unreachable" generator: eligibility, building and rate limiting in one
 * place, used by both data paths (Device.sendPackets and FastPath).
 */
export class IcmpUnreachable {
  #globalTokens = ICMP_GLOBAL_BURST;
  #globalAt = -Infinity;
  /** Per destination slot: tokens, in units of one error, and when they were last counted. */
  readonly #slotTokens = new Float64Array(DESTINATION_SLOTS).fill(ICMP_PER_DESTINATION_BURST);
  readonly #slotAt = new Float64Array(DESTINATION_SLOTS).fill(-Infinity);
  #id = 0;
  /** Errors built and handed out, and errors the limits held back. */
  sent = 0;
  limited = 0;

  /**
   * The error for the IP packet at b[at .. at + length) that no peer can carry, or null when
   * none may be sent (ineligible, or over a rate limit) at monotonic time `now` (ms).
   */
  build(b: Uint8Array, at: number, length: number, now: number): Uint8Array | null {
    if (length < 20) return null;
    const version = b[at]! >> 4;
    if (version !== 4 && version !== 6) return null;
    // The destination of the error is the invoking packet's source.
    const slot = version === 4 ? hashAddress(b, at + 12, 4) : hashAddress(b, at + 8, 16);
    const out =
      version === 4 ? buildIcmp4Unreachable(b, at, length, this.#id) : buildIcmp6Unreachable(b, at, length);
    if (out === null) return null;
    if (!this.#allow(slot, now)) {
      this.limited++;
      return null;
    }
    if (version === 4) this.#id = (this.#id + 1) & 0xffff;
    this.sent++;
    return out;
  }

  #allow(slot: number, now: number): boolean {
    const g = Math.min(
      ICMP_GLOBAL_BURST,
      this.#globalTokens + ((now - this.#globalAt) * ICMP_GLOBAL_PER_SECOND) / 1000,
    );
    const s = Math.min(
      ICMP_PER_DESTINATION_BURST,
      this.#slotTokens[slot]! + (now - this.#slotAt[slot]!) / ICMP_PER_DESTINATION_INTERVAL_MS,
    );
    if (g < 1 || s < 1) return false;
    this.#globalTokens = g - 1;
    this.#globalAt = now;
    this.#slotTokens[slot] = s - 1;
    this.#slotAt[slot] = now;
    return true;
  }
}

/** FNV-1a over an address, folded to a slot of the per-destination table. */
function hashAddress(b: Uint8Array, at: number, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ b[at + i]!, 0x01000193);
  return (h ^ (h >>> 8) ^ (h >>> 16) ^ (h >>> 24)) & (DESTINATION_SLOTS - 1);
}
