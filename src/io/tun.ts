/**
 * The TUN side of the device: `TunDevice` (the shape of wireguard-go's tun.Device, push-based and
 * batched) and its Linux implementation over the native addon (Documentation/networking/
 * tuntap.rst). The link is opened with IFF_TUN | IFF_NO_PI: every read and write is one bare IP
 * packet. As wireguard-go does on creation, the MTU is set (default 1420) and the link is left
 * down; wg-quick or `ip link set up` brings it up.
 *
 * Reading: a libuv poll on the fd; each time it is readable the addon read()s up to `batchSize`
 * packets (default 64) into a preallocated slot buffer and makes one JavaScript call. Slot layout
 * (per packet): 16 bytes of headroom (room for a transport header in front, for sealing in place
 * later), up to 65535 bytes of packet (any MTU a TUN accepts fits, so an `ip link set mtu` at run
 * time can never truncate), and tail room for the AEAD tag and padding: stride 65600 bytes, 4.2 MB
 * of address space for 64 slots, of which only the pages packets touch become resident.
 *
 * Writing: one native call per batch; a packet the kernel refuses is dropped and counted, never
 * retried and never blocking (see native/tun.c), and is visible in `stats`.
 *
 * Offload mode (`offload: true`, the daemon's default; WGTS_OFFLOAD=0 turns it off): the link is
 * opened with IFF_VNET_HDR and TUNSETOFFLOAD(CSUM|TSO4|TSO6|USO4|USO6), so the kernel hands over
 * 64 KB TCP/UDP superpackets with partial checksums behind a 10-byte virtio_net_hdr, and takes
 * coalesced TCP superpackets back. The batched data path (src/device/fast-path.ts) reads the
 * slots in place (`startRaw`) and writes with `writeCoalesced`; `start`/`write` still work on such
 * a link, splitting and prefixing in a scratch arena.
 *
 * Link deletion (`ip link del`, or removing the namespace the link was moved into) makes the next
 * read fail with EBADFD: `onError` receives it (code 'EBADFD') and reading stops. The link's state
 * (`link()`, `mtu`) is asked through the fd, never by name in the daemon's namespace, so the TUN
 * may be moved to other namespaces at any time, and an inherited WG_TUN_FD may be anywhere.
 */
import { errnoName, loadNative, systemError, type NativeAddon, type ReaderHandle } from './native.js';

/** A TUN device as the WireGuard device sees it. */
export interface TunDevice {
  /** The link's name (the kernel's choice if an empty name was asked for). */
  readonly name: string;
  /** The link's current MTU. */
  readonly mtu: number;
  /** The link's ifindex when it was opened (moving it to another namespace may change it). */
  readonly ifindex: number;
  /**
   * Starts delivering packets read from the link, a batch per call. The `packets` array and the
   * bytes each Uint8Array views are valid ONLY during the call: they are slots of a reused buffer
   * that the next batch overwrites. Copy (or finish with) anything you keep. `onError` receives
   * read errors (an Error with `code`, e.g. 'EBADFD' once the link is deleted); reading stops
   * after one.
   */
  start(onPackets: (packets: Uint8Array[]) => void, onError: (err: Error) => void): void;
  /** Writes IP packets to the link in one batch. Refused packets are dropped and counted. */
  write(packets: readonly Uint8Array[]): void;
  setMtu(mtu: number): void;
  /** Stops reading and closes the fd; the kernel deletes the (non-persistent) link. Idempotent. */
  close(): void;
}

export interface OpenTunOptions {
  /** MTU to set on the link; default 1420 (wireguard-go's DefaultMTU). */
  readonly mtu?: number;
  /** Adopt this already-open TUN fd (WG_TUN_FD) instead of opening /dev/net/tun. */
  readonly fd?: number;
  /** Most packets read per readable event and JavaScript call; default 64. */
  readonly batchSize?: number;
  /**
   * Open with IFF_VNET_HDR and TUNSETOFFLOAD (checksum, TSO, USO): reads may be 64 KB
   * superpackets and writes may be coalesced TCP runs (see native/offload.c). Not for WG_TUN_FD.
   */
  readonly offload?: boolean;
}

/** The 10-byte struct virtio_net_hdr in front of every read and write of an offload TUN. */
export const VNET_HEADER_LENGTH = 10;

export interface TunStats {
  /** Packets read and batches (JavaScript calls) delivered. */
  packetsRead: number;
  readBatches: number;
  packetsWritten: number;
  /** Packets the kernel refused on write (see native/tun.c for the policy). */
  writeDropped: number;
  /** The last write errno name ('EIO', 'EINVAL', ...), or null. */
  lastWriteError: string | null;
}

/** What `LinuxTun.link()` reports of a live link. */
export interface TunLinkState {
  /** IFF_UP: administratively up (wireguard-go's EventUp/EventDown follow the same flag). */
  readonly up: boolean;
  readonly mtu: number;
  /** The link's current name (`ip link set NAME name OTHER` renames it). */
  readonly name: string;
  /** The inode of the network namespace the link is in now. */
  readonly netns: number;
}

const IFF_UP = 0x1;

export const DEFAULT_MTU = 1420;
export const DEFAULT_TUN_BATCH = 64;
/** Bytes in front of each packet in its slot. */
export const TUN_HEADROOM = 16;
/** The largest packet a slot holds: the largest IP packet (and the largest TUN MTU). */
export const TUN_SLOT_CAPACITY = 65535;
/** Bytes from one slot to the next (headroom + capacity + tail room, a multiple of 16). */
export const TUN_SLOT_STRIDE = 65600;

/** Opens (creates) the TUN link `name` on Linux; see OpenTunOptions. */
export function openTun(name: string, options: number | OpenTunOptions = {}): LinuxTun {
  const o: OpenTunOptions = typeof options === 'number' ? { mtu: options } : options;
  const native = loadNative();
  let opened;
  if (o.fd !== undefined) {
    opened = native.tunAttach(o.fd);
    const { IFF_TUN, IFF_NO_PI, IFF_VNET_HDR } = native.constants;
    if ((opened.flags & (IFF_TUN | IFF_NO_PI | IFF_VNET_HDR)) !== (IFF_TUN | IFF_NO_PI)) {
      throw Object.assign(
        new Error(`fd ${o.fd} is not a TUN opened with IFF_TUN | IFF_NO_PI (and no IFF_VNET_HDR)`),
        { code: 'EINVAL' },
      );
    }
  } else {
    opened = native.tunOpen(name, o.offload === true ? native.constants.IFF_VNET_HDR : 0);
  }
  try {
    let offloadFlags = 0;
    if (o.fd === undefined && o.offload === true) offloadFlags = native.tunSetOffload(opened.fd, true);
    const mtu = o.mtu ?? DEFAULT_MTU;
    checkMtu(mtu);
    native.tunSetLinkMtu(opened.fd, mtu);
    const ifindex = native.tunLinkInfo(opened.fd).ifindex;
    return new LinuxTun(
      native,
      opened.fd,
      opened.name,
      ifindex,
      mtu,
      o.batchSize ?? DEFAULT_TUN_BATCH,
      offloadFlags,
    );
  } catch (err) {
    if (o.fd === undefined) native.closeFd(opened.fd);
    throw err;
  }
}

function checkMtu(mtu: number): void {
  if (!Number.isInteger(mtu) || mtu < 0 || mtu > TUN_SLOT_CAPACITY) {
    throw new RangeError(`MTU must be an integer 0..${TUN_SLOT_CAPACITY}, got ${mtu}`);
  }
}

/** TunDevice over a Linux TUN fd. Extra: `fd`, `stats`, `writeBatch`, `stop`. */
export class LinuxTun implements TunDevice {
  readonly stats: TunStats = {
    packetsRead: 0,
    readBatches: 0,
    packetsWritten: 0,
    writeDropped: 0,
    lastWriteError: null,
  };
  readonly #native: NativeAddon;
  readonly #slots: Uint8Array;
  readonly #lengths: Int32Array;
  readonly #status = new Int32Array(3);
  #reader: ReaderHandle | null = null;
  #onPackets: ((packets: Uint8Array[]) => void) | null = null;
  #onError: ((err: Error) => void) | null = null;
  #mtu: number;
  #fd: number;

  /** Generic-path scratch of an offload TUN: reads split into packets, writes given vnet room. */
  #split: SplitArena | null = null;

  constructor(
    native: NativeAddon,
    fd: number,
    readonly name: string,
    readonly ifindex: number,
    mtu: number,
    batchSize: number,
    /** The TUN_F_* offloads set (0: a plain TUN without vnet headers). */
    readonly offloadFlags = 0,
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1024) {
      throw new RangeError(`batchSize must be 1..1024, got ${batchSize}`);
    }
    this.#native = native;
    this.#fd = fd;
    this.#mtu = mtu;
    this.#slots = new Uint8Array(batchSize * TUN_SLOT_STRIDE);
    this.#lengths = new Int32Array(batchSize);
  }

  /** Whether reads and writes carry vnet headers and superpackets (see OpenTunOptions.offload). */
  get offload(): boolean {
    return this.offloadFlags !== 0;
  }

  /** The read slots (slot i at i * TUN_SLOT_STRIDE + TUN_HEADROOM) and their lengths, for `startRaw`. */
  get slots(): Uint8Array {
    return this.#slots;
  }

  get slotLengths(): Int32Array {
    return this.#lengths;
  }

  /** The fd, or -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  /**
   * The link's MTU as the kernel reports it now (it may have been changed with `ip link`); the
   * last known value once the link is gone.
   */
  get mtu(): number {
    this.link();
    return this.#mtu;
  }

  setMtu(mtu: number): void {
    checkMtu(mtu);
    this.#native.tunSetLinkMtu(this.#fd, mtu);
    this.#mtu = mtu;
  }

  /**
   * The link as it is now, asked through the fd (native/tun-link.c), so it is found wherever it
   * has been moved (`ip link set NAME netns X`) or renamed: 'deleted' once the kernel has removed
   * it (or this TUN is closed), undefined when it could not be asked this time (the link is
   * between namespaces, or no socket could be made), so the caller asks again later.
   */
  link(): TunLinkState | 'deleted' | undefined {
    if (this.#fd < 0) return 'deleted';
    try {
      const info = this.#native.tunLinkInfo(this.#fd);
      this.#mtu = info.mtu;
      return { up: (info.flags & IFF_UP) !== 0, mtu: info.mtu, name: info.name, netns: info.netns };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 'EBADFD' || code === 'EBADF') return 'deleted';
      this.linkError = err as Error;
      return undefined;
    }
  }

  /**
   * Why `link()` last answered undefined. A lasting EPERM means the link was moved into a
   * namespace this process may not enter (setns needs CAP_SYS_ADMIN over it; a daemon running
   * with CAP_NET_ADMIN alone can create and use its TUN, but not follow it there).
   */
  linkError: Error | null = null;

  start(onPackets: (packets: Uint8Array[]) => void, onError: (err: Error) => void): void {
    this.#onRaw = null;
    this.#begin(onPackets, onError);
  }

  /**
   * Like start, but each batch is handed over as `count` filled slots (`slots`, `slotLengths`):
   * the fast data path reads them in place, with no object per packet. On an offload TUN each
   * slot starts with its vnet header.
   */
  startRaw(onBatch: (count: number) => void, onError: (err: Error) => void): void {
    this.#onRaw = onBatch;
    this.#begin(null, onError);
  }

  #onRaw: ((count: number) => void) | null = null;

  #begin(onPackets: ((packets: Uint8Array[]) => void) | null, onError: (err: Error) => void): void {
    if (this.#fd < 0) throw new Error(`TUN ${this.name} is closed`);
    this.#onPackets = onPackets;
    this.#onError = onError;
    if (this.#reader === null) {
      this.#reader = this.#native.readerCreate(
        this.#fd,
        0,
        this.#slots,
        this.#lengths.length,
        TUN_SLOT_STRIDE,
        TUN_HEADROOM,
        TUN_SLOT_CAPACITY + (this.offload ? VNET_HEADER_LENGTH : 0),
        this.#lengths,
        null,
        null,
        (count, err) => this.#onBatch(count, err),
        null,
      );
    }
    this.#native.readerStart(this.#reader);
  }

  /** Pauses reading (start() resumes). */
  stop(): void {
    if (this.#reader !== null) this.#native.readerStop(this.#reader);
  }

  #onBatch(count: number, err: number): void {
    if (count > 0 && this.#onRaw !== null) {
      this.stats.packetsRead += count;
      this.stats.readBatches++;
      this.#onRaw(count);
    } else if (count > 0 && this.#onPackets !== null) {
      const packets = this.offload ? this.#splitReads(count) : new Array<Uint8Array>(count);
      if (!this.offload) {
        const base = this.#slots.byteOffset + TUN_HEADROOM;
        for (let i = 0; i < count; i++) {
          packets[i] = new Uint8Array(this.#slots.buffer, base + i * TUN_SLOT_STRIDE, this.#lengths[i]);
        }
      }
      this.stats.packetsRead += count;
      this.stats.readBatches++;
      this.#onPackets(packets);
    }
    if (err !== 0 && this.#onError !== null && this.#fd >= 0) this.#onError(systemError(err, 'read'));
  }

  /** Offload TUN, generic path: the reads split into plain IP packets (views into the arena). */
  #splitReads(count: number): Uint8Array[] {
    const a = (this.#split ??= new SplitArena());
    const out: Uint8Array[] = [];
    a.cursor[0] = 0;
    let n = 0;
    for (let i = 0; i < count; i++) {
      const off = i * TUN_SLOT_STRIDE + TUN_HEADROOM;
      const got = this.#native.txSplit(
        this.#slots,
        off,
        this.#lengths[i]!,
        0,
        a.bytes,
        a.cursor,
        a.offsets,
        a.lengths,
        n,
        a.offsets.length - n,
      );
      if (got === -2) break; // the arena holds a whole batch of reads in practice; drop the rest
      if (got < 0) continue;
      for (let k = n; k < n + got; k++) {
        const start = a.offsets[k]! + 16;
        out.push(a.bytes.subarray(start, start + ipLength(a.bytes, start, a.lengths[k]!)));
      }
      n += got;
    }
    return out;
  }

  write(packets: readonly Uint8Array[]): void {
    if (packets.length === 0) return;
    if (this.#fd < 0) {
      this.#dropped(packets.length, 'EBADF');
      return;
    }
    if (this.offload) {
      // Every write needs a vnet header in front: copy into the arena, 16-aligned, with room.
      const a = (this.#split ??= new SplitArena());
      let at = 16;
      let n = 0;
      for (const p of packets) {
        if (n === a.offsets.length || at + p.length > a.bytes.length) break;
        a.bytes.set(p, at);
        a.offsets[n] = at;
        a.lengths[n++] = p.length;
        at = (at + p.length + 16 + 15) & ~15;
      }
      this.writeCoalesced(a.bytes, a.offsets, a.lengths, n);
      if (n < packets.length) this.#dropped(packets.length - n, 'ENOBUFS');
      return;
    }
    this.#native.writeList(this.#fd, packets, packets.length, this.#status);
    this.#account();
  }

  /**
   * Offload TUN: writes `count` IP packets lying in `buffer` (10 writable bytes in front of each),
   * TCP runs of one flow coalesced into superpackets (native/offload.c).
   */
  writeCoalesced(buffer: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): void {
    if (count === 0) return;
    if (this.#fd < 0) {
      this.#dropped(count, 'EBADF');
      return;
    }
    this.#native.tunWriteCoalesced(this.#fd, buffer, offsets, lengths, count, this.#status);
    this.#account();
  }

  /**
   * Writes `count` packets that lie in one buffer (buffer[offsets[i] .. + lengths[i]]) without a
   * JavaScript object per packet: the form a batch sealed/opened in place will use.
   */
  writeBatch(buffer: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): void {
    if (count === 0) return;
    if (this.#fd < 0) {
      this.#dropped(count, 'EBADF');
      return;
    }
    this.#native.writeBatch(this.#fd, buffer, offsets, lengths, count, this.#status);
    this.#account();
  }

  #account(): void {
    const s = this.#status;
    this.stats.packetsWritten += s[0];
    if (s[1] > 0) this.#dropped(s[1], errnoName(s[2]));
  }

  #dropped(n: number, code: string | null): void {
    this.stats.writeDropped += n;
    this.stats.lastWriteError = code;
  }

  close(): void {
    if (this.#fd < 0) return;
    if (this.#reader !== null) {
      this.#native.readerClose(this.#reader);
      this.#reader = null;
    }
    this.#onPackets = null;
    this.#onError = null;
    const fd = this.#fd;
    this.#fd = -1;
    this.#native.closeFd(fd);
  }
}

/** Scratch for an offload TUN's generic path: enough for a batch of 64 KB reads split up. */
class SplitArena {
  readonly bytes = new Uint8Array(8 << 20);
  readonly offsets = new Uint32Array(8192);
  readonly lengths = new Uint32Array(8192);
  readonly cursor = new Uint32Array(1);
}

/** The length an IP packet's own header states (the padding after it excluded), capped at max. */
export function ipLength(b: Uint8Array, at: number, max: number): number {
  const version = b[at]! >> 4;
  const n =
    version === 4
      ? (b[at + 2]! << 8) | b[at + 3]!
      : version === 6
        ? 40 + ((b[at + 4]! << 8) | b[at + 5]!)
        : max;
  return n <= max ? n : max;
}
