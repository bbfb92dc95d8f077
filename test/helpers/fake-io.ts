/**
 * In-memory fakes of the device's two I/O interfaces (src/io/tun.ts TunDevice, src/io/bind.ts
 * Bind), for device tests that need no root, no kernel and no addon.
 *
 * - FakeTun: `inject(packets)` plays packets "read from the link" into the device (one batch per
 *   call); `written` records copies of what the device wrote. Like the real TUN, the views handed
 *   to onPackets point into a reused slot buffer that is overwritten (poisoned with 0xdd) right
 *   after the callback, so a device that keeps a view without copying fails its tests.
 * - FakeNetwork: a hub joining FakeBinds by address:port. `net.bind('192.0.2.1')` (optionally
 *   also a v6 address) makes a bind; `send` copies datagrams into the hub, which delivers them
 *   per destination in batches, with the sender's address of the destination's family and its
 *   port as the source. Delivery is on setImmediate by default, or only on `net.flush()` with
 *   `{ manual: true }` (deterministic tests with a fake clock). `net.filter` drops datagrams
 *   (loss, partitions); `net.log` records every datagram handed to the hub. Received views are
 *   poisoned after the callback, as for the TUN.
 * - Port rules match the real bind: open(0) picks a free random port; a taken port rejects with
 *   an Error whose code is 'EADDRINUSE' (errno -98); reopening moves the bind to the new port and
 *   a failed reopen leaves it where it was.
 */
import type { Bind, Endpoint } from '../../src/io/bind.js';
import type { TunDevice } from '../../src/io/tun.js';

const POISON = 0xdd;

/** Copies `items` into one scratch buffer and returns views into it (the real readers' contract). */
function slotViews(items: readonly Uint8Array[]): { views: Uint8Array[]; scratch: Uint8Array } {
  let total = 0;
  for (const p of items) total += p.length;
  const scratch = new Uint8Array(total);
  const views: Uint8Array[] = [];
  let off = 0;
  for (const p of items) {
    scratch.set(p, off);
    views.push(scratch.subarray(off, off + p.length));
    off += p.length;
  }
  return { views, scratch };
}

// ---- TUN -----------------------------------------------------------------------------------------

export interface FakeTunOptions {
  readonly name?: string;
  readonly mtu?: number;
  readonly ifindex?: number;
}

export class FakeTun implements TunDevice {
  readonly name: string;
  readonly ifindex: number;
  /** Copies of every packet written, in order. */
  readonly written: Uint8Array[] = [];
  /** Number of write() calls (batches). */
  writeBatches = 0;
  closed = false;
  /** Called after each write() with the copies of that batch. */
  onWrite: ((packets: Uint8Array[]) => void) | null = null;
  #mtu: number;
  #onPackets: ((packets: Uint8Array[]) => void) | null = null;
  #onError: ((err: Error) => void) | null = null;

  constructor(options: FakeTunOptions = {}) {
    this.name = options.name ?? 'wgfake0';
    this.#mtu = options.mtu ?? 1420;
    this.ifindex = options.ifindex ?? 7;
  }

  get mtu(): number {
    return this.#mtu;
  }

  get started(): boolean {
    return this.#onPackets !== null;
  }

  start(onPackets: (packets: Uint8Array[]) => void, onError: (err: Error) => void): void {
    if (this.closed) throw new Error(`TUN ${this.name} is closed`);
    this.#onPackets = onPackets;
    this.#onError = onError;
  }

  /** Delivers packets as one batch read from the link (synchronously). */
  inject(...packets: Uint8Array[]): void {
    if (this.#onPackets === null || this.closed || packets.length === 0) return;
    const { views, scratch } = slotViews(packets);
    try {
      this.#onPackets(views);
    } finally {
      scratch.fill(POISON);
    }
  }

  /** Reports a read error (e.g. an Error with code 'EBADFD' as after `ip link del`). */
  fail(err: Error): void {
    this.#onError?.(err);
  }

  /** Removes and returns what was written so far. */
  takeWritten(): Uint8Array[] {
    return this.written.splice(0, this.written.length);
  }

  write(packets: readonly Uint8Array[]): void {
    if (this.closed) return;
    const copies = packets.map((p) => Uint8Array.from(p));
    this.written.push(...copies);
    this.writeBatches++;
    this.onWrite?.(copies);
  }

  setMtu(mtu: number): void {
    if (!Number.isInteger(mtu) || mtu < 0 || mtu > 65535) throw new RangeError(`bad MTU ${mtu}`);
    this.#mtu = mtu;
  }

  close(): void {
    this.closed = true;
    this.#onPackets = null;
    this.#onError = null;
  }
}

// ---- UDP -----------------------------------------------------------------------------------------

/** Parses a textual IPv4/IPv6 address to 4/16 bytes (tests only; throws on bad input). */
export function ipBytes(text: string): Uint8Array {
  if (text.includes('.') && !text.includes(':')) {
    const parts = text.split('.').map(Number);
    if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) {
      throw new Error(`bad IPv4 address ${text}`);
    }
    return Uint8Array.from(parts);
  }
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted !== null) {
    // A trailing dotted quad (::ffff:192.0.2.1): two more 16-bit words.
    const v4 = ipBytes(dotted[2]!);
    const hex = (i: number): string => ((v4[i]! << 8) | v4[i + 1]!).toString(16);
    return ipBytes(`${dotted[1]}${hex(0)}:${hex(2)}`);
  }
  const halves = text.split('::');
  if (halves.length > 2) throw new Error(`bad IPv6 address ${text}`);
  const words = (s: string): number[] => (s === '' ? [] : s.split(':').map((w) => parseInt(w, 16)));
  const head = words(halves[0]!);
  const tail = halves.length === 2 ? words(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if ((halves.length === 1 && fill !== 0) || fill < 0) throw new Error(`bad IPv6 address ${text}`);
  const all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  if (all.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffff))
    throw new Error(`bad IPv6 address ${text}`);
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

function key(address: Uint8Array, port: number): string {
  return `${Buffer.from(address).toString('hex')}:${port}`;
}

function unmapped(address: Uint8Array): Uint8Array {
  if (address.length !== 16) return address;
  for (let i = 0; i < 10; i++) if (address[i] !== 0) return address;
  return address[10] === 0xff && address[11] === 0xff ? address.subarray(12) : address;
}

function addrInUse(port: number): Error {
  return Object.assign(new Error(`bind failed: address already in use (EADDRINUSE), port ${port}`), {
    code: 'EADDRINUSE',
    errno: -98,
    syscall: 'bind',
  });
}

/** One datagram in flight (copies; safe to keep). */
export interface FakeDatagram {
  readonly data: Uint8Array;
  readonly from: Endpoint;
  readonly to: Endpoint;
}

export interface FakeNetworkOptions {
  /** Deliver only on flush() (default: deliver on setImmediate). */
  readonly manual?: boolean;
  /** Seed for the random ports of open(0) (default 1). */
  readonly seed?: number;
}

export class FakeNetwork {
  /** Every datagram handed to the hub (including filtered ones), in order. */
  readonly log: FakeDatagram[] = [];
  /** Return false to drop a datagram (loss, partitions). */
  filter: ((d: FakeDatagram) => boolean) | null = null;
  readonly #manual: boolean;
  readonly #listeners = new Map<string, FakeBind>();
  #queue: FakeDatagram[] = [];
  #scheduled = false;
  #seed: number;

  constructor(options: FakeNetworkOptions = {}) {
    this.#manual = options.manual ?? false;
    this.#seed = options.seed ?? 1;
  }

  /** A bind with these local addresses (one per family at most, e.g. '192.0.2.1', 'fd00::1'). */
  bind(...addresses: (string | Uint8Array)[]): FakeBind {
    const bytes = addresses.map((a) => (typeof a === 'string' ? ipBytes(a) : Uint8Array.from(a)));
    if (bytes.length === 0) throw new TypeError('a fake bind needs at least one address');
    return new FakeBind(this, bytes);
  }

  /** Datagrams waiting for delivery. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Delivers everything queued (and whatever that causes to be sent) and returns the count. */
  flush(maxRounds = 1000): number {
    let delivered = 0;
    for (let round = 0; this.#queue.length > 0; round++) {
      if (round >= maxRounds) throw new Error('FakeNetwork.flush: traffic never settles');
      const queue = this.#queue;
      this.#queue = [];
      delivered += this.#deliver(queue);
    }
    return delivered;
  }

  /** @internal */
  randomPort(): number {
    for (;;) {
      this.#seed = (Math.imul(this.#seed, 1103515245) + 12345) >>> 0;
      const port = 32768 + (this.#seed % 28232);
      if (![...this.#listeners.keys()].some((k) => k.endsWith(`:${port}`))) return port;
    }
  }

  /** @internal */
  listen(b: FakeBind, addresses: readonly Uint8Array[], port: number): void {
    const keys = addresses.map((a) => key(a, port));
    for (const k of keys) {
      const owner = this.#listeners.get(k);
      if (owner !== undefined && owner !== b) throw addrInUse(port);
    }
    for (const k of keys) this.#listeners.set(k, b);
  }

  /** @internal */
  unlisten(b: FakeBind, addresses: readonly Uint8Array[], port: number): void {
    for (const a of addresses) {
      const k = key(a, port);
      if (this.#listeners.get(k) === b) this.#listeners.delete(k);
    }
  }

  /** @internal */
  enqueue(d: FakeDatagram): void {
    this.log.push(d);
    if (this.filter !== null && !this.filter(d)) return;
    this.#queue.push(d);
    if (!this.#manual && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.flush();
      });
    }
  }

  #deliver(queue: FakeDatagram[]): number {
    // Group consecutive datagrams per destination bind, as one recvmmsg batch would.
    let delivered = 0;
    let i = 0;
    while (i < queue.length) {
      const target = this.#listeners.get(key(queue[i]!.to.address, queue[i]!.to.port));
      let j = i + 1;
      while (j < queue.length && this.#listeners.get(key(queue[j]!.to.address, queue[j]!.to.port)) === target)
        j++;
      if (target !== undefined) {
        target.receive(queue.slice(i, j));
        delivered += j - i;
      }
      i = j;
    }
    return delivered;
  }
}

export class FakeBind implements Bind {
  /** Local addresses (4 and/or 16 bytes). */
  readonly addresses: readonly Uint8Array[];
  mark = 0;
  /** Datagrams sent, and those dropped (closed bind or no local address of the family). */
  sent = 0;
  dropped = 0;
  readonly #net: FakeNetwork;
  #port = 0;
  #onDatagrams: ((datagrams: Uint8Array[], sources: Endpoint[]) => void) | null = null;

  constructor(net: FakeNetwork, addresses: readonly Uint8Array[]) {
    this.#net = net;
    this.addresses = addresses;
  }

  get port(): number {
    return this.#port;
  }

  /** The endpoint other binds reach this one at, for the given family (default: the first). */
  endpoint(family?: 4 | 6): Endpoint {
    const len = family === undefined ? undefined : family === 4 ? 4 : 16;
    const address = this.addresses.find((a) => len === undefined || a.length === len);
    if (address === undefined) throw new Error(`fake bind has no IPv${family} address`);
    return { address: Uint8Array.from(address), port: this.#port };
  }

  async open(port: number): Promise<number> {
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`bad port ${port}`);
    if (this.#port !== 0 && port === this.#port) return port;
    const next = port === 0 ? this.#net.randomPort() : port;
    this.#net.listen(this, this.addresses, next);
    if (this.#port !== 0) this.#net.unlisten(this, this.addresses, this.#port);
    this.#port = next;
    return next;
  }

  setMark(mark: number): void {
    if (!Number.isInteger(mark) || mark < 0 || mark > 0xffffffff) throw new RangeError(`bad fwmark ${mark}`);
    this.mark = mark;
  }

  start(onDatagrams: (datagrams: Uint8Array[], sources: Endpoint[]) => void): void {
    this.#onDatagrams = onDatagrams;
  }

  send(datagrams: readonly Uint8Array[], to: Endpoint): number {
    const dest = unmapped(to.address);
    const from = this.addresses.find((a) => a.length === dest.length);
    if (this.#port === 0 || from === undefined) {
      this.dropped += datagrams.length;
      return 0;
    }
    for (const d of datagrams) {
      this.#net.enqueue({
        data: Uint8Array.from(d),
        from: { address: from, port: this.#port },
        to: { address: Uint8Array.from(dest), port: to.port },
      });
      this.sent++;
    }
    return datagrams.length;
  }

  /** @internal Called by the hub with one batch for this bind. */
  receive(batch: readonly FakeDatagram[]): void {
    if (this.#onDatagrams === null || this.#port === 0) return;
    const { views, scratch } = slotViews(batch.map((d) => d.data));
    const { views: addrViews, scratch: addrScratch } = slotViews(batch.map((d) => d.from.address));
    const sources: Endpoint[] = batch.map((d, i) => ({ address: addrViews[i]!, port: d.from.port }));
    try {
      this.#onDatagrams(views, sources);
    } finally {
      scratch.fill(POISON);
      addrScratch.fill(POISON);
    }
  }

  close(): void {
    if (this.#port !== 0) this.#net.unlisten(this, this.addresses, this.#port);
    this.#port = 0;
    this.#onDatagrams = null;
  }
}
