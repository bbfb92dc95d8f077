/**
 * The batched form of the device's ordinary data path (any TunDevice and Bind: the embeddable
 * userspace device, or a daemon without the offload TUN), for transport data messages
 * (whitepaper section 5.4.6) when the native AEAD is loaded.
 *
 * Outbound: a run of packets routed to one peer reserves its counters once (Tunnel.reserveSend),
 * is padded (paddedLength, the one padding rule) into one reused arena, sealed with one native
 * sealBatch and sent with one Bind.send. Without a usable session the packets go through
 * Tunnel.encapsulate, which stages them and starts a handshake, exactly as the per-packet path.
 *
 * Inbound: transport datagrams are copied into one reused arena (the bind's views live only
 * during its call, and decrypting in place must not change bytes the caller still owns); a run of
 * one keypair and one source is replay-checked per datagram BEFORE decryption, opened with one
 * native openBatch, marked in the replay window only AFTER its tag verified, its inner packet and
 * allowed source checked, and its side effects applied once by Tunnel.transportBatchReceived —
 * the same core calls, in the same order, as fast-path.ts. Plaintext packets reach the TUN as
 * views into the arena; the TUN's receivers (UserspaceTun -> NetStack, LinuxTun, the test fakes)
 * copy what they keep, so the arena is reused for the next batch.
 */
import { TRANSPORT_HEADER_SIZE } from '../constants.js';
import type { Bind } from '../io/bind.js';
import type { NativeAddon } from '../io/native.js';
import type { Keypair } from '../protocol/keypairs.js';
import { toNetwork } from '../protocol/results.js';
import type { Endpoint, Tunnel } from '../protocol/tunnel.js';
import { IP_SOURCE_OFFSET, paddedLength } from '../protocol/transport.js';
import type { Device } from './device.js';
import { DROP_INDEX } from './drops.js';
import { innerLength } from './fast-path.js';
import type { Peer } from './peer.js';

/** Datagrams one arena holds before it is flushed. */
const SLOTS = 1024;
/** Arena bytes: a TCP window's worth of MTU-sized packets, or a few 64 KB ones. */
const ARENA_BYTES = 2 << 20;
/** Header, AEAD tag and alignment around each packet in the arena. */
const OVERHEAD = TRANSPORT_HEADER_SIZE + 16 + 15;
const REPLAY = DROP_INDEX['replay'];
const BAD_TAG = DROP_INDEX['bad-tag'];
const NOT_IP = DROP_INDEX['not-ip'];
const BAD_IP_LENGTH = DROP_INDEX['bad-ip-length'];
const DISALLOWED_SOURCE = DROP_INDEX['disallowed-source'];
const UNKNOWN_INDEX = DROP_INDEX['unknown-index'];

/** One reused arena: datagram k at bytes[offsets[k] .. + lengths[k]). */
class Arena {
  readonly bytes = new Uint8Array(ARENA_BYTES);
  readonly view = new DataView(this.bytes.buffer);
  readonly offsets = new Uint32Array(SLOTS);
  readonly lengths = new Uint32Array(SLOTS);
  count = 0;
  cursor = 0;

  /** Whether a datagram of `length` bytes (plus overhead) still fits. */
  fits(length: number): boolean {
    return this.count < SLOTS && this.cursor + length + OVERHEAD <= ARENA_BYTES;
  }

  /** Takes the next slot at the cursor, 16-aligned; the caller fills it. */
  take(length: number, room: number): number {
    const at = this.cursor;
    const k = this.count++;
    this.offsets[k] = at;
    this.lengths[k] = length;
    this.cursor = (at + room + 15) & ~15;
    return k;
  }

  reset(): void {
    this.count = 0;
    this.cursor = 0;
  }
}

export class BatchPath {
  readonly #device: Device;
  readonly #native: NativeAddon;
  readonly #tx = new Arena();
  readonly #rx = new Arena();
  readonly #rxResults = new Int32Array(SLOTS);
  readonly #rxCounters: bigint[] = new Array<bigint>(SLOTS).fill(0n);
  // The receive run: its keypair, tunnel and source (one source per run: roaming is per run).
  #rxKeypair: Keypair | null = null;
  #rxTunnel: Tunnel | null = null;
  #rxSource: Endpoint | null = null;
  /** The arena slot the current run starts at (earlier runs' plaintext waits there for the TUN). */
  #runFirst = 0;

  constructor(device: Device, native: NativeAddon) {
    this.#device = device;
    this.#native = native;
  }

  // ---- outbound ---------------------------------------------------------------------------------

  /** Routes each packet and sends each run of packets for one peer as one sealed batch. */
  sendPackets(packets: readonly Uint8Array[], now: number): void {
    const device = this.#device;
    let runPeer: Peer | null = null;
    // Consecutive packets for one peer form a run; a dropped packet does not break it.
    const run: Uint8Array[] = [];
    for (let i = 0; i < packets.length; i++) {
      const packet = packets[i]!;
      const peer = device.routeOutbound(packet, 0, packet.length, now);
      if (peer === undefined) continue;
      if (peer !== runPeer) {
        if (runPeer !== null) this.#sendRun(runPeer, run, now);
        run.length = 0;
        runPeer = peer;
      }
      run.push(packet);
    }
    if (runPeer !== null) this.#sendRun(runPeer, run, now);
  }

  /** Seals and sends `packets` for `peer`, arena by arena. */
  #sendRun(peer: Peer, packets: readonly Uint8Array[], now: number): void {
    const device = this.#device;
    const tx = this.#tx;
    let i = 0;
    while (i < packets.length) {
      // Pad each packet into the arena while it fits (an empty arena holds any IP packet).
      tx.reset();
      let j = i;
      for (; j < packets.length && tx.fits(packets[j]!.length); j++) {
        const p = packets[j]!;
        const padded = paddedLength(p.length, device.paddingMtu(p, 0, p.length, now));
        const slot = tx.take(padded, TRANSPORT_HEADER_SIZE + padded + 16);
        const at = tx.offsets[slot]! + TRANSPORT_HEADER_SIZE;
        tx.bytes.set(p, at);
        if (padded > p.length) tx.bytes.fill(0, at + p.length, at + padded); // the arena is reused
      }
      const r = peer.tunnel.reserveSend(j - i, now);
      if (r === null) {
        // No session, staged packets ahead, or the counter limit: the core stages and handshakes.
        for (let k = i; k < packets.length; k++) {
          const p = packets[k]!;
          const mtu = device.paddingMtu(p, 0, p.length, now);
          device.transmit(peer, peer.tunnel.encapsulate(p.slice(), now, mtu));
        }
        return;
      }
      const n = j - i;
      const kp = r.keypair;
      this.#native.sealBatch(kp.sendKey, kp.remoteIndex, r.first, tx.bytes, tx.offsets, tx.lengths, 0, n);
      let bytes = 0;
      for (let k = 0; k < n; k++) bytes += tx.lengths[k]!;
      peer.tunnel.txBytes += bytes;
      this.#send(peer, n, bytes);
      if (r.extra !== null) device.transmit(peer, toNetwork([r.extra]));
      i = j;
    }
  }

  /**
   * Sends the arena's n sealed datagrams to the peer's endpoint: with UDP GSO when the bind can
   * (LinuxBind.sendSegments: one sendmsg per run of equal sizes), else as one Bind.send; counts
   * what the kernel took, as Device.transmit does.
   */
  #send(peer: Peer, n: number, bytes: number): void {
    const device = this.#device;
    if (!device.up) return;
    const endpoint = device.sendEndpoint(peer);
    if (endpoint === null) {
      device.peerLog?.unsent(peer, n);
      return;
    }
    const tx = this.#tx;
    const bind = device.bind;
    let sent: number;
    if (hasSegments(bind)) {
      sent = bind.sendSegments(tx.bytes, tx.offsets, tx.lengths, 0, n, endpoint);
    } else {
      const datagrams = new Array<Uint8Array>(n);
      for (let k = 0; k < n; k++)
        datagrams[k] = tx.bytes.subarray(tx.offsets[k]!, tx.offsets[k]! + tx.lengths[k]!);
      sent = bind.send(datagrams, endpoint);
    }
    if (endpoint.source != null && bind.sourceRefused === true) device.sourceRefused(peer, endpoint);
    if (sent === n) peer.txBytes += bytes;
    else for (let k = 0; k < sent; k++) peer.txBytes += tx.lengths[k]!;
  }

  // ---- inbound ----------------------------------------------------------------------------------

  /**
   * One transport datagram (type 4, at least TRANSPORT_MIN_SIZE bytes) from `from`; decrypted
   * packets are appended to `toTun` (views into the arena, valid until `endReceive`).
   */
  receiveTransport(d: Uint8Array, from: Endpoint, now: number, toTun: Uint8Array[]): void {
    const device = this.#device;
    const rx = this.#rx;
    if (!rx.fits(d.length)) {
      // The arena is full: open the run, hand what is decrypted to the TUN, start over.
      this.flushReceive(now, toTun);
      this.#writeTun(toTun);
    }
    const receiver = (d[4]! | (d[5]! << 8) | (d[6]! << 16) | (d[7]! << 24)) >>> 0;
    let kp = this.#rxKeypair;
    if (kp === null || kp.localIndex !== receiver || !sameSource(this.#rxSource, from)) {
      this.flushReceive(now, toTun);
      const tunnel = device.indices.get(receiver);
      if (tunnel === undefined) {
        device.drops.counts[UNKNOWN_INDEX]++;
        return;
      }
      kp = tunnel.receivingKeypair(receiver, now);
      if (kp === null) {
        // Expired, or not a keypair's index: the per-packet path drops it with its reason.
        device.consumeTransportDatagram(d, from, now, toTun);
        return;
      }
      this.#rxKeypair = kp;
      this.#rxTunnel = tunnel;
      this.#rxSource = from;
    }
    const at = rx.cursor;
    rx.bytes.set(d, at);
    const counter = rx.view.getBigUint64(at + 8, true);
    if (!kp.replay.check(counter)) {
      device.drops.counts[REPLAY]++; // before any decryption
      return;
    }
    this.#rxCounters[rx.take(d.length, d.length)] = counter;
  }

  /** Opens the current run: tag, replay mark, inner checks, then the run's side effects once. */
  flushReceive(now: number, toTun: Uint8Array[]): void {
    const kp = this.#rxKeypair;
    const tunnel = this.#rxTunnel;
    const from = this.#rxSource;
    this.#rxKeypair = null;
    this.#rxSource = null;
    const rx = this.#rx;
    const first = this.#runFirst;
    const n = rx.count - first;
    this.#runFirst = rx.count;
    if (n === 0 || kp === null || tunnel === null) return;
    const b = rx.bytes;
    this.#native.openBatch(kp.receiveKey, b, rx.offsets, rx.lengths, first, n, this.#rxResults);
    const device = this.#device;
    const peer = device.peerOfTunnel(tunnel);
    const drops = device.drops.counts;
    let accepted = 0;
    let data = 0;
    let bytes = 0;
    for (let k = first; k < first + n; k++) {
      const plain = this.#rxResults[k]!;
      if (plain < 0) {
        drops[BAD_TAG]++;
        continue;
      }
      if (!kp.replay.mark(this.#rxCounters[k]!)) {
        drops[REPLAY]++; // a duplicate within this run
        continue;
      }
      accepted++;
      bytes += rx.lengths[k]!;
      if (plain === 0) continue; // a keepalive
      data++;
      const p = rx.offsets[k]! + TRANSPORT_HEADER_SIZE;
      const length = innerLength(b, p, plain);
      if (length <= 0) {
        drops[length === 0 ? BAD_IP_LENGTH : NOT_IP]++; // not a whole IP packet
        if (peer !== undefined) device.peerLog?.innerRefused(peer, 'not-ip');
        continue;
      }
      const family = b[p]! >> 4 === 4 ? 4 : 6;
      // Cryptokey routing, inbound: the source must be one of this peer's allowed IPs.
      if (device.allowedIPs.lookupAt(b, p + IP_SOURCE_OFFSET[family], family) !== peer) {
        drops[DISALLOWED_SOURCE]++;
        if (peer !== undefined) device.peerLog?.innerRefused(peer, 'disallowed-source');
        continue;
      }
      toTun.push(b.subarray(p, p + length));
    }
    const out = tunnel.transportBatchReceived(kp, copyEndpoint(from!), accepted, data, bytes, now);
    if (out.length > 0 && peer !== undefined) device.transmit(peer, toNetwork(out));
  }

  /** Writes what was decrypted to the TUN and frees the arena for the next batch. */
  #writeTun(toTun: Uint8Array[]): void {
    if (toTun.length > 0) this.#device.tun?.write(toTun);
    toTun.length = 0;
    this.#rx.reset();
    this.#runFirst = 0;
  }

  /** Ends a receive batch: opens the last run and writes every decrypted packet. */
  endReceive(now: number, toTun: Uint8Array[]): void {
    this.flushReceive(now, toTun);
    this.#writeTun(toTun);
  }
}

/** A bind that sends runs of one buffer with UDP GSO (LinuxBind). */
interface SegmentBind extends Bind {
  sendSegments(
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    first: number,
    count: number,
    to: Endpoint,
  ): number;
}

function hasSegments(bind: Bind): bind is SegmentBind {
  return typeof (bind as Partial<SegmentBind>).sendSegments === 'function';
}

/** Whether two sources are the same endpoint, sticky source included (a run has one). */
function sameSource(a: Endpoint | null, b: Endpoint): boolean {
  if (a === b) return true;
  if (a === null || a.port !== b.port || !equal(a.address, b.address)) return false;
  const x = a.source ?? null;
  const y = b.source ?? null;
  return x === null || y === null ? x === y : equal(x, y);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A source the tunnel may keep (the bind's endpoints live only during its call). */
export function copyEndpoint(e: Endpoint): Endpoint {
  const source = e.source;
  return {
    address: Uint8Array.from(e.address),
    port: e.port,
    source: source == null ? null : source.slice(),
    sourceIfindex: e.sourceIfindex ?? 0,
  };
}
