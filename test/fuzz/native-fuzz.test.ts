/**
 * A bounded fuzz of every entry point of the native addon (issue 11, "Native entry points with
 * adversarial lengths ... a bounded native fuzz"; DESIGN.md "Bounds"). A seeded PRNG draws, for a
 * random entry point, each argument as a plausible value, an edge value (0, 2^31, 2^32 - 1, 2^32,
 * -1, NaN, 1.5, lengths past 65535) or a wrong type, over buffers that sit between guard bytes and
 * are sometimes detached; live readers get datagrams and packets, and their callbacks detach
 * buffers or close. Invariants: a call returns or throws a TypeError, a RangeError or a system
 * error (an Error with a `code`), never anything else and never a crash; no guard byte changes.
 * scripts/asan.sh runs this file under ASan and UBSan, where a wild read or write also fails.
 *
 * Safety: descriptors are only this file's own (a packetPair(), loopback UDP sockets) or invalid
 * ones; every send goes to 127.0.0.1 or ::1 (other address lengths are refused before a send);
 * no TUN is created (tunOpen only gets names that are refused) and no real link's MTU is set.
 * Bounded by count and time: WGTS_NATIVE_FUZZ_CASES (default 3000) and 8 s; seed from
 * WGTS_NATIVE_FUZZ_SEED (printed, for a replay).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { loadNative, type NativeAddon, type ReaderHandle } from '../../src/io/native.js';
import { Prng } from '../helpers/fuzz.js';

const skip = process.platform === 'linux' ? false : 'Linux only';
const GUARD = 32;
const GUARD_BYTE = 0x5a;
const LOOP4 = Uint8Array.of(127, 0, 0, 1);
const LOOP6 = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);

const EDGE_INTS = [
  0,
  1,
  2,
  3,
  9,
  10,
  15,
  16,
  17,
  20,
  32,
  40,
  60,
  64,
  1280,
  1420,
  65535,
  65536,
  65575,
  65585,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32 - 16,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 32 + 1,
  2 ** 53,
  -1,
  -(2 ** 31),
  -(2 ** 31) - 1,
  NaN,
  Infinity,
  -Infinity,
  0.5,
  1.5,
  -0,
];
const WRONG: readonly unknown[] = [null, undefined, 'x', '1', 1n, {}, [], true, () => 1, Symbol('s')];
/** Wrong types for a link name: no string at all, so that no TUN is ever created and no real
 * link is touched ('x' would be a valid name). */
const NOT_A_NAME: readonly unknown[] = WRONG.filter((x) => typeof x !== 'string');
const SIZES = [0, 1, 4, 10, 16, 20, 31, 32, 40, 48, 60, 64, 100, 256, 1500, 4096, 65536, 70000];

type Elem = 'u8' | 'u16' | 'u32' | 'i32' | 'i8';

/** A buffer between guard bytes; the fuzz checks every one of them after every call. */
interface Guarded {
  ab: ArrayBuffer;
  bytes: number;
  detached: boolean;
}

class Fuzz {
  readonly prng: Prng;
  readonly native: NativeAddon;
  readonly fds: number[];
  readonly udp: { fd: number; port: number; family: 4 | 6 }[];
  guarded: Guarded[] = [];
  readers: { handle: ReaderHandle; fd: number; views: ArrayBufferView[] }[] = [];
  delivered = 0;

  constructor(seed: number, native: NativeAddon, fds: number[], udp: Fuzz['udp']) {
    this.prng = new Prng(seed);
    this.native = native;
    this.fds = fds;
    this.udp = udp;
  }

  below(n: number): number {
    return this.prng.u32() % n;
  }

  chance(p: number): boolean {
    return this.prng.u32() / 2 ** 32 < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.below(xs.length)]!;
  }

  /** An integer argument: mostly `plausible`, else an edge value or a wrong type. */
  int(plausible: number): unknown {
    const r = this.below(100);
    if (r < 88) return plausible;
    if (r < 97) return this.pick(EDGE_INTS);
    if (r < 99) return this.prng.u32();
    return this.pick(WRONG);
  }

  /** A typed array of `elements` elements between guard bytes (sometimes offset, sometimes detached). */
  typed(kind: Elem, elements: number, fill?: (i: number) => number): ArrayBufferView {
    const size = kind === 'u8' || kind === 'i8' ? 1 : kind === 'u16' ? 2 : 4;
    const bytes = elements * size;
    const ab = new ArrayBuffer(bytes + 2 * GUARD);
    new Uint8Array(ab).fill(GUARD_BYTE);
    const g: Guarded = { ab, bytes, detached: false };
    this.guarded.push(g);
    const make = {
      u8: () => new Uint8Array(ab, GUARD, elements),
      i8: () => new Int8Array(ab, GUARD, elements),
      u16: () => new Uint16Array(ab, GUARD, elements),
      u32: () => new Uint32Array(ab, GUARD, elements),
      i32: () => new Int32Array(ab, GUARD, elements),
    }[kind];
    const view = make();
    const v = view as unknown as { [i: number]: number };
    for (let i = 0; i < elements; i++) v[i] = fill !== undefined ? fill(i) : this.prng.u32() & 0xff;
    if (this.chance(0.04)) this.detach(view);
    return view;
  }

  detach(view: ArrayBufferView): void {
    const g = this.guarded.find((x) => x.ab === view.buffer);
    if (g !== undefined) g.detached = true;
    if (view.buffer.byteLength > 0) structuredClone(view.buffer, { transfer: [view.buffer as ArrayBuffer] });
  }

  /** A buffer argument of element type `kind`: mostly plausible, else odd sizes or wrong types. */
  buf(kind: Elem, plausible: number, fill?: (i: number) => number): unknown {
    const r = this.below(100);
    if (r < 90) return this.typed(kind, plausible, fill);
    if (r < 96) return this.typed(kind, this.pick(SIZES) >> (kind === 'u8' ? 0 : 2), fill);
    if (r < 98) return this.typed(this.pick<Elem>(['u8', 'u16', 'u32', 'i32', 'i8']), plausible);
    return this.pick(WRONG);
  }

  /** Offsets/lengths pairs inside a buffer of `size` bytes (from `min` on), or, sometimes, one
   * pair across it (near 2^31 or 2^32). */
  window(size: number, count: number, min = 0): { offs: unknown; lens: unknown } {
    const offs: number[] = [];
    const lens: number[] = [];
    const room = Math.max(0, size - min);
    for (let i = 0; i < count; i++) {
      const len = room > 0 ? 1 + this.below(Math.min(room, 1500)) : 1;
      offs.push(min + this.below(Math.max(1, room - len + 1)));
      lens.push(len);
    }
    if (count > 0 && this.chance(0.15)) {
      const k = this.below(count);
      offs[k] = this.pick([size, 2 ** 31, 2 ** 32 - 1, 2 ** 32 - 8, this.prng.u32()]);
      lens[k] = this.pick([1, 8, 2 ** 31, 2 ** 32 - 1, this.prng.u32()]);
    }
    return { offs: this.buf('u32', count, (i) => offs[i]!), lens: this.buf('u32', count, (i) => lens[i]!) };
  }

  fd(): unknown {
    return this.chance(0.9) ? this.pick(this.fds) : this.pick([-1, 2 ** 31 - 1, ...WRONG]);
  }

  /** An address for a send: loopback of the family, or one of a length that is refused. */
  address(family: number): unknown {
    if (this.chance(0.85)) return (family === 6 ? LOOP6 : LOOP4).slice();
    return this.chance(0.5) ? this.typed('u8', this.pick([0, 3, 5, 15, 17])) : this.pick(WRONG);
  }

  /** 16 bytes per slot, every one 127.0.0.1 or ::1. */
  addresses(count: number): unknown {
    const slots = this.chance(0.85) ? count : this.below(count + 2);
    const one = this.chance(0.5) ? LOOP4 : LOOP6;
    return this.buf('u8', slots * 16, (i) => (i % 16 < one.length ? one[i % 16]! : 0));
  }

  family(): unknown {
    return this.chance(0.9) ? this.pick([4, 6]) : this.pick([0, 5, -4, 2 ** 32 + 4, ...WRONG]);
  }

  /** A plausible TUN read: a vnet header with adversarial fields, then an IPv4 or IPv6 TCP/UDP packet. */
  tunRead(): Uint8Array {
    const v6 = this.chance(0.5);
    const ipHeader = v6 ? 40 : 20;
    const l4 = this.chance(0.5) ? 20 : 8;
    const payload = this.pick([0, 1, 100, 1400, 3000, 20000, 65000]);
    const total = ipHeader + l4 + payload;
    const b = this.typed('u8', 10 + total) as Uint8Array;
    if (g(b)) return b;
    b[0] = this.pick([0, 1, 0x80, 0x41]); // flags
    b[1] = this.pick([0, 1, 3, 4, 5, 0x81, 0x85]); // gso_type
    const put16 = (at: number, v: number): void => {
      b[at] = v & 0xff; // vnet header fields are little-endian
      b[at + 1] = (v >>> 8) & 0xff;
    };
    put16(2, this.pick([ipHeader + l4, 0, 65535, this.below(200)])); // hdr_len
    put16(4, this.pick([1, 100, 1380, 1400, 65535, 0, this.below(3000)])); // gso_size
    put16(6, this.pick([ipHeader, 0, 65535, this.below(100)])); // csum_start
    put16(8, this.pick([16, 6, 65535, this.below(100)])); // csum_offset
    const ip = 10;
    if (v6) {
      b[ip] = 0x60;
      b[ip + 4] = ((total - 40) >>> 8) & 0xff;
      b[ip + 5] = (total - 40) & 0xff;
      b[ip + 6] = l4 === 20 ? 6 : 17;
    } else {
      b[ip] = this.chance(0.9) ? 0x45 : this.below(256);
      b[ip + 2] = (total >>> 8) & 0xff;
      b[ip + 3] = total & 0xff;
      b[ip + 9] = l4 === 20 ? 6 : 17;
    }
    if (l4 === 20) b[ip + ipHeader + 12] = this.chance(0.9) ? 0x50 : this.below(256);
    return b;
  }

  /** Whether every guard byte of every live buffer is unchanged. */
  guardsIntact(): boolean {
    for (const g of this.guarded) {
      if (g.detached || g.ab.byteLength === 0) continue;
      const all = new Uint8Array(g.ab);
      for (let i = 0; i < GUARD; i++) {
        if (all[i] !== GUARD_BYTE || all[GUARD + g.bytes + i] !== GUARD_BYTE) return false;
      }
    }
    return true;
  }
}

/** Whether a view's buffer is already detached (the generator sometimes detaches at once). */
function g(view: ArrayBufferView): boolean {
  return view.buffer.byteLength === 0;
}

type Call = (f: Fuzz) => unknown;

/** One entry per native export: how to call it with drawn arguments. */
function calls(native: NativeAddon): Record<string, Call> {
  const n = native as unknown as Record<string, (...args: unknown[]) => unknown>;
  const closeAll = (fds: unknown): void => {
    if (Array.isArray(fds)) for (const fd of fds) native.closeFd(fd as number);
  };
  return {
    tunOpen: (f) =>
      n['tunOpen']!(f.chance(0.5) ? 'nhfz'.repeat(4 + f.below(4)) : f.pick(NOT_A_NAME), f.int(0)),
    tunAttach: (f) => n['tunAttach']!(f.fd()),
    linkMtu: (f) => n['linkMtu']!(f.pick(['lo', 'nhfz-none', 'x'.repeat(16), ...NOT_A_NAME])),
    setLinkMtu: (f) => n['setLinkMtu']!(f.pick(['nhfz-none', 'x'.repeat(16), ...NOT_A_NAME]), f.int(1420)),
    linkIndex: (f) => n['linkIndex']!(f.pick(['lo', 'nhfz-none', ...NOT_A_NAME])),
    linkFlags: (f) => n['linkFlags']!(f.pick(['lo', 'nhfz-none', ...NOT_A_NAME])),
    closeFd: (f) => n['closeFd']!(f.pick([-1, 2 ** 31 - 1, 2 ** 32, ...WRONG])),
    packetPair: () => closeAll(native.packetPair()),
    writeList: (f) => {
      const count = f.below(6);
      const list = Array.from({ length: count }, () => f.buf('u8', 1 + f.below(200)));
      if (f.chance(0.1)) list.push(f.buf('u8', 65586));
      if (f.chance(0.1) && list.length > 1) {
        const victim = list[0];
        Object.defineProperty(list, 1, {
          get: () => {
            if (ArrayBuffer.isView(victim)) f.detach(victim);
            return new Uint8Array(4);
          },
        });
      }
      return n['writeList']!(
        f.fd(),
        f.chance(0.95) ? list : f.pick(WRONG),
        f.int(list.length),
        f.buf('i32', 3),
      );
    },
    writeBatch: (f) => {
      const size = f.pick(SIZES);
      const count = f.below(8);
      const { offs, lens } = f.window(size, count);
      return n['writeBatch']!(f.fd(), f.buf('u8', size), offs, lens, f.int(count), f.buf('i32', 3));
    },
    tunLinkInfo: (f) => n['tunLinkInfo']!(f.fd()),
    tunSetLinkMtu: (f) => n['tunSetLinkMtu']!(f.fd(), f.int(1420)),
    routeMtu: (f) => {
      const family = f.family();
      return n['routeMtu']!(family, f.buf('u8', family === 6 ? 16 : 4), f.int(0));
    },
    udpOpen: (f) => {
      const r = n['udpOpen']!(
        f.family(),
        f.chance(0.9) ? 0 : f.pick([-1, 65536, 2 ** 32, ...WRONG]),
        f.int(0),
      );
      native.closeFd((r as { fd: number }).fd);
    },
    setMark: (f) => n['setMark']!(f.fd(), f.int(0)),
    getMark: (f) => n['getMark']!(f.fd()),
    socketBufferSizes: (f) => n['socketBufferSizes']!(f.fd()),
    sendList: (f) => {
      const s = f.pick(f.udp);
      const family = f.chance(0.9) ? s.family : f.family();
      const count = f.below(5);
      const list = Array.from({ length: count }, () => f.buf('u8', 1 + f.below(300)));
      if (f.chance(0.1)) list.push(f.buf('u8', 65536));
      const fd = f.chance(0.8) ? s.fd : f.fd();
      const port = f.chance(0.8) ? f.pick(f.udp).port : f.int(9);
      const source = f.chance(0.7) ? null : f.address(family as number);
      return n['sendList']!(
        fd,
        family,
        list,
        f.int(list.length),
        f.address(family as number),
        port,
        f.buf('i32', 4),
        source,
      );
    },
    sendBatch: (f) => {
      const s = f.pick(f.udp);
      const size = f.pick(SIZES);
      const count = f.below(6);
      const { offs, lens } = f.window(size, count);
      const ports = f.buf('u16', count, () => f.pick(f.udp).port);
      const fd = f.chance(0.8) ? s.fd : f.fd();
      return n['sendBatch']!(
        fd,
        f.chance(0.9) ? s.family : f.family(),
        f.buf('u8', size),
        offs,
        lens,
        f.int(count),
        f.addresses(count),
        ports,
        f.buf('i32', 3),
      );
    },
    routeInterface: (f) => {
      const family = f.family();
      const len = family === 6 ? 16 : 4;
      return n['routeInterface']!(
        family,
        f.buf('u8', len),
        f.chance(0.5) ? null : f.buf('u8', len),
        f.int(0),
      );
    },
    routeCheckWatch: () => native.closeFd(native.routeCheckWatch()),
    routeCheckChanged: (f) => n['routeCheckChanged']!(f.fd()),
    readerCreate: (f) => readerCase(f, native),
    readerStart: (f) =>
      n['readerStart']!(f.readers.length > 0 && f.chance(0.8) ? f.pick(f.readers).handle : f.pick(WRONG)),
    readerStop: (f) =>
      n['readerStop']!(f.readers.length > 0 && f.chance(0.8) ? f.pick(f.readers).handle : f.pick(WRONG)),
    readerClose: (f) => {
      if (f.readers.length === 0 || f.chance(0.2)) return n['readerClose']!(f.pick(WRONG));
      const r = f.readers.splice(f.below(f.readers.length), 1)[0]!;
      native.readerClose(r.handle);
      native.readerClose(r.handle); // twice: idempotent
      return undefined;
    },
    sealBatch: (f) => {
      const size = f.pick(SIZES);
      const count = f.below(6);
      const { offs, lens } = f.window(size, count);
      const counter = f.chance(0.85)
        ? BigInt(f.prng.u32())
        : f.pick([2n ** 64n - 1n, -1n, 2n ** 64n, 1, ...WRONG]);
      return n['sealBatch']!(
        f.buf('u8', 32),
        f.int(1),
        counter,
        f.buf('u8', size),
        offs,
        lens,
        f.int(0),
        f.int(count),
      );
    },
    openBatch: (f) => {
      const size = f.pick(SIZES);
      const count = f.below(6);
      const { offs, lens } = f.window(size, count);
      return n['openBatch']!(
        f.buf('u8', 32),
        f.buf('u8', size),
        offs,
        lens,
        f.int(0),
        f.int(count),
        f.buf('i32', count),
      );
    },
    tunSetOffload: (f) => n['tunSetOffload']!(f.fd(), f.chance(0.9) ? f.chance(0.5) : f.pick(WRONG)),
    txSplit: (f) => {
      const src = f.chance(0.8) ? f.tunRead() : f.buf('u8', f.pick(SIZES));
      const srcLen = ArrayBuffer.isView(src) ? src.byteLength : 0;
      const max = 1 + f.below(64);
      const dst = f.buf('u8', f.pick([0, 256, 4096, 65536, 200000]));
      const cursor = f.buf('u32', 1, () => (f.chance(0.8) ? f.below(300) : f.prng.u32()));
      return n['txSplit']!(
        src,
        f.int(0),
        f.int(srcLen),
        f.int(f.pick([0, 1280, 1420, 65535])),
        dst,
        cursor,
        f.buf('u32', max),
        f.buf('u32', max),
        f.int(0),
        f.int(max),
      );
    },
    tunWriteCoalesced: (f) => {
      const size = f.pick(SIZES);
      const count = f.below(8);
      const { offs, lens } = f.window(size, count, 10);
      return n['tunWriteCoalesced']!(f.fd(), f.buf('u8', size), offs, lens, f.int(count), f.buf('i32', 3));
    },
    udpSetGro: (f) => n['udpSetGro']!(f.fd(), f.chance(0.9) ? f.chance(0.5) : f.pick(WRONG)),
    sendSegments: (f) => {
      const s = f.pick(f.udp);
      const count = f.below(70);
      const seg = 1 + f.below(1400);
      const last = 1 + f.below(seg);
      const size = Math.max(1, count * seg);
      let offs: unknown = f.buf('u32', count, (i) => i * seg);
      let lens: unknown = f.buf('u32', count, (i) => (i === count - 1 ? last : seg));
      if (f.chance(0.2)) ({ offs, lens } = f.window(size, count));
      const family = f.chance(0.9) ? s.family : f.family();
      const fd = f.chance(0.8) ? s.fd : f.fd();
      const port = f.chance(0.8) ? f.pick(f.udp).port : f.int(9);
      const source = f.chance(0.7) ? null : f.address(family as number);
      const status = f.buf('i32', 4);
      return n['sendSegments']!(
        fd,
        family,
        f.buf('u8', size),
        offs,
        lens,
        f.int(0),
        f.int(count),
        f.address(family as number),
        port,
        status,
        source,
      );
    },
    // The crypto pool: drawn thread counts (the seal and open cases then run on them), then back.
    setThreads: (f) => n['setThreads']!(f.chance(0.7) ? 1 + f.below(4) : f.pick([...EDGE_INTS, ...WRONG])),
    getThreads: () => n['getThreads']!(),
    // The thread gate's cap and the pool's totals: caps in and out of 0..63, and wrong types.
    setSpareThreads: (f) =>
      n['setSpareThreads']!(f.chance(0.7) ? f.below(4) : f.pick([63, 64, ...EDGE_INTS, ...WRONG])),
    poolStats: () => n['poolStats']!(),
    // The AEAD engine: both names (the seal and open cases then run on either), and wrong ones.
    aeadEngine: (f) =>
      f.chance(0.2)
        ? n['aeadEngine']!()
        : n['aeadEngine']!(
            f.chance(0.8) ? f.pick(['direct', 'evp']) : f.pick(['', 'EVP', 'direct\0', ...WRONG]),
          ),
    // The checksum: any buffer (size drawn, views at odd offsets included), any way or a wrong one.
    csumFold: (f) =>
      n['csumFold']!(
        f.buf('u8', f.pick(SIZES)),
        f.chance(0.9) ? f.pick(['best', 'scalar', 'sse2', 'avx2']) : f.pick(['avx512', '', ...WRONG]),
      ),
    // Dumpable on or off for this process only (the test restores it); wrong types refused.
    setDumpable: (f) => n['setDumpable']!(f.chance(0.8) ? f.chance(0.5) : f.pick(WRONG)),
    dumpable: () => n['dumpable']!(),
    x25519: (f) =>
      n['x25519']!(
        f.buf('u8', f.chance(0.7) ? 32 : f.pick(SIZES)),
        f.buf('u8', f.chance(0.7) ? 32 : f.pick(SIZES), () => f.below(256)),
        f.chance(0.9) ? f.buf('u8', f.chance(0.7) ? 32 : f.pick(SIZES), () => f.below(256)) : f.pick(WRONG),
      ),
    x25519Public: (f) =>
      n['x25519Public']!(
        f.chance(0.9) ? f.buf('u8', f.chance(0.7) ? 32 : f.pick(SIZES)) : f.pick(WRONG),
        f.buf('u8', f.chance(0.7) ? 32 : f.pick(SIZES), () => f.below(256)),
      ),
    // A netlink link watch: two fds that this case closes again (it takes no arguments).
    linkWatchOpen: () => {
      const fds = n['linkWatchOpen']!() as [number, number];
      for (const fd of fds) native.closeFd(fd);
      return fds;
    },
  };
}

/** readerCreate with drawn arguments; a reader that results is kept (at most one per fd, as libuv
 * requires of poll handles) and its callback sometimes detaches its arrays or closes it. */
function readerCase(f: Fuzz, native: NativeAddon): unknown {
  const n = native as unknown as Record<string, (...args: unknown[]) => unknown>;
  const free = f.fds.filter((fd) => !f.readers.some((r) => r.fd === fd));
  if (free.length === 0) return undefined;
  const fd = f.chance(0.9) ? f.pick(free) : f.pick([-1, 2 ** 31 - 1, ...WRONG]);
  const udp = f.udp.find((s) => s.fd === fd);
  const kind = f.chance(0.9) ? (udp !== undefined ? udp.family : 0) : f.pick([1, 5, -1, 2 ** 32, ...WRONG]);
  const slots = f.chance(0.9) ? 1 + f.below(8) : f.pick(EDGE_INTS);
  const stride = f.chance(0.9) ? 16 * (1 + f.below(100)) : f.pick(EDGE_INTS);
  const headroom = f.chance(0.9) ? f.below(32) : f.pick(EDGE_INTS);
  const capacity = f.chance(0.9)
    ? 1 + f.below(Math.max(1, Number(stride) - Number(headroom)))
    : f.pick(EDGE_INTS);
  const s = typeof slots === 'number' && slots > 0 && slots < 64 ? slots : 4;
  const st = typeof stride === 'number' && stride > 0 && stride < 4096 ? stride : 64;
  const views: ArrayBufferView[] = [];
  const keep = <T>(v: T): T => {
    if (ArrayBuffer.isView(v)) views.push(v);
    return v;
  };
  const live: { handle: ReaderHandle | null } = { handle: null };
  const callback = (count: unknown, err: unknown): void => {
    assert.equal(typeof count, 'number');
    assert.equal(typeof err, 'number');
    f.delivered++;
    if (f.chance(0.15) && views.length > 0) f.detach(f.pick(views));
    if (f.chance(0.05) && live.handle !== null) native.readerClose(live.handle);
  };
  const handle = n['readerCreate']!(
    fd,
    kind,
    keep(f.buf('u8', s * st)),
    slots,
    stride,
    headroom,
    capacity,
    keep(f.buf('i32', s)),
    keep(f.buf('u8', s * 16)),
    keep(f.buf('u16', s)),
    f.chance(0.97) ? callback : f.pick(WRONG),
    f.chance(0.5) ? null : keep(f.buf('i32', s)),
    f.chance(0.5) ? null : keep(f.buf('u8', s * 20)),
  ) as ReaderHandle;
  live.handle = handle;
  f.readers.push({ handle, fd: fd as number, views });
  if (f.chance(0.8)) native.readerStart(handle);
  return undefined;
}

/** Whether `e` is one of the errors the addon documents. */
function documented(e: unknown): boolean {
  if (e instanceof TypeError || e instanceof RangeError) return true;
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string';
}

test('fuzz: every native entry point, adversarial arguments, guard bytes intact', { skip }, async (t) => {
  const native = loadNative();
  const seed = Number(process.env['WGTS_NATIVE_FUZZ_SEED'] ?? 0x6e68);
  const maxCases = Number(process.env['WGTS_NATIVE_FUZZ_CASES'] ?? 3000);
  const deadline = Date.now() + 8_000;
  t.diagnostic(`seed ${seed}`);
  const [pa, pb] = native.packetPair();
  const engineBefore = native.aeadEngine?.() ?? 'evp';
  const udp: Fuzz['udp'] = [];
  for (const family of [4, 6] as const) {
    try {
      const s = native.udpOpen(family, 0, 0);
      udp.push({ fd: s.fd, port: s.port, family });
    } catch {
      // no IPv6 here: the v4 socket alone
    }
  }
  assert.ok(udp.length > 0, 'a loopback UDP socket');
  const f = new Fuzz(seed, native, [pa!, pb!, ...udp.map((s) => s.fd)], udp);
  const table = calls(native);
  const exported = Object.keys(native).filter(
    (k) => typeof (native as unknown as Record<string, unknown>)[k] === 'function',
  );
  assert.deepEqual(
    exported.filter((k) => table[k] === undefined),
    [],
    'every native export has a fuzz case',
  );
  const names = Object.keys(table);
  const hits = new Map<string, number>();
  const returned = new Map<string, number>();
  let cases = 0;
  try {
    while (cases < maxCases && Date.now() < deadline) {
      const name = names[f.below(names.length)]!;
      f.guarded = [];
      try {
        table[name]!(f);
        hits.set(name, (hits.get(name) ?? 0) + 1);
        returned.set(name, (returned.get(name) ?? 0) + 1);
      } catch (e) {
        if (!documented(e)) assert.fail(`${name} (case ${cases}, seed ${seed}) threw ${String(e)}`);
        hits.set(name, (hits.get(name) ?? 0) + 1);
      }
      assert.ok(f.guardsIntact(), `${name} (case ${cases}, seed ${seed}) wrote past a buffer`);
      // Loopback datagrams and packets for the readers, and a loop turn to deliver them.
      if (cases % 25 === 0) {
        const status = new Int32Array(3);
        for (const s of udp)
          native.sendList(
            s.fd,
            s.family,
            [new Uint8Array(1 + f.below(600))],
            1,
            s.family === 6 ? LOOP6 : LOOP4,
            f.pick(udp.filter((x) => x.family === s.family)).port,
            status,
          );
        native.writeList(pa!, [new Uint8Array(1 + f.below(600))], 1, status);
        native.writeList(pb!, [new Uint8Array(1 + f.below(600))], 1, status);
        await turn();
      }
      if (f.readers.length > 3) {
        const r = f.readers.shift()!;
        native.readerClose(r.handle);
      }
      cases++;
    }
  } finally {
    for (const r of f.readers) native.readerClose(r.handle);
    for (const fd of [pa!, pb!, ...udp.map((s) => s.fd)]) native.closeFd(fd);
    native.setThreads?.(1);
    native.setSpareThreads?.(63);
    native.aeadEngine?.(engineBefore);
    native.setDumpable(true);
  }
  t.diagnostic(
    `${cases} cases (returned/called): ${[...hits].map(([k, v]) => `${k} ${returned.get(k) ?? 0}/${v}`).join(', ')}`,
  );
  t.diagnostic(`reader callbacks: ${f.delivered}`);
  assert.ok(cases >= Math.min(maxCases, 300), `ran ${cases} cases`);
  assert.equal(hits.size, names.length, 'every entry point was called');
});
