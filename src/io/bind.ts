/**
 * The UDP side of the device: `Bind` (the shape of wireguard-go's conn.Bind, push-based and
 * batched) and its Linux implementation over the native addon (conn.StdNetBind's behaviour).
 *
 * Two sockets share one port, as in wireguard-go: an AF_INET socket and an AF_INET6 socket with
 * IPV6_V6ONLY=1, both bound to the wildcard address. `open(0)` binds v4 to a random port and v6 to
 * the same port, retrying with a new random port (up to 100 times) if the v6 bind of that port
 * fails with EADDRINUSE. A family the kernel lacks (EAFNOSUPPORT) is skipped, so the bind works
 * v4-only (or v6-only). A 4-byte destination goes out of the v4 socket, a 16-byte one out of the
 * v6 socket; an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is sent as IPv4. Link-local IPv6 peers
 * would need a scope id, which an Endpoint does not carry yet.
 *
 * Sticky source ("reply to sender", the kernel's socket.c and wireguard-go's conn/sticky_linux.go):
 * both sockets report the local address each datagram arrived at (IP_PKTINFO / IPV6_PKTINFO), and
 * a received source Endpoint carries it as `source`. Sending to an Endpoint with a `source` puts
 * that address in an IP_PKTINFO / IPV6_PKTINFO control message, so a peer that reached us on one
 * of several local addresses gets its answers from that address, not the kernel's pick (which it
 * would roam to). When the kernel refuses the source because the address is gone, the send goes
 * again without it and `sourceRefused` tells the caller to forget it (native/udp.c). A local
 * address no reply can come from (unspecified, multicast, IPv6 link-local without a scope id)
 * is not recorded. The interface the datagram arrived on comes with it (`sourceIfindex`), and
 * `routesChanged` / `routeInterface` let the device keep an IPv4 source only while the route to
 * the peer leaves through that interface (native/route-check.c; src/device/sticky-source.ts).
 *
 * Receiving: each socket has a libuv poll; a readable event makes one recvmmsg() of up to
 * `batchSize` datagrams (default 64) into preallocated slots (65536 bytes each: the largest UDP
 * payload fits, so nothing is ever truncated; the two sockets share one slot buffer, since their
 * callbacks never overlap) and one JavaScript call. Sending: one sendmmsg() per batch; a datagram
 * the kernel refuses is dropped and counted, a full socket buffer (EAGAIN) drops the rest of the
 * batch, and nothing ever blocks (see native/udp.c). For the batched data path, `gro: true` turns
 * on UDP_GRO (a slot may then hold a run of equal-size datagrams from one source), `startRaw`
 * hands batches over in place and `sendSegments` sends runs of equal-size datagrams with UDP GSO
 * (native/offload.c). Both sockets get 7 MiB buffers
 * (SO_RCVBUFFORCE/SO_SNDBUFFORCE as root, else capped by net.core.[rw]mem_max), as wireguard-go.
 */
import { errnoName, loadNative, systemError, type NativeAddon, type ReaderHandle } from './native.js';
import { RouteWatch } from './route-watch.js';

/** A UDP endpoint: a 4- or 16-byte address and a port (the protocol's Endpoint shape). */
export interface Endpoint {
  readonly address: Uint8Array;
  readonly port: number;
  /** The local address (same family) to send from: the sticky source; absent or null: any. */
  readonly source?: Uint8Array | null;
  /** The index of the interface the datagram that taught `source` arrived on (0: unknown). */
  readonly sourceIfindex?: number;
}

/** The UDP transport as the WireGuard device sees it. */
export interface Bind {
  /** The bound port, or 0 when closed. */
  readonly port: number;
  /**
   * Binds v4 and v6 on `port` (0: a random port) and resolves to the port. If already open, the
   * new sockets are bound first and the old ones closed only on success (a failed port change
   * leaves the bind as it was); reading continues on the new sockets. Rejects with an Error whose
   * `code` is 'EADDRINUSE' (UAPI errno -98) when the port is taken.
   */
  open(port: number): Promise<number>;
  /** SO_MARK (fwmark) on both sockets, now and after any later open; 0 clears it. */
  setMark(mark: number): void;
  /**
   * Starts delivering received datagrams, a batch per call, with their sources (sources[i] for
   * datagrams[i]). The arrays, the datagram bytes and the source address bytes are valid ONLY
   * during the call (reused slots): copy what you keep. Consecutive datagrams from one source
   * share one Endpoint object. `onError` (optional) receives receive errors.
   */
  start(
    onDatagrams: (datagrams: Uint8Array[], sources: Endpoint[]) => void,
    onError?: (err: Error) => void,
  ): void;
  /** Sends datagrams to one endpoint in one batch. Failures are dropped and counted. */
  /** Returns how many of the datagrams, from the first, the kernel accepted (the rest were dropped). */
  send(datagrams: readonly Uint8Array[], to: Endpoint): number;
  /**
   * After a send to an Endpoint with a `source`: true when the kernel refused that source (the
   * address is gone) and the datagrams went without it; the owner of the Endpoint should then
   * forget the source. Binds without sticky sources leave it undefined.
   */
  readonly sourceRefused?: boolean;
  /**
   * Whether routes or addresses changed since the last call (binds that cannot tell leave it
   * out): a sticky source is then checked against its route again (src/device/sticky-source.ts).
   */
  routesChanged?(): boolean;
  /**
   * The index of the interface the route to `to` from its source leaves through, as the sockets
   * would send (fwmark included); <= 0 when the kernel refuses that source or names none.
   */
  routeInterface?(to: Endpoint): number;
  /** Closes both sockets (stops reading). open() may be called again; start() then too. */
  close(): void;
}

export interface BindOptions {
  /** Datagrams per recvmmsg and JavaScript call; default 64. */
  readonly batchSize?: number;
  /** SO_RCVBUF/SO_SNDBUF request in bytes; default 7 MiB (wireguard-go's socketBufferSize). */
  readonly socketBufferSize?: number;
  /** Address families to open; default both. */
  readonly families?: readonly (4 | 6)[];
  /**
   * Turn on UDP_GRO: one receive slot may then hold a run of equal-size datagrams from one
   * source (split again before `onDatagrams`; raw handlers see `gsoSizes`). Default off.
   */
  readonly gro?: boolean;
}

/**
 * The fast data path's view of a receive batch: `count` slots of `slots` (slot i at
 * i * UDP_SLOT_STRIDE), lengths[i] bytes each; with UDP_GRO, gsoSizes[i] > 0 means the slot holds
 * datagrams of that size back to back (the last may be shorter). Source i: addresses[i*16 ..]
 * (4 bytes for family 4) and ports[i]; the local address it arrived at: locals[i*LOCAL_RECORD ..]
 * (4 or 16 bytes; see stickySource). Valid only during the call.
 */
export interface RawBatch {
  readonly family: 4 | 6;
  readonly count: number;
  readonly slots: Uint8Array;
  readonly lengths: Int32Array;
  readonly gsoSizes: Int32Array;
  readonly addresses: Uint8Array;
  readonly ports: Uint16Array;
  readonly locals: Uint8Array;
}

export interface BindStats {
  datagramsReceived: number;
  receiveBatches: number;
  datagramsSent: number;
  /** Datagrams not sent: refused by the kernel, no socket of that family, or bind closed. */
  sendDropped: number;
  /** The last send errno name ('ENETUNREACH', 'EAGAIN', ...), or null. */
  lastSendError: string | null;
}

export const DEFAULT_UDP_BATCH = 64;
export const UDP_SLOT_STRIDE = 65536;
export const SOCKET_BUFFER_SIZE = 7 << 20;
/** Bytes per slot of a receive batch's `locals`: the local address (16), the ifindex (4). */
export const LOCAL_RECORD = 20;

/**
 * The local address recorded at locals[at .. at + length) (length 4 or 16), as a view, or null
 * when there is none or no reply can leave from it: unspecified (the kernel gave no pktinfo),
 * IPv4 multicast or broadcast, IPv6 multicast, or IPv6 link-local (a scope id would be needed).
 */
export function stickySource(locals: Uint8Array, at: number, length: 4 | 16): Uint8Array | null {
  const first = locals[at]!;
  if (length === 4) {
    if (first >= 224) return null;
    if (first === 0 && locals[at + 1] === 0 && locals[at + 2] === 0 && locals[at + 3] === 0) return null;
  } else {
    if (first === 0xff || (first === 0xfe && (locals[at + 1]! & 0xc0) === 0x80)) return null;
    let zero = true;
    for (let i = 0; i < 16 && zero; i++) zero = locals[at + i] === 0;
    if (zero) return null;
  }
  return locals.subarray(at, at + length);
}

/** The arrival interface index recorded with the local address at locals[at ..] (0: none). */
export function localIfindex(locals: Uint8Array, at: number): number {
  return (
    (locals[at + 16]! | (locals[at + 17]! << 8) | (locals[at + 18]! << 16) | (locals[at + 19]! << 24)) >>> 0
  );
}

/** Families the kernel may simply not have; such a socket is skipped, not an error. */
const UNAVAILABLE = new Set(['EAFNOSUPPORT', 'EPROTONOSUPPORT']);
const MAX_PORT_TRIES = 100;

/** The native UDP bind. */
export function createBind(options: BindOptions = {}): LinuxBind {
  return new LinuxBind(options);
}

/** What openDualStack needs of one socket. */
export interface BoundSocket {
  readonly port: number;
}

/**
 * wireguard-go's StdNetBind.Open port logic, separated from the syscalls so it can be tested:
 * opens v4 on `port`, then v6 on the port v4 got; with port 0, an EADDRINUSE on v6 closes v4 and
 * retries (at most 100 tries). A family that fails with EAFNOSUPPORT/EPROTONOSUPPORT is absent.
 * Any other failure closes what was opened and throws it.
 */
export function openDualStack<S extends BoundSocket>(
  openOne: (family: 4 | 6, port: number) => S,
  closeOne: (socket: S) => void,
  port: number,
  families: readonly (4 | 6)[] = [4, 6],
): { v4: S | null; v6: S | null; port: number } {
  for (let tries = 0; ; tries++) {
    let v4: S | null = null;
    let v6: S | null = null;
    let bound = port;
    if (families.includes(4)) {
      try {
        v4 = openOne(4, bound);
        bound = v4.port;
      } catch (err) {
        if (!UNAVAILABLE.has(codeOf(err))) throw err;
      }
    }
    if (families.includes(6)) {
      try {
        v6 = openOne(6, bound);
        bound = v6.port;
      } catch (err) {
        if (port === 0 && v4 !== null && codeOf(err) === 'EADDRINUSE' && tries < MAX_PORT_TRIES) {
          closeOne(v4);
          continue;
        }
        if (!UNAVAILABLE.has(codeOf(err))) {
          if (v4 !== null) closeOne(v4);
          throw err;
        }
      }
    }
    if (v4 === null && v6 === null) throw systemError(-97, 'socket');
    return { v4, v6, port: bound };
  }
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** One bound socket and its reader. */
interface UdpSocket {
  readonly family: 4 | 6;
  readonly fd: number;
  readonly port: number;
  reader: ReaderHandle | null;
}

/** Bind over two native UDP sockets. Extra: `stats`, `fds`, `sendBatch`. */
export class LinuxBind implements Bind {
  readonly stats: BindStats = {
    datagramsReceived: 0,
    receiveBatches: 0,
    datagramsSent: 0,
    sendDropped: 0,
    lastSendError: null,
  };
  readonly #native: NativeAddon;
  readonly #families: readonly (4 | 6)[];
  readonly #bufferSize: number;
  readonly #batch: number;
  readonly #status = new Int32Array(4);
  // Receive slots, shared by both sockets' readers. The large buffer is address space only until
  // datagrams land in it.
  readonly #slots: Uint8Array;
  readonly #lengths: Int32Array;
  readonly #addresses: Uint8Array;
  readonly #addressWords: Uint32Array;
  readonly #ports: Uint16Array;
  readonly #locals: Uint8Array;
  readonly #localWords: Uint32Array;
  #v4: UdpSocket | null = null;
  /** The route and address change watch behind routesChanged, opened on first use. */
  #routeWatch: RouteWatch | null = null;
  #routeSeen = 0;
  #v6: UdpSocket | null = null;
  #port = 0;
  #mark = 0;
  #onDatagrams: ((datagrams: Uint8Array[], sources: Endpoint[]) => void) | null = null;
  #onRaw: ((batch: RawBatch) => void) | null = null;
  #onError: ((err: Error) => void) | null = null;
  readonly #gro: boolean;
  readonly #gsoSizes: Int32Array;
  /** Whether the kernel took UDP_GRO on the open sockets. */
  groActive = false;

  constructor(options: BindOptions = {}) {
    const batch = options.batchSize ?? DEFAULT_UDP_BATCH;
    if (!Number.isInteger(batch) || batch < 1 || batch > 1024) {
      throw new RangeError(`batchSize must be 1..1024, got ${batch}`);
    }
    this.#native = loadNative();
    this.#batch = batch;
    this.#bufferSize = options.socketBufferSize ?? SOCKET_BUFFER_SIZE;
    this.#families = options.families ?? [4, 6];
    this.#slots = new Uint8Array(batch * UDP_SLOT_STRIDE);
    this.#lengths = new Int32Array(batch);
    this.#addressWords = new Uint32Array(batch * 4);
    this.#addresses = new Uint8Array(this.#addressWords.buffer);
    this.#ports = new Uint16Array(batch);
    this.#localWords = new Uint32Array((batch * LOCAL_RECORD) / 4);
    this.#locals = new Uint8Array(this.#localWords.buffer);
    this.#gro = options.gro === true;
    this.#gsoSizes = new Int32Array(batch);
  }

  get port(): number {
    return this.#port;
  }

  get sourceRefused(): boolean {
    return this.#status[3] === 1;
  }

  routesChanged(): boolean {
    // Opened on first use: the first call reports a change, so every source is checked once.
    if (this.#routeWatch === null) {
      this.#routeWatch = new RouteWatch(this.#native);
      this.#routeSeen = this.#routeWatch.generation;
      return true;
    }
    if (!this.#routeWatch.changedSince(this.#routeSeen)) return false;
    this.#routeSeen = this.#routeWatch.generation;
    return true;
  }

  routeInterface(to: Endpoint): number {
    const { family, address } = destination(to);
    return this.#native.routeInterface(family, address, sourceFor(to, family), this.#mark);
  }

  /** The open sockets' fds (for tests and diagnostics). */
  get fds(): { v4: number | null; v6: number | null } {
    return { v4: this.#v4?.fd ?? null, v6: this.#v6?.fd ?? null };
  }

  async open(port: number): Promise<number> {
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`port must be an integer 0..65535, got ${port}`);
    }
    if (this.#port !== 0 && port === this.#port) return port;
    const native = this.#native;
    const opened = openDualStack(
      (family, p): UdpSocket => ({ family, reader: null, ...native.udpOpen(family, p, this.#bufferSize) }),
      (s) => native.closeFd(s.fd),
      port,
      this.#families,
    );
    try {
      if (this.#mark !== 0) {
        if (opened.v4 !== null) native.setMark(opened.v4.fd, this.#mark);
        if (opened.v6 !== null) native.setMark(opened.v6.fd, this.#mark);
      }
    } catch (err) {
      if (opened.v4 !== null) native.closeFd(opened.v4.fd);
      if (opened.v6 !== null) native.closeFd(opened.v6.fd);
      throw err;
    }
    this.#closeSockets();
    this.#v4 = opened.v4;
    this.#v6 = opened.v6;
    this.#port = opened.port;
    if (this.#gro) {
      let on = true;
      for (const s of [opened.v4, opened.v6]) if (s !== null) on = native.udpSetGro(s.fd, true) && on;
      this.groActive = on;
    }
    if (this.#onDatagrams !== null || this.#onRaw !== null) this.#startReaders();
    return this.#port;
  }

  setMark(mark: number): void {
    if (!Number.isInteger(mark) || mark < 0 || mark > 0xffffffff) {
      throw new RangeError(`fwmark must be a 32-bit unsigned integer, got ${mark}`);
    }
    if (mark === this.#mark) return;
    for (const s of [this.#v4, this.#v6]) if (s !== null) this.#native.setMark(s.fd, mark);
    this.#mark = mark;
  }

  /** SO_MARK as the kernel reports it for each open socket (for tests). */
  marks(): { v4: number | null; v6: number | null } {
    const get = (s: UdpSocket | null): number | null => (s === null ? null : this.#native.getMark(s.fd));
    return { v4: get(this.#v4), v6: get(this.#v6) };
  }

  start(
    onDatagrams: (datagrams: Uint8Array[], sources: Endpoint[]) => void,
    onError?: (err: Error) => void,
  ): void {
    this.#onDatagrams = onDatagrams;
    this.#onRaw = null;
    this.#onError = onError ?? null;
    this.#startReaders();
  }

  /** Like start, but batches are handed over in place (see RawBatch): the fast data path. */
  startRaw(onBatch: (batch: RawBatch) => void, onError?: (err: Error) => void): void {
    this.#onRaw = onBatch;
    this.#onDatagrams = null;
    this.#onError = onError ?? null;
    this.#startReaders();
  }

  #startReaders(): void {
    for (const s of [this.#v4, this.#v6]) {
      if (s === null) continue;
      if (s.reader === null) {
        const family = s.family;
        s.reader = this.#native.readerCreate(
          s.fd,
          family,
          this.#slots,
          this.#batch,
          UDP_SLOT_STRIDE,
          0,
          UDP_SLOT_STRIDE,
          this.#lengths,
          this.#addresses,
          this.#ports,
          (count, err) => this.#onBatch(family, count, err),
          this.#gro ? this.#gsoSizes : null,
          this.#locals,
        );
      }
      this.#native.readerStart(s.reader);
    }
  }

  #onBatch(family: 4 | 6, count: number, err: number): void {
    const onDatagrams = this.#onDatagrams;
    if (count > 0 && this.#onRaw !== null) {
      if (!this.#gro) this.#gsoSizes.fill(0, 0, count);
      this.stats.receiveBatches++;
      this.#onRaw({
        family,
        count,
        slots: this.#slots,
        lengths: this.#lengths,
        gsoSizes: this.#gsoSizes,
        addresses: this.#addresses,
        ports: this.#ports,
        locals: this.#locals,
      });
    } else if (count > 0 && onDatagrams !== null) {
      const slots = this.#slots;
      const lengths = this.#lengths;
      const addresses = this.#addresses;
      const words = this.#addressWords;
      const ports = this.#ports;
      const locals = this.#locals;
      const lw = this.#localWords;
      const alen = family === 4 ? 4 : 16;
      const datagrams = new Array<Uint8Array>(count);
      const sources = new Array<Endpoint>(count);
      let prev: Endpoint | null = null;
      let p = 0; // slot index of prev
      const gso = this.#gsoSizes;
      let split = 0; // extra datagrams from GRO slots, appended after the loop
      const extra: [Uint8Array, number][] = [];
      for (let i = 0; i < count; i++) {
        const base = slots.byteOffset + i * UDP_SLOT_STRIDE;
        const seg = this.#gro ? gso[i]! : 0;
        const len = lengths[i]!;
        const first = seg > 0 && seg < len ? seg : len;
        datagrams[i] = new Uint8Array(slots.buffer, base, first);
        for (let at = first; at < len; at += seg) {
          extra.push([new Uint8Array(slots.buffer, base + at, Math.min(seg, len - at)), i]);
          split++;
        }
        const w = i * 4;
        const q = p * 4;
        const lw0 = i * (LOCAL_RECORD / 4);
        const lq0 = p * (LOCAL_RECORD / 4);
        if (
          prev !== null &&
          ports[i] === ports[p] &&
          words[w] === words[q] &&
          lw[lw0] === lw[lq0] &&
          (alen === 4 ||
            (words[w + 1] === words[q + 1] &&
              words[w + 2] === words[q + 2] &&
              words[w + 3] === words[q + 3] &&
              lw[lw0 + 1] === lw[lq0 + 1] &&
              lw[lw0 + 2] === lw[lq0 + 2] &&
              lw[lw0 + 3] === lw[lq0 + 3]))
        ) {
          sources[i] = prev;
        } else {
          prev = {
            address: addresses.subarray(i * 16, i * 16 + alen),
            port: ports[i],
            source: stickySource(locals, i * LOCAL_RECORD, alen),
            sourceIfindex: localIfindex(locals, i * LOCAL_RECORD),
          };
          p = i;
          sources[i] = prev;
        }
      }
      if (split > 0) {
        // Keep each GRO run's datagrams in order, right after its first one.
        const all: Uint8Array[] = [];
        const from: Endpoint[] = [];
        let e = 0;
        for (let i = 0; i < count; i++) {
          all.push(datagrams[i]!);
          from.push(sources[i]!);
          while (e < extra.length && extra[e]![1] === i) {
            all.push(extra[e]![0]);
            from.push(sources[i]!);
            e++;
          }
        }
        this.stats.datagramsReceived += all.length;
        this.stats.receiveBatches++;
        onDatagrams(all, from);
      } else {
        this.stats.datagramsReceived += count;
        this.stats.receiveBatches++;
        onDatagrams(datagrams, sources);
      }
    }
    if (err !== 0 && this.#onError !== null) this.#onError(systemError(err, 'recvmmsg'));
  }

  send(datagrams: readonly Uint8Array[], to: Endpoint): number {
    const n = datagrams.length;
    if (n === 0) return 0;
    const { family, address } = destination(to);
    const socket = family === 4 ? this.#v4 : this.#v6;
    this.#status[3] = 0;
    if (socket === null) {
      this.#dropped(n, this.#port === 0 ? 'EBADF' : 'EAFNOSUPPORT');
      return 0;
    }
    const source = sourceFor(to, family);
    this.#native.sendList(socket.fd, family, datagrams, n, address, to.port, this.#status, source);
    this.#account();
    return this.#status[0];
  }

  /**
   * Sends datagrams [first, first + count) of one buffer to `to`, runs of equal size as UDP GSO
   * sends (native/offload.c). Returns how many the kernel accepted.
   */
  sendSegments(
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    first: number,
    count: number,
    to: Endpoint,
  ): number {
    if (count === 0) return 0;
    const { family, address } = destination(to);
    const socket = family === 4 ? this.#v4 : this.#v6;
    this.#status[3] = 0;
    if (socket === null) {
      this.#dropped(count, this.#port === 0 ? 'EBADF' : 'EAFNOSUPPORT');
      return 0;
    }
    this.#native.sendSegments(
      socket.fd,
      family,
      buffer,
      offsets,
      lengths,
      first,
      count,
      address,
      to.port,
      this.#status,
      sourceFor(to, family),
    );
    this.#account();
    return this.#status[0];
  }

  /**
   * Sends `count` datagrams lying in one buffer, each to its own destination (addresses: 16
   * bytes per datagram, the first 4 used for family 4) through the socket of `family`, without a
   * JavaScript object per datagram: the form a batch sealed in place will use.
   */
  sendBatch(
    family: 4 | 6,
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    addresses: Uint8Array,
    ports: Uint16Array,
  ): void {
    if (count === 0) return;
    this.#status[3] = 0;
    const socket = family === 4 ? this.#v4 : this.#v6;
    if (socket === null) {
      this.#dropped(count, this.#port === 0 ? 'EBADF' : 'EAFNOSUPPORT');
      return;
    }
    this.#native.sendBatch(
      socket.fd,
      family,
      buffer,
      offsets,
      lengths,
      count,
      addresses,
      ports,
      this.#status,
    );
    this.#account();
  }

  #account(): void {
    const s = this.#status;
    this.stats.datagramsSent += s[0];
    if (s[1] > 0) this.#dropped(s[1], errnoName(s[2]));
  }

  #dropped(n: number, code: string): void {
    this.stats.sendDropped += n;
    this.stats.lastSendError = code;
  }

  close(): void {
    this.#closeSockets();
    this.#routeWatch?.close();
    this.#routeWatch = null;
    this.#port = 0;
    this.#onDatagrams = null;
    this.#onRaw = null;
    this.#onError = null;
  }

  #closeSockets(): void {
    for (const s of [this.#v4, this.#v6]) {
      if (s === null) continue;
      if (s.reader !== null) this.#native.readerClose(s.reader);
      s.reader = null;
      this.#native.closeFd(s.fd);
    }
    this.#v4 = null;
    this.#v6 = null;
  }
}

/** The socket family and address bytes for an endpoint (an IPv4-mapped IPv6 address goes as v4). */
function destination(to: Endpoint): { family: 4 | 6; address: Uint8Array } {
  const address = to.address;
  if (address.length === 4) return { family: 4, address };
  if (address.length === 16) {
    return isV4Mapped(address) ? { family: 4, address: address.subarray(12) } : { family: 6, address };
  }
  throw new RangeError(`endpoint address must be 4 or 16 bytes, got ${address.length}`);
}

/** The endpoint's sticky source when it fits the socket family it goes out of, else null. */
function sourceFor(to: Endpoint, family: 4 | 6): Uint8Array | null {
  const source = to.source;
  return source != null && source.length === (family === 4 ? 4 : 16) ? source : null;
}

function isV4Mapped(a: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return false;
  return a[10] === 0xff && a[11] === 0xff;
}
