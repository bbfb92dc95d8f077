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
 * Link deletion (`ip link del`) makes the next read fail with EBADFD: `onError` receives it (code
 * 'EBADFD') and reading stops. The daemon also compares `ifindex` with the link's current index.
 */
import { errnoName, loadNative, systemError, type NativeAddon, type ReaderHandle } from './native.js';

/** A TUN device as the WireGuard device sees it. */
export interface TunDevice {
  /** The link's name (the kernel's choice if an empty name was asked for). */
  readonly name: string;
  /** The link's current MTU. */
  readonly mtu: number;
  /** The link's ifindex when it was opened; a different current index means it was replaced. */
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
}

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
    opened = native.tunOpen(name, 0);
  }
  try {
    const mtu = o.mtu ?? DEFAULT_MTU;
    checkMtu(mtu);
    native.setLinkMtu(opened.name, mtu);
    const ifindex = native.linkIndex(opened.name);
    return new LinuxTun(native, opened.fd, opened.name, ifindex, mtu, o.batchSize ?? DEFAULT_TUN_BATCH);
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

  constructor(
    native: NativeAddon,
    fd: number,
    readonly name: string,
    readonly ifindex: number,
    mtu: number,
    batchSize: number,
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

  /** The fd, or -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  /** The link's MTU as the kernel reports it now (it may have been changed with `ip link`). */
  get mtu(): number {
    if (this.#fd >= 0) {
      try {
        this.#mtu = this.#native.linkMtu(this.name);
      } catch {
        // The link is gone: keep the last known value.
      }
    }
    return this.#mtu;
  }

  setMtu(mtu: number): void {
    checkMtu(mtu);
    this.#native.setLinkMtu(this.name, mtu);
    this.#mtu = mtu;
  }

  start(onPackets: (packets: Uint8Array[]) => void, onError: (err: Error) => void): void {
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
        TUN_SLOT_CAPACITY,
        this.#lengths,
        null,
        null,
        (count, err) => this.#onBatch(count, err),
      );
    }
    this.#native.readerStart(this.#reader);
  }

  /** Pauses reading (start() resumes). */
  stop(): void {
    if (this.#reader !== null) this.#native.readerStop(this.#reader);
  }

  #onBatch(count: number, err: number): void {
    if (count > 0 && this.#onPackets !== null) {
      const packets = new Array<Uint8Array>(count);
      const base = this.#slots.byteOffset + TUN_HEADROOM;
      for (let i = 0; i < count; i++) {
        packets[i] = new Uint8Array(this.#slots.buffer, base + i * TUN_SLOT_STRIDE, this.#lengths[i]);
      }
      this.stats.packetsRead += count;
      this.stats.readBatches++;
      this.#onPackets(packets);
    }
    if (err !== 0 && this.#onError !== null && this.#fd >= 0) this.#onError(systemError(err, 'read'));
  }

  write(packets: readonly Uint8Array[]): void {
    if (packets.length === 0) return;
    if (this.#fd < 0) {
      this.#dropped(packets.length, 'EBADF');
      return;
    }
    this.#native.writeList(this.#fd, packets, packets.length, this.#status);
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
