/**
 * native tunWriteCoalesced (native/offload.c) against a naive TypeScript GRO: the packets go to a
 * regular temporary file instead of a TUN, and the file is parsed back as the sequence of
 * [10-byte virtio_net_hdr][IP packet, as long as its own header says]. Runs of consecutive TCP
 * segments of one flow (contiguous sequence numbers; same addresses, ports, ack, window, options,
 * TTL/TOS/DF or traffic class/flow label/hop limit; only ACK, with PSH allowed on the last one,
 * which ends the run; equal payload sizes but for a smaller last; valid checksums; plain IPv4 or
 * IPv6; at most 64 segments and 65535 bytes) must come out as one TSO superpacket with
 * CHECKSUM_PARTIAL; re-segmenting it naively must give back the original segments. Everything
 * else is written alone behind an all-zero vnet header, byte for byte.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadNative } from '../../src/io/native.js';
import type { NativeAddon } from '../../src/io/native.js';
import { Prng } from '../helpers/fuzz.js';
import {
  ACK,
  CWR,
  ECE,
  FIN,
  F_NEEDS_CSUM,
  GSO_TCPV4,
  GSO_TCPV6,
  PROTO_TCP,
  PSH,
  RST,
  SYN,
  URG,
  VNET_LEN,
  VNET_NONE,
  checksum,
  concat,
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
  statedLength,
  tcpPacket,
  timestampOption,
  udpPacket,
  vnetBytes,
  wordSum,
} from './offload-packets.js';
import type { CsumMode, IpSpec, TcpSpec } from './offload-packets.js';

const skip = process.platform === 'linux' ? false : 'Linux only';

// ---- writing to a file and reading it back ------------------------------------------------------

interface FileRecord {
  readonly vnet: Uint8Array;
  readonly packet: Uint8Array;
}

let dir = '';
let fileNo = 0;

/** Lays the packets out in one buffer (each with at least 10 bytes in front), writes them with
 * tunWriteCoalesced into a fresh file, and returns the file's records and the status. */
function writeCoalesced(
  native: NativeAddon,
  packets: readonly Uint8Array[],
  prng: Prng,
  tight = false,
): { records: FileRecord[]; status: Int32Array } {
  const offsets = new Uint32Array(packets.length + 3).fill(0xdeadbeef);
  const lengths = new Uint32Array(packets.length + 3).fill(0xdeadbeef);
  let at = 0;
  for (let i = 0; i < packets.length; i++) {
    at += tight ? VNET_LEN : VNET_LEN + prng.below(40);
    offsets[i] = at;
    lengths[i] = packets[i]!.length;
    at += packets[i]!.length;
  }
  const buffer = new Uint8Array(at + (tight ? 0 : prng.below(30))).fill(0xee);
  for (let i = 0; i < packets.length; i++) buffer.set(packets[i]!, offsets[i]!);
  const status = Int32Array.of(-7, -7, -7, 99);
  const path = join(dir, `out-${fileNo++}`);
  const fd = openSync(path, 'w+');
  try {
    native.tunWriteCoalesced(fd, buffer, offsets, lengths, packets.length, status);
  } finally {
    closeSync(fd);
  }
  assert.equal(status[3], 99, 'status[3] untouched');
  return { records: parseRecords(new Uint8Array(readFileSync(path))), status };
}

function parseRecords(file: Uint8Array): FileRecord[] {
  const out: FileRecord[] = [];
  let at = 0;
  while (at < file.length) {
    assert.ok(at + VNET_LEN + 20 <= file.length, `record at ${at}: truncated`);
    const len = statedLength(file, at + VNET_LEN);
    assert.ok(at + VNET_LEN + len <= file.length, `record at ${at}: IP length ${len} past the end`);
    out.push({
      vnet: file.subarray(at, at + VNET_LEN),
      packet: file.subarray(at + VNET_LEN, at + VNET_LEN + len),
    });
    at += VNET_LEN + len;
  }
  return out;
}

// ---- the naive reference ------------------------------------------------------------------------

interface Seg {
  readonly p: Uint8Array;
  readonly v6: boolean;
  readonly l4off: number;
  readonly thl: number;
  readonly payload: Uint8Array;
  readonly seq: number;
  readonly flags: number;
}

/** A TCP segment that may be coalesced, parsed; null for anything else. */
function candidate(p: Uint8Array): Seg | null {
  if (p.length < 20) return null;
  const version = p[0]! >> 4;
  let l4off: number;
  if (version === 4) {
    if ((p[0]! & 0x0f) !== 5) return null; // IPv4 options
    if (p[9] !== PROTO_TCP || get16(p, 2) !== p.length) return null;
    const frag = get16(p, 6);
    if ((frag & 0x2000) !== 0 || (frag & 0x1fff) !== 0) return null; // MF, or a fragment offset
    if (checksum(p.subarray(0, 20)) !== 0) return null; // a bad IPv4 header checksum
    l4off = 20;
  } else if (version === 6) {
    if (p.length < 40 || p[6] !== PROTO_TCP || 40 + get16(p, 4) !== p.length) return null; // ext headers
    l4off = 40;
  } else {
    return null;
  }
  if (p.length < l4off + 20) return null;
  const thl = (p[l4off + 12]! >> 4) * 4;
  if (thl < 20 || l4off + thl >= p.length) return null; // and a payload
  const flags = p[l4off + 13]!;
  if (flags !== ACK && flags !== (ACK | PSH)) return null;
  if (!l4ChecksumValid(p)) return null;
  return {
    p,
    v6: version === 6,
    l4off,
    thl,
    payload: p.subarray(l4off + thl),
    seq: get32(p, l4off + 4),
    flags,
  };
}

function sameBytes(x: Uint8Array, y: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Whether b belongs to a's flow with identical headers (what may differ: length, IPv4 id and
 * checksum, sequence number, PSH, TCP checksum). */
function sameFlow(a: Seg, b: Seg): boolean {
  if (a.v6 !== b.v6 || a.thl !== b.thl) return false;
  const x = a.p;
  const y = b.p;
  if (a.v6) {
    if (!sameBytes(x, y, 0, 4) || x[7] !== y[7] || !sameBytes(x, y, 8, 40)) return false;
  } else {
    if (x[1] !== y[1] || x[8] !== y[8] || (x[6]! & 0x40) !== (y[6]! & 0x40) || !sameBytes(x, y, 12, 20))
      return false;
  }
  const tx = x.subarray(a.l4off);
  const ty = y.subarray(b.l4off);
  return (
    sameBytes(tx, ty, 0, 4) && // ports
    sameBytes(tx, ty, 8, 12) && // ack
    tx[12] === ty[12] && // data offset
    sameBytes(tx, ty, 14, 16) && // window
    sameBytes(tx, ty, 20, a.thl) // options
  );
}

interface Expected {
  readonly vnet: Uint8Array;
  readonly packet: Uint8Array;
  /** For a superpacket: the segments it stands for. */
  readonly run: readonly Seg[] | null;
}

/** The superpacket of a run: the head's headers with the total length, the last one's PSH, the
 * IPv4 header checksum and the TCP pseudo-header sum; then every payload in order. */
function superpacket(run: readonly Seg[]): Uint8Array {
  const h = run[0]!;
  const p = concat(h.p.subarray(0, h.l4off + h.thl), ...run.map((s) => s.payload));
  if (h.v6) {
    put16(p, 4, p.length - 40);
  } else {
    put16(p, 2, p.length);
    put16(p, 10, 0);
    put16(p, 10, checksum(p.subarray(0, 20)));
  }
  if (run[run.length - 1]!.flags & PSH) p[h.l4off + 13]! |= PSH;
  const info = ipInfo(p);
  put16(
    p,
    h.l4off + 16,
    fold(wordSum(pseudoHeader(h.v6, info.src, info.dst, PROTO_TCP, p.length - h.l4off))),
  );
  return p;
}

function refCoalesce(packets: readonly Uint8Array[]): Expected[] {
  const out: Expected[] = [];
  const alone = (p: Uint8Array): void => {
    out.push({ vnet: new Uint8Array(VNET_LEN), packet: p, run: null });
  };
  let i = 0;
  while (i < packets.length) {
    const h = candidate(packets[i]!);
    if (h === null || h.flags & PSH) {
      alone(packets[i]!);
      i++;
      continue;
    }
    const run: Seg[] = [h];
    let total = h.p.length;
    let j = i + 1;
    for (; j < packets.length && run.length < 64; j++) {
      const s = candidate(packets[j]!);
      if (s === null) break;
      const last = run[run.length - 1]!;
      if (last.payload.length !== h.payload.length) break; // a smaller segment ended the run
      if (s.payload.length > h.payload.length) break;
      if (!sameFlow(h, s) || s.seq !== (last.seq + last.payload.length) % 2 ** 32) break;
      if (total + s.payload.length > 65535) break;
      run.push(s);
      total += s.payload.length;
      if (s.flags & PSH) {
        j++;
        break;
      }
    }
    if (run.length === 1) {
      alone(h.p);
    } else {
      const vnet = vnetBytes({
        flags: F_NEEDS_CSUM,
        gsoType: h.v6 ? GSO_TCPV6 : GSO_TCPV4,
        hdrLen: h.l4off + h.thl,
        gsoSize: h.payload.length,
        csumStart: h.l4off,
        csumOffset: 16,
      });
      out.push({ vnet, packet: superpacket(run), run });
    }
    i = j;
  }
  return out;
}

/** Naively re-segments a written superpacket (as the kernel's TSO would) into full segments. */
function resegment(vnetRaw: Uint8Array, sp: Uint8Array): Uint8Array[] {
  const v = parseVnet(vnetRaw);
  const l4off = v.csumStart;
  const hdr = sp.subarray(0, v.hdrLen);
  const payload = sp.subarray(v.hdrLen);
  const seq0 = get32(sp, l4off + 4);
  const n = Math.ceil(payload.length / v.gsoSize);
  const out: Uint8Array[] = [];
  for (let k = 0; k < n; k++) {
    const p = concat(hdr, payload.subarray(k * v.gsoSize, Math.min((k + 1) * v.gsoSize, payload.length)));
    if (sp[0]! >> 4 === 6) put16(p, 4, p.length - 40);
    else put16(p, 2, p.length);
    put32(p, l4off + 4, (seq0 + k * v.gsoSize) % 2 ** 32);
    if (k < n - 1) p[l4off + 13]! &= ~(FIN | PSH);
    const info = ipInfo(p);
    put16(p, l4off + 16, 0);
    const pseudo = pseudoHeader(info.v6, info.src, info.dst, PROTO_TCP, p.length - l4off);
    put16(p, l4off + 16, checksum(concat(pseudo, p.subarray(l4off))));
    out.push(p);
  }
  return out;
}

/** Compares the file's records with the reference, and checks each superpacket in depth. */
function check(records: readonly FileRecord[], expected: readonly Expected[], what: string): void {
  assert.equal(records.length, expected.length, `${what}: record count`);
  for (let r = 0; r < expected.length; r++) {
    const got = records[r]!;
    const exp = expected[r]!;
    assert.equal(firstDifference(got.vnet, exp.vnet), -1, `${what}: record ${r} vnet header`);
    const diff = firstDifference(got.packet, exp.packet);
    assert.equal(
      diff,
      -1,
      `${what}: record ${r} (${exp.run?.length ?? 1} segment(s)) differs at byte ${diff}`,
    );
    if (exp.run === null) continue;
    // The superpacket on its own terms: IPv4 header valid, checksum field = pseudo-header sum
    // (completing it over the segment gives a valid checksum), and it re-segments into the run.
    const sp = got.packet;
    const l4off = parseVnet(got.vnet).csumStart;
    if (sp[0]! >> 4 === 4) assert.ok(ipv4HeaderValid(sp), `${what}: record ${r} IPv4 header`);
    const completed = sp.slice();
    put16(completed, l4off + 16, checksum(completed.subarray(l4off)));
    assert.ok(l4ChecksumValid(completed), `${what}: record ${r}: partial checksum completes to a valid one`);
    const segs = resegment(got.vnet, sp);
    assert.equal(segs.length, exp.run.length, `${what}: record ${r} re-segments into the run`);
    for (let k = 0; k < segs.length; k++) {
      const orig: Seg = exp.run[k]!;
      const seg = segs[k]!;
      assert.equal(get32(seg, l4off + 4), orig.seq, `${what}: record ${r} segment ${k} seq`);
      assert.equal(
        firstDifference(seg.subarray(l4off + orig.thl), orig.payload),
        -1,
        `${what}: record ${r} segment ${k} payload`,
      );
      // The whole TCP part, checksum included, is the original's.
      assert.equal(
        firstDifference(seg.subarray(l4off), orig.p.subarray(orig.l4off)),
        -1,
        `segment ${k} TCP bytes`,
      );
    }
  }
}

// ---- flows ----------------------------------------------------------------------------------------

interface Flow {
  ip: IpSpec;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  window: number;
  options: Uint8Array;
  mss: number;
  id: number;
}

function flow(prng: Prng, v6: boolean, mss: number, extra: Partial<Flow> = {}): Flow {
  const src = v6
    ? Uint8Array.from([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, prng.below(256)])
    : Uint8Array.of(10, 9, 0, prng.below(256));
  const dst = v6
    ? Uint8Array.from([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe])
    : Uint8Array.of(10, 9, 0, 254);
  return {
    ip: v6 ? { v6, src, dst, ttl: 64, tos: 0, flow: prng.below(1 << 20) } : { v6, src, dst, ttl: 64, tos: 0 },
    sport: 1024 + prng.below(60000),
    dport: prng.pick([22, 80, 443, 5201]),
    seq: prng.u32(),
    ack: prng.u32(),
    window: 500 + prng.below(60000),
    options: timestampOption(prng.u32(), prng.u32()),
    mss,
    id: prng.below(65536),
    ...extra,
  };
}

/** The flow's next segment (advancing its sequence number). */
function segment(
  prng: Prng,
  f: Flow,
  size = f.mss,
  flags = ACK,
  mode: CsumMode = 'full',
  tcpExtra: Partial<TcpSpec> = {},
  ipExtra: Partial<IpSpec> = {},
): Uint8Array {
  const spec: TcpSpec = {
    sport: f.sport,
    dport: f.dport,
    seq: f.seq,
    ack: f.ack,
    flags,
    window: f.window,
    options: f.options,
    payload: prng.bytes(size),
    ...tcpExtra,
  };
  f.seq = (f.seq + size) % 2 ** 32;
  return tcpPacket({ ...f.ip, id: f.id++ % 65536, ...ipExtra }, spec, mode);
}

// ---- the tests --------------------------------------------------------------------------------

describe('native tunWriteCoalesced', { skip }, () => {
  const native = skip === false ? loadNative() : (null as unknown as NativeAddon);
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'wgts-coalesce-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** Writes, checks against the reference, and checks the status. */
  function roundTrip(packets: readonly Uint8Array[], prng: Prng, what: string, tight = false): Expected[] {
    const copies = packets.map((p) => p.slice()); // the native call rewrites run heads in place
    const expected = refCoalesce(copies);
    const { records, status } = writeCoalesced(native, packets, prng, tight);
    check(records, expected, what);
    assert.deepEqual([...status.subarray(0, 3)], [packets.length, 0, 0], `${what}: status`);
    return expected;
  }

  function shape(expected: readonly Expected[]): number[] {
    return expected.map((e) => (e.run === null ? 1 : e.run.length));
  }

  it('coalesces one IPv4 flow into a superpacket (and a short PSH segment ends it)', () => {
    const prng = new Prng(0xc401);
    const f = flow(prng, false, 1368);
    const packets = [...Array.from({ length: 9 }, () => segment(prng, f)), segment(prng, f, 500, ACK | PSH)];
    const e = roundTrip(packets, prng, 'v4 run');
    assert.deepEqual(shape(e), [10]);
    assert.deepEqual([...e[0]!.vnet], [1, 1, 52, 0, 0x58, 0x05, 20, 0, 16, 0]); // hdr_len 52, gso 1368
  });

  it('coalesces one IPv6 flow into a superpacket', () => {
    const prng = new Prng(0xc601);
    const f = flow(prng, true, 1208);
    const packets = Array.from({ length: 12 }, () => segment(prng, f));
    const e = roundTrip(packets, prng, 'v6 run');
    assert.deepEqual(shape(e), [12]);
    assert.deepEqual([...e[0]!.vnet], [1, 4, 72, 0, 0xb8, 0x04, 40, 0, 16, 0]);
  });

  it('handles odd sizes, no options, sequence wrap, no DF, tight packing', () => {
    const prng = new Prng(0xc0dd);
    for (const v6 of [false, true]) {
      for (const mss of [1, 3, 537, 1001, 1379]) {
        const f = flow(prng, v6, mss, { seq: 2 ** 32 - 2 * mss - 1, options: new Uint8Array(0) });
        const packets = [
          segment(prng, f),
          segment(prng, f),
          segment(prng, f),
          segment(prng, f, Math.max(1, mss >> 1)),
        ];
        const e = roundTrip(packets, prng, `v6=${v6} mss=${mss}`, true);
        assert.deepEqual(shape(e), [4]);
      }
      const g = flow(prng, v6, 1000, v6 ? {} : { ip: { ...flow(prng, false, 1).ip, df: false } });
      assert.deepEqual(
        shape(roundTrip([segment(prng, g), segment(prng, g), segment(prng, g)], prng, 'no DF')),
        [3],
      );
    }
  });

  it('writes everything else alone with an all-zero vnet header', () => {
    const prng = new Prng(0xa10e);
    const f4 = flow(prng, false, 1000);
    const f6 = flow(prng, true, 1000);
    const ip4: IpSpec = f4.ip;
    const ip6: IpSpec = f6.ip;
    const lone = [
      udpPacket(ip4, { sport: 53, dport: 5353, payload: prng.bytes(100) }),
      udpPacket(ip6, { sport: 53, dport: 5353, payload: prng.bytes(1000) }),
      icmpPacket(ip4, prng.bytes(56)),
      icmpPacket(ip6, prng.bytes(56)),
      rawIpPacket(ip4, 47, prng.bytes(300)),
    ];
    const e = roundTrip(lone, prng, 'non-TCP');
    assert.deepEqual(shape(e), [1, 1, 1, 1, 1]);
    for (const r of e) assert.deepEqual([...r.vnet], [...vnetBytes(VNET_NONE)]);
    // Segments that would continue a run but must not join one, each after two good segments.
    const breakers: [string, (f: Flow) => Uint8Array, number[]][] = [
      ['SYN', (f) => segment(prng, f, 1000, ACK | SYN), [2, 1]],
      ['FIN', (f) => segment(prng, f, 1000, ACK | FIN), [2, 1]],
      ['FIN, shorter', (f) => segment(prng, f, 10, ACK | FIN | PSH), [2, 1]],
      ['RST', (f) => segment(prng, f, 1000, ACK | RST), [2, 1]],
      ['URG', (f) => segment(prng, f, 1000, ACK | URG, 'full', { urgent: 5 }), [2, 1]],
      ['ECE', (f) => segment(prng, f, 1000, ACK | ECE), [2, 1]],
      ['CWR', (f) => segment(prng, f, 1000, ACK | CWR), [2, 1]],
      ['no ACK', (f) => segment(prng, f, 1000, PSH), [2, 1]],
      ['bad checksum', (f) => segment(prng, f, 1000, ACK, 'bad'), [2, 1]],
      ['zero checksum', (f) => segment(prng, f, 1000, ACK, 'zero'), [2, 1]],
      ['partial checksum', (f) => segment(prng, f, 1000, ACK, 'partial'), [2, 1]],
      ['no payload', (f) => segment(prng, f, 0), [2, 1]],
      ['seq gap', (f) => segment(prng, f, 1000, ACK, 'full', { seq: (f.seq + 1) % 2 ** 32 }), [2, 1]],
      [
        'seq retransmit',
        (f) => segment(prng, f, 1000, ACK, 'full', { seq: (f.seq - 1000 + 2 ** 32) % 2 ** 32 }),
        [2, 1],
      ],
      ['other ack', (f) => segment(prng, f, 1000, ACK, 'full', { ack: (f.ack + 1000) % 2 ** 32 }), [2, 1]],
      [
        'other window',
        (f) => segment(prng, f, 1000, ACK, 'full', { window: (f.window + 1) % 65536 }),
        [2, 1],
      ],
      [
        'other options',
        (f) => segment(prng, f, 1000, ACK, 'full', { options: timestampOption(1, 2) }),
        [2, 1],
      ],
      ['no options', (f) => segment(prng, f, 1000, ACK, 'full', { options: new Uint8Array(0) }), [2, 1]],
      ['other sport', (f) => segment(prng, f, 1000, ACK, 'full', { sport: (f.sport + 1) % 65536 }), [2, 1]],
      ['other dport', (f) => segment(prng, f, 1000, ACK, 'full', { dport: (f.dport + 1) % 65536 }), [2, 1]],
      ['bigger payload', (f) => segment(prng, f, 1001), [2, 1]],
      ['other TTL', (f) => segment(prng, f, 1000, ACK, 'full', {}, { ttl: 63 }), [2, 1]],
      ['other TOS', (f) => segment(prng, f, 1000, ACK, 'full', {}, { tos: 4 }), [2, 1]],
      [
        'other source',
        (f) =>
          segment(
            prng,
            f,
            1000,
            ACK,
            'full',
            {},
            { src: f.ip.v6 ? new Uint8Array(16) : Uint8Array.of(1, 2, 3, 4) },
          ),
        [2, 1],
      ],
      [
        'other destination',
        (f) =>
          segment(
            prng,
            f,
            1000,
            ACK,
            'full',
            {},
            { dst: f.ip.v6 ? new Uint8Array(16).fill(1) : Uint8Array.of(1, 2, 3, 4) },
          ),
        [2, 1],
      ],
    ];
    const v4Only: typeof breakers = [
      [
        'IPv4 options',
        (f) => segment(prng, f, 1000, ACK, 'full', {}, { options: Uint8Array.of(1, 1, 1, 0) }),
        [2, 1],
      ],
      ['MF fragment', (f) => segment(prng, f, 1000, ACK, 'full', {}, { fragField: 0x2000 }), [2, 1]],
      ['fragment offset', (f) => segment(prng, f, 1000, ACK, 'full', {}, { fragField: 0x0001 }), [2, 1]],
      ['DF cleared', (f) => segment(prng, f, 1000, ACK, 'full', {}, { df: false }), [2, 1]],
      [
        'bad IPv4 header checksum',
        (f) => {
          const seg = segment(prng, f);
          seg[10] = seg[10]! ^ 0x01; // the header checksum, only: the TCP checksum still holds
          return seg;
        },
        [2, 1],
      ],
    ];
    const v6Only: typeof breakers = [
      [
        'other flow label',
        (f) => segment(prng, f, 1000, ACK, 'full', {}, { flow: ((f.ip.flow ?? 0) + 1) % (1 << 20) }),
        [2, 1],
      ],
      [
        'extension header',
        (f) => {
          // Hop-by-hop options (8 bytes of PadN) in front of the TCP segment.
          const seg = segment(prng, f);
          const tcp = seg.subarray(40);
          const ext = Uint8Array.of(PROTO_TCP, 0, 1, 4, 0, 0, 0, 0);
          return rawIpPacket({ ...f.ip, nextHeader: 0 }, PROTO_TCP, concat(ext, tcp));
        },
        [2, 1],
      ],
    ];
    // Runs made only of segments with a disallowed flag stay apart too.
    for (const v6 of [false, true]) {
      for (const flags of [ACK | FIN, ACK | SYN, ACK | RST, ACK | URG, ACK | ECE, ACK | CWR, 0, PSH]) {
        const f = flow(prng, v6, 1000);
        const e2 = roundTrip(
          [0, 1, 2].map(() => segment(prng, f, 1000, flags)),
          prng,
          `all flags ${flags}`,
        );
        assert.deepEqual(shape(e2), [1, 1, 1], `all flags ${flags} (v6=${v6})`);
      }
    }
    for (const v6 of [false, true]) {
      for (const [what, make, want] of [...breakers, ...(v6 ? v6Only : v4Only)]) {
        const f = flow(prng, v6, 1000);
        const packets = [segment(prng, f), segment(prng, f), make(f)];
        const e = roundTrip(packets, prng, `${what} (v6=${v6})`);
        assert.deepEqual(shape(e), want, `${what} (v6=${v6})`);
        // ... and as the head of a would-be run it stays alone too (a bigger head is a run's
        // gso_size: the next, smaller segment then joins it and ends the run).
        const g = flow(prng, v6, 1000);
        const head = make(g);
        const e2 = roundTrip([head, segment(prng, g), segment(prng, g)], prng, `${what} first (v6=${v6})`);
        assert.deepEqual(shape(e2), what === 'bigger payload' ? [2, 1] : [1, 2], `${what} first (v6=${v6})`);
      }
    }
  });

  it('ends runs at PSH, after a smaller segment, at 64 segments and at 65535 bytes', () => {
    const prng = new Prng(0x64);
    for (const v6 of [false, true]) {
      let f = flow(prng, v6, 1000);
      // PSH on the head: alone; PSH in the middle: ends the run there.
      let e = roundTrip(
        [segment(prng, f, 1000, ACK | PSH), segment(prng, f), segment(prng, f)],
        prng,
        'PSH head',
      );
      assert.deepEqual(shape(e), [1, 2]);
      f = flow(prng, v6, 1000);
      e = roundTrip(
        [segment(prng, f), segment(prng, f, 1000, ACK | PSH), segment(prng, f), segment(prng, f)],
        prng,
        'PSH middle',
      );
      assert.deepEqual(shape(e), [2, 2]);
      // A smaller segment is the last of its run.
      f = flow(prng, v6, 1000);
      e = roundTrip(
        [segment(prng, f), segment(prng, f, 999), segment(prng, f), segment(prng, f)],
        prng,
        'smaller',
      );
      assert.deepEqual(shape(e), [2, 2]);
      f = flow(prng, v6, 1000);
      e = roundTrip(
        [segment(prng, f, 500), segment(prng, f, 500), segment(prng, f, 1000)],
        prng,
        'smaller head',
      );
      assert.deepEqual(shape(e), [2, 1]);
      // 64 segments at most.
      f = flow(prng, v6, 100);
      e = roundTrip(
        Array.from({ length: 64 * 2 + 5 }, () => segment(prng, f)),
        prng,
        '64',
        true,
      );
      assert.deepEqual(shape(e), [64, 64, 5]);
      // 65535 bytes at most (the whole IP packet): 1400-byte payloads, 52 (72) bytes of headers.
      f = flow(prng, v6, 1400);
      e = roundTrip(
        Array.from({ length: 50 }, () => segment(prng, f)),
        prng,
        '65535',
      );
      const most = Math.floor((65535 - (v6 ? 72 : 52)) / 1400);
      assert.deepEqual(shape(e), [most, 50 - most]);
      assert.ok(e[0]!.packet.length <= 65535 && e[0]!.packet.length + 1400 > 65535);
      // Exactly 65535 fits.
      const hdr = v6 ? 72 : 52;
      const size = (65535 - hdr) / 3;
      if (Number.isInteger(size)) {
        f = flow(prng, v6, size);
        e = roundTrip([segment(prng, f), segment(prng, f), segment(prng, f)], prng, 'exactly 65535');
        assert.deepEqual(shape(e), [3]);
        assert.equal(e[0]!.packet.length, 65535);
      }
      // Right at the limit: 43 segments of 1489 bytes plus headers leave room for 1456 more (v4)
      // or 1436 (v6): a last segment that size joins the run, one byte more starts a new one, and
      // a 44th full segment (65568 / 65588 bytes) never joins.
      const room = 65535 - hdr - 43 * 1489;
      for (const [last, want] of [
        [room, [44]],
        [room + 1, [43, 1]],
        [1489, [43, 1]],
      ] as const) {
        f = flow(prng, v6, 1489);
        const packets = Array.from({ length: 43 }, () => segment(prng, f));
        packets.push(segment(prng, f, last));
        e = roundTrip(packets, prng, `limit, last ${last}`, true);
        assert.deepEqual(shape(e), want, `limit, last ${last} (v6=${v6})`);
      }
    }
  });

  it('keeps interleaved flows apart and coalesces each consecutive run', () => {
    const prng = new Prng(0x1e1e);
    const a = flow(prng, false, 1368);
    const b = flow(prng, true, 1208);
    const c = flow(prng, false, 1368, { ip: { ...flow(prng, false, 1).ip }, sport: a.sport });
    const u = udpPacket(a.ip, { sport: 1, dport: 2, payload: prng.bytes(1368) });
    const packets = [
      segment(prng, a),
      segment(prng, b),
      segment(prng, a),
      segment(prng, b), // interleaved: all alone
      segment(prng, a),
      segment(prng, a),
      segment(prng, a),
      segment(prng, b),
      segment(prng, b),
      u,
      segment(prng, a),
      segment(prng, a),
      segment(prng, c),
      segment(prng, c),
      segment(prng, c, 7, ACK | PSH),
      segment(prng, a, 1368, ACK | PSH),
    ];
    const e = roundTrip(packets, prng, 'interleaved');
    assert.deepEqual(shape(e), [1, 1, 1, 1, 3, 2, 1, 2, 3, 1]);
  });

  it('matches the naive reference on random traffic', () => {
    const prng = new Prng(0x7a9d0);
    let superpackets = 0;
    let alone = 0;
    for (let round = 0; round < 60; round++) {
      const flows = [
        flow(prng, false, prng.pick([1368, 1380, 536, 1])),
        flow(prng, true, prng.pick([1208, 1348, 100])),
        flow(prng, false, prng.between(1, 1400), { options: new Uint8Array(0) }),
        flow(prng, true, prng.between(1, 1400)),
      ];
      let cur = flows[0]!;
      const packets: Uint8Array[] = [];
      const count = prng.between(1, 150);
      while (packets.length < count) {
        if (prng.chance(0.1)) cur = prng.pick(flows);
        const f = cur;
        const ev = prng.weighted<string>([
          [70, 'data'],
          [6, 'short'],
          [6, 'psh'],
          [2, 'gap'],
          [2, 'retransmit'],
          [2, 'ack'],
          [1, 'window'],
          [2, 'ts'],
          [1, 'ttl'],
          [1, 'bad'],
          [1, 'flags'],
          [1, 'pure-ack'],
          [1, 'udp'],
          [1, 'icmp'],
          [1, 'ipopt'],
          [1, 'frag'],
          [1, 'big'],
          [1, 'mss'],
        ]);
        switch (ev) {
          case 'data':
            packets.push(segment(prng, f));
            break;
          case 'short':
            packets.push(segment(prng, f, prng.between(1, f.mss)));
            break;
          case 'psh':
            packets.push(segment(prng, f, prng.between(1, f.mss), ACK | PSH));
            break;
          case 'gap':
            f.seq = (f.seq + prng.between(1, 5000)) % 2 ** 32;
            packets.push(segment(prng, f));
            break;
          case 'retransmit':
            f.seq = (f.seq - f.mss * prng.between(1, 3) + 2 ** 32) % 2 ** 32;
            packets.push(segment(prng, f));
            break;
          case 'ack':
            f.ack = (f.ack + prng.between(1, 100000)) % 2 ** 32;
            packets.push(segment(prng, f));
            break;
          case 'window':
            f.window = prng.below(65536);
            packets.push(segment(prng, f));
            break;
          case 'ts':
            f.options = f.options.length === 0 ? f.options : timestampOption(prng.u32(), prng.u32());
            packets.push(segment(prng, f));
            break;
          case 'ttl':
            packets.push(segment(prng, f, f.mss, ACK, 'full', {}, { ttl: prng.below(256) }));
            break;
          case 'bad':
            packets.push(segment(prng, f, f.mss, ACK, prng.pick<CsumMode>(['bad', 'zero', 'partial'])));
            break;
          case 'flags':
            packets.push(segment(prng, f, f.mss, prng.pick([SYN, FIN, RST, URG, ECE, CWR, 0]) | ACK));
            break;
          case 'pure-ack':
            packets.push(segment(prng, f, 0));
            break;
          case 'udp':
            packets.push(udpPacket(f.ip, { sport: f.sport, dport: f.dport, payload: prng.bytes(f.mss) }));
            break;
          case 'icmp':
            packets.push(icmpPacket(f.ip, prng.bytes(prng.below(200))));
            break;
          case 'ipopt':
            if (!f.ip.v6)
              packets.push(segment(prng, f, f.mss, ACK, 'full', {}, { options: Uint8Array.of(1, 1, 1, 0) }));
            break;
          case 'frag':
            if (!f.ip.v6)
              packets.push(
                segment(prng, f, f.mss, ACK, 'full', {}, { fragField: prng.pick([0x2000, 0x6000, 0x0010]) }),
              );
            break;
          case 'big':
            packets.push(segment(prng, f, f.mss + prng.between(1, 100)));
            break;
          case 'mss':
            f.mss = prng.between(1, 1400);
            packets.push(segment(prng, f));
            break;
        }
      }
      const e = roundTrip(packets, prng, `round ${round}`, prng.chance(0.3));
      for (const r of e) {
        if (r.run === null) alone++;
        else superpackets++;
      }
    }
    assert.ok(superpackets > 100 && alone > 300, `${superpackets} superpackets, ${alone} alone`);
  });

  it('reports write errors in the status: a read-only fd drops everything (EBADF)', () => {
    const prng = new Prng(0xeb);
    const f = flow(prng, false, 1000);
    const packets = [
      segment(prng, f),
      segment(prng, f),
      udpPacket(f.ip, { sport: 1, dport: 2, payload: prng.bytes(9) }),
    ];
    const path = join(dir, 'readonly');
    closeSync(openSync(path, 'w'));
    const fd = openSync(path, 'r');
    const buffer = new Uint8Array(4096);
    const offsets = new Uint32Array(3);
    const lengths = new Uint32Array(3);
    let at = 16;
    packets.forEach((p, i) => {
      buffer.set(p, at);
      offsets[i] = at;
      lengths[i] = p.length;
      at += p.length + 16;
    });
    const status = new Int32Array(3);
    try {
      native.tunWriteCoalesced(fd, buffer, offsets, lengths, 3, status);
    } finally {
      closeSync(fd);
    }
    assert.deepEqual([...status], [0, 3, -9]);
    // Nothing to write: nothing reported.
    const status2 = new Int32Array(3);
    const fd2 = openSync(path, 'r');
    try {
      native.tunWriteCoalesced(fd2, buffer, offsets, lengths, 0, status2);
      assert.deepEqual([...status2], [0, 0, 0]);
    } finally {
      closeSync(fd2);
    }
  });

  it('rejects bad arguments with RangeError / TypeError', () => {
    const buffer = new Uint8Array(200);
    const status = new Int32Array(3);
    const call = (offsets: number[], lengths: number[], count: number, st: Int32Array = status): void =>
      native.tunWriteCoalesced(-1, buffer, Uint32Array.from(offsets), Uint32Array.from(lengths), count, st);
    assert.throws(() => call([9], [40], 1), RangeError); // no room for the vnet header
    assert.throws(() => call([0], [40], 1), RangeError);
    assert.throws(() => call([10], [191], 1), RangeError); // past the end
    assert.throws(() => call([10], [0], 1), RangeError); // empty
    assert.throws(() => call([10], [40], 2), RangeError); // count > offsets
    assert.throws(() => call([10, 60], [40], 2), RangeError); // count > lengths
    assert.throws(() => call([10], [40], 1, new Int32Array(2)), RangeError);
    assert.throws(() => call([10], [40], 1, new Uint32Array(3) as unknown as Int32Array), TypeError);
    assert.throws(
      () =>
        native.tunWriteCoalesced(
          -1,
          buffer,
          new Int32Array(1) as unknown as Uint32Array,
          new Uint32Array(1),
          1,
          status,
        ),
      TypeError,
    );
    // A bad fd is no argument error: the status reports it (the packet ends exactly at the end).
    call([10], [190], 1);
    assert.deepEqual([...status], [0, 1, -9]);
  });
});
