/**
 * Strict IP address and prefix parsing for every text edge of wgts (UAPI `allowed_ip=` and
 * `endpoint=`, wg(8) config files, the CLI). Addresses follow RFC 4291 section 2.2 (IPv6 text
 * forms, including `::` and a trailing dotted quad) and the dotted-quad IPv4 form, accepting exactly
 * what glibc's inet_pton(3) accepts, since that is what `wg` and wg-quick feed the kernel: no octal,
 * no short IPv4 forms, no leading zeros in an IPv4 octet, at most four hex digits per IPv6 group,
 * no zone ids or brackets, and `::` must stand for at least one zero group. Bad text gives `null`;
 * only programmer misuse (a wrong byte length, a cidr out of range) throws. Formatting lives in
 * ip-format.ts and is re-exported here so callers have one import.
 */

export { formatIP, formatPrefix } from './ip-format.js';

export type IPFamily = 4 | 6;

export interface IPAddress {
  readonly family: IPFamily;
  readonly bytes: Uint8Array;
}

export interface IPPrefix {
  readonly family: IPFamily;
  /** The address exactly as written: host bits are NOT cleared (use maskPrefix for that). */
  readonly bytes: Uint8Array;
  readonly cidr: number;
}

export interface ParsePrefixOptions {
  /**
   * Accept a bare address as a host prefix (/32 or /128), as wg(8) config files do for AllowedIPs.
   * Off by default because the UAPI (and wireguard-go's netip.ParsePrefix) requires the `/cidr`.
   */
  readonly implicitHostPrefix?: boolean;
}

const DOT = 0x2e;
const COLON = 0x3a;
const ZERO = 0x30;

/** Longest legal forms: `255.255.255.255` and `ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`. */
const MAX_V4_TEXT = 15;
const MAX_V6_TEXT = 45;

/** Parses decimal digits text[start, end) into out[at..at+3]; false unless exactly a dotted quad. */
function parseV4Into(text: string, start: number, end: number, out: Uint8Array, at: number): boolean {
  if (end - start > MAX_V4_TEXT) return false;
  let i = start;
  for (let octet = 0; ; octet++) {
    const first = i;
    let value = 0;
    while (i < end) {
      const digit = text.charCodeAt(i) - ZERO;
      if (digit < 0 || digit > 9) break;
      value = value * 10 + digit;
      i++;
    }
    const len = i - first;
    // "01" would be octal to inet_aton(3); inet_pton refuses it, and so do we.
    if (len === 0 || len > 3 || value > 255 || (len > 1 && text.charCodeAt(first) === ZERO)) return false;
    out[at + octet] = value;
    if (octet === 3) return i === end;
    if (i >= end || text.charCodeAt(i) !== DOT) return false;
    i++;
  }
}

function hexDigit(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20; // folds A-F onto a-f without touching digits already handled
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** Parses text[start, end) as RFC 4291 IPv6 text into a new 16-byte array, or null. */
function parseV6Range(text: string, start: number, end: number): Uint8Array | null {
  if (end - start < 2 || end - start > MAX_V6_TEXT) return null;
  const out = new Uint8Array(16);
  let pos = 0; // next byte of `out` to fill
  let gap = -1; // byte offset where `::` was seen
  let i = start;
  if (text.charCodeAt(i) === COLON) {
    // A leading colon is only legal as the first half of `::`.
    if (text.charCodeAt(i + 1) !== COLON) return null;
    gap = 0;
    i += 2;
  }
  while (i < end) {
    const groupStart = i;
    let value = 0;
    while (i < end) {
      const digit = hexDigit(text.charCodeAt(i));
      if (digit < 0) break;
      value = (value << 4) | digit;
      if (++i - groupStart > 4) return null;
    }
    if (i === groupStart) return null; // `:::`, a trailing `:`, or a stray character
    if (i < end && text.charCodeAt(i) === DOT) {
      // The group was really the start of a dotted quad, which must end the address.
      if (pos > 12 || !parseV4Into(text, groupStart, end, out, pos)) return null;
      pos += 4;
      break;
    }
    if (pos === 16) return null; // a ninth group
    out[pos++] = value >>> 8;
    out[pos++] = value & 0xff;
    if (i === end) break;
    if (text.charCodeAt(i) !== COLON || ++i === end) return null;
    if (text.charCodeAt(i) === COLON) {
      if (gap >= 0) return null; // a second `::`
      gap = pos;
      i++;
    }
  }
  if (gap < 0) return pos === 16 ? out : null;
  // glibc rejects a `::` that stands for zero groups (`1:2:3:4::5:6:7:8`); so do we.
  if (pos === 16) return null;
  const tail = pos - gap;
  out.copyWithin(16 - tail, gap, pos);
  out.fill(0, gap, 16 - tail);
  return out;
}

function parseV4Range(text: string, start: number, end: number): Uint8Array | null {
  const out = new Uint8Array(4);
  return parseV4Into(text, start, end, out, 0) ? out : null;
}

function hasColon(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (text.charCodeAt(i) === COLON) return true;
  return false;
}

/** Parses a dotted-quad IPv4 address (`192.0.2.1`) into 4 bytes, or null. */
export function parseIPv4(text: string): Uint8Array | null {
  return parseV4Range(text, 0, text.length);
}

/** Parses an RFC 4291 IPv6 address (`2001:db8::1`, `::ffff:192.0.2.1`) into 16 bytes, or null. */
export function parseIPv6(text: string): Uint8Array | null {
  return parseV6Range(text, 0, text.length);
}

/** Parses either family; a colon anywhere selects IPv6, as wg(8) decides. */
export function parseIP(text: string): IPAddress | null {
  if (hasColon(text, 0, text.length)) {
    const bytes = parseV6Range(text, 0, text.length);
    return bytes === null ? null : { family: 6, bytes };
  }
  const bytes = parseV4Range(text, 0, text.length);
  return bytes === null ? null : { family: 4, bytes };
}

/**
 * Parses `address/cidr`. The cidr is 1 to 3 decimal digits without a leading zero (as Go's
 * netip.ParsePrefix requires; wg(8)'s strtoul would also take `/024`) and at most 32 or 128.
 */
export function parsePrefix(text: string, options?: ParsePrefixOptions): IPPrefix | null {
  const slash = text.indexOf('/');
  const addrEnd = slash < 0 ? text.length : slash;
  const v6 = hasColon(text, 0, addrEnd);
  const bytes = v6 ? parseV6Range(text, 0, addrEnd) : parseV4Range(text, 0, addrEnd);
  if (bytes === null) return null;
  const bits = v6 ? 128 : 32;
  const family: IPFamily = v6 ? 6 : 4;
  if (slash < 0) return options?.implicitHostPrefix === true ? { family, bytes, cidr: bits } : null;
  const digits = text.length - slash - 1;
  if (digits < 1 || digits > 3) return null;
  if (digits > 1 && text.charCodeAt(slash + 1) === ZERO) return null;
  let cidr = 0;
  for (let i = slash + 1; i < text.length; i++) {
    const digit = text.charCodeAt(i) - ZERO;
    if (digit < 0 || digit > 9) return null;
    cidr = cidr * 10 + digit;
  }
  return cidr > bits ? null : { family, bytes, cidr };
}

/** Bit length of an address of this many bytes; throws for anything but 4 or 16. */
export function addressBits(bytes: Uint8Array): 32 | 128 {
  if (bytes.length === 4) return 32;
  if (bytes.length === 16) return 128;
  throw new RangeError(`IP address must be 4 or 16 bytes, got ${bytes.length}`);
}

/** Throws unless cidr is an integer in [0, bits]. */
export function checkCidr(cidr: number, bits: number): void {
  if (!Number.isInteger(cidr) || cidr < 0 || cidr > bits) {
    throw new RangeError(`cidr must be an integer in [0, ${bits}], got ${cidr}`);
  }
}

/** Returns a copy of `bytes` with every bit past the first `cidr` cleared. */
export function maskPrefix(bytes: Uint8Array, cidr: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  clearHostBits(out, cidr);
  return out;
}

/** Clears every bit of `bytes` past the first `cidr`, in place (maskPrefix without the copy). */
export function clearHostBits(bytes: Uint8Array, cidr: number): void {
  checkCidr(cidr, addressBits(bytes));
  const whole = cidr >>> 3;
  if (whole < bytes.length) {
    bytes[whole] &= 0xff00 >>> (cidr & 7); // keeps the top (cidr % 8) bits
    bytes.fill(0, whole + 1);
  }
}
