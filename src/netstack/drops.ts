/**
 * Every reason the userspace stack's IP layer, ICMP and UDP refuse a datagram, in one list (as
 * DROP_REASONS in src/protocol/results.ts is for the protocol core). Bad network input is never an
 * exception here: it is counted under one of these names and forgotten. TCP keeps its own list.
 */

export const NETSTACK_DROP_REASONS = [
  /** Not IPv4 or IPv6 (RFC 791 section 3.1, RFC 8200 section 3: the version nibble). */
  'bad-version',
  /** Shorter than the fixed IP header, or an IHL below 5. */
  'short-header',
  /** Total length / payload length disagrees with the buffer or the header length. */
  'bad-length',
  /** The IPv4 header checksum (RFC 791) does not verify. */
  'bad-header-checksum',
  /** A fragment (IPv4 MF or offset, IPv6 Fragment header): refused, see ipv4.ts. */
  'fragment',
  /** An IPv6 extension header that is malformed, too deep, or asks to be discarded. */
  'bad-extension-header',
  /** Multicast, broadcast or unspecified source address. */
  'bad-source',
  /** The destination is none of the stack's addresses. */
  'not-our-address',
  /** No transport handles this protocol number. */
  'unknown-protocol',
  /** The transport header does not fit in the payload. */
  'short-transport',
  /** The UDP length field disagrees with the IP payload (RFC 768). */
  'bad-udp-length',
  /** The TCP / UDP / ICMP checksum does not verify (or a zero UDP checksum over IPv6). */
  'bad-transport-checksum',
  /** An echo request beyond the reply rate limit. */
  'icmp-rate-limited',
  /** ICMP that is neither an echo request to us nor an echo reply (errors, NDP, MLD, ...). */
  'icmp-ignored',
  /** A UDP datagram to a port nobody has bound (no ICMP port unreachable is sent). */
  'udp-no-listener',
  /** Outbound: no local address of the destination's family, or a source that is not ours. */
  'no-source-address',
  /** Outbound: the datagram is larger than the link MTU (we never fragment). */
  'too-big',
] as const;

export type NetstackDropReason = (typeof NETSTACK_DROP_REASONS)[number];

/** A counter per reason, all zero. */
export function newDropCounts(): Record<NetstackDropReason, number> {
  const counts = {} as Record<NetstackDropReason, number>;
  for (const reason of NETSTACK_DROP_REASONS) counts[reason] = 0;
  return counts;
}

/** How the layers report a drop to the stack that counts them. */
export type CountDrop = (reason: NetstackDropReason) => void;
