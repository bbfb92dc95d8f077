/**
 * Outbound IP datagrams (RFC 791 section 3.1, RFC 8200 section 3): one finished packet from a
 * transport's header and data. The IP header is written here, and the transport checksum at the
 * offset the transport names, with the pseudo-header of RFC 768 / RFC 9293 section 3.1 (IPv4) or
 * RFC 8200 section 8.1 (IPv6; ICMPv6 too), plain for ICMPv4. The packet is a fresh buffer, which
 * the output callback then owns.
 */
import { internetChecksum, pseudoHeaderSum } from './checksum.js';
import { IPV4_HEADER_LENGTH, writeIpv4Header } from './ipv4.js';
import { IPV6_HEADER_LENGTH, writeIpv6Header } from './ipv6.js';
import { IPPROTO_ICMP, IPPROTO_UDP } from './types.js';

/** Header plus payload length of a datagram carrying `payloadLength` bytes from `source`'s family. */
export function datagramLength(source: Uint8Array, payloadLength: number): number {
  return (source.length === 4 ? IPV4_HEADER_LENGTH : IPV6_HEADER_LENGTH) + payloadLength;
}

/**
 * Builds the packet. `checksumOffset` is where the transport checksum goes within `payload` (-1:
 * none); `identification` is the IPv4 ID (ignored for IPv6). Throws only for misuse (an offset
 * outside the payload).
 */
export function buildDatagram(
  source: Uint8Array,
  destination: Uint8Array,
  protocol: number,
  payload: Uint8Array,
  checksumOffset: number,
  identification: number,
): Uint8Array {
  if (checksumOffset > payload.length - 2) throw new RangeError('checksumOffset past the payload');
  const v4 = source.length === 4;
  const headerLength = v4 ? IPV4_HEADER_LENGTH : IPV6_HEADER_LENGTH;
  const packet = new Uint8Array(headerLength + payload.length);
  packet.set(payload, headerLength);
  if (v4) writeIpv4Header(packet, identification, protocol, source, destination);
  else writeIpv6Header(packet, protocol, source, destination);
  if (checksumOffset >= 0) {
    const at = headerLength + checksumOffset;
    packet[at] = 0;
    packet[at + 1] = 0;
    const initial =
      protocol === IPPROTO_ICMP ? 0 : pseudoHeaderSum(source, destination, protocol, payload.length);
    let checksum = internetChecksum(packet.subarray(headerLength), initial);
    // RFC 768: a computed zero is sent as all ones, since zero means "no checksum".
    if (checksum === 0 && protocol === IPPROTO_UDP) checksum = 0xffff;
    packet[at] = checksum >>> 8;
    packet[at + 1] = checksum & 0xff;
  }
  return packet;
}
