/**
 * Test-side packet builders for the netstack tests, written independently of src/netstack (a
 * naive 16-bit checksum, headers laid out by hand from RFC 791 / RFC 8200 / RFC 768 / RFC 792),
 * so a shared mistake cannot make a test pass. Also a fake StackHost with a settable clock, and a
 * NetStack over it whose output is collected, with a helper asserting one counted drop.
 */
import assert from 'node:assert/strict';
import type { NetstackDropReason } from '../../src/netstack/drops.js';
import { NetStack } from '../../src/netstack/stack.js';
import type { StackHost } from '../../src/netstack/types.js';

/** RFC 1071 the slow way: 16-bit words, end-around carry after every add. */
export function naiveChecksum(data: Uint8Array, initialWords: readonly number[] = []): number {
  let sum = 0;
  const add = (w: number): void => {
    sum += w;
    if (sum > 0xffff) sum = (sum & 0xffff) + 1;
  };
  for (const w of initialWords) add(w);
  for (let i = 0; i < data.length; i += 2) add((data[i]! << 8) | (i + 1 < data.length ? data[i + 1]! : 0));
  return ~sum & 0xffff;
}

function words(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) out.push((bytes[i]! << 8) | bytes[i + 1]!);
  return out;
}

export function pseudoWords(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number[] {
  return [...words(src), ...words(dst), protocol, length >>> 16, length & 0xffff];
}

export const V4_LOCAL = Uint8Array.of(10, 9, 0, 2);
export const V4_PEER = Uint8Array.of(10, 9, 0, 1);
export const V6_LOCAL = Uint8Array.of(0xfd, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2);
export const V6_PEER = Uint8Array.of(0xfd, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);

export interface BuildOptions {
  ttl?: number;
  /** IPv4 flags+offset word (default DF). */
  flagsOffset?: number;
  /** Corrupt the transport checksum. */
  badChecksum?: boolean;
  /** IPv6 extension headers to put in front: [nextHeader-less type, bytes] (bytes include the 2-byte head). */
  extensions?: readonly [number, Uint8Array][];
}

/** An IP packet carrying `transport`, whose checksum field at `checksumAt` (or -1) is filled. */
export function ipPacket(
  src: Uint8Array,
  dst: Uint8Array,
  protocol: number,
  transport: Uint8Array,
  checksumAt: number,
  opts: BuildOptions = {},
): Uint8Array {
  const t = Uint8Array.from(transport);
  if (checksumAt >= 0) {
    t[checksumAt] = 0;
    t[checksumAt + 1] = 0;
    const pseudo = protocol === 1 ? [] : pseudoWords(src, dst, protocol, t.length);
    let c = naiveChecksum(t, pseudo);
    if (c === 0 && protocol === 17) c = 0xffff;
    if (opts.badChecksum === true) c ^= 0x0101;
    t[checksumAt] = c >>> 8;
    t[checksumAt + 1] = c & 0xff;
  }
  if (src.length === 4) {
    const p = new Uint8Array(20 + t.length);
    p[0] = 0x45;
    p[2] = p.length >>> 8;
    p[3] = p.length & 0xff;
    p[4] = 0x12;
    p[5] = 0x34;
    const fo = opts.flagsOffset ?? 0x4000;
    p[6] = fo >>> 8;
    p[7] = fo & 0xff;
    p[8] = opts.ttl ?? 64;
    p[9] = protocol;
    p.set(src, 12);
    p.set(dst, 16);
    const c = naiveChecksum(p.subarray(0, 20));
    p[10] = c >>> 8;
    p[11] = c & 0xff;
    p.set(t, 20);
    return p;
  }
  const ext = opts.extensions ?? [];
  const extLength = ext.reduce((n, [, b]) => n + b.length, 0);
  const p = new Uint8Array(40 + extLength + t.length);
  p[0] = 0x60;
  const plen = extLength + t.length;
  p[4] = plen >>> 8;
  p[5] = plen & 0xff;
  p[6] = ext.length > 0 ? ext[0]![0] : protocol;
  p[7] = opts.ttl ?? 64;
  p.set(src, 8);
  p.set(dst, 24);
  let at = 40;
  ext.forEach(([, bytes], i) => {
    const b = Uint8Array.from(bytes);
    b[0] = i + 1 < ext.length ? ext[i + 1]![0] : protocol;
    p.set(b, at);
    at += b.length;
  });
  p.set(t, at);
  return p;
}

export function udpPacket(
  src: Uint8Array,
  dst: Uint8Array,
  srcPort: number,
  dstPort: number,
  data: Uint8Array,
  opts: BuildOptions & { zeroChecksum?: boolean } = {},
): Uint8Array {
  const u = new Uint8Array(8 + data.length);
  u[0] = srcPort >>> 8;
  u[1] = srcPort & 0xff;
  u[2] = dstPort >>> 8;
  u[3] = dstPort & 0xff;
  u[4] = u.length >>> 8;
  u[5] = u.length & 0xff;
  u.set(data, 8);
  return ipPacket(src, dst, 17, u, opts.zeroChecksum === true ? -1 : 6, opts);
}

export function echoPacket(
  src: Uint8Array,
  dst: Uint8Array,
  type: number,
  id: number,
  seq: number,
  data: Uint8Array,
  opts: BuildOptions = {},
): Uint8Array {
  const m = new Uint8Array(8 + data.length);
  m[0] = type;
  m[4] = id >>> 8;
  m[5] = id & 0xff;
  m[6] = seq >>> 8;
  m[7] = seq & 0xff;
  m.set(data, 8);
  return ipPacket(src, dst, src.length === 4 ? 1 : 58, m, 2, opts);
}

/** Verifies the IP header checksum (v4) and the transport checksum of an output packet. */
export function transportChecksumOk(packet: Uint8Array): boolean {
  const v4 = packet[0]! >> 4 === 4;
  const h = v4 ? 20 : 40;
  const src = packet.subarray(v4 ? 12 : 8, v4 ? 16 : 24);
  const dst = packet.subarray(v4 ? 16 : 24, v4 ? 20 : 40);
  const protocol = v4 ? packet[9]! : packet[6]!;
  if (v4 && naiveChecksum(packet.subarray(0, 20)) !== 0) return false;
  const t = packet.subarray(h);
  const pseudo = protocol === 1 ? [] : pseudoWords(src, dst, protocol, t.length);
  return naiveChecksum(t, pseudo) === 0;
}

/** A StackHost whose clock the test sets, with seeded (xorshift) randomness. */
export class FakeHost implements StackHost {
  time = 1000;
  wakes = 0;
  #state: number;
  constructor(seed = 1) {
    this.#state = seed >>> 0 || 1;
  }
  now(): number {
    return this.time;
  }
  random(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }
  wake(): void {
    this.wakes += 1;
  }
  /** xorshift32. */
  next(): number {
    let x = this.#state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x >>> 0;
    return this.#state;
  }
}

export function makeStack(mtu = 1420): { stack: NetStack; out: Uint8Array[]; host: FakeHost } {
  const out: Uint8Array[] = [];
  const host = new FakeHost(3);
  const stack = new NetStack({ addresses: [V4_LOCAL, V6_LOCAL], mtu, host, output: (p) => out.push(p) });
  return { stack, out, host };
}

export function totalDrops(stack: NetStack): number {
  return Object.values(stack.drops).reduce((a, b) => a + b, 0);
}

/** Feeds one packet and asserts exactly `reason` was counted once and nothing was sent. */
export function expectDrop(
  stack: NetStack,
  out: Uint8Array[],
  packet: Uint8Array,
  reason: NetstackDropReason,
): void {
  const before = stack.drops[reason];
  const total = totalDrops(stack);
  const sent = out.length;
  assert.doesNotThrow(() => stack.input([packet]));
  assert.equal(stack.drops[reason], before + 1, reason);
  assert.equal(totalDrops(stack), total + 1, `only ${reason}`);
  assert.equal(out.length, sent, `nothing sent for ${reason}`);
}
