/**
 * IPv4 headers (RFC 791 section 3.1) for the userspace stack: parse and check an inbound packet
 * once (version, IHL and options, total length against the buffer, header checksum), and write
 * the header of an outbound one (TTL 64, DF set, an identification counter).
 *
 * Fragments are refused, as a counted drop: a packet with MF set or a non-zero fragment offset
 * never reaches a transport. The peer at the other end of the tunnel knows the device MTU, our
 * TCP MSS keeps segments below it, and we send with DF, so fragments only arise from a peer that
 * ignores the MTU; reassembly would be a memory sink a hostile peer could fill (RFC 8900).
 * Options are skipped, not interpreted (none changes how a host delivers locally). The TTL is
 * reported but not checked: a host must not discard a datagram addressed to it for a low TTL
 * (RFC 1122 section 3.2.1.7).
 */
import type { NetstackDropReason } from './drops.js';
import { checksumVerifies, internetChecksum } from './checksum.js';

export const IPV4_HEADER_LENGTH = 20;
export const DEFAULT_TTL = 64;

const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const OFFSET_MASK = 0x1fff;

/** A checked IPv4 packet; the views share the input buffer. */
export interface Ipv4Packet {
  readonly headerLength: number;
  readonly totalLength: number;
  readonly ttl: number;
  readonly protocol: number;
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
  /** The bytes after the header, up to the total length (link padding cut off). */
  readonly payload: Uint8Array;
}

/** Parses and checks `packet`; a drop reason when it must be refused. Never throws. */
export function parseIpv4(packet: Uint8Array): Ipv4Packet | NetstackDropReason {
  if (packet.length < IPV4_HEADER_LENGTH) return 'short-header';
  if (packet[0]! >> 4 !== 4) return 'bad-version';
  const headerLength = (packet[0]! & 0x0f) * 4;
  if (headerLength < IPV4_HEADER_LENGTH) return 'short-header';
  const totalLength = (packet[2]! << 8) | packet[3]!;
  if (totalLength < headerLength || totalLength > packet.length) return 'bad-length';
  const header = packet.subarray(0, headerLength);
  if (!checksumVerifies(header)) return 'bad-header-checksum';
  const flagsOffset = (packet[6]! << 8) | packet[7]!;
  if ((flagsOffset & FLAG_MF) !== 0 || (flagsOffset & OFFSET_MASK) !== 0) return 'fragment';
  return {
    headerLength,
    totalLength,
    ttl: packet[8]!,
    protocol: packet[9]!,
    source: packet.subarray(12, 16),
    destination: packet.subarray(16, 20),
    payload: packet.subarray(headerLength, totalLength),
  };
}

/** True for 0.0.0.0, 255.255.255.255 and 224.0.0.0/4: never a valid source (RFC 1122 3.2.1.3). */
export function isBadIpv4Source(address: Uint8Array): boolean {
  const first = address[0]!;
  if (first >= 224) return true;
  return first === 0 && address[1] === 0 && address[2] === 0 && address[3] === 0;
}

/**
 * Writes a 20-byte header at the start of `packet` (whose length is the total length), with the
 * header checksum. DF is set: we never fragment, and path MTU discovery needs it (RFC 1191).
 */
export function writeIpv4Header(
  packet: Uint8Array,
  identification: number,
  protocol: number,
  source: Uint8Array,
  destination: Uint8Array,
  ttl = DEFAULT_TTL,
): void {
  const total = packet.length;
  packet[0] = 0x45;
  packet[1] = 0;
  packet[2] = total >>> 8;
  packet[3] = total & 0xff;
  packet[4] = (identification >>> 8) & 0xff;
  packet[5] = identification & 0xff;
  packet[6] = FLAG_DF >>> 8;
  packet[7] = 0;
  packet[8] = ttl;
  packet[9] = protocol;
  packet[10] = 0;
  packet[11] = 0;
  packet.set(source, 12);
  packet.set(destination, 16);
  const checksum = internetChecksum(packet.subarray(0, IPV4_HEADER_LENGTH));
  packet[10] = checksum >>> 8;
  packet[11] = checksum & 0xff;
}
