/**
 * The value syntaxes of the cross-platform UAPI (wireguard.com/xplatform), parsed and printed the
 * way wireguard-go does it (device/uapi.go): keys as 64 hex digits, numbers as Go's
 * strconv.ParseUint(s, 10, bits), endpoints as netip.ParseAddrPort, allowed IPs as
 * netip.ParsePrefix, and addresses printed by netip.Addr.String. Parsers return null on bad text;
 * the codec turns that into the errno wireguard-go replies with.
 *
 * Deviations from wireguard-go, each deliberate:
 * - Hex keys must be lowercase (the xplatform spec, REFERENCE.md, DESIGN.md habit 7);
 *   wireguard-go's hex.DecodeString also takes uppercase.
 * - IPv6 zones in endpoints (`[fe80::1%eth0]:51820`) are refused: EndpointAddress has no scope,
 *   and dropping the zone would leave a link-local endpoint that cannot be sent to. wireguard-go
 *   0.0.20220316 accepts a zone naming an existing interface and prints the endpoint without it.
 * - A prefix length must be plain decimal without a leading zero or sign (current Go's
 *   netip.ParsePrefix); Go 1.19 builds of wireguard-go also accept `/024`, `/+8` and `/-0`.
 *
 * Public values (public keys, endpoint and prefix addresses) are parsed into a BytePool: a
 * 100,000-peer `set` holds three of them per peer until it is applied, and a pooled view costs a
 * third of a standalone array. Private and pre-shared keys get arrays of their own.
 */
import { parseKeyHex } from '../crypto/keys.js';
import { BytePool, decodeHexInto, toHex } from '../crypto/bytes.js';
import { clearHostBits, formatIP, parseIP, parsePrefix } from '../routing/ip.js';
import type { EndpointAddress, EndpointHostname, IpPrefix } from './types.js';

/** Where parsed public bytes go (see the header). */
const PARSED = new BytePool();

/** 64 lowercase hex digits → 32 bytes; null otherwise. For secrets: an array of its own. */
export function parseHexKey(text: string): Uint8Array | null {
  return parseKeyHex(text);
}

/** parseHexKey for a public key: the bytes are a view into a shared pool. */
export function parsePublicHexKey(text: string): Uint8Array | null {
  if (text.length !== 64) return null;
  const key = PARSED.alloc(32);
  return decodeHexInto(text, key) ? key : null;
}

/** 32 bytes → 64 lowercase hex digits; null prints as all zeros (no key). */
export function formatHexKey(key: Uint8Array | null): string {
  if (key === null) return '0'.repeat(64);
  if (key.length !== 32) throw new RangeError(`a key is 32 bytes, got ${key.length}`);
  return toHex(key);
}

/**
 * Go's strconv.ParseUint(text, 10, bits) for bits ≤ 32: one or more ASCII digits, leading zeros
 * allowed, no sign, no spaces, at most `max`. Null otherwise.
 */
export function parseDecimal(text: string, max: number): number | null {
  if (text.length === 0) return null;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return null;
    value = value * 10 + digit;
    if (value > max) return null;
  }
  return value;
}

/** A non-negative integer printed in decimal; throws RangeError on anything else (a bug upstream). */
export function formatDecimal(value: number): string {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`not a non-negative integer: ${value}`);
  return BigInt(value).toString();
}

function group(bytes: Uint8Array, index: number): number {
  return ((bytes[index * 2] ?? 0) << 8) | (bytes[index * 2 + 1] ?? 0);
}

/**
 * An address as Go's netip.Addr.String prints it, which is what wireguard-go's `get` shows. That is
 * RFC 5952 like inet_ntop, except that only IPv4-mapped addresses (`::ffff:a.b.c.d`) get a dotted
 * tail: glibc also prints `::a.b.c.d` for the deprecated IPv4-compatible form, Go prints `::102:304`.
 */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 16) {
    let zero = true;
    for (let i = 0; i < 12; i++) if (bytes[i] !== 0) zero = false;
    // glibc's compatible form fires exactly when groups 0-5 are zero and group 6 is not.
    if (zero && group(bytes, 6) !== 0) {
      return `::${group(bytes, 6).toString(16)}:${group(bytes, 7).toString(16)}`;
    }
  }
  return formatIP(bytes);
}

/** `a.b.c.d:port` or `[v6]:port`, as wireguard-go prints an endpoint (StdNetEndpoint.DstToString). */
export function formatEndpoint(endpoint: EndpointAddress): string {
  const port = endpoint.port;
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`bad port ${port}`);
  const host = formatAddress(endpoint.address);
  return endpoint.address.length === 16 ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Go's netip.ParseAddrPort: the port follows the last colon; an IPv6 address must be bracketed and
 * brackets may hold only IPv6; literals only (no hostnames). Zones are refused (see the header).
 */
export function parseEndpoint(text: string): EndpointAddress | null {
  const colon = text.lastIndexOf(':');
  if (colon <= 0 || colon === text.length - 1) return null;
  let host = text.slice(0, colon);
  const port = parseDecimal(text.slice(colon + 1), 0xffff);
  if (port === null) return null;
  let bracketed = false;
  if (host.charCodeAt(0) === 0x5b /* [ */) {
    if (host.length < 2 || host.charCodeAt(host.length - 1) !== 0x5d /* ] */) return null;
    host = host.slice(1, -1);
    bracketed = true;
  }
  const ip = parseIP(host);
  if (ip === null || bracketed !== (ip.family === 6)) return null;
  return { address: PARSED.copy(ip.bytes), port };
}

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;

/** A DNS name wg(8) would hand to getaddrinfo (labels of letters, digits, `-`, `_`), not an address. */
export function isHostname(host: string): boolean {
  return HOSTNAME.test(host) && parseIP(host) === null;
}

/** `host:port` with a hostname (never an address) and a port 1-65535; null otherwise. */
export function parseEndpointHostname(text: string): EndpointHostname | null {
  const colon = text.lastIndexOf(':');
  if (colon <= 0) return null;
  const host = text.slice(0, colon);
  const port = parseDecimal(text.slice(colon + 1), 0xffff);
  return port === null || port === 0 || !isHostname(host) ? null : { host, port };
}

/** `host:port`, the inverse of parseEndpointHostname. */
export function formatEndpointHostname(name: EndpointHostname): string {
  return `${name.host}:${name.port}`;
}

/** `addr/cidr` (cidr required) with the host bits cleared, as wireguard-go stores and prints it. */
export function parseAllowedIP(text: string): IpPrefix | null {
  const prefix = parsePrefix(text);
  if (prefix === null) return null;
  const bytes = PARSED.copy(prefix.bytes);
  clearHostBits(bytes, prefix.cidr);
  return { family: prefix.family, bytes, cidr: prefix.cidr };
}

/** `addr/cidr` as wireguard-go prints an allowed IP (netip.Prefix.String). */
export function formatAllowedIP(prefix: IpPrefix): string {
  const bits = prefix.bytes.length * 8;
  if (!Number.isInteger(prefix.cidr) || prefix.cidr < 0 || prefix.cidr > bits) {
    throw new RangeError(`cidr must be an integer in [0, ${bits}], got ${prefix.cidr}`);
  }
  return `${formatAddress(prefix.bytes)}/${prefix.cidr}`;
}
