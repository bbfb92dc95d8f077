/**
 * The one narrow seam between the Device and its data paths (DESIGN.md "One transport rule set,
 * two drivers"): what the batched drivers — fast-path.ts on the offload TUN, batch-send.ts and
 * batch-receive.ts on any TunDevice and Bind — and the shared run rules (inner-rule.ts) may ask
 * of the device, and nothing more. Every protocol decision about transport data is the core's
 * (Tunnel.checkReceive, reserveSend, transportBatchReceived); the device contributes its
 * cryptokey-routing table, its link state, where to send, and the one inbound entry point for
 * every message a driver does not take itself, dispatched once on the MESSAGE_TYPE_* constants
 * (Device.receiveMessage). Drops are counted by reason on the device's DropCounters, batch errors
 * included, so both paths report one set of numbers (WGTS_STATS, the metrics).
 *
 * A driver that moves transport data in batches keeps no Device type: tests run it against a
 * Device, and nothing stops a fake.
 */
import type { Endpoint, RawBatch } from '../io/bind.js';
import type { TunnelResult } from '../protocol/results.js';
import type { Tunnel } from '../protocol/tunnel.js';
import type { AllowedIPs } from '../routing/allowed-ips.js';
import type { DropCounters } from './drops.js';
import type { Logger } from './logger.js';
import type { PeerLog } from './peer-log.js';
import type { Peer } from './peer.js';

/**
 * Where a message came from, as the raw fields of a receive batch (views valid during the call;
 * the device copies what it keeps): `addressLength` bytes at address[addressAt..], the port, the
 * local address it arrived at (the sticky source, or null) and the interface it arrived on.
 */
export interface MessageSource {
  address: Uint8Array;
  addressAt: number;
  addressLength: number;
  port: number;
  local: Uint8Array | null;
  localIfindex: number;
}

/** What a data path may ask of the device. */
export interface DataPathHost {
  /** Drops by reason, on every path (drops.ts). */
  readonly drops: DropCounters;
  /** Cryptokey routing, inbound: the inner source must map to the peer it came from. */
  readonly allowedIPs: AllowedIPs<Peer>;
  readonly peerLog: PeerLog | null;
  readonly log: Logger;
  /** Whether the link is up: a down device sends nothing. */
  readonly up: boolean;
  /**
   * Starts a batch: re-reads the link state when the device thinks it down (the kernel passes
   * nothing through a down link, so traffic means it is up) and refreshes route MTUs for an
   * outbound batch. Returns the batch's time, or -1 when the device is down (drop the batch).
   */
  beginBatch(outbound: boolean): number;
  /** The device's one outbound rule set for the IP packet at b[at .. at + length): its peer. */
  routeOutbound(b: Uint8Array, at: number, length: number, now: number): Peer | undefined;
  /** The MTU that caps that packet's padding (paddedLength's `mtu`). */
  paddingMtu(b: Uint8Array, at: number, length: number, now: number): number;
  /** Where to send to `peer` now, or null (no endpoint). */
  sendEndpoint(peer: Peer): Endpoint | null;
  /** The kernel refused `endpoint`'s sticky source. */
  sourceRefused(peer: Peer, endpoint: Endpoint): void;
  /** Sends whatever the core asked for to the peer. */
  transmit(peer: Peer, r: TunnelResult): void;
  /** The tunnel that owns receiver index `receiver`, if any. */
  tunnelOf(receiver: number): Tunnel | undefined;
  peerOfTunnel(tunnel: Tunnel): Peer | undefined;
  /**
   * The one inbound entry point for a message a driver does not take itself (anything but a
   * transport message of a live keypair): buf[at .. at + length) from `from`.
   */
  receiveMessage(buf: Uint8Array, at: number, length: number, from: MessageSource): void;
  /** The TUN reader stopped on an error. */
  tunReadFailed(err: Error & { code?: string }): void;
}

/**
 * The TUN as the fast path sees it (LinuxTun on an offload TUN, or a packetPair() stand-in): read
 * batches into fixed slots (slot i at i * TUN_SLOT_STRIDE + TUN_HEADROOM, vnet header first), and
 * one coalescing write of packets lying in one buffer. No packet becomes an object.
 */
export interface BatchTun {
  readonly slots: Uint8Array;
  readonly slotLengths: Int32Array;
  startRaw(onBatch: (count: number) => void, onError: (err: Error) => void): void;
  writeCoalesced(buffer: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): void;
}

/** The UDP side as the fast path sees it (LinuxBind): receive batches in place, GSO sends. */
export interface BatchBind {
  readonly stats: { datagramsReceived: number };
  /** Whether the last send's sticky source was refused by the kernel (and sent without it). */
  readonly sourceRefused: boolean;
  startRaw(onBatch: (batch: RawBatch) => void): void;
  /** Sends datagrams [first, first + count) of one buffer to `to`; how many the kernel took. */
  sendSegments(
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    first: number,
    count: number,
    to: Endpoint,
  ): number;
}

/**
 * Counts datagrams the kernel took for `peer` (the UAPI's tx_bytes, as wireguard-go counts):
 * all `bytes` when all `n` went, else the first `sent` lengths. The batched senders' one rule.
 */
export function countSent(
  peer: Peer,
  lengths: Uint32Array,
  first: number,
  n: number,
  sent: number,
  bytes: number,
): void {
  if (sent === n) peer.txBytes += bytes;
  else for (let k = first; k < first + sent; k++) peer.txBytes += lengths[k]!;
}
