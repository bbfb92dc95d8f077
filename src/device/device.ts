/**
 * The device (wireguard-go's device.Device): the one place that decides what to send and where.
 * It owns the interface identity, the peers and their Tunnels, the receiver-index table, the
 * allowed-IPs trie used for cryptokey routing in both directions (whitepaper section 2), the
 * handshake queue with "under load" detection, and one timer that sleeps until the earliest
 * deadline of all peers' timers (deadline-queue.ts; housekeeping joins it only while it has work).
 * I/O comes in through the TunDevice and Bind interfaces, so tests can run it on fakes.
 *
 * Outbound: TUN packet -> destination lookup in the trie -> that peer's Tunnel.encapsulate -> Bind.
 * Inbound: datagram -> parse once -> transport and cookie replies by receiver index, handshake
 * messages through the bounded queue -> Responder admission -> Tunnel -> TUN and/or Bind.
 */
import { toHex } from '../crypto/bytes.js';
import { randomPooled } from '../crypto/random.js';
import { tai64nFromMillis } from '../crypto/tai64n.js';
import type { Bind } from '../io/bind.js';
import type { TunDevice } from '../io/tun.js';
import { wipeHandshakeState } from '../protocol/handshake.js';
import { IndexTable } from '../protocol/indices.js';
import { LocalIdentity } from '../protocol/identity.js';
import { parseMessage, type TransportMessage } from '../protocol/messages.js';
import {
  INITIATION_SIZE,
  MESSAGE_TYPE_COOKIE_REPLY,
  MESSAGE_TYPE_INITIATION,
  MESSAGE_TYPE_RESPONSE,
  MESSAGE_TYPE_TRANSPORT,
  RESPONSE_SIZE,
  TRANSPORT_MIN_SIZE,
} from '../constants.js';
import { Responder } from '../protocol/responder.js';
import type { DropReason, TunnelResult } from '../protocol/results.js';
import { Tunnel, type Endpoint } from '../protocol/tunnel.js';
import { IP_DESTINATION_OFFSET, IP_SOURCE_OFFSET } from '../protocol/transport.js';
import { AllowedIPs } from '../routing/allowed-ips.js';
import type { DeviceSet, DeviceSnapshot, UapiTarget } from '../uapi/types.js';
import { loadNative, tryLoadNative } from '../io/native.js';
import { applyDeviceSet } from './apply.js';
import { BatchReceive, copyEndpoint } from './batch-receive.js';
import { BatchSend } from './batch-send.js';
import type { DataPathHost, MessageSource } from './data-path.js';
import { EndpointResolver, type HostLookup } from './endpoint-resolver.js';
import { lookupFirstAddress } from '../io/host-lookup.js';
import { RESOLVE_INTERVAL_DEFAULT_S } from '../constants.js';
import { DROP_INDEX, DropCounters } from './drops.js';
import { HandshakeQueue } from './handshake-queue.js';
import { IcmpUnreachable } from './icmp-unreachable.js';
import { isOwnDatagramTo } from './loop-guard.js';
import type { RouteMtus } from './route-mtu.js';
import { SILENT_LOGGER, type Logger } from './logger.js';
import { applyThreads } from './threads.js';
import { applyAeadEngine } from './aead-engine.js';
import { formatEndpoint, PeerLog, peerName } from './peer-log.js';
import { Peer } from './peer.js';
import { DeadlineQueue } from './deadline-queue.js';
import { snapshotDevice } from './snapshot.js';
import { SourceRoutes } from './sticky-source.js';

export interface DeviceOptions {
  readonly tun: TunDevice | null;
  readonly bind: Bind;
  readonly logger?: Logger;
  /** Monotonic milliseconds. */
  readonly now?: () => number;
  /** Wall-clock milliseconds since the unix epoch (TAI64N and handshake times). */
  readonly wallNow?: () => number;
  readonly random?: (n: number) => Uint8Array;
  readonly mtu?: number;
  /**
   * Asks the kernel whether the link is up (undefined: could not tell). When given, the device
   * re-reads it before applying a configuration, so a `wg set` right after `ip link set down`
   * sees the link down without waiting for the daemon's poll.
   */
  readonly linkUp?: () => boolean | undefined;
  /**
   * The shortest the device's timer sleeps (default 0: until the earliest deadline exactly). A
   * test that runs `tick()` by hand on a fake clock passes a large value.
   */
  readonly tickMs?: number;
  /**
   * The owner calls `followTunMtu()` whenever the link changes (a netlink link watch,
   * kernel-device.ts), so the device need not ask the TUN's MTU every second.
   */
  readonly linkEvents?: boolean;
  /**
   * Builds the batched data path that takes over both readers (src/device/fast-path.ts, on an
   * offload TUN and the native bind); without it the device reads through `tun.start` and
   * `bind.start`.
   */
  readonly fastPath?: (device: Device) => { start(): void };
  /**
   * Told when reading the TUN fails for good (reading has stopped): 'EBADFD' means the link was
   * deleted, and the daemon exits at once so that a restart under the same name finds the name
   * free. Without it the failure is only logged.
   */
  readonly onTunError?: (err: Error & { code?: string }) => void;
  /** Route MTUs that cap padding (route-mtu.ts); without it padding stops at the link MTU. */
  readonly routeMtus?: RouteMtus;
  /** Re-resolution of hostname endpoints every this many ms (0 = only on stalls); default 120 s. */
  readonly resolveIntervalMs?: number;
  /** Resolves endpoint hostnames (default getaddrinfo, io/host-lookup.ts); fakes in tests. */
  readonly lookupHost?: HostLookup;
  /**
   * Seal and open transport data in batches with the native AEAD on the ordinary path
   * (batch-send.ts, batch-receive.ts); default: whenever the native addon loads. False keeps the per-packet path.
   */
  readonly batched?: boolean;
}

/**
 * Cheap counters for the hostile-input tests and operators (the daemon prints them as a `STATS`
 * JSON line on stderr every WGTS_STATS_MS when WGTS_STATS=1). `handshakeDh` counts handshake
 * messages that reached Diffie-Hellman (an initiation's identify, a response's consume): a flood
 * with bad mac1s must leave it unchanged.
 */
export interface DeviceStats {
  /** Handshake messages taken into the bounded queue. */
  handshakesQueued: number;
  /** Handshake messages refused because the queue was full (dropped before any copy or DH). */
  handshakesQueueFull: number;
  /** Dropped at admission: bad mac1. */
  macRejected: number;
  /** Dropped at admission: valid mac2 but over the per-source rate limit. */
  rateLimited: number;
  /** Cookie replies sent. */
  cookieReplies: number;
  /** Handshake messages that ran Diffie-Hellman. */
  handshakeDh: number;
  /** The highest queue length seen. */
  queueHighWater: number;
  /** Packets read from the TUN that were our own datagrams to their peer's endpoint (loop-guard.ts). */
  loopDropped: number;
  /** Handshake messages the kernel took from us, by type (Device.transmit reads the type byte). */
  initiationsSent: number;
  responsesSent: number;
  /** Handshake messages that passed admission (mac1, and mac2 under load), by type. */
  initiationsReceived: number;
  responsesReceived: number;
  /**
   * Sessions derived: as initiator from a valid response, as responder from a valid initiation
   * (the response sent). The responder's session is confirmed later by the first data packet.
   */
  handshakesCompleted: number;
  /** Cookie replies received (cookieReplies counts those sent). */
  cookieRepliesReceived: number;
}

/** Handshake messages processed per event-loop turn before yielding to other I/O. */
const HANDSHAKES_PER_TURN = 16;
/** Time spent on queued handshakes per event-loop turn before yielding (see #drain). */
const HANDSHAKE_TURN_BUDGET_MS = 0.5;
/**
 * Housekeeping period (rate-limiter GC, suppressed-log reports, the TUN MTU when no link watch
 * tells of changes): run only while one of them has something to do.
 */
const HOUSEKEEPING_MS = 1000;
/** setTimeout's largest delay (a signed 32-bit ms count); longer ones would fire at once. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

export class Device implements UapiTarget, DataPathHost {
  readonly identity = new LocalIdentity();
  readonly responder: Responder;
  readonly indices: IndexTable<Tunnel>;
  readonly peers = new Map<string, Peer>();
  readonly allowedIPs = new AllowedIPs<Peer>();
  readonly queue = new HandshakeQueue();
  readonly stats: DeviceStats = {
    handshakesQueued: 0,
    handshakesQueueFull: 0,
    macRejected: 0,
    rateLimited: 0,
    cookieReplies: 0,
    handshakeDh: 0,
    queueHighWater: 0,
    loopDropped: 0,
    initiationsSent: 0,
    responsesSent: 0,
    initiationsReceived: 0,
    responsesReceived: 0,
    handshakesCompleted: 0,
    cookieRepliesReceived: 0,
  };
  /** Peers whose endpoint was given as a hostname, re-resolved (endpoint-resolver.ts). */
  readonly endpointNames: EndpointResolver;
  /** Dropped packets by reason, on both data paths (drops.ts). */
  readonly drops = new DropCounters();
  /** ICMP unreachables for packets no peer can carry (icmp-unreachable.ts). */
  readonly icmp = new IcmpUnreachable();
  readonly routeMtus: RouteMtus | null;
  readonly tun: TunDevice | null;
  readonly bind: Bind;
  readonly log: Logger;
  /** Protocol events as log lines, rate-limited; null unless verbose (peer-log.ts). */
  readonly peerLog: PeerLog | null;
  readonly now: () => number;
  readonly wallNow: () => number;
  readonly random: (n: number) => Uint8Array;
  listenPort = 0;
  fwmark = 0;
  mtu: number;
  #peerOfTunnel = new WeakMap<Tunnel, Peer>();
  /** Peers queued at their earliest timer deadline; one timer sleeps until the first. */
  readonly #deadlines = new DeadlineQueue<Peer>();
  #timer: NodeJS.Timeout | null = null;
  /** When #timer fires (Infinity: not armed). */
  #timerAt = Infinity;
  /** When housekeeping runs next (Infinity: nothing to keep). */
  #housekeepingAt = Infinity;
  #started = false;
  readonly #linkEvents: boolean;
  readonly #onTimer = (): void => {
    const at = this.#timerAt;
    this.#timer = null;
    this.#timerAt = Infinity;
    // libuv compares against its loop time, taken before this turn: the timer can run up to a
    // millisecond before `at` by our clock. It was armed for `at`, so `at` is due then.
    const now = this.now();
    this.tick(at - now <= 1 ? Math.max(now, at) : now);
  };
  #draining = false;
  #closed = false;
  #up = true;
  readonly #linkUp: (() => boolean | undefined) | null;
  readonly #sourceRoutes: SourceRoutes;
  readonly #onTunError: ((err: Error & { code?: string }) => void) | null;
  /** The MTU follows the TUN's (wg-quick sets it after the daemon starts) unless given. */
  readonly #mtuFollowsTun: boolean;
  /** The batched transport data path (batch-send.ts, batch-receive.ts), made on first use. */
  #batchSend: BatchSend | null = null;
  #batchReceive: BatchReceive | null = null;
  #batched: boolean;

  constructor(o: DeviceOptions) {
    this.tun = o.tun;
    this.bind = o.bind;
    this.log = o.logger ?? SILENT_LOGGER;
    this.now = o.now ?? (() => performance.now());
    this.peerLog = this.log.verboseEnabled ? new PeerLog(this.log, this.now) : null;
    this.wallNow = o.wallNow ?? (() => Date.now());
    this.random = o.random ?? randomPooled;
    this.mtu = o.mtu ?? o.tun?.mtu ?? 1420;
    this.#mtuFollowsTun = o.mtu === undefined && o.tun !== null;
    this.#linkUp = o.linkUp ?? null;
    this.#onTunError = o.onTunError ?? null;
    this.responder = new Responder(this.identity, this.random);
    this.#sourceRoutes = new SourceRoutes(o.bind);
    this.indices = new IndexTable<Tunnel>(this.random);
    this.#tickMs = o.tickMs ?? 0;
    this.#linkEvents = o.linkEvents ?? false;
    this.#fastPath = o.fastPath ?? null;
    this.routeMtus = o.routeMtus ?? null;
    this.#batched = o.batched ?? nativeLoads();
    applyThreads(this.log); // WGTS_THREADS (or the default) for the native AEAD's batches
    applyAeadEngine(tryLoadNative(), this.log); // WGTS_AEAD (or the addon's default)
    this.endpointNames = new EndpointResolver({
      lookup: o.lookupHost ?? lookupFirstAddress,
      intervalMs: o.resolveIntervalMs ?? RESOLVE_INTERVAL_DEFAULT_S * 1000,
      log: this.log,
      now: this.now,
      wake: () => this.#rearm(),
    });
  }
  readonly #tickMs: number;

  /**
   * Whether the ordinary data path seals and opens transport data in native batches
   * (batch-send.ts, batch-receive.ts) rather than packet by packet; both apply the same core rules. Turning it on
   * without the native addon throws.
   */
  get batched(): boolean {
    return this.#batched;
  }

  set batched(on: boolean) {
    if (on && !nativeLoads()) throw new Error('the batched data path needs the native addon');
    this.#batched = on;
  }

  #sendBatched(): BatchSend | null {
    if (!this.#batched) return null;
    return (this.#batchSend ??= new BatchSend(this, loadNative(), this.bind));
  }

  #receiveBatched(): BatchReceive | null {
    if (!this.#batched) return null;
    return (this.#batchReceive ??= new BatchReceive(this, loadNative(), this.tun));
  }
  readonly #fastPath: ((device: Device) => { start(): void }) | null;

  /** Binds the UDP port (0 = random), starts reading both sides and the scheduler. */
  async start(listenPort = 0): Promise<void> {
    this.listenPort = await this.bind.open(listenPort);
    if (this.#fastPath !== null) {
      this.#fastPath(this).start();
    } else {
      this.bind.start((datagrams, sources) => this.receiveDatagrams(datagrams, sources));
      this.tun?.start(
        (packets) => this.sendPackets(packets),
        (err) => this.tunReadFailed(err),
      );
    }
    this.#started = true;
    this.#wantHousekeeping(this.now());
    this.#rearm();
  }

  /** The TUN reader stopped on an error (both data paths end here). */
  tunReadFailed(err: Error & { code?: string }): void {
    if (this.#closed) return;
    if (err.code === 'EBADFD') this.log.verbose('TUN link deleted');
    else this.log.error(`TUN read failed: ${err.message}`);
    this.#onTunError?.(err);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#deadlines.clear();
    this.endpointNames.close();
    for (const peer of this.peers.values()) peer.tunnel.destroy();
    this.peers.clear();
    this.allowedIPs.clear();
    this.queue.clear();
    this.bind.close();
    this.routeMtus?.close();
    this.tun?.close();
  }

  // ---- peers ------------------------------------------------------------------------------------

  peerByKey(publicKey: Uint8Array): Peer | undefined {
    return this.peers.get(toHex(publicKey));
  }

  createPeer(publicKey: Uint8Array): Peer {
    const ref: { peer: Peer | null } = { peer: null };
    const tunnel = new Tunnel({
      identity: this.identity,
      remotePublic: publicKey,
      mtu: this.mtu,
      timestamp: () => tai64nFromMillis(this.wallNow()),
      random: this.random,
      indices: this.indices,
      responder: this.responder,
      // Cryptokey routing, inbound: the packet's source must map to the peer it came from.
      allowedSource: (packet, family) =>
        this.allowedIPs.lookupAt(packet, IP_SOURCE_OFFSET[family], family) === ref.peer,
    });
    const peer = new Peer(publicKey, tunnel);
    ref.peer = peer;
    this.peers.set(peer.id, peer);
    this.#peerOfTunnel.set(tunnel, peer);
    tunnel.timers.onArm = (at) => this.#schedule(peer, at);
    this.#schedule(peer, tunnel.timers.nextDeadline());
    if (this.peerLog !== null) {
      tunnel.observer = this.peerLog.observerFor(peer);
      this.peerLog.say(peer, 'created');
    }
    return peer;
  }

  /** The peer a Tunnel belongs to. */
  peerOfTunnel(tunnel: Tunnel): Peer | undefined {
    return this.#peerOfTunnel.get(tunnel);
  }

  /** The tunnel that owns receiver index `receiver` (a keypair's or a handshake's), if any. */
  tunnelOf(receiver: number): Tunnel | undefined {
    return this.indices.get(receiver);
  }

  removePeer(peer: Peer): void {
    this.allowedIPs.removeByPeer(peer);
    peer.tunnel.destroy();
    this.peers.delete(peer.id);
    this.#deadlines.delete(peer);
    this.endpointNames.delete(peer);
    this.peerLog?.say(peer, 'removed');
  }

  // ---- configuration ----------------------------------------------------------------------------

  snapshot(): DeviceSnapshot {
    return snapshotDevice(this);
  }

  apply(set: DeviceSet): Promise<number> {
    this.syncLinkState();
    const applied = applyDeviceSet(this, set);
    // A hostname endpoint set, say: its re-resolution has a deadline of its own.
    const after = (): void => this.#rearm();
    applied.then(after, after);
    return applied;
  }

  // ---- outbound ---------------------------------------------------------------------------------

  /** IP packets read from the TUN (views valid only during this call). */
  sendPackets(packets: readonly Uint8Array[]): void {
    // The kernel routes nothing through a down link, so a packet here means the link is up even if
    // the daemon's link watch (a poll) has not seen it yet. Without this re-read, the first packet
    // after `ip link set up` would start a handshake that transmit() then drops while its rate
    // limit still counts: the tunnel came up only REKEY_TIMEOUT later.
    if (!this.#up) this.syncLinkState();
    const now = this.now();
    this.routeMtus?.refresh(now);
    const batch = this.#sendBatched();
    if (batch !== null) {
      batch.sendPackets(packets, now);
      return;
    }
    for (const packet of packets) {
      const peer = this.routeOutbound(packet, 0, packet.length, now);
      if (peer === undefined) continue;
      const mtu = this.paddingMtu(packet, 0, packet.length, now);
      this.transmit(peer, peer.tunnel.encapsulate(packet.slice(), now, mtu));
    }
  }

  /**
   * The MTU that caps the padding of the IP packet at b[at .. at + length): its route's when the
   * device knows route MTUs (route-mtu.ts) and that is smaller, else the link's. Both data paths.
   */
  paddingMtu(b: Uint8Array, at: number, length: number, now: number): number {
    return this.routeMtus === null ? this.mtu : this.routeMtus.capFor(b, at, length, this.mtu, now);
  }

  /**
   * The outbound decision for the IP packet at b[at .. at + length) read from the TUN, one rule
   * set for both data paths (sendPackets and FastPath): cryptokey routing by destination; no
   * peer, or a peer without an endpoint, answers with an ICMP unreachable into the TUN and drops
   * it, as the kernel's wg_xmit does (icmp-unreachable.ts); our own datagram to the peer's
   * endpoint coming back through the TUN is a routing loop and is dropped (loop-guard.ts).
   * Returns the peer to seal the packet for, or undefined when it is dropped.
   */
  routeOutbound(b: Uint8Array, at: number, length: number, now: number): Peer | undefined {
    const version = length > 0 ? b[at]! >> 4 : 0;
    let peer: Peer | undefined;
    if (version === 4 && length >= 20) peer = this.allowedIPs.lookupAt(b, at + IP_DESTINATION_OFFSET[4], 4);
    else if (version === 6 && length >= 40)
      peer = this.allowedIPs.lookupAt(b, at + IP_DESTINATION_OFFSET[6], 6);
    else {
      this.drops.counts[DROP_INDEX['not-ip']]++;
      return undefined;
    }
    const endpoint = peer === undefined ? null : peer.tunnel.endpoint;
    if (endpoint === null) {
      this.drops.counts[peer === undefined ? DROP_INDEX['no-route'] : DROP_INDEX['no-endpoint']]++;
      const icmp = this.icmp.build(b, at, length, now);
      if (icmp !== null) this.tun?.write([icmp]);
      return undefined;
    }
    if (isOwnDatagramTo(b, at, length, this.listenPort, endpoint)) {
      this.stats.loopDropped++;
      this.drops.counts[DROP_INDEX['routing-loop']]++;
      return undefined;
    }
    return peer;
  }

  /** Sends whatever a Tunnel asked for to its peer's current endpoint. */
  transmit(peer: Peer, r: TunnelResult): void {
    if (r.kind !== 'toNetwork' && r.kind !== 'toTunnel') return;
    if (r.datagrams.length === 0 || !this.#up) return;
    const endpoint = this.sendEndpoint(peer);
    if (endpoint === null) {
      this.peerLog?.unsent(peer, r.datagrams.length);
      return;
    }
    // Count what the kernel took, as wireguard-go does: not what the tunnel produced.
    const sent = this.bind.send(r.datagrams, endpoint);
    if (endpoint.source != null && this.bind.sourceRefused === true) this.sourceRefused(peer, endpoint);
    for (let i = 0; i < sent; i++) {
      const d = r.datagrams[i]!;
      peer.txBytes += d.length;
      if (d[0] === 1) this.stats.initiationsSent++;
      else if (d[0] === 2) this.stats.responsesSent++;
    }
  }

  /**
   * Where to send to `peer` now (both data paths): its endpoint, without the sticky source when
   * that no longer fits the route to the peer (sticky-source.ts), which it then forgets.
   */
  sendEndpoint(peer: Peer): Endpoint | null {
    const endpoint = peer.tunnel.endpoint;
    if (endpoint === null || endpoint.source == null || this.#sourceRoutes.fits(peer, endpoint))
      return endpoint;
    peer.tunnel.forgetSource(endpoint);
    this.peerLog?.limited(
      peer,
      'source-route',
      () => "route leaves elsewhere: sending from the kernel's choice",
    );
    return peer.tunnel.endpoint;
  }

  /**
   * The kernel refused `endpoint`'s sticky source (its address is gone) and the bind sent without
   * it: forget it, so later sends go from the kernel's choice until the peer's next authenticated
   * packet records where it reaches us now ("not too sticky", as the kernel's send4/send6).
   */
  sourceRefused(peer: Peer, endpoint: Endpoint): void {
    peer.tunnel.forgetSource(endpoint);
    this.peerLog?.limited(peer, 'source-gone', () => "source address gone: sending from the kernel's choice");
  }

  /**
   * Starts a batch of either data path (data-path.ts): re-reads the link state when down (see
   * sendPackets and receiveDatagrams for why), refreshes route MTUs for an outbound batch, and
   * returns the batch's time, or -1 when the device is down.
   */
  beginBatch(outbound: boolean): number {
    if (!this.#up) this.syncLinkState();
    if (!this.#up) return -1;
    const now = this.now();
    if (outbound) this.routeMtus?.refresh(now);
    return now;
  }

  /** Re-reads the link state through the `linkUp` option, if there is one. */
  syncLinkState(): void {
    const up = this.#linkUp?.();
    if (up !== undefined) this.setUp(up);
  }

  /** Whether the interface is up: a down device sends nothing and drops what arrives. */
  get up(): boolean {
    return this.#up;
  }

  /**
   * Follows the link's administrative state (wireguard-go's Up/Down): going down forgets every
   * session, timer and staged packet but keeps the configuration; coming up sends a keepalive to
   * each peer with persistent keepalive, which starts its handshake.
   */
  setUp(up: boolean): void {
    if (up === this.#up) return;
    this.#up = up;
    this.log.verbose(`interface ${up ? 'up' : 'down'}`);
    // An MTU set while the link was down (the scheduler, which follows it, sleeps while down).
    if (up) this.followTunMtu();
    const now = this.now();
    for (const peer of this.peers.values()) {
      if (!up) {
        peer.tunnel.destroy(); // sessions, timers and staged packets; the configuration stays
        continue;
      }
      const interval = peer.tunnel.timers.persistentKeepaliveInterval;
      if (interval > 0) {
        peer.tunnel.timers.setPersistentKeepalive(interval, now);
        this.transmit(peer, peer.tunnel.keepalive(now));
      }
    }
    if (!up) this.queue.clear();
    // Timers that came due while down were left queued: run them (a down tunnel has none armed).
    else this.#rearm();
  }

  // ---- inbound ----------------------------------------------------------------------------------

  /** Datagrams from the Bind (views valid only during this call). */
  receiveDatagrams(datagrams: readonly Uint8Array[], sources: readonly Endpoint[]): void {
    // Re-read the link state rather than trust the last poll: a peer's first initiation right
    // after `ip link set up` would otherwise be dropped and retried only REKEY_TIMEOUT later.
    const now = this.beginBatch(false);
    if (now < 0) return;
    const toTun: Uint8Array[] = [];
    const batch = this.#receiveBatched();
    for (let i = 0; i < datagrams.length; i++) {
      const d = datagrams[i]!;
      const src = sources[i]!;
      // Transport data of any length the batch takes; the rest goes through the one dispatch.
      if (batch !== null && d.length >= TRANSPORT_MIN_SIZE && readType(d, 0) === MESSAGE_TYPE_TRANSPORT) {
        batch.receiveTransport(d, src, now, toTun);
        continue;
      }
      this.#dispatch(d, 0, d.length, sourceOf(src), now, toTun);
    }
    if (batch !== null) batch.endReceive(now, toTun);
    else if (toTun.length > 0) this.tun?.write(toTun);
  }

  /**
   * The one inbound entry point of the batched data paths (data-path.ts) for a message they do
   * not take themselves: buf[at .. at + length) from `from` (views valid during this call).
   */
  receiveMessage(buf: Uint8Array, at: number, length: number, from: MessageSource): void {
    if (this.#closed) return;
    const toTun: Uint8Array[] = [];
    this.#dispatch(buf, at, length, from, this.now(), toTun);
    if (toTun.length > 0) this.tun?.write(toTun);
  }

  /**
   * The one dispatch on the message type (whitepaper section 5.4): handshake messages wait in
   * the bounded queue, cookie replies and transport data go to the tunnel that owns their
   * receiver index (decrypted packets appended to `toTun`), anything else is counted by reason.
   */
  #dispatch(
    buf: Uint8Array,
    at: number,
    length: number,
    from: MessageSource,
    now: number,
    toTun: Uint8Array[],
  ): void {
    const type = length >= 4 ? readType(buf, at) : -1;
    switch (type) {
      case MESSAGE_TYPE_INITIATION:
      case MESSAGE_TYPE_RESPONSE:
        this.offerHandshake(
          buf,
          at,
          length,
          type,
          from.address,
          from.addressAt,
          from.addressLength,
          from.port,
          from.local,
          from.localIfindex,
        );
        return;
      case MESSAGE_TYPE_TRANSPORT:
        this.consumeTransportDatagram(buf.subarray(at, at + length), endpointOf(from), now, toTun);
        return;
      case MESSAGE_TYPE_COOKIE_REPLY: {
        const msg = parseMessage(buf.subarray(at, at + length));
        if (msg.type !== 'cookieReply') break;
        this.stats.cookieRepliesReceived++;
        const tunnel = this.indices.get(msg.receiver);
        const r = tunnel === undefined ? null : tunnel.consumeCookieReply(msg, now);
        if (r === null) this.drops.count('unknown-index');
        else if (r.kind === 'drop') this.drops.count(r.reason);
        return;
      }
    }
    // A wrong size or an unknown type: the parser's reason.
    const msg = parseMessage(buf.subarray(at, at + length));
    if (msg.type === 'invalid') this.drops.count(msg.reason);
  }

  /**
   * One transport datagram, packet by packet (Tunnel.consumeTransport): its decrypted packet is
   * appended to `toTun`. The per-packet path, and the batched path's way for the datagrams it
   * does not take (an expired keypair, an index that is not a keypair's).
   */
  consumeTransportDatagram(
    d: Uint8Array,
    src: Endpoint,
    now: number,
    toTun: Uint8Array[],
    parsed?: TransportMessage,
  ): void {
    const msg = parsed ?? parseMessage(d);
    if (msg.type !== 'transport') {
      if (msg.type === 'invalid') this.drops.count(msg.reason);
      return;
    }
    const tunnel = this.indices.get(msg.receiver);
    if (tunnel === undefined) {
      this.drops.count('unknown-index');
      return;
    }
    const r = tunnel.consumeTransport(msg, copyEndpoint(src), now);
    const peer = this.#peerOfTunnel.get(tunnel)!;
    if (r.kind === 'toTunnel') toTun.push(r.packet);
    const refused = r.kind === 'drop' ? r.reason : r.kind === 'toNetwork' ? r.refused : undefined;
    if (refused !== undefined) {
      this.drops.count(refused);
      if (this.peerLog !== null) this.#logRefused(peer, refused);
    }
    this.transmit(peer, r);
  }

  /** A transport packet's content refused (wireguard-go logs these; replays and bad tags it does not). */
  #logRefused(peer: Peer, reason: DropReason): void {
    if (reason === 'disallowed-source') this.peerLog?.innerRefused(peer, reason);
    else if (reason === 'not-ip' || reason === 'bad-ip-length') this.peerLog?.innerRefused(peer, 'not-ip');
  }

  /**
   * A handshake message (type 1 or 2) at buf[at .. at + length) from the source whose address is
   * addrLength bytes at address[addrAt..], that arrived at local address `local` (a view, or
   * null) through interface `localIfindex`: copied out of the receive slot and queued, never run
   * inline (Diffie-Hellman waits behind the bounded queue). Only a message of its exact size takes
   * a place (and counts toward "under load"), as the kernel checks sizes before queueing; a refused
   * one — most of a flood — costs no copy and no object.
   */
  offerHandshake(
    buf: Uint8Array,
    at: number,
    length: number,
    type: number,
    address: Uint8Array,
    addrAt: number,
    addrLength: number,
    port: number,
    local: Uint8Array | null = null,
    localIfindex = 0,
  ): void {
    if (length !== (type === 1 ? INITIATION_SIZE : RESPONSE_SIZE)) {
      this.drops.counts[DROP_INDEX['bad-length']]++;
      return;
    }
    if (this.queue.refuses(address, addrAt, addrLength)) {
      this.queue.dropped++;
      this.stats.handshakesQueueFull++;
      this.drops.counts[DROP_INDEX['handshake-queue-full']]++;
      this.peerLog?.limited(
        null,
        'handshake-queue-full',
        () => 'handshake queue full: dropping handshake messages',
      );
      return;
    }
    this.queue.push({
      datagram: buf.slice(at, at + length),
      from: {
        address: address.slice(addrAt, addrAt + addrLength),
        port,
        source: local === null ? null : local.slice(),
        sourceIfindex: localIfindex,
      },
    });
    this.stats.handshakesQueued++;
    if (this.queue.length > this.stats.queueHighWater) this.stats.queueHighWater = this.queue.length;
    this.#scheduleDrain();
  }

  #scheduleDrain(): void {
    if (this.#draining || this.#closed) return;
    this.#draining = true;
    setImmediate(() => this.#drain());
  }

  /** Processes a slice of the handshake queue, then yields so transport traffic keeps flowing. */
  #drain(): void {
    this.#draining = false;
    if (this.#closed) return;
    // At most HANDSHAKES_PER_TURN messages and about HANDSHAKE_TURN_BUDGET_MS per turn: under a
    // flood each message costs a mac check and a cookie reply (~0.1 ms in JavaScript), and the
    // receive path must keep reading its socket (transport packets wait behind the flood in a
    // 7 MiB receive buffer otherwise, and the tunnel's latency climbs to seconds).
    const started = performance.now();
    for (let i = 0; i < HANDSHAKES_PER_TURN; i++) {
      const item = this.queue.shift();
      if (item === undefined) return;
      this.#handleHandshake(item.datagram, item.from);
      if (performance.now() - started >= HANDSHAKE_TURN_BUDGET_MS) break;
    }
    if (this.queue.length > 0) this.#scheduleDrain();
    // Handshakes leave rate-limiter entries and log windows behind: housekeeping forgets them.
    else this.#wantHousekeeping(this.now());
  }

  #handleHandshake(datagram: Uint8Array, from: Endpoint): void {
    const now = this.now();
    const msg = parseMessage(datagram);
    if (msg.type !== 'initiation' && msg.type !== 'response') return;
    const admission = this.responder.admit(msg, from.address, from.port, this.queue.underLoad(now), now);
    const log = this.peerLog;
    if (admission.kind === 'drop') {
      if (admission.reason === 'bad-mac1') this.stats.macRejected++;
      else if (admission.reason === 'rate-limited') this.stats.rateLimited++;
      this.drops.count(admission.reason);
      log?.limited(
        null,
        admission.reason,
        () => `${msg.type} from ${formatEndpoint(from)} dropped: ${admission.reason}`,
      );
      return;
    }
    if (admission.kind === 'cookie') {
      this.stats.cookieReplies++;
      this.bind.send([admission.reply], from);
      log?.limited(
        null,
        'cookie-reply-sent',
        () => `under load: sending cookie reply to ${formatEndpoint(from)}`,
      );
      return;
    }
    if (msg.type === 'initiation') {
      this.stats.initiationsReceived++;
      this.stats.handshakeDh++;
      const partial = this.responder.identify(msg);
      if (partial === null) {
        this.drops.count('handshake-failed');
        log?.limited(
          null,
          'invalid-initiation',
          () => `invalid handshake initiation from ${formatEndpoint(from)}`,
        );
        return;
      }
      const peer = this.peers.get(toHex(partial.remoteStatic));
      if (peer === undefined) {
        wipeHandshakeState(partial); // its chaining key is secret; no tunnel will consume it
        this.drops.count('unknown-peer');
        log?.limited(
          null,
          'unknown-peer',
          () =>
            `handshake initiation from unknown ${peerName(partial.remoteStatic)} at ${formatEndpoint(from)}`,
        );
        return;
      }
      const r = peer.tunnel.consumeInitiation(partial, msg, from, now);
      if (r.kind === 'drop') log?.limited(peer, r.reason, () => `handshake initiation dropped: ${r.reason}`);
      this.#handshakeDone(peer, r);
    } else {
      this.stats.responsesReceived++;
      const tunnel = this.indices.get(msg.receiver);
      if (tunnel === undefined) {
        this.drops.count('unknown-index');
        log?.limited(
          null,
          'unknown-index',
          () => `handshake response from ${formatEndpoint(from)} for no handshake of ours`,
        );
        return;
      }
      this.stats.handshakeDh++;
      const peer = this.#peerOfTunnel.get(tunnel)!;
      const r = tunnel.consumeResponse(msg, from, now);
      if (r.kind === 'drop') log?.limited(peer, r.reason, () => `handshake response dropped: ${r.reason}`);
      this.#handshakeDone(peer, r);
    }
  }

  /** Counts a consumed handshake message's outcome, then sends what it asked for. */
  #handshakeDone(peer: Peer, r: TunnelResult): void {
    if (r.kind === 'drop') this.drops.count(r.reason);
    else this.stats.handshakesCompleted++;
    this.transmit(peer, r);
  }

  // ---- timers -----------------------------------------------------------------------------------

  /**
   * Runs the timers of the peers whose earliest deadline is at or before `now` (whitepaper
   * section 6), and housekeeping when due, then arms the device's timer for the next deadline.
   * The timer calls this; a test on a fake clock may call it by hand.
   */
  tick(now = this.now()): void {
    if (!this.#up) return;
    const due: Peer[] = [];
    this.#deadlines.takeDue(now, due);
    for (const peer of due) {
      // Taken off the queue above; a deadline armed meanwhile (by another peer's packets) or by
      // this tick re-queues the peer through Timers.onArm, and nextDeadline covers the rest.
      if (peer.tunnel.timers.nextDeadline() <= now) this.transmit(peer, peer.tunnel.tick(now));
      this.#schedule(peer, peer.tunnel.timers.nextDeadline());
    }
    // Hostname endpoints (nothing to do without any); after the peers, whose retransmissions
    // decide whether a handshake stalls.
    this.endpointNames.tick(now);
    if (this.#housekeepingAt <= now) {
      this.#housekeepingAt = Infinity;
      this.#housekeeping(now);
    }
    this.#rearm();
  }

  /** When the device's timer fires next (monotonic ms; Infinity: no timer armed), for tests and stats. */
  get nextWake(): number {
    return this.#timer === null ? Infinity : this.#timerAt;
  }

  /** Rate-limiter GC, log reports, the TUN MTU; re-armed while needed. */
  #housekeeping(now: number): void {
    this.responder.rateLimiter.gc(now);
    if (!this.#linkEvents) this.followTunMtu();
    this.peerLog?.flush();
    this.#wantHousekeeping(now);
  }

  /** Arms housekeeping HOUSEKEEPING_MS from `now` if it has work and is not armed yet. */
  #wantHousekeeping(now: number): void {
    if (this.#housekeepingAt !== Infinity || this.#closed) return;
    const needed =
      this.responder.rateLimiter.size > 0 ||
      this.peerLog !== null ||
      (this.#mtuFollowsTun && !this.#linkEvents);
    if (!needed) return;
    this.#housekeepingAt = now + HOUSEKEEPING_MS;
    this.#arm(this.#housekeepingAt);
  }

  /** Queues `peer` at `at` (from Timers.onArm); wakes the timer earlier if that is now the first. */
  #schedule(peer: Peer, at: number): void {
    if (at === Infinity || !this.#deadlines.add(peer, at)) return;
    if (at < this.#timerAt) this.#arm(at);
  }

  /** Arms the timer for the earliest of the peers' deadlines, hostname lookups and housekeeping. */
  #rearm(): void {
    const at = Math.min(this.#deadlines.earliest(), this.#housekeepingAt, this.endpointNames.nextDeadline());
    this.#arm(at);
  }

  /** (Re)arms the one timer at `at` unless it is already armed at or before then. */
  #arm(at: number): void {
    if (!this.#started || this.#closed || !this.#up || at === Infinity) return;
    if (this.#timer !== null && this.#timerAt <= at) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    const delay = Math.min(MAX_TIMER_DELAY_MS, Math.max(this.#tickMs, Math.ceil(at - this.now())));
    this.#timerAt = at;
    this.#timer = setTimeout(this.#onTimer, delay);
    // As the interval it replaces: an embedded device never keeps a program alive by itself.
    this.#timer.unref();
  }

  /**
   * Picks up a changed link MTU (`ip link set mtu`, as wg-quick does after starting the daemon),
   * so padding never rounds a packet past the real MTU. Runs on each link event where the owner
   * has a link watch (DeviceOptions.linkEvents), else from housekeeping once a second.
   */
  followTunMtu(): void {
    if (!this.#mtuFollowsTun || this.tun === null || this.#closed) return;
    const mtu = this.tun.mtu;
    if (mtu === this.mtu || !Number.isInteger(mtu) || mtu <= 0) return;
    this.log.verbose(`MTU changed from ${this.mtu} to ${mtu}`);
    this.mtu = mtu;
    for (const peer of this.peers.values()) peer.tunnel.mtu = mtu;
  }
}

/** The little-endian message type at buf[at..] (whitepaper section 5.4: a u8 and three zeros). */
function readType(buf: Uint8Array, at: number): number {
  return (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24)) >>> 0;
}

/** A bind's source as the raw fields the inbound entry point takes. */
function sourceOf(src: Endpoint): MessageSource {
  return {
    address: src.address,
    addressAt: 0,
    addressLength: src.address.length,
    port: src.port,
    local: src.source ?? null,
    localIfindex: src.sourceIfindex ?? 0,
  };
}

/** The endpoint of a raw source (views: the tunnel copies what it keeps). */
function endpointOf(from: MessageSource): Endpoint {
  return {
    address: from.address.subarray(from.addressAt, from.addressAt + from.addressLength),
    port: from.port,
    source: from.local,
    sourceIfindex: from.localIfindex,
  };
}

/** Whether the native addon loads (the batched data path needs it). */
function nativeLoads(): boolean {
  return tryLoadNative() !== null;
}
