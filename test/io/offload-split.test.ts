/**
 * native txSplit (native/offload.c) against a naive TypeScript segmentation: TUN reads (a 10-byte
 * struct virtio_net_hdr + an IP packet, possibly a TSO/USO superpacket with CHECKSUM_PARTIAL as
 * the kernel hands it over) split into MTU-sized packets, each with complete IPv4 header and
 * TCP/UDP checksums, zero-padded to paddedLength (whitepaper 5.4.6) and laid out 16-aligned with
 * 16 bytes of header room in front and 16 of tag room behind. Two references: one that builds every
 * expected segment from its fields (what tcp_gso_segment / __udp_gso_segment produce), and one that
 * rewrites the superpacket's bytes naively (used for the fuzzed inputs the native code accepts).
 * Malformed reads are -1, a full arena -2, and neither moves the cursor.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadNative } from '../../src/io/native.js';
import type { NativeAddon } from '../../src/io/native.js';
import { paddedLength } from '../../src/protocol/transport.js';
import { Prng } from '../helpers/fuzz.js';
import {
  ACK,
  CWR,
  ECE,
  FIN,
  F_NEEDS_CSUM,
  GSO_ECN,
  GSO_NONE,
  GSO_TCPV4,
  GSO_TCPV6,
  GSO_UDP_L4,
  PSH,
  PROTO_TCP,
  PROTO_UDP,
  URG,
  VNET_LEN,
  VNET_NONE,
  align16,
  checksum,
  concat,
  equalBytes,
  firstDifference,
  fold,
  get16,
  get32,
  icmpPacket,
  ipInfo,
  ipv4HeaderValid,
  l4ChecksumValid,
  parseVnet,
  pseudoHeader,
  put16,
  put32,
  rawIpPacket,
  tcpHeaderLength,
  tcpPacket,
  timestampOption,
  udpPacket,
  vnetBytes,
  wordSum,
} from './offload-packets.js';
import type { IpSpec, TcpSpec, UdpSpec } from './offload-packets.js';

const skip = process.platform === 'linux' ? false : 'Linux only';
const FILL = 0xaa;
const GUARD = 64;

const V4_SRC = Uint8Array.of(10, 0, 0, 1);
const V4_DST = Uint8Array.of(192, 168, 77, 200);
const V6_SRC = Uint8Array.from([0xfd, 0, 0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
const V6_DST = Uint8Array.from([
  0x20, 0x01, 0x0d, 0xb8, 0xab, 0xcd, 0, 0, 0, 0, 0, 0, 0xfe, 0xdc, 0xba, 0x98,
]);

// ---- harness ----------------------------------------------------------------------------------

interface Arena {
  /** dst with GUARD bytes on both sides (all FILL initially). */
  readonly big: Uint8Array;
  readonly dst: Uint8Array;
  readonly cursor: Uint32Array;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
}

function arena(size: number, slots = 256): Arena {
  const big = new Uint8Array(size + 2 * GUARD).fill(FILL);
  return {
    big,
    dst: big.subarray(GUARD, GUARD + size),
    cursor: new Uint32Array(1),
    offsets: new Uint32Array(slots).fill(0xdeadbeef),
    lengths: new Uint32Array(slots).fill(0xdeadbeef),
  };
}

function same(a: Uint8Array, b: Uint8Array, from: number, to: number): boolean {
  if (to <= from) return true;
  return Buffer.from(a.buffer, a.byteOffset + from, to - from).equals(
    Buffer.from(b.buffer, b.byteOffset + from, to - from),
  );
}

interface Call {
  readonly n: number;
  readonly cursor0: number;
  /** The arena (big) before the call. */
  readonly before: Uint8Array;
  readonly offsetsBefore: Uint32Array;
  readonly lengthsBefore: Uint32Array;
}

/** Runs txSplit on `read`, placed at an odd offset inside a larger source buffer. */
function split(
  native: NativeAddon,
  read: Uint8Array,
  mtu: number,
  a: Arena,
  first = 0,
  max = a.offsets.length - first,
  srcPad = 7,
): Call {
  const src = new Uint8Array(read.length + 2 * srcPad).fill(0x5a);
  src.set(read, srcPad);
  const srcBefore = src.slice();
  const before = a.big.slice();
  const cursor0 = a.cursor[0]!;
  const offsetsBefore = a.offsets.slice();
  const lengthsBefore = a.lengths.slice();
  const n = native.txSplit(src, srcPad, read.length, mtu, a.dst, a.cursor, a.offsets, a.lengths, first, max);
  assert.ok(equalBytes(src, srcBefore), 'txSplit must not write its source');
  return { n, cursor0, before, offsetsBefore, lengthsBefore };
}

/**
 * Checks a successful call: n packets equal to `expected`, padded to paddedLength with zeros,
 * each 16-aligned where the previous one's tag room ends (the first at the aligned cursor), the
 * cursor past the last one's tag room, and not one other byte of the arena (guards included),
 * nor any other entry of offsets/lengths, changed.
 */
function checkSplit(a: Arena, call: Call, first: number, expected: readonly Uint8Array[], mtu: number): void {
  assert.equal(call.n, expected.length, 'packet count');
  let at = align16(call.cursor0);
  let unchangedFrom = 0; // in big
  for (let k = 0; k < expected.length; k++) {
    const exp = expected[k]!;
    const off = a.offsets[first + k]!;
    const len = a.lengths[first + k]!;
    assert.equal(off % 16, 0, `offset ${k} 16-aligned`);
    assert.equal(off, at, `offset ${k} follows the previous packet's tag room`);
    assert.equal(len, paddedLength(exp.length, mtu), `length ${k} = paddedLength(${exp.length}, ${mtu})`);
    assert.ok(off + 16 + len + 16 <= a.dst.length, `packet ${k} inside the arena`);
    const got = a.dst.subarray(off + 16, off + 16 + exp.length);
    const diff = firstDifference(got, exp);
    assert.equal(diff, -1, `packet ${k} of ${expected.length} (${exp.length} bytes) differs at byte ${diff}`);
    for (let i = off + 16 + exp.length; i < off + 16 + len; i++)
      assert.equal(a.dst[i], 0, `padding byte ${i}`);
    // Independent checks of the bytes themselves.
    const start = GUARD + off + 16;
    assert.ok(same(a.big, call.before, unchangedFrom, start), `bytes before packet ${k} untouched`);
    unchangedFrom = start + len;
    at = align16(off + 16 + len + 16);
  }
  assert.ok(same(a.big, call.before, unchangedFrom, a.big.length), 'bytes after the last packet untouched');
  if (expected.length > 0) {
    const last = first + expected.length - 1;
    assert.equal(a.cursor[0], a.offsets[last]! + 16 + a.lengths[last]! + 16, 'cursor past the tag room');
  }
  for (let i = 0; i < a.offsets.length; i++) {
    if (i >= first && i < first + expected.length) continue;
    assert.equal(a.offsets[i], call.offsetsBefore[i], `offsets[${i}] untouched`);
    assert.equal(a.lengths[i], call.lengthsBefore[i], `lengths[${i}] untouched`);
  }
}

/** Checks a failed call (-1 or -2): the cursor did not move, the guards and offsets/lengths outside
 * [first, first+max) are untouched, and nothing before the cursor was written. */
function checkFailed(a: Arena, call: Call, want: -1 | -2, first: number, max: number): void {
  assert.equal(call.n, want);
  assert.equal(a.cursor[0], call.cursor0, 'cursor unchanged');
  const cursorEnd = GUARD + Math.min(call.cursor0, a.dst.length);
  assert.ok(same(a.big, call.before, 0, cursorEnd), 'nothing before the cursor written');
  assert.ok(same(a.big, call.before, a.big.length - GUARD, a.big.length), 'tail guard untouched');
  for (let i = 0; i < a.offsets.length; i++) {
    if (i >= first && i < first + max) continue;
    assert.equal(a.offsets[i], call.offsetsBefore[i]);
    assert.equal(a.lengths[i], call.lengthsBefore[i]);
  }
}

/** Independent checks of the output packets themselves (independent of the references): IPv4
 * header checksum and TCP/UDP checksum verify, each with the naive RFC 1071 sum. */
function assertValidPackets(a: Arena, first: number, n: number): void {
  for (let k = 0; k < n; k++) {
    const off = a.offsets[first + k]! + 16;
    const p = a.dst.subarray(off, off + a.lengths[first + k]!);
    const len = p[0]! >> 4 === 4 ? get16(p, 2) : 40 + get16(p, 4);
    if (p[0]! >> 4 === 4) assert.ok(ipv4HeaderValid(p), `packet ${k}: IPv4 header checksum`);
    assert.ok(l4ChecksumValid(p.subarray(0, len)), `packet ${k}: L4 checksum verifies`);
  }
}

// ---- naive references -------------------------------------------------------------------------

interface TsoCase {
  readonly ip: IpSpec;
  readonly tcp: TcpSpec;
  readonly gso: number;
}

interface UsoCase {
  readonly ip: IpSpec;
  readonly udp: UdpSpec;
  readonly gso: number;
}

function l4Offset(ip: IpSpec): number {
  return ip.v6 ? 40 : 20 + (ip.options?.length ?? 0);
}

/** The TUN read of a TSO superpacket: the TCP checksum field holds the pseudo-header sum only. */
function tsoRead(c: TsoCase, gsoTypeBits = 0): Uint8Array {
  const l4off = l4Offset(c.ip);
  const vnet = vnetBytes({
    flags: F_NEEDS_CSUM,
    gsoType: (c.ip.v6 ? GSO_TCPV6 : GSO_TCPV4) | gsoTypeBits,
    hdrLen: l4off + tcpHeaderLength(c.tcp),
    gsoSize: c.gso,
    csumStart: l4off,
    csumOffset: 16,
  });
  return concat(vnet, tcpPacket(c.ip, c.tcp, 'partial'));
}

/** What tcp_gso_segment makes of it, each segment built from its fields with full checksums. */
function tsoExpected(c: TsoCase): Uint8Array[] {
  const payload = c.tcp.payload;
  const n = Math.ceil(payload.length / c.gso);
  const out: Uint8Array[] = [];
  for (let k = 0; k < n; k++) {
    let flags = c.tcp.flags;
    if (k < n - 1) flags &= ~(FIN | PSH);
    if (k > 0) flags &= ~CWR;
    out.push(
      tcpPacket(
        { ...c.ip, id: ((c.ip.id ?? 0) + k) % 65536 },
        {
          ...c.tcp,
          seq: (c.tcp.seq + k * c.gso) % 2 ** 32,
          flags,
          payload: payload.subarray(k * c.gso, Math.min((k + 1) * c.gso, payload.length)),
        },
      ),
    );
  }
  return out;
}

function usoRead(c: UsoCase): Uint8Array {
  const l4off = l4Offset(c.ip);
  const vnet = vnetBytes({
    flags: F_NEEDS_CSUM,
    gsoType: GSO_UDP_L4,
    hdrLen: l4off + 8,
    gsoSize: c.gso,
    csumStart: l4off,
    csumOffset: 6,
  });
  return concat(vnet, udpPacket(c.ip, c.udp, 'partial'));
}

/** What __udp_gso_segment makes of it: datagrams of gso bytes, IPv4 ids counting up. */
function usoExpected(c: UsoCase): Uint8Array[] {
  const payload = c.udp.payload;
  const n = Math.ceil(payload.length / c.gso);
  const out: Uint8Array[] = [];
  for (let k = 0; k < n; k++) {
    out.push(
      udpPacket(
        { ...c.ip, id: ((c.ip.id ?? 0) + k) % 65536 },
        { ...c.udp, payload: payload.subarray(k * c.gso, Math.min((k + 1) * c.gso, payload.length)) },
      ),
    );
  }
  return out;
}

/**
 * The second reference, on bytes: take the superpacket's headers (up to csum_start + the TCP data
 * offset or 8 for UDP) and each gso_size chunk of what follows; fix lengths, IPv4 id, TCP sequence
 * and flags; recompute every checksum from scratch. No validation: only for reads the native code
 * accepted (or built valid).
 */
function refSplitBytes(read: Uint8Array): Uint8Array[] {
  const h = parseVnet(read);
  const ip = read.subarray(VNET_LEN);
  const gsoType = h.gsoType & ~GSO_ECN;
  if (gsoType === GSO_NONE) {
    const p = ip.slice();
    if (h.flags & F_NEEDS_CSUM) {
      let c = checksum(p.subarray(h.csumStart)); // the field holds the pseudo-header sum already
      if (c === 0 && h.csumOffset === 6) c = 0xffff; // UDP: 0 would mean "no checksum"
      put16(p, h.csumStart + h.csumOffset, c);
    }
    return [p];
  }
  const v6 = ip[0]! >> 4 === 6;
  const udp = gsoType === GSO_UDP_L4;
  const l4off = h.csumStart;
  const l4hl = udp ? 8 : (ip[l4off + 12]! >> 4) * 4;
  const hdr = ip.subarray(0, l4off + l4hl);
  const payload = ip.subarray(l4off + l4hl);
  const seq0 = udp ? 0 : get32(ip, l4off + 4);
  const id0 = v6 ? 0 : get16(ip, 4);
  const n = Math.ceil(payload.length / h.gsoSize);
  const out: Uint8Array[] = [];
  for (let k = 0; k < n; k++) {
    const p = concat(hdr, payload.subarray(k * h.gsoSize, Math.min((k + 1) * h.gsoSize, payload.length)));
    if (v6) {
      put16(p, 4, p.length - 40);
    } else {
      put16(p, 2, p.length);
      put16(p, 4, (id0 + k) % 65536);
      put16(p, 10, 0);
      put16(p, 10, checksum(p.subarray(0, (p[0]! & 0x0f) * 4)));
    }
    const l4 = p.subarray(l4off);
    let field = 16;
    if (udp) {
      put16(l4, 4, l4.length);
      field = 6;
    } else {
      put32(l4, 4, (seq0 + k * h.gsoSize) % 2 ** 32);
      if (k < n - 1) l4[13]! &= ~(FIN | PSH);
      if (k > 0) l4[13]! &= ~CWR;
    }
    put16(l4, field, 0);
    const src = v6 ? p.subarray(8, 24) : p.subarray(12, 16);
    const dst = v6 ? p.subarray(24, 40) : p.subarray(16, 20);
    let c = checksum(concat(pseudoHeader(v6, src, dst, udp ? PROTO_UDP : PROTO_TCP, l4.length), l4));
    if (udp && c === 0) c = 0xffff;
    put16(l4, field, c);
    out.push(p);
  }
  return out;
}

function assertSameList(got: readonly Uint8Array[], want: readonly Uint8Array[], what: string): void {
  assert.equal(got.length, want.length, `${what}: count`);
  for (let k = 0; k < want.length; k++) {
    assert.equal(firstDifference(got[k]!, want[k]!), -1, `${what}: packet ${k}`);
  }
}

/** Runs one valid read through txSplit and checks it against `expected` (and the bytes reference). */
function expectSplit(
  native: NativeAddon,
  read: Uint8Array,
  mtu: number,
  expected: readonly Uint8Array[],
  valid = true,
): void {
  assertSameList(refSplitBytes(read), expected, 'the two references agree');
  const a = arena(align16(read.length * 2) + expected.length * 64 + 4096);
  const call = split(native, read, mtu, a);
  checkSplit(a, call, 0, expected, mtu);
  if (valid) assertValidPackets(a, 0, call.n);
}

function v4(extra: Partial<IpSpec> = {}): IpSpec {
  return { v6: false, src: V4_SRC, dst: V4_DST, ttl: 63, tos: 0x28, id: 0x1234, ...extra };
}

function v6(extra: Partial<IpSpec> = {}): IpSpec {
  return { v6: true, src: V6_SRC, dst: V6_DST, ttl: 57, tos: 0xb8, flow: 0xabcde, ...extra };
}

function tcp(prng: Prng, payloadLength: number, extra: Partial<TcpSpec> = {}): TcpSpec {
  return {
    sport: 43210,
    dport: 443,
    seq: prng.u32(),
    ack: prng.u32(),
    flags: ACK,
    window: 0x1f5a,
    urgent: 0,
    options: timestampOption(prng.u32(), prng.u32()),
    payload: prng.bytes(payloadLength),
    ...extra,
  };
}

/** Sets the last two payload bytes so that the UDP checksum comes out as 0 (sent as 0xffff). */
function zeroChecksumUdp(ip: IpSpec, udp: UdpSpec): UdpSpec {
  const payload = udp.payload.slice();
  put16(payload, payload.length - 2, 0);
  const probe = udpPacket(ip, { ...udp, payload }, 'zero');
  const l4 = probe.subarray(ipInfo(probe).l4off);
  const s = fold(wordSum(concat(pseudoHeader(ip.v6, ip.src, ip.dst, PROTO_UDP, l4.length), l4)));
  put16(payload, payload.length - 2, 0xffff - s); // the sum becomes 0xffff: checksum 0
  return { ...udp, payload };
}

// ---- the tests --------------------------------------------------------------------------------

describe('native txSplit', { skip }, () => {
  const native = skip === false ? loadNative() : (null as unknown as NativeAddon);

  it('splits TSO IPv4 superpackets exactly as the naive segmentation', () => {
    const prng = new Prng(0x7501);
    const mtu = 1420;
    const cases: {
      gso: number;
      payload: number;
      flags: number;
      tcp?: Partial<TcpSpec>;
      ip?: Partial<IpSpec>;
    }[] = [
      { gso: 1368, payload: 1368 * 10, flags: ACK },
      { gso: 1368, payload: 1368 * 10 + 1, flags: ACK | PSH },
      { gso: 1368, payload: 1367, flags: ACK | PSH | FIN },
      { gso: 1368, payload: 1368, flags: ACK | CWR | ECE },
      { gso: 1368, payload: 1369, flags: ACK | PSH | FIN | CWR | ECE },
      { gso: 1368, payload: 65535 - 52, flags: ACK | PSH | CWR }, // the largest IPv4 superpacket
      { gso: 1001, payload: 5 * 1001 + 3, flags: ACK | PSH | FIN | CWR },
      { gso: 537, payload: 4001, flags: ACK | URG, tcp: { urgent: 17 } },
      { gso: 1, payload: 7, flags: ACK | PSH | FIN | CWR },
      { gso: 3, payload: 31, flags: ACK },
      { gso: 1380, payload: 2761, flags: ACK | PSH, tcp: { options: new Uint8Array(0) } },
      { gso: 1368, payload: 9999, flags: ACK, tcp: { seq: 2 ** 32 - 5000 } }, // sequence wraps
      { gso: 1368, payload: 6000, flags: ACK, ip: { id: 65534 } }, // IPv4 id wraps
      { gso: 1368, payload: 7000, flags: ACK | FIN, ip: { df: false, id: 0 } },
      // IPv4 options (IHL 6): csum_start = 24.
      { gso: 1340, payload: 4321, flags: ACK | PSH, ip: { options: Uint8Array.of(1, 1, 1, 0) } },
    ];
    for (const c of cases) {
      const t: TsoCase = {
        ip: v4(c.ip ?? {}),
        tcp: tcp(prng, c.payload, { flags: c.flags, ...(c.tcp ?? {}) }),
        gso: c.gso,
      };
      const expected = tsoExpected(t);
      assert.equal(expected.length, Math.ceil(c.payload / c.gso));
      for (const p of expected) assert.ok(p.length <= mtu);
      expectSplit(native, tsoRead(t), mtu, expected);
    }
  });

  it('splits TSO IPv6 superpackets exactly as the naive segmentation', () => {
    const prng = new Prng(0x7506);
    const mtu = 1280;
    const cases: { gso: number; payload: number; flags: number; tcp?: Partial<TcpSpec> }[] = [
      { gso: 1208, payload: 1208 * 7, flags: ACK },
      { gso: 1208, payload: 1208 * 7 + 5, flags: ACK | PSH | FIN },
      { gso: 1208, payload: 100, flags: ACK | PSH | CWR },
      { gso: 1208, payload: 65535 - 32, flags: ACK | PSH | FIN | CWR | ECE }, // the largest
      { gso: 999, payload: 3 * 999 + 998, flags: ACK | CWR },
      { gso: 1, payload: 5, flags: ACK | FIN },
      { gso: 1220, payload: 3001, flags: ACK | PSH, tcp: { options: new Uint8Array(0) } },
      { gso: 1208, payload: 20000, flags: ACK, tcp: { seq: 2 ** 32 - 1 } },
    ];
    for (const c of cases) {
      const t: TsoCase = {
        ip: v6(),
        tcp: tcp(prng, c.payload, { flags: c.flags, ...(c.tcp ?? {}) }),
        gso: c.gso,
      };
      const expected = tsoExpected(t);
      for (const p of expected) assert.ok(p.length <= mtu);
      expectSplit(native, tsoRead(t), mtu, expected);
    }
  });

  it('accepts the ECN bit in gso_type', () => {
    const prng = new Prng(0x7ec7);
    for (const ip of [v4(), v6()]) {
      const t: TsoCase = { ip, tcp: tcp(prng, 5000, { flags: ACK | CWR | ECE }), gso: 1200 };
      expectSplit(native, tsoRead(t, GSO_ECN), 1420, tsoExpected(t));
    }
  });

  it('splits USO superpackets (IPv4 and IPv6) exactly as the naive segmentation', () => {
    const prng = new Prng(0x0501);
    const cases: { ip: IpSpec; gso: number; payload: number }[] = [
      { ip: v4(), gso: 1392, payload: 1392 * 4 },
      { ip: v4(), gso: 1392, payload: 1392 * 4 + 1 },
      { ip: v4(), gso: 1392, payload: 77 },
      { ip: v4({ id: 65533 }), gso: 1001, payload: 9009 },
      { ip: v4(), gso: 1392, payload: 65535 - 28 },
      { ip: v4({ options: Uint8Array.of(1, 1, 1, 0, 1, 1, 1, 0) }), gso: 1384, payload: 3000 },
      { ip: v4(), gso: 1, payload: 3 },
      { ip: v6(), gso: 1372, payload: 1372 * 3 },
      { ip: v6(), gso: 1372, payload: 1372 * 3 + 371 },
      { ip: v6(), gso: 1231, payload: 65535 - 8 },
      { ip: v6(), gso: 7, payload: 50 },
    ];
    for (const c of cases) {
      const u: UsoCase = {
        ip: c.ip,
        udp: { sport: 51820, dport: 4433, payload: prng.bytes(c.payload) },
        gso: c.gso,
      };
      const expected = usoExpected(u);
      for (const p of expected) assert.ok(p.length <= 1420);
      expectSplit(native, usoRead(u), 1420, expected);
    }
    // A segment whose UDP checksum comes out as 0 gets 0xffff (0 would mean "no checksum").
    for (const ip of [v4(), v6()]) {
      const gso = ip.v6 ? 1372 : 1392;
      const udp: UdpSpec = { sport: 4500, dport: 4500, payload: prng.bytes(gso) };
      const head = zeroChecksumUdp(ip, udp);
      const u: UsoCase = { ip, udp: { ...udp, payload: concat(head.payload, prng.bytes(gso + 100)) }, gso };
      const expected = usoExpected(u);
      assert.equal(get16(expected[0]!, l4Offset(ip) + 6), 0xffff);
      expectSplit(native, usoRead(u), 1420, expected);
    }
  });

  it('completes the checksum of a single CHECKSUM_PARTIAL packet (gso_type 0)', () => {
    const prng = new Prng(0xc5);
    for (const ip of [v4(), v6(), v4({ options: Uint8Array.of(1, 1, 1, 0) })]) {
      const l4off = l4Offset(ip);
      for (const size of [0, 1, 2, 999, 1000, 1337]) {
        const t = tcp(prng, size, { flags: ACK | PSH });
        const vnet = vnetBytes({
          flags: F_NEEDS_CSUM,
          gsoType: GSO_NONE,
          hdrLen: 0,
          gsoSize: 0,
          csumStart: l4off,
          csumOffset: 16,
        });
        expectSplit(native, concat(vnet, tcpPacket(ip, t, 'partial')), 1420, [tcpPacket(ip, t)]);
        const u: UdpSpec = { sport: 53, dport: 33333, payload: prng.bytes(size) };
        const uvnet = vnetBytes({
          flags: F_NEEDS_CSUM,
          gsoType: GSO_NONE,
          hdrLen: 0,
          gsoSize: 0,
          csumStart: l4off,
          csumOffset: 6,
        });
        expectSplit(native, concat(uvnet, udpPacket(ip, u, 'partial')), 1420, [udpPacket(ip, u)]);
        // A SYN (no payload, options) as well.
        const syn = tcp(prng, 0, { flags: 0x02, ack: 0 });
        expectSplit(native, concat(vnet, tcpPacket(ip, syn, 'partial')), 1420, [tcpPacket(ip, syn)]);
      }
      // A UDP checksum that comes out as 0 is sent as 0xffff.
      const z = zeroChecksumUdp(ip, { sport: 1000, dport: 2000, payload: prng.bytes(64) });
      const full = udpPacket(ip, z);
      assert.equal(get16(full, l4off + 6), 0xffff);
      const uvnet = vnetBytes({
        flags: F_NEEDS_CSUM,
        gsoType: 0,
        hdrLen: 0,
        gsoSize: 0,
        csumStart: l4off,
        csumOffset: 6,
      });
      expectSplit(native, concat(uvnet, udpPacket(ip, z, 'partial')), 1420, [full]);
    }
  });

  it('copies a packet without NEEDS_CSUM as is (gso_type 0)', () => {
    const prng = new Prng(0xc0);
    const packets = [
      icmpPacket(v4(), prng.bytes(56)),
      icmpPacket(v6(), prng.bytes(100)),
      tcpPacket(v4(), tcp(prng, 300), 'bad'), // a bad checksum stays bad: not ours to fix
      udpPacket(v6(), { sport: 1, dport: 2, payload: prng.bytes(33) }, 'zero'),
      rawIpPacket(v4(), 47, prng.bytes(777)), // GRE
      rawIpPacket(v4(), PROTO_TCP, prng.bytes(5)), // even a truncated TCP header
      rawIpPacket(v6(), 59, new Uint8Array(0)), // no next header: exactly 40 bytes
      concat(rawIpPacket(v4(), PROTO_UDP, new Uint8Array(0))), // exactly 20 bytes
    ];
    for (const p of packets) {
      expectSplit(native, concat(vnetBytes(VNET_NONE), p), 1420, [p], false);
      // Stray fields besides flags and gso_type are ignored.
      const noisy = vnetBytes({
        flags: 0,
        gsoType: 0,
        hdrLen: 1234,
        gsoSize: 99,
        csumStart: 7,
        csumOffset: 9,
      });
      expectSplit(native, concat(noisy, p), 1420, [p], false);
    }
  });

  it('pads to paddedLength for any MTU', () => {
    const prng = new Prng(0x9ad);
    for (const mtu of [0, 576, 1280, 1420, 1500, 9000, 65535]) {
      for (const size of [0, 1, 15, 16, 17, 1000, 1379, 1380, 1381]) {
        const p = udpPacket(v4(), { sport: 9, dport: 9, payload: prng.bytes(size) });
        expectSplit(native, concat(vnetBytes(VNET_NONE), p), mtu, [p]);
      }
      // A superpacket whose segments are exactly the MTU (when it allows): no padding on them.
      if (mtu >= 1280 && mtu <= 9000) {
        const t: TsoCase = { ip: v4(), tcp: tcp(prng, 20000), gso: mtu - 52 };
        const expected = tsoExpected(t);
        assert.equal(expected[0]!.length, mtu);
        expectSplit(native, tsoRead(t), mtu, expected);
      }
    }
  });

  it('appends after earlier packets: first > 0, unaligned cursor', () => {
    const prng = new Prng(0xf1);
    const a = arena(1 << 18, 64);
    a.cursor[0] = 5;
    const t1: TsoCase = { ip: v4(), tcp: tcp(prng, 4000, { flags: ACK | PSH }), gso: 1368 };
    const e1 = tsoExpected(t1);
    const c1 = split(native, tsoRead(t1), 1420, a, 3, 10);
    checkSplit(a, c1, 3, e1, 1420);
    const single = udpPacket(v6(), { sport: 7, dport: 8, payload: prng.bytes(21) });
    const c2 = split(native, concat(vnetBytes(VNET_NONE), single), 1420, a, 3 + c1.n, 1);
    checkSplit(a, c2, 3 + c1.n, [single], 1420);
    const u: UsoCase = { ip: v6(), udp: { sport: 1, dport: 2, payload: prng.bytes(3000) }, gso: 1372 };
    const c3 = split(native, usoRead(u), 1420, a, 3 + c1.n + 1, 3);
    checkSplit(a, c3, 3 + c1.n + 1, usoExpected(u), 1420);
    a.cursor[0] = 4000; // an aligned cursor is used as is
    const c4 = split(native, tsoRead(t1), 1420, a, 30, 4);
    assert.equal(a.offsets[30], 4000);
    checkSplit(a, c4, 30, e1, 1420);
  });

  it('returns -1 for malformed reads, moving nothing', () => {
    const prng = new Prng(0xbad);
    const t4: TsoCase = { ip: v4(), tcp: tcp(prng, 3000), gso: 1368 };
    const t6: TsoCase = { ip: v6(), tcp: tcp(prng, 3000), gso: 1208 };
    const u4: UsoCase = { ip: v4(), udp: { sport: 1, dport: 2, payload: prng.bytes(3000) }, gso: 1392 };
    const r4 = tsoRead(t4);
    const r6 = tsoRead(t6);
    const ru = usoRead(u4);
    const withVnet = (
      read: Uint8Array,
      changes: Partial<Record<keyof ReturnType<typeof parseVnet>, number>>,
    ) => concat(vnetBytes({ ...parseVnet(read), ...changes }), read.subarray(VNET_LEN));
    const poke = (read: Uint8Array, at: number, value: number): Uint8Array => {
      const out = read.slice();
      out[VNET_LEN + at] = value;
      return out;
    };
    const partialTcp = (ip: IpSpec, csumStart: number, csumOffset: number) =>
      concat(
        vnetBytes({ flags: F_NEEDS_CSUM, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart, csumOffset }),
        tcpPacket(ip, tcp(prng, 10), 'partial'),
      );
    const bad: [string, Uint8Array][] = [
      ['empty', new Uint8Array(0)],
      ['vnet header only', r4.subarray(0, VNET_LEN)],
      ['truncated IPv4 header', r4.subarray(0, VNET_LEN + 19)],
      ['truncated IPv6 header', r6.subarray(0, VNET_LEN + 39)],
      [
        'IPv6, no NEEDS_CSUM, truncated header',
        concat(vnetBytes(VNET_NONE), r6.subarray(VNET_LEN, VNET_LEN + 30)),
      ],
      ['TSO4: truncated TCP header', r4.subarray(0, VNET_LEN + 20 + 19)],
      ['TSO4: TCP options cut', r4.subarray(0, VNET_LEN + 20 + 25)],
      ['TSO4: headers only, no payload', r4.subarray(0, VNET_LEN + 52)],
      ['TSO6: truncated TCP header', r6.subarray(0, VNET_LEN + 40 + 10)],
      ['TSO6: headers only', r6.subarray(0, VNET_LEN + 72)],
      ['USO: truncated UDP header', ru.subarray(0, VNET_LEN + 20 + 7)],
      ['USO: header only', ru.subarray(0, VNET_LEN + 28)],
      ['TSO4: data offset 4', poke(r4, 20 + 12, 0x40)],
      ['TSO4: data offset 0', poke(r4, 20 + 12, 0x00)],
      ['TSO4: data offset 15 beyond a short packet', poke(r4.subarray(0, VNET_LEN + 20 + 50), 20 + 12, 0xf0)],
      ['gso_type TCPV4 on IPv6', withVnet(r6, { gsoType: GSO_TCPV4 })],
      ['gso_type TCPV6 on IPv4', withVnet(r4, { gsoType: GSO_TCPV6 })],
      ['gso_type TCPV4 on UDP', withVnet(ru, { gsoType: GSO_TCPV4 })],
      ['gso_type UDP_L4 on TCP', withVnet(r4, { gsoType: GSO_UDP_L4, csumOffset: 6 })],
      ['gso_type 3 (UFO)', withVnet(ru, { gsoType: 3 })],
      ['gso_type 2', withVnet(r4, { gsoType: 2 })],
      ['gso_type 6', withVnet(r4, { gsoType: 6 })],
      ['gso_type 0x7f', withVnet(r4, { gsoType: 0x7f })],
      ['TSO4: protocol UDP', poke(r4, 9, PROTO_UDP)],
      ['TSO6: next header 0 (hop-by-hop)', poke(r6, 6, 0)],
      ['TSO4: gso_size 0', withVnet(r4, { gsoSize: 0 })],
      ['TSO6: gso_size 0', withVnet(r6, { gsoSize: 0 })],
      ['USO: gso_size 0', withVnet(ru, { gsoSize: 0 })],
      ['TSO4: csum_start 0', withVnet(r4, { csumStart: 0 })],
      ['TSO4: csum_start 19', withVnet(r4, { csumStart: 19 })],
      ['TSO4: csum_start 21', withVnet(r4, { csumStart: 21 })],
      ['TSO4: csum_start 40', withVnet(r4, { csumStart: 40 })],
      ['TSO4: csum_start past the end', withVnet(r4, { csumStart: r4.length })],
      ['TSO4: csum_start 0xffff', withVnet(r4, { csumStart: 0xffff })],
      ['TSO6: csum_start 20', withVnet(r6, { csumStart: 20 })],
      ['TSO6: csum_start 60', withVnet(r6, { csumStart: 60 })],
      ['USO: csum_start 28', withVnet(ru, { csumStart: 28 })],
      ['TSO4: IHL 4', poke(withVnet(r4, { csumStart: 16 }), 0, 0x44)],
      ['TSO4: IHL 0', poke(withVnet(r4, { csumStart: 0 }), 0, 0x40)],
      ['TSO4: IHL 15 past a short packet', poke(r4.subarray(0, VNET_LEN + 50), 0, 0x4f)],
      ['version 5', poke(r4, 0, 0x55)],
      ['version 0', poke(r4, 0, 0x05)],
      ['version 15, no GSO', poke(partialTcp(v4(), 20, 16), 0, 0xf5)],
      ['version 6 on an IPv4 TSO read', poke(r4, 0, 0x65)],
      ['NEEDS_CSUM: csum_start at the end', partialTcp(v4(), 20 + 20 + 12 + 10, 0)],
      ['NEEDS_CSUM: csum_start past the end', partialTcp(v4(), 5000, 16)],
      ['NEEDS_CSUM: field past the end', partialTcp(v4(), 20, 61)],
      ['NEEDS_CSUM: field straddles the end', partialTcp(v4(), 20, 41)],
      ['NEEDS_CSUM: csum_offset 0xffff', partialTcp(v6(), 40, 0xffff)],
      ['NEEDS_CSUM: csum_start 0xffff', partialTcp(v6(), 0xffff, 0)],
    ];
    for (const [what, read] of bad) {
      for (const cursor of [0, 37]) {
        const a = arena(1 << 17, 16);
        a.cursor[0] = cursor;
        const call = split(native, read, 1420, a, 2, 12);
        assert.equal(call.n, -1, what);
        checkFailed(a, call, -1, 2, 12);
      }
    }
    // The boundary that still works: a field ending exactly at the last byte.
    const ok = partialTcp(v4(), 20, 40);
    const a = arena(4096);
    assert.equal(split(native, ok, 1420, a).n, 1);
  });

  it('returns -2 when the arena or the arrays have no room, keeping the cursor for a retry', () => {
    const prng = new Prng(0x22);
    const t: TsoCase = { ip: v4(), tcp: tcp(prng, 1368 * 4 + 100, { flags: ACK | PSH }), gso: 1368 };
    const read = tsoRead(t);
    const expected = tsoExpected(t); // 5 packets
    const need = (cursor: number): number => {
      let at = align16(cursor);
      let end = 0;
      for (const p of expected) {
        end = at + 16 + paddedLength(p.length, 1420) + 16;
        at = align16(end);
      }
      return end;
    };
    // Too few slots.
    for (const max of [0, 1, 4]) {
      const a = arena(1 << 16, 8);
      a.cursor[0] = 3;
      const call = split(native, read, 1420, a, 1, max);
      checkFailed(a, call, -2, 1, max);
    }
    // Exactly enough slots.
    {
      const a = arena(1 << 16, 8);
      checkSplit(a, split(native, read, 1420, a, 3, 5), 3, expected, 1420);
    }
    // Too few bytes: one short of the exact need fails (at every cursor), the exact need fits.
    for (const cursor of [0, 1, 16, 100]) {
      const size = need(cursor);
      for (const short of [size - 1, size - 17, size - 1400, 100, 0]) {
        const a = arena(Math.max(short, 0), 8);
        a.cursor[0] = cursor;
        const call = split(native, read, 1420, a);
        checkFailed(a, call, -2, 0, 8);
        // The caller flushes (cursor 0) or grows the arena, and calls again.
      }
      const a = arena(size, 8);
      a.cursor[0] = cursor;
      checkSplit(a, split(native, read, 1420, a), 0, expected, 1420);
    }
    // A cursor past the end.
    {
      const a = arena(1 << 16, 8);
      a.cursor[0] = 1 << 20;
      checkFailed(a, split(native, read, 1420, a), -2, 0, 8);
      a.cursor[0] = 0xffffffff;
      checkFailed(a, split(native, read, 1420, a), -2, 0, 8);
    }
    // A single packet: the same rules.
    const p = udpPacket(v6(), { sport: 1, dport: 2, payload: prng.bytes(1000) });
    const single = concat(vnetBytes(VNET_NONE), p);
    const room = 16 + paddedLength(p.length, 1420) + 16;
    {
      const a = arena(room - 1, 4);
      checkFailed(a, split(native, single, 1420, a), -2, 0, 4);
      const b = arena(room, 4);
      checkFailed(b, split(native, single, 1420, b, 0, 0), -2, 0, 0);
      checkSplit(b, split(native, single, 1420, b), 0, [p], 1420);
      // ... and the next one no longer fits in the now-full arena.
      checkFailed(b, split(native, single, 1420, b, 1, 3), -2, 1, 3);
    }
  });

  it('rejects bad arguments with RangeError / TypeError', () => {
    const a = arena(4096, 4);
    const src = new Uint8Array(100);
    assert.throws(
      () => native.txSplit(src, 50, 51, 1420, a.dst, a.cursor, a.offsets, a.lengths, 0, 4),
      RangeError,
    );
    assert.throws(
      () => native.txSplit(src, 101, 0, 1420, a.dst, a.cursor, a.offsets, a.lengths, 0, 4),
      RangeError,
    );
    assert.throws(
      () => native.txSplit(src, 0, 100, 1420, a.dst, a.cursor, a.offsets, a.lengths, 1, 4),
      RangeError,
    );
    assert.throws(
      () => native.txSplit(src, 0, 100, 1420, a.dst, a.cursor, a.offsets, new Uint32Array(2), 0, 3),
      RangeError,
    );
    assert.throws(
      () => native.txSplit(src, 0, 100, 1420, a.dst, new Uint32Array(0), a.offsets, a.lengths, 0, 4),
      RangeError,
    );
    assert.throws(
      () =>
        native.txSplit(
          src,
          0,
          100,
          1420,
          a.dst,
          new Int32Array(1) as unknown as Uint32Array,
          a.offsets,
          a.lengths,
          0,
          4,
        ),
      TypeError,
    );
    assert.throws(
      () =>
        native.txSplit(
          src,
          0,
          100,
          1420,
          new Uint16Array(8) as unknown as Uint8Array,
          a.cursor,
          a.offsets,
          a.lengths,
          0,
          4,
        ),
      TypeError,
    );
    assert.throws(
      () =>
        native.txSplit(src, 'x' as unknown as number, 100, 1420, a.dst, a.cursor, a.offsets, a.lengths, 0, 4),
      TypeError,
    );
  });

  it('survives random mutations: -1, -2 or a count that matches the bytes reference', () => {
    const prng = new Prng(0xf022);
    const ARENA = 1 << 17;
    const SLOTS = 128;
    const bases: (() => Uint8Array)[] = [
      () =>
        tsoRead({
          ip: v4(),
          tcp: tcp(prng, prng.between(1, 6000), { flags: prng.u32() & 0xff }),
          gso: prng.between(1, 1400),
        }),
      () =>
        tsoRead({
          ip: v6(),
          tcp: tcp(prng, prng.between(1, 6000), { flags: prng.u32() & 0xff }),
          gso: prng.between(1, 1400),
        }),
      () =>
        tsoRead({
          ip: v4({ options: prng.bytes(4 * prng.between(1, 10)) }),
          tcp: tcp(prng, prng.between(1, 3000)),
          gso: prng.between(100, 1400),
        }),
      () =>
        usoRead({
          ip: v4(),
          udp: { sport: 1, dport: 2, payload: prng.bytes(prng.between(1, 6000)) },
          gso: prng.between(1, 1400),
        }),
      () =>
        usoRead({
          ip: v6(),
          udp: { sport: 1, dport: 2, payload: prng.bytes(prng.between(1, 6000)) },
          gso: prng.between(1, 1400),
        }),
      () =>
        concat(
          vnetBytes({
            flags: F_NEEDS_CSUM,
            gsoType: 0,
            hdrLen: 0,
            gsoSize: 0,
            csumStart: 20,
            csumOffset: 16,
          }),
          tcpPacket(v4(), tcp(prng, prng.between(0, 2000)), 'partial'),
        ),
      () =>
        concat(
          vnetBytes({ flags: F_NEEDS_CSUM, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 40, csumOffset: 6 }),
          udpPacket(v6(), { sport: 5, dport: 6, payload: prng.bytes(prng.between(0, 2000)) }, 'partial'),
        ),
      () => concat(vnetBytes(VNET_NONE), icmpPacket(v4(), prng.bytes(prng.between(0, 1500)))),
      () => prng.bytes(prng.between(0, 200)),
    ];
    const mutate = (read: Uint8Array): Uint8Array => {
      let r: Uint8Array = read.slice();
      const steps = prng.between(1, 3);
      for (let s = 0; s < steps; s++) {
        const op = prng.below(10);
        if (r.length === 0) break;
        if (op === 0) {
          for (let i = prng.between(1, 4); i > 0; i--) r[prng.below(r.length)]! ^= 1 << prng.below(8);
        } else if (op === 1) {
          const span = Math.min(r.length, VNET_LEN + 80);
          for (let i = prng.between(1, 3); i > 0; i--) r[prng.below(span)] = prng.u32() & 0xff;
        } else if (op === 2 && r.length >= VNET_LEN) {
          const h = parseVnet(r);
          const field = prng.below(5);
          const v = prng.chance(0.5) ? prng.below(100) : prng.below(65536);
          const next = {
            ...h,
            ...(field === 0 ? { csumStart: v } : {}),
            ...(field === 1 ? { gsoSize: prng.chance(0.3) ? 0 : v } : {}),
            ...(field === 2 ? { gsoType: prng.pick([0, 1, 2, 3, 4, 5, 6, 0x81, 0x84, 0x85, 0xff]) } : {}),
            ...(field === 3 ? { flags: prng.below(4) } : {}),
            ...(field === 4 ? { csumOffset: prng.pick([0, 6, 16, 17, v]) } : {}),
          };
          r.set(vnetBytes(next), 0);
        } else if (op === 3) {
          r = r.subarray(0, prng.below(r.length)).slice();
        } else if (op === 4) {
          r = concat(r, prng.bytes(prng.between(1, 64)));
        } else if (op === 5 && r.length > VNET_LEN) {
          r[VNET_LEN] = prng.u32() & 0xff; // version / IHL
        } else if (op === 6 && r.length > VNET_LEN + 60) {
          const l4 = parseVnet(r).csumStart;
          if (VNET_LEN + l4 + 12 < r.length) r[VNET_LEN + l4 + 12] = prng.u32() & 0xf0; // data offset
        } else if (op === 7 && r.length > VNET_LEN + 9) {
          r[VNET_LEN + (r[VNET_LEN]! >> 4 === 6 ? 6 : 9)] = prng.pick([6, 17, 0, 1, 58, prng.u32() & 0xff]);
        } else if (op === 8 && r.length > VNET_LEN + 2) {
          const h = parseVnet(r);
          r.set(
            vnetBytes({
              ...h,
              csumStart: prng.pick([
                h.csumStart + 4,
                Math.max(0, h.csumStart - 4),
                r.length - VNET_LEN,
                r.length - VNET_LEN - 1,
              ]),
            }),
            0,
          );
        }
        // op 9: none (the valid input itself, at a random cursor/max)
      }
      return r;
    };
    let accepted = 0;
    let malformed = 0;
    let full = 0;
    for (let iter = 0; iter < 2500; iter++) {
      const read = mutate(prng.pick(bases)());
      const mtu = prng.pick([0, 1280, 1420]);
      const a = arena(prng.chance(0.1) ? prng.below(20000) : ARENA, SLOTS);
      a.cursor[0] = prng.chance(0.8) ? prng.below(64) : prng.below(ARENA);
      const first = prng.below(4);
      const max = prng.between(0, SLOTS - first);
      const call = split(native, read, mtu, a, first, max, prng.below(9));
      assert.ok(
        Number.isInteger(call.n) && call.n >= -2 && call.n <= max,
        `iteration ${iter}: result ${call.n}`,
      );
      if (call.n < 0) {
        checkFailed(a, call, call.n as -1 | -2, first, max);
        if (call.n === -1) malformed++;
        else full++;
        continue;
      }
      assert.notEqual(call.n, 0, `iteration ${iter}: 0 packets`);
      accepted++;
      checkSplit(a, call, first, refSplitBytes(read), mtu);
    }
    // The mix exercised all three outcomes.
    assert.ok(accepted > 200 && malformed > 200 && full > 20, `${accepted}/${malformed}/${full}`);
  });
});
