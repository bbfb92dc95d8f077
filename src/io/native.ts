/**
 * Loads the native addon (native/*.c) and types its surface. The addon is thin by design
 * (DESIGN.md): Linux syscalls over buffers that TypeScript owns (TUN open/read/write, UDP
 * recvmmsg/sendmmsg, SO_MARK, link ioctls) and no protocol state. node-gyp-build finds it: a
 * developer's build/Release/wgts_native.node (`npm run build:native`) first, else the package's
 * prebuilt prebuilds/<platform>-<arch>/wgts.<libc>.node (scripts/prebuild.mjs). Loading is lazy,
 * so the protocol core (`import('wgts')`), and src/io for its types or fakes, work with no addon
 * at all; the first real use throws a `WgtsNativeError` with code ERR_WGTS_NATIVE_MISSING naming
 * what was looked for and how to build it.
 *
 * Errors thrown by the addon are `Error`s with Node's system-error fields: `code` ('EADDRINUSE'),
 * `errno` (negated, -98) and `syscall` ('bind'). Write/send calls never throw for network
 * conditions: they fill a status Int32Array [done, dropped, last errno negated or 0].
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useRawX25519 } from '../crypto/x25519.js';

/** Reader kinds for `readerCreate`: 0 reads a TUN with read(), 4/6 a UDP socket with recvmmsg. */
export type ReaderKind = 0 | 4 | 6;

/** An opaque native reader handle (a Node-API external). */
export interface ReaderHandle {
  readonly __wgtsReader: unique symbol;
}

export interface TunOpenResult {
  readonly fd: number;
  /** The kernel's name for the link (it picks tunN when the requested name is empty). */
  readonly name: string;
  /** The IFF_* flags the kernel reports for the device. */
  readonly flags: number;
}

export interface UdpOpenResult {
  readonly fd: number;
  /** The bound port (the kernel's choice when 0 was asked for). */
  readonly port: number;
  /** The socket buffer sizes the kernel granted (it doubles the requested value). */
  readonly rcvbuf: number;
  readonly sndbuf: number;
}

export interface TunLinkInfo {
  readonly name: string;
  readonly flags: number;
  readonly mtu: number;
  readonly ifindex: number;
  readonly netns: number;
}

export interface NativeConstants {
  readonly IFF_TUN: number;
  readonly IFF_NO_PI: number;
  readonly IFF_VNET_HDR: number;
  readonly IFF_MULTI_QUEUE: number;
  readonly IFNAMSIZ: number;
}

/** The addon's exports. Every fd is a plain number owned by the TypeScript wrapper. */
/** native poolStats(): the crypto pool as the thread gate sees it. */
export interface PoolStats {
  readonly threads: number;
  readonly spare: number;
  readonly wakes: number;
  readonly busyUs: number;
}

export interface NativeAddon {
  readonly constants: NativeConstants;
  /** open(/dev/net/tun) + TUNSETIFF with IFF_TUN | IFF_NO_PI | extraFlags; O_NONBLOCK. */
  tunOpen(name: string, extraFlags: number): TunOpenResult;
  /** Adopts an already-open TUN fd (TUNGETIFF for its name and flags); sets O_NONBLOCK. */
  tunAttach(fd: number): TunOpenResult;
  linkMtu(name: string): number;
  setLinkMtu(name: string, mtu: number): void;
  linkIndex(name: string): number;
  /** SIOCGIFFLAGS: the link's IFF_* flags. */
  linkFlags(name: string): number;
  /**
   * The link behind a TUN fd wherever it is now (native/tun-link.c): its current name, IFF_*
   * flags and MTU, asked in its current network namespace (whose inode is `netns`). Throws
   * EBADFD once the link is deleted.
   */
  tunLinkInfo(fd: number): TunLinkInfo;
  /** SIOCSIFMTU on the link behind a TUN fd, in the link's current namespace. */
  tunSetLinkMtu(fd: number, mtu: number): void;
  /**
   * A non-blocking netlink socket on RTMGRP_LINK in our own network namespace
   * (native/link-watch.c), and that namespace's inode. Absent from an older prebuilt addon.
   */
  linkWatchOpen?(): [fd: number, netns: number];
  /** The MTU of the kernel's route to the address at bytes[offset..] (native/route-mtu.c); 0: no route. */
  routeMtu(family: 4 | 6, bytes: Uint8Array, offset: number): number;
  closeFd(fd: number): void;
  /** A connected AF_UNIX SOCK_SEQPACKET pair, O_NONBLOCK (a TUN stand-in without a link). */
  packetPair(): [number, number];
  /** write() each of packets[0..count) to fd; status <- [written, dropped, lastErrno]. */
  writeList(fd: number, packets: readonly Uint8Array[], count: number, status: Int32Array): void;
  /** write() buffer[offsets[i] .. + lengths[i]) for i < count; status as writeList. */
  writeBatch(
    fd: number,
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    status: Int32Array,
  ): void;
  /** A non-blocking UDP socket bound to the wildcard address (IPV6_V6ONLY=1 for family 6). */
  udpOpen(family: 4 | 6, port: number, bufferSize: number): UdpOpenResult;
  setMark(fd: number, mark: number): void;
  getMark(fd: number): number;
  socketBufferSizes(fd: number): [number, number];
  /**
   * sendmmsg of datagrams[0..count) to one destination; status <- [sent, dropped, lastErrno,
   * sourceRefused]. With `source` (4 or 16 bytes, the family's), they leave from that local address
   * (IP_PKTINFO / IPV6_PKTINFO); a source the kernel refuses is dropped and the datagrams sent
   * without it, and status[3] (when status has 4 elements) becomes 1.
   */
  sendList(
    fd: number,
    family: 4 | 6,
    datagrams: readonly Uint8Array[],
    count: number,
    address: Uint8Array,
    port: number,
    status: Int32Array,
    source?: Uint8Array | null,
  ): void;
  /** sendmmsg over one buffer with a destination per datagram (16 address bytes each). */
  sendBatch(
    fd: number,
    family: 4 | 6,
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    addresses: Uint8Array,
    ports: Uint16Array,
    status: Int32Array,
  ): void;
  /**
   * A batched reader on fd (see native/reader.c): slot i is buffer[i*stride + headroom ..] of at
   * most `capacity` bytes; callback(count, err) once per readable event; err is 0 or -errno.
   */
  readerCreate(
    fd: number,
    kind: ReaderKind,
    buffer: Uint8Array,
    slots: number,
    stride: number,
    headroom: number,
    capacity: number,
    lengths: Int32Array,
    addresses: Uint8Array | null,
    ports: Uint16Array | null,
    callback: (count: number, err: number) => void,
    /** UDP only: gsoSizes[i] gets slot i's UDP_GRO segment size (0: a lone datagram). */
    gsoSizes?: Int32Array | null,
    /**
     * UDP only, 20 bytes per slot: the local address slot i arrived at (IP_PKTINFO ipi_spec_dst
     * or IPV6_PKTINFO ipi6_addr; 4 or 16 bytes) and at +16 the arrival ifindex (little-endian
     * uint32); all zero when the kernel gave none.
     */
    locals?: Uint8Array | null,
  ): ReaderHandle;
  readerStart(handle: ReaderHandle): void;
  readerStop(handle: ReaderHandle): void;
  readerClose(handle: ReaderHandle): void;

  // ---- the fast data path (native/aead.c, native/offload.c) ------------------------------------
  /**
   * Seals datagrams i in [first, first+count) in place: plaintext (padded) at
   * buffer[offsets[i] + 16 .. + lengths[i]); writes the transport header with `receiver` and
   * counter firstCounter + (i - first) and the tag; lengths[i] becomes the datagram length.
   */
  sealBatch(
    key: Uint8Array,
    receiver: number,
    firstCounter: bigint,
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    first: number,
    count: number,
  ): void;
  /** Opens datagrams in place (nonce from each header); results[i] = plaintext length or -1. */
  openBatch(
    key: Uint8Array,
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    first: number,
    count: number,
    results: Int32Array,
  ): void;
  /**
   * Sets how many threads (the caller's included, 1..64) a big sealBatch/openBatch is spread
   * over (native/crypto-pool.c); returns the count now in use. Absent from addons built before it.
   */
  setThreads?(threads: number): number;
  /** The thread count sealBatch/openBatch use now. */
  getThreads?(): number;
  /**
   * At most `spare` (0..63) workers are woken per batch from now on (src/device/thread-gate.ts);
   * returns it. Absent from addons built before it.
   */
  setSpareThreads?(spare: number): number;
  /**
   * The pool's size, the spare cap, and totals since load: worker wake-ups sent and the
   * microseconds workers spent on batches. Absent from addons built before it.
   */
  poolStats?(): PoolStats;
  /**
   * The AEAD engine of sealBatch/openBatch (src/device/aead-engine.ts): with an argument, selects
   * it ("direct" throws a RangeError where node does not export the primitives); returns the one
   * in use. Absent from addons built before it.
   */
  aeadEngine?(engine?: 'direct' | 'evp'): 'direct' | 'evp';
  /**
   * The folded 16-bit RFC 1071 sum of bytes by one way of native/csum.c ("best", "scalar",
   * "sse2", "avx2"), or null where this CPU cannot sum that way: for the test that holds every
   * way to a plain sum. Absent from addons built before it.
   */
  csumFold?(bytes: Uint8Array, way: 'best' | 'scalar' | 'sse2' | 'avx2'): number | null;
  /** TUNSETOFFLOAD(CSUM|TSO4|TSO6[|USO4|USO6]); returns the TUN_F_* flags set. */
  tunSetOffload(fd: number, wantUso: boolean): number;
  /**
   * Splits one TUN read (vnet header + packet) into padded MTU-sized IP packets at
   * dst[offsets[k] + 16] from cursor[0] on; returns the count, -1 (malformed) or -2 (no room).
   */
  txSplit(
    src: Uint8Array,
    srcOffset: number,
    srcLength: number,
    mtu: number,
    dst: Uint8Array,
    cursor: Uint32Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    first: number,
    max: number,
  ): number;
  /** Writes IP packets to a vnet-header TUN, coalescing TCP runs; status as writeBatch. */
  tunWriteCoalesced(
    fd: number,
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    status: Int32Array,
  ): void;
  /**
   * RTM_GETROUTE (native/route-check.c): the index of the interface the route to `destination`
   * from `source` (or any source) with fwmark `mark` leaves through; a negated errno when the
   * kernel refuses (a source that is no longer local); 0 when it names none.
   */
  routeInterface(family: 4 | 6, destination: Uint8Array, source: Uint8Array | null, mark: number): number;
  /** A non-blocking NETLINK_ROUTE socket subscribed to route and address changes. */
  routeCheckWatch(): number;
  /** Drains that socket: whether anything changed since the last call. */
  routeCheckChanged(fd: number): boolean;
  /** setsockopt(UDP_GRO); false when the kernel refuses it. */
  udpSetGro(fd: number, on: boolean): boolean;
  /**
   * Sends datagrams [first, first+count) of one buffer to one destination with UDP GSO, from
   * `source` when given (as sendList, status[3] included).
   */
  sendSegments(
    fd: number,
    family: 4 | 6,
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    first: number,
    count: number,
    address: Uint8Array,
    port: number,
    status: Int32Array,
    source?: Uint8Array | null,
  ): void;
  /**
   * prctl(PR_SET_DUMPABLE) (native/process.c): false means no core dump and /proc/PID/mem,
   * environ and ptrace closed to all but CAP_SYS_PTRACE, so keys in memory stay there.
   */
  setDumpable(on: boolean): void;
  /** prctl(PR_GET_DUMPABLE): 0 off, 1 on, 2 root-only dumps. */
  dumpable(): number;
  /** out := X25519(privateKey, publicKey) on raw 32-byte keys; false (out zero) when OpenSSL refuses the point. */
  x25519(out: Uint8Array, privateKey: Uint8Array, publicKey: Uint8Array): boolean;
  /** out := X25519(privateKey, 9). */
  x25519Public(out: Uint8Array, privateKey: Uint8Array): void;
}

/** Thrown when the addon cannot be loaded. */
export class WgtsNativeError extends Error {
  readonly code = 'ERR_WGTS_NATIVE_MISSING';
}

/** node-gyp-build's entry point (CommonJS, untyped): `resolve(root)` is the path it would load. */
interface NodeGypBuild {
  resolve(root: string): string;
}

/** The package root: the nearest of this file's ancestors (dist/src/io/ compiled, src/io/ in place) with package.json. */
function packageRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', '..', '..'), join(here, '..', '..')];
  return candidates.find((dir) => existsSync(join(dir, 'package.json'))) ?? candidates[0]!;
}

let cached: NativeAddon | null = null;

/**
 * The addon, loaded on first use. Throws WgtsNativeError when there is none for this platform
 * (or this is not Linux), or when the file found does not load.
 */
export function loadNative(): NativeAddon {
  if (cached !== null) return cached;
  if (process.platform !== 'linux') {
    throw new WgtsNativeError(`wgts native I/O is Linux-only (this is ${process.platform})`);
  }
  const require = createRequire(import.meta.url);
  const root = packageRoot();
  let file: string;
  // WGTS_NATIVE_ADDON names one .node file to load instead: the sanitizer build of scripts/asan.sh,
  // which lives outside the checkout so that build/Release stays the ordinary one.
  const override = process.env['WGTS_NATIVE_ADDON'];
  try {
    file =
      override !== undefined && override !== ''
        ? override
        : (require('node-gyp-build') as NodeGypBuild).resolve(root);
  } catch (err) {
    throw new WgtsNativeError(missingMessage(root, (err as Error).message));
  }
  try {
    cached = require(file) as NativeAddon;
  } catch (err) {
    throw new WgtsNativeError(
      `wgts native addon ${file} does not load (${(err as Error).message.split('\n')[0]}): ` +
        `rebuild it from source with \`npm run build:native\` in ${root}`,
    );
  }
  // From now on every DH runs on raw bytes in OpenSSL (an older build without it keeps node:crypto).
  if (typeof cached.x25519 === 'function') useRawX25519(cached);
  return cached;
}

/** The addon, or null where loadNative throws (no addon for this platform, or it does not load). */
export function tryLoadNative(): NativeAddon | null {
  try {
    return loadNative();
  } catch {
    return null;
  }
}

/** What was looked for, where, and the two ways out, from node-gyp-build's "No native build" error. */
export function missingMessage(root: string, why: string): string {
  const tag = (key: string): string => new RegExp(`\\b${key}=(\\S+)`).exec(why)?.[1] ?? '?';
  const platform = `${tag('platform')}-${tag('arch')}`;
  return (
    `wgts native addon not found for ${platform} (${tag('libc')}): looked for ` +
    `build/Release/wgts_native.node and prebuilds/${platform}/wgts.${tag('libc')}.node in ${root}. ` +
    `Only wgtsd's TUN and UDP I/O needs it; import('wgts') works without it. Build it from source ` +
    `with \`npm run build:native\` in ${root} (needs a C compiler, make, python3 and Node's ` +
    `headers), or install wgts where this package has a prebuild: ${shippedPrebuilds(root)}.`
  );
}

/** The prebuilds this copy of the package carries ("linux-x64 glibc, linux-x64 musl"), or "none". */
function shippedPrebuilds(root: string): string {
  const dir = join(root, 'prebuilds');
  const found = (existsSync(dir) ? readdirSync(dir) : []).flatMap((platform) =>
    readdirSync(join(dir, platform))
      .filter((file) => file.endsWith('.node'))
      .map((file) => `${platform} ${file.split('.').slice(1, -1).join('.')}`),
  );
  return found.length > 0 ? found.join(', ') : 'none (a git checkout builds from source)';
}

/** A system error as the addon would throw it, for errnos reported through callbacks/status. */
export function systemError(errno: number, syscall: string): NodeJS.ErrnoException {
  const code = errnoName(errno);
  const err: NodeJS.ErrnoException = new Error(`${syscall} failed: ${code}`);
  err.code = code;
  err.errno = errno;
  err.syscall = syscall;
  return err;
}

/** errno number -> name, from Node's table plus the Linux-only ones it lacks (EBADFD: a TUN whose
 * link was deleted). */
const ERRNO_NAMES = new Map<number, string>([
  ...Object.entries(osConstants.errno).map(([name, n]): [number, string] => [n, name]),
  [77, 'EBADFD'],
]);

/** The symbolic name of a (negated or positive) errno: 'EADDRINUSE' for -98. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}
