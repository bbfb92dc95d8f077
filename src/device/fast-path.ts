/**
 * The fast data path of a Linux device (PERFORMANCE.md, "What follows for wgts"): transport data
 * in batches end to end, with no JavaScript object per packet.
 *
 * Outbound: one TUN read batch (IFF_VNET_HDR: 64 KB TSO/USO superpackets) -> one routing lookup
 * per read -> native txSplit into padded MTU-sized IP packets in an arena, grouped per peer ->
 * Tunnel.reserveSend reserves that many counters on the current keypair -> native sealBatch seals
 * them in place -> one UDP GSO send per run of equal sizes.
 *
 * Inbound: one recvmmsg batch (UDP_GRO: runs of datagrams per slot) -> per datagram, in
 * JavaScript: header, receiver index, keypair, replay check -> native openBatch per run of one
 * keypair and source -> replay mark, inner-packet and allowed-source checks per packet ->
 * Tunnel.transportBatchReceived for the run's side effects -> one coalescing TUN write (TCP
 * segments of a flow become one superpacket again). A run also has one local address (the
 * IP_PKTINFO of its datagrams, compared as bytes in the batch's `locals`): the endpoint it roams
 * to keeps that address as its sticky source, and the GSO sends of the outbound path leave from
 * it (src/io/bind.ts).
 *
 * Every protocol decision stays in TypeScript (Tunnel.checkReceive / reserveSend /
 * transportBatchReceived, ReplayWindow, AllowedIPs); the native calls only move, checksum and
 * encrypt bytes. It meets the device only at the seam of data-path.ts: anything that is not
 * transport data of a live keypair (handshakes, cookie replies, short or unknown messages) goes
 * to its one inbound entry point, in order. WGTS_OFFLOAD=0 turns this path off (the daemon then
 * uses plain TUN and UDP I/O).
 */
import { MESSAGE_TYPE_TRANSPORT, TRANSPORT_HEADER_SIZE, TRANSPORT_MIN_SIZE } from '../constants.js';
import type { RawBatch } from '../io/bind.js';
import { LOCAL_RECORD, localIfindex, stickySource, UDP_SLOT_STRIDE } from '../io/bind.js';
import { loadNative, type NativeAddon } from '../io/native.js';
import { ipLength, TUN_HEADROOM, TUN_SLOT_STRIDE, VNET_HEADER_LENGTH } from '../io/tun.js';
import type { Keypair } from '../protocol/keypairs.js';
import { toNetwork } from '../protocol/results.js';
import type { Endpoint, Tunnel } from '../protocol/tunnel.js';
import {
  countSent,
  type BatchBind,
  type BatchTun,
  type DataPathHost,
  type MessageSource,
} from './data-path.js';
import { DROP_INDEX } from './drops.js';
import { acceptRun } from './inner-rule.js';
import type { Peer } from './peer.js';
import { threadGate } from './thread-gate.js';

/** Sealed datagrams one arena holds before it is flushed (a batch of 64 KB reads is ~2,900). */
const TX_SLOTS = 4096;
const TX_ARENA_BYTES = 8 << 20;
/** Transport messages opened per native call at most (one UDP batch holds up to 64 x 64). */
const RX_SLOTS = 4096;
// The drop counters this path increments (drops.ts), looked up once.
const REPLAY = DROP_INDEX['replay'];
const BATCH_ERROR = DROP_INDEX['batch-error'];

export class FastPath {
  readonly #device: DataPathHost;
  readonly #tun: BatchTun;
  readonly #bind: BatchBind;
  readonly #native: NativeAddon;
  // Outbound arena: sealed datagram k at txBytes[txOffsets[k] .. + txLengths[k]).
  readonly #txBytes = new Uint8Array(TX_ARENA_BYTES);
  readonly #txOffsets = new Uint32Array(TX_SLOTS);
  readonly #txLengths = new Uint32Array(TX_SLOTS);
  readonly #txCursor = new Uint32Array(1);
  #txCount = 0;
  #txPeer: Peer | null = null;
  // Inbound run: datagram k at the receive slots' rxOffsets[k], its counter in rxCounters[k].
  readonly #rxOffsets = new Uint32Array(RX_SLOTS);
  readonly #rxLengths = new Uint32Array(RX_SLOTS);
  readonly #rxResults = new Int32Array(RX_SLOTS);
  readonly #rxCounters: bigint[] = new Array<bigint>(RX_SLOTS).fill(0n);
  #rxCount = 0;
  #rxKeypair: Keypair | null = null;
  #rxTunnel: Tunnel | null = null;
  #rxSlot = -1;
  // Decrypted packets for the TUN, in the receive slots.
  readonly #tunOffsets = new Uint32Array(RX_SLOTS);
  readonly #tunLengths = new Uint32Array(RX_SLOTS);
  #tunCount = 0;
  #rxBatch: RawBatch | null = null;
  #rxView: DataView | null = null;
  /** The source of a message handed to the device's inbound entry point (reused: no object each). */
  readonly #from: MessageSource = {
    address: new Uint8Array(0),
    addressAt: 0,
    addressLength: 4,
    port: 0,
    local: null,
    localIfindex: 0,
  };

  constructor(device: DataPathHost, tun: BatchTun, bind: BatchBind) {
    this.#device = device;
    this.#tun = tun;
    this.#bind = bind;
    this.#native = loadNative();
  }

  /** Takes over both readers. */
  start(): void {
    this.#tun.startRaw(
      (count) => this.#guard(() => this.#fromTun(count)),
      (err) => this.#device.tunReadFailed(err),
    );
    this.#bind.startRaw((batch) => this.#guard(() => this.#fromNetwork(batch)));
  }

  /** Runs one batch handler; a throw drops the batch, counted and logged, and resets the arenas. */
  #guard(handle: () => void): void {
    try {
      handle();
    } catch (err) {
      const errors = ++this.#device.drops.counts[BATCH_ERROR]!;
      this.#txCount = 0;
      this.#txCursor[0] = 0;
      this.#txPeer = null;
      this.#rxCount = 0;
      this.#rxKeypair = null;
      this.#tunCount = 0;
      this.#rxBatch = null;
      // The first, then one in 1,000: enough to see it, never a flood.
      if (errors % 1000 === 1) {
        this.#device.log.error(`batch dropped (${errors} so far): ${String(err)}`);
      }
    }
  }

  // ---- outbound ---------------------------------------------------------------------------------

  #fromTun(count: number): void {
    const device = this.#device;
    const now = device.beginBatch(true);
    if (now < 0) return;
    const slots = this.#tun.slots;
    const lengths = this.#tun.slotLengths;
    for (let i = 0; i < count; i++) {
      const off = i * TUN_SLOT_STRIDE + TUN_HEADROOM;
      const len = lengths[i]!;
      // Routing, ICMP unreachable and the loop guard: the device's one outbound rule set.
      const ip = off + VNET_HEADER_LENGTH;
      const peer = device.routeOutbound(slots, ip, len - VNET_HEADER_LENGTH, now);
      if (peer === undefined) continue;
      const mtu = device.paddingMtu(slots, ip, len - VNET_HEADER_LENGTH, now);
      if (peer !== this.#txPeer) {
        this.#flushTx(now);
        this.#txPeer = peer;
      }
      let got = this.#split(slots, off, len, mtu);
      if (got === -2) {
        this.#flushTx(now);
        this.#txPeer = peer;
        got = this.#split(slots, off, len, mtu);
      }
      if (got > 0) this.#txCount += got;
    }
    this.#flushTx(now);
  }

  #split(slots: Uint8Array, off: number, len: number, mtu: number): number {
    const n = this.#txCount;
    return this.#native.txSplit(
      slots,
      off,
      len,
      mtu,
      this.#txBytes,
      this.#txCursor,
      this.#txOffsets,
      this.#txLengths,
      n,
      TX_SLOTS - n,
    );
  }

  /** Seals and sends what the arena holds for #txPeer, then empties it. */
  #flushTx(now: number): void {
    const n = this.#txCount;
    const peer = this.#txPeer;
    this.#txCount = 0;
    this.#txCursor[0] = 0;
    if (n === 0 || peer === null) return;
    const device = this.#device;
    const tunnel = peer.tunnel;
    const r = tunnel.reserveSend(n, now);
    if (r === null) {
      // No session (or staged packets ahead): the core stages them and starts a handshake.
      for (let k = 0; k < n; k++) {
        const start = this.#txOffsets[k]! + TRANSPORT_HEADER_SIZE;
        const end = start + ipLength(this.#txBytes, start, this.#txLengths[k]!);
        const mtu = device.paddingMtu(this.#txBytes, start, end - start, now);
        device.transmit(peer, tunnel.encapsulate(this.#txBytes.slice(start, end), now, mtu));
      }
      return;
    }
    const kp = r.keypair;
    threadGate.tick(n); // how many workers the machine has CPU for (thread-gate.ts)
    this.#native.sealBatch(
      kp.sendKey,
      kp.remoteIndex,
      r.first,
      this.#txBytes,
      this.#txOffsets,
      this.#txLengths,
      0,
      n,
    );
    let bytes = 0;
    for (let k = 0; k < n; k++) bytes += this.#txLengths[k]!;
    tunnel.txBytes += bytes;
    const endpoint = device.sendEndpoint(peer);
    if (endpoint === null) {
      device.peerLog?.unsent(peer, n);
    } else {
      const sent = this.#bind.sendSegments(this.#txBytes, this.#txOffsets, this.#txLengths, 0, n, endpoint);
      if (endpoint.source != null && this.#bind.sourceRefused) device.sourceRefused(peer, endpoint);
      countSent(peer, this.#txLengths, 0, n, sent, bytes);
    }
    if (r.extra !== null) device.transmit(peer, toNetwork([r.extra]));
  }

  // ---- inbound ----------------------------------------------------------------------------------

  #fromNetwork(batch: RawBatch): void {
    const device = this.#device;
    const now = device.beginBatch(false);
    if (now < 0) return;
    const { slots, lengths, gsoSizes, count } = batch;
    this.#rxBatch = batch;
    if (this.#rxView === null || this.#rxView.buffer !== slots.buffer) {
      this.#rxView = new DataView(slots.buffer, slots.byteOffset, slots.byteLength);
    }
    const view = this.#rxView;
    let total = 0;
    for (let i = 0; i < count; i++) {
      const base = i * UDP_SLOT_STRIDE;
      const len = lengths[i]!;
      const seg = gsoSizes[i]! > 0 ? gsoSizes[i]! : len;
      // An empty datagram is a message too (counted by the device's dispatch): at least one pass.
      let at = 0;
      do {
        total++;
        const d = base + at;
        const dl = len - at < seg ? len - at : seg;
        if (dl >= TRANSPORT_MIN_SIZE && view.getUint32(d, true) === MESSAGE_TYPE_TRANSPORT) {
          this.#transport(d, dl, i, view, now);
        } else {
          // Not transport data: the device's one inbound entry point. Handshakes only wait in its
          // queue and nothing else it takes writes to the TUN, so the open run goes on after it.
          this.#other(d, dl, i);
        }
        at += seg;
      } while (at < len);
    }
    this.#flushRx(now);
    this.#bind.stats.datagramsReceived += total;
    this.#flushTun();
    this.#rxBatch = null;
  }

  /** Hands slots[d .. d + dl) from slot `slot`'s source to the device's inbound entry point. */
  #other(d: number, dl: number, slot: number): void {
    const b = this.#rxBatch!;
    const from = this.#from;
    const alen = b.family === 4 ? 4 : 16;
    from.address = b.addresses;
    from.addressAt = slot * 16;
    from.addressLength = alen;
    from.port = b.ports[slot]!;
    from.local = stickySource(b.locals, slot * LOCAL_RECORD, alen);
    from.localIfindex = localIfindex(b.locals, slot * LOCAL_RECORD);
    this.#device.receiveMessage(b.slots, d, dl, from);
  }

  /**
   * Writes the decrypted packets queued for the TUN. Called at the end of a receive batch, and
   * whenever the list is full: a batch of 64 slots of up to 128 GRO segments each holds twice
   * as many packets as the list has room for.
   */
  #flushTun(): void {
    if (this.#tunCount === 0) return;
    this.#tun.writeCoalesced(this.#rxBatch!.slots, this.#tunOffsets, this.#tunLengths, this.#tunCount);
    this.#tunCount = 0;
  }

  /** One transport message at slots[d .. d + dl) from slot `slot`'s source. */
  #transport(d: number, dl: number, slot: number, view: DataView, now: number): void {
    const receiver = view.getUint32(d + 4, true);
    let kp = this.#rxKeypair;
    if (kp === null || kp.localIndex !== receiver || !this.#sameSource(slot)) {
      this.#flushRx(now);
      const tunnel = this.#device.tunnelOf(receiver);
      if (tunnel === undefined) {
        this.#device.drops.count('unknown-index');
        return;
      }
      const found = tunnel.checkReceive(receiver, now);
      if (typeof found === 'string') {
        this.#device.drops.count(found); // the core's reason: unknown index or expired keypair
        return;
      }
      kp = found;
      this.#rxKeypair = kp;
      this.#rxTunnel = tunnel;
      this.#rxSlot = slot;
    }
    const counter = view.getBigUint64(d + 8, true);
    if (!kp.replay.check(counter)) {
      this.#device.drops.counts[REPLAY]++; // before any decryption
      return;
    }
    const k = this.#rxCount++;
    this.#rxOffsets[k] = d;
    this.#rxLengths[k] = dl;
    this.#rxCounters[k] = counter;
    if (this.#rxCount === RX_SLOTS) this.#flushRx(now);
  }

  /**
   * Whether slot's source, and the local address it arrived at, equal the current run's (a run
   * has one source: roaming, and the sticky source that comes with it, are per run).
   */
  #sameSource(slot: number): boolean {
    const b = this.#rxBatch!;
    const r = this.#rxSlot;
    if (r === slot) return true;
    if (r < 0 || b.ports[r] !== b.ports[slot]) return false;
    const a = b.addresses;
    const l = b.locals;
    const n = b.family === 4 ? 4 : 16;
    for (let i = 0; i < n; i++) if (a[r * 16 + i] !== a[slot * 16 + i]) return false;
    for (let i = 0; i < n; i++) if (l[r * LOCAL_RECORD + i] !== l[slot * LOCAL_RECORD + i]) return false;
    return true;
  }

  #source(slot: number): Endpoint {
    const b = this.#rxBatch!;
    const n = b.family === 4 ? 4 : 16;
    const local = stickySource(b.locals, slot * LOCAL_RECORD, n);
    return {
      address: b.addresses.slice(slot * 16, slot * 16 + n),
      port: b.ports[slot]!,
      source: local === null ? null : local.slice(),
      sourceIfindex: localIfindex(b.locals, slot * LOCAL_RECORD),
    };
  }

  /** Queues an accepted inner packet (in the receive slots) for the next TUN write. */
  readonly #queueTun = (p: number, length: number): void => {
    if (this.#tunCount === RX_SLOTS) this.#flushTun();
    const t = this.#tunCount++;
    this.#tunOffsets[t] = p;
    this.#tunLengths[t] = length;
  };

  /** Opens the current run, applies the replay marks and checks, queues packets for the TUN. */
  #flushRx(now: number): void {
    const n = this.#rxCount;
    const kp = this.#rxKeypair;
    const tunnel = this.#rxTunnel;
    this.#rxCount = 0;
    this.#rxKeypair = null;
    if (n === 0 || kp === null || tunnel === null) return;
    const slots = this.#rxBatch!.slots;
    threadGate.tick(n);
    this.#native.openBatch(kp.receiveKey, slots, this.#rxOffsets, this.#rxLengths, 0, n, this.#rxResults);
    const run = {
      keypair: kp,
      tunnel,
      from: this.#source(this.#rxSlot),
      buffer: slots,
      offsets: this.#rxOffsets,
      lengths: this.#rxLengths,
      counters: this.#rxCounters,
      results: this.#rxResults,
      first: 0,
      count: n,
    };
    acceptRun(this.#device, run, now, this.#queueTun);
  }
}
