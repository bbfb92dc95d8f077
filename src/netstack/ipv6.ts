/**
 * IPv6 headers (RFC 8200) for the userspace stack: parse and check an inbound packet once
 * (version, payload length against the buffer, the extension-header chain of section 4), and
 * write the fixed header of an outbound one (hop limit 64, no flow label, no extension headers).
 *
 * The chain walk knows Hop-by-Hop Options (only first, section 4.3), Routing (section 4.4) and
 * Destination Options (section 4.6), at most MAX_EXTENSION_HEADERS of them. Options whose type
 * says "discard if unrecognized" (the two high bits not 00, section 4.2) drop the packet; a
 * Routing header with segments left is refused, since a host does not forward. A Fragment header
 * (section 4.5) is refused as a counted drop, for the reason given in ipv4.ts: the peer knows the
 * MTU, our MSS keeps TCP below it, and reassembly buffers are what a hostile peer would fill.
 * Jumbograms (payload length 0, RFC 2675) are refused too: they cannot cross a tunnel.
 */
import type { NetstackDropReason } from './drops.js';

export const IPV6_HEADER_LENGTH = 40;
export const DEFAULT_HOP_LIMIT = 64;
export const MAX_EXTENSION_HEADERS = 8;

const HOP_BY_HOP = 0;
const ROUTING = 43;
const FRAGMENT = 44;
const DESTINATION_OPTIONS = 60;

/** A checked IPv6 packet; the views share the input buffer. */
export interface Ipv6Packet {
  readonly hopLimit: number;
  /** The upper-layer protocol after the extension headers. */
  readonly protocol: number;
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
  /** The upper-layer header and data. */
  readonly payload: Uint8Array;
}

/** Parses and checks `packet`; a drop reason when it must be refused. Never throws. */
export function parseIpv6(packet: Uint8Array): Ipv6Packet | NetstackDropReason {
  if (packet.length < IPV6_HEADER_LENGTH) return 'short-header';
  if (packet[0]! >> 4 !== 6) return 'bad-version';
  const payloadLength = (packet[4]! << 8) | packet[5]!;
  if (payloadLength === 0 || IPV6_HEADER_LENGTH + payloadLength > packet.length) return 'bad-length';
  const end = IPV6_HEADER_LENGTH + payloadLength;
  let next = packet[6]!;
  let offset = IPV6_HEADER_LENGTH;
  for (let seen = 0; ; seen++) {
    if (next === FRAGMENT) return 'fragment';
    if (next !== HOP_BY_HOP && next !== ROUTING && next !== DESTINATION_OPTIONS) break;
    if (seen >= MAX_EXTENSION_HEADERS) return 'bad-extension-header';
    if (next === HOP_BY_HOP && seen !== 0) return 'bad-extension-header';
    if (offset + 8 > end) return 'bad-extension-header';
    const length = (packet[offset + 1]! + 1) * 8;
    if (offset + length > end) return 'bad-extension-header';
    if (next === ROUTING) {
      if (packet[offset + 3] !== 0) return 'bad-extension-header';
    } else if (!optionsAcceptable(packet, offset + 2, offset + length)) {
      return 'bad-extension-header';
    }
    next = packet[offset]!;
    offset += length;
  }
  return {
    hopLimit: packet[7]!,
    protocol: next,
    source: packet.subarray(8, 24),
    destination: packet.subarray(24, 40),
    payload: packet.subarray(offset, end),
  };
}

/** Walks the TLV options in [start, end): false when one is malformed or demands a discard. */
function optionsAcceptable(packet: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end) {
    const type = packet[i]!;
    if (type === 0) {
      i += 1; // Pad1
      continue;
    }
    if (i + 2 > end) return false;
    const next = i + 2 + packet[i + 1]!;
    if (next > end) return false;
    // PadN (1) and anything marked "skip over" (action bits 00) pass; the rest we do not know.
    if (type !== 1 && type >> 6 !== 0) return false;
    i = next;
  }
  return true;
}

/** True for the unspecified address and multicast (ff00::/8): not sources we answer. */
export function isBadIpv6Source(address: Uint8Array): boolean {
  if (address[0] === 0xff) return true;
  for (let i = 0; i < 16; i++) if (address[i] !== 0) return false;
  return true;
}

/**
 * The multicast groups a host must hear on a link (RFC 4291 section 2.8): all-nodes ff02::1 and
 * the solicited-node group ff02::1:ffXX:XXXX of each of its IPv6 addresses (section 2.7.1).
 */
export function isGroupWeHear(address: Uint8Array, addresses: readonly Uint8Array[]): boolean {
  if (address.length !== 16 || address[0] !== 0xff || address[1] !== 0x02) return false;
  for (let i = 2; i < 11; i++) if (address[i] !== 0) return false;
  if (address[11] === 0 && address[12] === 0 && address[13] === 0 && address[14] === 0) {
    return address[15] === 1;
  }
  if (address[11] !== 1 || address[12] !== 0xff) return false;
  return addresses.some(
    (a) => a.length === 16 && a[13] === address[13] && a[14] === address[14] && a[15] === address[15],
  );
}

/** Writes the 40-byte fixed header at the start of `packet` (whose length is the total). */
export function writeIpv6Header(
  packet: Uint8Array,
  protocol: number,
  source: Uint8Array,
  destination: Uint8Array,
  hopLimit = DEFAULT_HOP_LIMIT,
): void {
  const payloadLength = packet.length - IPV6_HEADER_LENGTH;
  packet[0] = 0x60;
  packet[1] = 0;
  packet[2] = 0;
  packet[3] = 0;
  packet[4] = payloadLength >>> 8;
  packet[5] = payloadLength & 0xff;
  packet[6] = protocol;
  packet[7] = hopLimit;
  packet.set(source, 8);
  packet.set(destination, 24);
}
