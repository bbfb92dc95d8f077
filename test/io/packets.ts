/**
 * Minimal IPv4/IPv6 ICMP echo packets for the TUN tests: a request "from the peer" written to the
 * TUN makes the kernel answer with a reply routed back out of the TUN. RFC 791 / RFC 792 (IPv4,
 * ICMP), RFC 8200 / RFC 4443 (IPv6, ICMPv6, checksum over the pseudo-header), RFC 1071 checksum.
 */
import { ipBytes } from '../helpers/fake-io.js';

/** RFC 1071 ones'-complement sum of `data`, starting from `initial` (not folded or inverted). */
function sum16(data: Uint8Array, initial = 0): number {
  let s = initial;
  for (let i = 0; i + 1 < data.length; i += 2) s += (data[i]! << 8) | data[i + 1]!;
  if (data.length % 2 === 1) s += data[data.length - 1]! << 8;
  return s;
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}

function put16(b: Uint8Array, off: number, v: number): void {
  b[off] = v >> 8;
  b[off + 1] = v & 0xff;
}

function get16(b: Uint8Array, off: number): number {
  return (b[off]! << 8) | b[off + 1]!;
}

/** An ICMP(v6) echo request from `src` to `dst` (textual addresses of `family`). */
export function echoRequest(
  family: 4 | 6,
  src: string,
  dst: string,
  id: number,
  seq: number,
  payload: Uint8Array,
): Uint8Array {
  const icmp = new Uint8Array(8 + payload.length);
  icmp[0] = family === 4 ? 8 : 128;
  put16(icmp, 4, id);
  put16(icmp, 6, seq);
  icmp.set(payload, 8);
  const s = ipBytes(src);
  const d = ipBytes(dst);
  if (family === 4) {
    put16(icmp, 2, fold(sum16(icmp)));
    const p = new Uint8Array(20 + icmp.length);
    p[0] = 0x45;
    put16(p, 2, p.length);
    put16(p, 4, seq);
    p[8] = 64; // TTL
    p[9] = 1; // ICMP
    p.set(s, 12);
    p.set(d, 16);
    put16(p, 10, fold(sum16(p.subarray(0, 20))));
    p.set(icmp, 20);
    return p;
  }
  const pseudo = new Uint8Array(40);
  pseudo.set(s, 0);
  pseudo.set(d, 16);
  put16(pseudo, 34, icmp.length);
  pseudo[39] = 58;
  put16(icmp, 2, fold(sum16(icmp, sum16(pseudo))));
  const p = new Uint8Array(40 + icmp.length);
  p[0] = 0x60;
  put16(p, 4, icmp.length);
  p[6] = 58; // ICMPv6
  p[7] = 64; // hop limit
  p.set(s, 8);
  p.set(d, 24);
  p.set(icmp, 40);
  return p;
}

export interface EchoReply {
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly seq: number;
  readonly payload: Uint8Array;
}

/** Parses an ICMP(v6) echo reply with identifier `id` (checksum verified), or null. */
export function echoReply(p: Uint8Array, id: number): EchoReply | null {
  const version = p[0]! >> 4;
  if (version === 4 && p.length >= 28 && p[9] === 1) {
    const ihl = (p[0]! & 0x0f) * 4;
    const icmp = p.subarray(ihl, get16(p, 2));
    if (icmp[0] !== 0 || get16(icmp, 4) !== id || fold(sum16(icmp)) !== 0) return null;
    return { src: p.slice(12, 16), dst: p.slice(16, 20), seq: get16(icmp, 6), payload: icmp.slice(8) };
  }
  if (version === 6 && p.length >= 48 && p[6] === 58) {
    const icmp = p.subarray(40, 40 + get16(p, 4));
    if (icmp[0] !== 129 || get16(icmp, 4) !== id) return null;
    const pseudo = new Uint8Array(40);
    pseudo.set(p.subarray(8, 40), 0);
    put16(pseudo, 34, icmp.length);
    pseudo[39] = 58;
    if (fold(sum16(icmp, sum16(pseudo))) !== 0) return null;
    return { src: p.slice(8, 24), dst: p.slice(24, 40), seq: get16(icmp, 6), payload: icmp.slice(8) };
  }
  return null;
}

/** 4 or 16 address bytes as text ('127.0.0.1', '::1'). */
export function formatAddress(a: Uint8Array): string {
  if (a.length === 4) return a.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(get16(a, i).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}
