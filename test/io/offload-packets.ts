/**
 * Naive IPv4/IPv6 TCP/UDP packet builders, parsers and checksums for the offload tests
 * (native/offload.c): RFC 791 / RFC 8200 headers, RFC 9293 TCP, RFC 768 UDP, RFC 1071 checksums,
 * struct virtio_net_hdr (include/uapi/linux/virtio_net.h). Everything is computed field by field:
 * checksums as the plain sum of big-endian 16-bit words over an explicitly built pseudo-header
 * concatenated with the segment, deliberately unlike the native code's host-order word sums.
 */

import { concatBytes } from '../../src/crypto/bytes.js';

export const VNET_LEN = 10;
export const F_NEEDS_CSUM = 1;
export const GSO_NONE = 0;
export const GSO_TCPV4 = 1;
export const GSO_TCPV6 = 4;
export const GSO_UDP_L4 = 5;
export const GSO_ECN = 0x80;

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;
export const ECE = 0x40;
export const CWR = 0x80;

// ---- bytes ------------------------------------------------------------------------------------

export function get16(b: Uint8Array, off: number): number {
  return b[off]! * 256 + b[off + 1]!;
}

export function put16(b: Uint8Array, off: number, v: number): void {
  b[off] = Math.floor(v / 256) % 256;
  b[off + 1] = v % 256;
}

export function get32(b: Uint8Array, off: number): number {
  return get16(b, off) * 65536 + get16(b, off + 2);
}

export function put32(b: Uint8Array, off: number, v: number): void {
  const x = ((v % 2 ** 32) + 2 ** 32) % 2 ** 32;
  put16(b, off, Math.floor(x / 65536));
  put16(b, off + 2, x % 65536);
}

/** Concatenates byte arrays (the project's own helper). */
export const concat = concatBytes;

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The first differing index (for assertion messages), or -1. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

// ---- RFC 1071 ---------------------------------------------------------------------------------

/** The sum of `bytes` read as big-endian 16-bit words (an odd last byte is the high half). */
export function wordSum(bytes: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    const hi = bytes[i]!;
    const lo = i + 1 < bytes.length ? bytes[i + 1]! : 0;
    s += hi * 256 + lo;
  }
  return s;
}

/** End-around-carry fold to 16 bits (not complemented). */
export function fold(s: number): number {
  let x = s;
  while (x > 0xffff) x = (x % 0x10000) + Math.floor(x / 0x10000);
  return x;
}

/** The Internet checksum of `bytes`: the complement of the folded sum. */
export function checksum(bytes: Uint8Array): number {
  return 0xffff - fold(wordSum(bytes));
}

/** The TCP/UDP pseudo-header (RFC 793 3.1 / RFC 8200 8.1) as bytes. */
export function pseudoHeader(
  v6: boolean,
  src: Uint8Array,
  dst: Uint8Array,
  proto: number,
  l4len: number,
): Uint8Array {
  if (!v6) {
    const p = new Uint8Array(12);
    p.set(src, 0);
    p.set(dst, 4);
    p[9] = proto;
    put16(p, 10, l4len);
    return p;
  }
  const p = new Uint8Array(40);
  p.set(src, 0);
  p.set(dst, 16);
  put32(p, 32, l4len);
  p[39] = proto;
  return p;
}

// ---- building ---------------------------------------------------------------------------------

export interface IpSpec {
  readonly v6: boolean;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly ttl?: number;
  readonly tos?: number;
  /** IPv4 identification. */
  readonly id?: number;
  /** IPv4 don't-fragment (default set). */
  readonly df?: boolean;
  /** IPv4 flags/fragment-offset field, overriding df (for fragments). */
  readonly fragField?: number;
  /** IPv6 flow label. */
  readonly flow?: number;
  /** IPv4 options (a multiple of 4 bytes). */
  readonly options?: Uint8Array;
  /** IPv6: the next-header value to put in the fixed header (default: the L4 protocol). */
  readonly nextHeader?: number;
}

export interface TcpSpec {
  readonly sport: number;
  readonly dport: number;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly window: number;
  readonly urgent?: number;
  /** TCP options (a multiple of 4 bytes). */
  readonly options?: Uint8Array;
  readonly payload: Uint8Array;
}

export interface UdpSpec {
  readonly sport: number;
  readonly dport: number;
  readonly payload: Uint8Array;
}

/**
 * How the L4 checksum field is filled: 'full' a complete checksum (UDP: 0 sent as 0xffff),
 * 'partial' the folded pseudo-header sum alone, not complemented (what the kernel hands a TUN for
 * CHECKSUM_PARTIAL), 'bad' a wrong full checksum, 'zero' zero.
 */
export type CsumMode = 'full' | 'partial' | 'bad' | 'zero';

function ipHeader(ip: IpSpec, proto: number, l4len: number): Uint8Array {
  if (ip.v6) {
    const h = new Uint8Array(40);
    const tos = ip.tos ?? 0;
    const flow = ip.flow ?? 0;
    h[0] = 0x60 | (tos >> 4);
    h[1] = ((tos & 0x0f) << 4) | ((flow >> 16) & 0x0f);
    h[2] = (flow >> 8) & 0xff;
    h[3] = flow & 0xff;
    put16(h, 4, l4len);
    h[6] = ip.nextHeader ?? proto;
    h[7] = ip.ttl ?? 64;
    h.set(ip.src, 8);
    h.set(ip.dst, 24);
    return h;
  }
  const opts = ip.options ?? new Uint8Array(0);
  const hl = 20 + opts.length;
  const h = new Uint8Array(hl);
  h[0] = 0x40 | (hl / 4);
  h[1] = ip.tos ?? 0;
  put16(h, 2, hl + l4len);
  put16(h, 4, (ip.id ?? 0) % 65536);
  put16(h, 6, ip.fragField ?? (ip.df === false ? 0 : 0x4000));
  h[8] = ip.ttl ?? 64;
  h[9] = proto;
  h.set(ip.src, 12);
  h.set(ip.dst, 16);
  h.set(opts, 20);
  put16(h, 10, checksum(h));
  return h;
}

function fillChecksum(ip: IpSpec, proto: number, l4: Uint8Array, field: number, mode: CsumMode): void {
  put16(l4, field, 0);
  const pseudo = pseudoHeader(ip.v6, ip.src, ip.dst, proto, l4.length);
  if (mode === 'zero') return;
  if (mode === 'partial') {
    put16(l4, field, fold(wordSum(pseudo)));
    return;
  }
  let c = checksum(concat(pseudo, l4));
  if (c === 0 && proto === PROTO_UDP) c = 0xffff;
  if (mode === 'bad') c = c === 0x1234 ? 0x4321 : 0x1234; // never 0 or a value equivalent to c
  put16(l4, field, c);
}

export function tcpHeaderLength(tcp: TcpSpec): number {
  return 20 + (tcp.options?.length ?? 0);
}

export function tcpPacket(ip: IpSpec, tcp: TcpSpec, mode: CsumMode = 'full'): Uint8Array {
  const opts = tcp.options ?? new Uint8Array(0);
  const thl = 20 + opts.length;
  const l4 = new Uint8Array(thl + tcp.payload.length);
  put16(l4, 0, tcp.sport);
  put16(l4, 2, tcp.dport);
  put32(l4, 4, tcp.seq);
  put32(l4, 8, tcp.ack);
  l4[12] = (thl / 4) << 4;
  l4[13] = tcp.flags;
  put16(l4, 14, tcp.window);
  put16(l4, 18, tcp.urgent ?? 0);
  l4.set(opts, 20);
  l4.set(tcp.payload, thl);
  fillChecksum(ip, PROTO_TCP, l4, 16, mode);
  return concat(ipHeader(ip, PROTO_TCP, l4.length), l4);
}

export function udpPacket(ip: IpSpec, udp: UdpSpec, mode: CsumMode = 'full'): Uint8Array {
  const l4 = new Uint8Array(8 + udp.payload.length);
  put16(l4, 0, udp.sport);
  put16(l4, 2, udp.dport);
  put16(l4, 4, l4.length);
  l4.set(udp.payload, 8);
  fillChecksum(ip, PROTO_UDP, l4, 6, mode);
  return concat(ipHeader(ip, PROTO_UDP, l4.length), l4);
}

/** An ICMP (v4) / ICMPv6-numbered echo with a valid ICMP checksum (v4 only) or none. */
export function icmpPacket(ip: IpSpec, payload: Uint8Array): Uint8Array {
  const l4 = new Uint8Array(8 + payload.length);
  l4[0] = ip.v6 ? 128 : 8;
  l4.set(payload, 8);
  if (!ip.v6) put16(l4, 2, checksum(l4));
  return concat(ipHeader(ip, ip.v6 ? 58 : PROTO_ICMP, l4.length), l4);
}

/** A raw IP packet of protocol `proto` around `l4` (no L4 checksum work). */
export function rawIpPacket(ip: IpSpec, proto: number, l4: Uint8Array): Uint8Array {
  return concat(ipHeader(ip, proto, l4.length), l4);
}

/** TCP timestamps, padded: NOP NOP TS(10). */
export function timestampOption(tsval: number, tsecr: number): Uint8Array {
  const o = new Uint8Array(12);
  o[0] = 1;
  o[1] = 1;
  o[2] = 8;
  o[3] = 10;
  put32(o, 4, tsval);
  put32(o, 8, tsecr);
  return o;
}

// ---- virtio_net_hdr ---------------------------------------------------------------------------

export interface Vnet {
  readonly flags: number;
  readonly gsoType: number;
  readonly hdrLen: number;
  readonly gsoSize: number;
  readonly csumStart: number;
  readonly csumOffset: number;
}

export const VNET_NONE: Vnet = { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 };

/** The 10-byte header, u16 fields little-endian (the TUN's native order on x86/arm). */
export function vnetBytes(h: Vnet): Uint8Array {
  const b = new Uint8Array(VNET_LEN);
  const le = (off: number, v: number): void => {
    b[off] = v % 256;
    b[off + 1] = Math.floor(v / 256) % 256;
  };
  b[0] = h.flags;
  b[1] = h.gsoType;
  le(2, h.hdrLen);
  le(4, h.gsoSize);
  le(6, h.csumStart);
  le(8, h.csumOffset);
  return b;
}

export function parseVnet(b: Uint8Array, at = 0): Vnet {
  const le = (off: number): number => b[at + off]! + b[at + off + 1]! * 256;
  return {
    flags: b[at]!,
    gsoType: b[at + 1]!,
    hdrLen: le(2),
    gsoSize: le(4),
    csumStart: le(6),
    csumOffset: le(8),
  };
}

// ---- parsing and verification -----------------------------------------------------------------

export interface IpInfo {
  readonly v6: boolean;
  readonly l4off: number;
  readonly proto: number;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
}

/** Version, L4 offset (IPv4 IHL, IPv6 40: no extension headers here) and protocol. */
export function ipInfo(p: Uint8Array): IpInfo {
  const v6 = p[0]! >> 4 === 6;
  if (v6) return { v6, l4off: 40, proto: p[6]!, src: p.subarray(8, 24), dst: p.subarray(24, 40) };
  return { v6, l4off: (p[0]! & 0x0f) * 4, proto: p[9]!, src: p.subarray(12, 16), dst: p.subarray(16, 20) };
}

/** The length the packet's own IP header states. */
export function statedLength(p: Uint8Array, at = 0): number {
  const v = p[at]! >> 4;
  if (v === 4) return get16(p, at + 2);
  if (v === 6) return 40 + get16(p, at + 4);
  throw new Error(`not an IP packet (version ${v})`);
}

export function ipv4HeaderValid(p: Uint8Array): boolean {
  const ihl = (p[0]! & 0x0f) * 4;
  return fold(wordSum(p.subarray(0, ihl))) === 0xffff;
}

/** Whether the TCP/UDP checksum verifies (over the pseudo-header and the whole L4 part). */
export function l4ChecksumValid(p: Uint8Array): boolean {
  const info = ipInfo(p);
  const l4 = p.subarray(info.l4off);
  const pseudo = pseudoHeader(info.v6, info.src, info.dst, info.proto, l4.length);
  return fold(wordSum(concat(pseudo, l4))) === 0xffff;
}

/** The payload following the TCP header. */
export function tcpPayload(p: Uint8Array): Uint8Array {
  const info = ipInfo(p);
  const thl = (p[info.l4off + 12]! >> 4) * 4;
  return p.subarray(info.l4off + thl);
}

export function align16(n: number): number {
  return Math.ceil(n / 16) * 16;
}
