/**
 * A per-peer Tunnel (boringtun's `Tunn`, with the kernel's semantics): the whole protocol for one
 * peer, sans I/O. `encapsulate` turns an IP packet into datagrams (starting a handshake and
 * staging the packet when no session can send), `decapsulate` turns a datagram into an IP packet
 * and/or datagrams, and `tick` runs the timer rules (whitepaper section 6). Time is `now`,
 * monotonic milliseconds; wall time enters only through the injected TAI64N `timestamp` source.
 *
 * A device with many peers parses each datagram once, routes it (initiations through the
 * Responder, everything else through the index table) and calls the typed `consume*` methods;
 * a library user with one peer can call `decapsulate` and let it do that routing.
 */
import {
  DEFAULT_MTU,
  HANDSHAKE_INITIATION_RATE_MS,
  KEY_LENGTH,
  REJECT_AFTER_MESSAGES,
  REKEY_AFTER_MESSAGES,
  REKEY_AFTER_TIME_MS,
  REKEY_ON_RECEIVE_AFTER_MS,
  REKEY_TIMEOUT_JITTER_MAX_MS,
  REKEY_TIMEOUT_MS,
} from '../constants.js';
import { BytePool, secretCopy, wipe } from '../crypto/bytes.js';
import { tai64nAfter } from '../crypto/tai64n.js';
import { CookieGenerator, type RandomSource } from './cookie.js';
import type { TunnelObserver } from './events.js';
import { createInitiation, wipeHandshakeState, type ResponderState } from './handshake.js';
import { IndexTable } from './indices.js';
import type { LocalIdentity } from './identity.js';
import type { CookieReplyMessage, InitiationMessage, ResponseMessage, TransportMessage } from './messages.js';
import { parseMessage } from './messages.js';
import { Responder } from './responder.js';
import { NONE, drop, toNetwork, type DropReason, type TunnelResult } from './results.js';
import { Session } from './session.js';
import { Timers } from './timers.js';
import { innerPacket, openTransport, sealTransport } from './transport.js';
import type { Keypair } from './keypairs.js';

/** Where a datagram came from: the roaming endpoint, and the input of cookies and rate limits. */
export interface Endpoint {
  readonly address: Uint8Array;
  readonly port: number;
  /**
   * The local address the datagram arrived at, which replies leave from (the kernel's and
   * wireguard-go's sticky source, "reply to sender"); absent or null: the kernel chooses. The core
   * only carries it: an Endpoint is replaced whole, never changed in place.
   */
  readonly source?: Uint8Array | null;
  /** The interface that datagram arrived on (0 or absent: unknown); the device checks routes with it. */
  readonly sourceIfindex?: number;
}

export interface TunnelOptions {
  /** The interface's static key, shared by all of a device's tunnels. */
  readonly identity: LocalIdentity;
  /** The peer's static public key S_pub. */
  readonly remotePublic: Uint8Array;
  readonly presharedKey?: Uint8Array | null;
  /** Seconds; 0 or absent is off. */
  readonly persistentKeepalive?: number;
  readonly mtu?: number;
  /** TAI64N source for initiations (wall clock); see crypto/tai64n's tai64nFromMillis. */
  readonly timestamp: () => Uint8Array;
  readonly random: RandomSource;
  /** The device's receiver-index table; a standalone tunnel gets its own. */
  readonly indices?: IndexTable<Tunnel>;
  /** Cryptokey routing on receive: may this peer send a packet with this source address? */
  readonly allowedSource?: (packet: Uint8Array, family: 4 | 6) => boolean;
  /** For standalone `decapsulate` of handshake messages; a device passes its own. */
  readonly responder?: Responder;
}

/** Counters reserved by `Tunnel.reserveSend`: [first, first + count) on `keypair`. */
export interface SendReservation {
  readonly keypair: Keypair;
  readonly first: bigint;
  /** An initiation to send as well (the batch made the session due for a rekey), or null. */
  readonly extra: Uint8Array | null;
}

/** Packets waiting for a session (the kernel's MAX_STAGED_PACKETS). */
const MAX_STAGED_PACKETS = 128;
const EMPTY = new Uint8Array(0);
/**
 * The staging queue of every tunnel with nothing staged: an idle peer of a large device holds no
 * array of its own. Frozen, so a push that forgot to take a fresh array throws instead of staging
 * a packet for every peer.
 */
const NOTHING_STAGED = Object.freeze([]) as unknown as Uint8Array[];
/** Peers' public keys: long-lived, public, 32 bytes each (see BytePool). */
const PUBLIC_KEYS = new BytePool();

/**
 * One jitter function per random source: a device's tunnels share its source, so 100,000 peers
 * share one closure instead of holding one each.
 */
const jitters = new WeakMap<RandomSource, () => number>();
function jitterFrom(random: RandomSource): () => number {
  let jitter = jitters.get(random);
  if (jitter === undefined) {
    jitter = () => {
      const r = random(2);
      return ((r[0]! << 8) | r[1]!) % REKEY_TIMEOUT_JITTER_MAX_MS;
    };
    jitters.set(random, jitter);
  }
  return jitter;
}

export class Tunnel {
  readonly timers: Timers;
  readonly session: Session<Tunnel>;
  readonly remotePublic: Uint8Array;
  endpoint: Endpoint | null = null;
  presharedKey: Uint8Array | null;
  mtu: number;
  rxBytes = 0;
  txBytes = 0;
  /** Monotonic ms of the last completed handshake, or null. */
  lastHandshakeAt: number | null = null;
  /** Told of protocol events (events.ts); null builds no event at all, the data path's case. */
  observer: TunnelObserver | null = null;

  readonly #identity: LocalIdentity;
  readonly #random: RandomSource;
  readonly #timestamp: () => Uint8Array;
  readonly #indices: IndexTable<Tunnel>;
  readonly #allowedSource: ((packet: Uint8Array, family: 4 | 6) => boolean) | null;
  readonly #responder: Responder;
  #staged: Uint8Array[] = NOTHING_STAGED;
  /** The padding cap of a staged packet whose route MTU is below the tunnel's (rare, so made on use). */
  #paddingMtu: WeakMap<Uint8Array, number> | null = null;
  /** Created at the first handshake message (see the getter). */
  #cookieGenerator: CookieGenerator | null = null;
  /**
   * Monotonic ms of the last initiation or response we sent, and of the last initiation we
   * consumed; null for never. Null rather than -Infinity: V8 gives a field that starts as a
   * non-integer number a heap-allocated box in every instance from the start, while a field that
   * starts as null costs nothing until set, which most peers of a large configuration never are.
   */
  #lastSentHandshake: number | null = null;
  #lastInitiationConsumed: number | null = null;
  #lastTimestamp: Uint8Array | null = null;

  constructor(o: TunnelOptions) {
    if (o.remotePublic.length !== KEY_LENGTH) throw new TypeError('remotePublic must be 32 bytes');
    if (o.presharedKey && o.presharedKey.length !== KEY_LENGTH)
      throw new TypeError('presharedKey must be 32 bytes');
    this.#identity = o.identity;
    this.remotePublic = PUBLIC_KEYS.copy(o.remotePublic);
    this.presharedKey = o.presharedKey ? secretCopy(o.presharedKey) : null;
    this.mtu = o.mtu ?? DEFAULT_MTU;
    this.#random = o.random;
    this.#timestamp = o.timestamp;
    this.#indices = o.indices ?? new IndexTable<Tunnel>(o.random);
    this.#allowedSource = o.allowedSource ?? null;
    this.#responder = o.responder ?? new Responder(o.identity, o.random);
    this.timers = new Timers(jitterFrom(o.random));
    this.session = new Session(o.identity, this.remotePublic, this.#indices, this);
    if (o.persistentKeepalive) this.timers.setPersistentKeepalive(o.persistentKeepalive, -Infinity);
  }

  /**
   * Stamps our handshake messages' macs and keeps the cookie of a reply. Made on first use: its
   * two derived keys and two buffers (about 1 KiB of heap) are wasted on a peer that never
   * handshakes, which is most of a large configuration.
   */
  get cookieGenerator(): CookieGenerator {
    return (this.#cookieGenerator ??= new CookieGenerator(this.remotePublic));
  }

  // ---- outbound ---------------------------------------------------------------------------------

  /**
   * Seals an IP packet for this peer, or stages it and starts a handshake. `mtu` caps its padding
   * when the packet's route has a smaller MTU than the link (the kernel keeps dst_mtu per packet
   * in PACKET_CB(skb)->mtu); default the tunnel's.
   */
  encapsulate(packet: Uint8Array, now: number, mtu = this.mtu): TunnelResult {
    if (mtu !== this.mtu) (this.#paddingMtu ??= new WeakMap()).set(packet, mtu);
    this.#stage(packet);
    return toNetwork(this.#sendStaged(now));
  }

  /** Sends a keepalive (an empty transport message), starting a handshake if there is no session. */
  keepalive(now: number): TunnelResult {
    return this.#keepalive(now, false);
  }

  /** `persistent`: sent by the persistent keepalive timer (for the observer only). */
  #keepalive(now: number, persistent: boolean): TunnelResult {
    const alone = this.#staged.length === 0;
    if (alone) this.#staged = [EMPTY];
    const out = this.#sendStaged(now);
    // Sealed (not left staged behind a handshake): a keepalive went out.
    if (alone && this.observer !== null && this.#staged === NOTHING_STAGED)
      this.observer({ kind: 'keepalive-sent', persistent });
    return toNetwork(out);
  }

  /** Sets the persistent keepalive interval; turning it on sends one keepalive at once. */
  setPersistentKeepalive(seconds: number, now: number): TunnelResult {
    const was = this.timers.persistentKeepaliveInterval;
    this.timers.setPersistentKeepalive(seconds, now);
    return seconds > 0 && was === 0 ? this.keepalive(now) : NONE;
  }

  #stage(packet: Uint8Array): void {
    if (this.#staged === NOTHING_STAGED) this.#staged = [packet];
    else {
      if (this.#staged.length >= MAX_STAGED_PACKETS) this.#staged.shift();
      this.#staged.push(packet);
    }
  }

  /** Seals everything staged under the current keypair, or asks for a handshake. */
  #sendStaged(now: number): Uint8Array[] {
    const kp = this.session.keypairs.current;
    if (kp === null || !kp.canSend(now)) {
      if (kp) kp.sendingValid = false;
      const init = this.#initiate(now, false);
      return init ? [init] : [];
    }
    const out: Uint8Array[] = [];
    for (const packet of this.#staged) {
      const dg = sealTransport(kp, packet, this.#paddingMtu?.get(packet) ?? this.mtu);
      this.txBytes += dg.length;
      out.push(dg);
      this.timers.onAnyAuthenticatedPacketTraversal(now);
      this.timers.onAnyAuthenticatedPacketSent();
      if (packet.length > 0) this.timers.onDataSent(now);
    }
    this.#staged = NOTHING_STAGED;
    // keep_key_fresh (send side): the initiator rekeys after REKEY_AFTER_TIME; either side after
    // REKEY_AFTER_MESSAGES.
    if (this.#dueForRekey(kp, now)) {
      const init = this.#initiate(now, false);
      if (init) out.push(init);
    }
    return out;
  }

  // ---- batch transport (the fast data path) -----------------------------------------------------
  //
  // A device that seals and opens transport data in bulk outside the core (the native AEAD)
  // still leaves every decision here: which keypair, which counters, the timers and rekey rules.
  // These two calls are consumeTransport's and #sendStaged's bookkeeping for a whole batch.

  /**
   * Reserves `count` consecutive send counters on the current keypair for data packets the
   * caller seals itself, and runs the timers and rekey rules that sending them triggers. Null
   * (reserving nothing) when there is no usable keypair, the batch would cross
   * REJECT_AFTER_MESSAGES, or packets are staged (they must go first): the caller then sends
   * through `encapsulate`, which stages and starts a handshake as needed. `extra` holds an
   * initiation to send when the batch made the session due for a rekey.
   */
  reserveSend(count: number, now: number): SendReservation | null {
    const kp = this.session.keypairs.current;
    if (kp === null || !kp.canSend(now) || this.#staged.length > 0) return null;
    const wanted = BigInt(count);
    if (kp.sendCounter + wanted > REJECT_AFTER_MESSAGES) return null;
    const first = kp.sendCounter;
    kp.sendCounter += wanted;
    this.timers.onAnyAuthenticatedPacketTraversal(now);
    this.timers.onAnyAuthenticatedPacketSent();
    this.timers.onDataSent(now);
    const extra = this.#dueForRekey(kp, now) ? this.#initiate(now, false) : null;
    return { keypair: kp, first, extra };
  }

  /**
   * The keypair a transport message to `receiver` opens under, or why there is none: the one rule
   * for every driver (consumeTransport here, and the batched receivers, which then replay-check,
   * open and call transportBatchReceived). An index of this tunnel's that is no keypair's (a
   * handshake in flight) is an unknown index, as for the kernel's index hashtable.
   */
  checkReceive(receiver: number, now: number): Keypair | 'unknown-index' | 'expired-keypair' {
    const kp = this.session.keypairs.byIndex(receiver);
    if (kp === null) return 'unknown-index';
    return kp.canReceive(now) ? kp : 'expired-keypair';
  }

  /** The keypair a transport message to `receiver` opens under, if it may still receive at `now`. */
  receivingKeypair(receiver: number, now: number): Keypair | null {
    const kp = this.checkReceive(receiver, now);
    return typeof kp === 'string' ? null : kp;
  }

  /**
   * After the caller opened transport messages on `kp` and marked their counters in its replay
   * window (`packets` of them authenticated, `dataPackets` not keepalives, `bytes` datagram bytes
   * in all, the last from `from`): what consumeTransport does for each — keypair rotation,
   * handshake completion, roaming, timers, keep-key-fresh — once for the batch. Returns datagrams
   * that must go out (staged packets released by the new session, a rekey initiation).
   */
  transportBatchReceived(
    kp: Keypair,
    from: Endpoint | null,
    packets: number,
    dataPackets: number,
    bytes: number,
    now: number,
  ): Uint8Array[] {
    if (packets === 0) return [];
    this.rxBytes += bytes;
    const out: Uint8Array[] = [];
    if (this.session.receivedWith(kp)) {
      this.#handshakeComplete(now);
      if (this.#staged.length > 0) out.push(...this.#sendStaged(now));
    }
    this.#authenticatedFrom(from, now);
    this.#keepKeyFreshOnReceive(kp, now, out);
    if (dataPackets > 0) this.timers.onDataReceived(now);
    if (dataPackets < packets) this.observer?.({ kind: 'keepalive-received' });
    return out;
  }

  /** keep_key_fresh after sending on kp: REKEY_AFTER_MESSAGES, or REKEY_AFTER_TIME for an initiator. */
  #dueForRekey(kp: Keypair, now: number): boolean {
    return (
      kp.sendCounter > REKEY_AFTER_MESSAGES || (kp.isInitiator && now - kp.createdAt >= REKEY_AFTER_TIME_MS)
    );
  }

  /** Creates an initiation, at most once per REKEY_TIMEOUT; null when none may be sent. */
  #initiate(now: number, isRetry: boolean): Uint8Array | null {
    if (!isRetry) this.timers.handshakeAttempts = 0;
    if (this.#lastSentHandshake !== null && now - this.#lastSentHandshake < REKEY_TIMEOUT_MS) return null;
    const keys = this.#identity.keys;
    const ss = this.session.staticStatic();
    if (keys === null || ss === null) return null; // no key, our own key, or a low-order peer key
    this.#lastSentHandshake = now;
    const localIndex = this.session.beginInitiation();
    // E_priv: the handshake state keeps its own copy (wiped by the session when the handshake
    // completes or is abandoned), so this one is wiped at once.
    const ephemeralPrivate = this.#random(KEY_LENGTH);
    const created = createInitiation(
      keys,
      this.remotePublic,
      ss,
      localIndex,
      ephemeralPrivate,
      this.#timestamp(),
    );
    wipe(ephemeralPrivate);
    if (created === null) {
      this.session.abandonHandshake();
      return null;
    }
    this.session.initiationSent(created.state);
    this.cookieGenerator.addMacs(created.message, now);
    this.timers.onAnyAuthenticatedPacketTraversal(now);
    this.timers.onAnyAuthenticatedPacketSent();
    this.timers.onHandshakeInitiated(now);
    this.txBytes += created.message.length;
    this.observer?.({ kind: 'initiation-sent', attempt: this.timers.handshakeAttempts + 1 });
    return created.message;
  }

  // ---- inbound ----------------------------------------------------------------------------------

  /**
   * Standalone entry point: parses and routes one datagram addressed to this tunnel. `underLoad`
   * turns on cookie replies for handshake messages.
   */
  decapsulate(datagram: Uint8Array, from: Endpoint | null, now: number, underLoad = false): TunnelResult {
    const msg = parseMessage(datagram);
    const address = from?.address ?? EMPTY;
    const port = from?.port ?? 0;
    switch (msg.type) {
      case 'invalid':
        return drop(msg.reason);
      case 'initiation': {
        const a = this.#responder.admit(msg, address, port, underLoad, now);
        if (a.kind === 'drop') return drop(a.reason);
        if (a.kind === 'cookie') return toNetwork([a.reply]);
        const partial = this.#responder.identify(msg);
        if (partial === null) return drop('handshake-failed');
        if (Buffer.compare(partial.remoteStatic, this.remotePublic) !== 0) return drop('unknown-peer');
        return this.consumeInitiation(partial, msg, from, now);
      }
      case 'response': {
        const a = this.#responder.admit(msg, address, port, underLoad, now);
        if (a.kind === 'drop') return drop(a.reason);
        if (a.kind === 'cookie') return toNetwork([a.reply]);
        return this.consumeResponse(msg, from, now);
      }
      case 'cookieReply':
        return this.consumeCookieReply(msg, now);
      case 'transport':
        return this.consumeTransport(msg, from, now);
    }
  }

  /** The second half of an initiation whose sender the Responder identified as this peer. */
  consumeInitiation(
    partial: ResponderState,
    msg: InitiationMessage,
    from: Endpoint | null,
    now: number,
  ): TunnelResult {
    const r = this.session.finishInitiation(partial, msg);
    // Consumed here whatever happens: the chaining keys of both halves are wiped on return.
    try {
      return this.#consumeVerifiedInitiation(r, msg, from, now);
    } finally {
      wipeHandshakeState(partial);
      wipeHandshakeState(r?.state);
    }
  }

  #consumeVerifiedInitiation(
    r: { state: ResponderState; timestamp: Uint8Array } | null,
    msg: InitiationMessage,
    from: Endpoint | null,
    now: number,
  ): TunnelResult {
    if (r === null) return drop('handshake-failed');
    // Replay and flood checks come after decryption (the timestamp is inside) and before any state changes.
    if (this.#lastTimestamp !== null && !tai64nAfter(r.timestamp, this.#lastTimestamp))
      return drop('stale-timestamp');
    if (
      this.#lastInitiationConsumed !== null &&
      now - this.#lastInitiationConsumed < HANDSHAKE_INITIATION_RATE_MS
    )
      return drop('initiation-flood');
    const response = this.session.respond(
      r.state,
      msg.sender,
      this.#random(KEY_LENGTH),
      this.presharedKey,
      now,
    );
    if (response === null) return drop('handshake-failed');
    this.#lastTimestamp = r.timestamp;
    this.#lastInitiationConsumed = now;
    // Sending a response counts as sending a handshake for the REKEY_TIMEOUT initiation limit
    // (kernel send.c wg_packet_send_handshake_response, wireguard-go SendHandshakeResponse both
    // stamp last_sent_handshake). Without it, data staged on the responder before the initiator's
    // confirmation arrives would start a second, crossing handshake and churn both keypairs.
    this.#lastSentHandshake = now;
    this.rxBytes += msg.bytes.length;
    this.#authenticatedFrom(from, now);
    this.timers.onSessionDerived(now);
    this.cookieGenerator.addMacs(response, now);
    this.txBytes += response.length;
    this.timers.onAnyAuthenticatedPacketTraversal(now);
    this.timers.onAnyAuthenticatedPacketSent();
    if (this.observer !== null) {
      this.observer({ kind: 'initiation-received' });
      const kp = this.session.keypairs.next;
      if (kp !== null)
        this.observer({ kind: 'keypair-created', localIndex: kp.localIndex, initiator: false });
      this.observer({ kind: 'response-sent' });
    }
    return toNetwork([response]);
  }

  /** A response to our initiation: derive the session and send what was waiting (or a keepalive). */
  consumeResponse(msg: ResponseMessage, from: Endpoint | null, now: number): TunnelResult {
    const ok = this.session.finishResponse(msg, this.presharedKey, now);
    if (ok === 'unexpected') return drop('unexpected-response');
    if (ok === 'failed') return drop('handshake-failed');
    if (this.observer !== null) {
      this.observer({ kind: 'response-received' });
      this.observer({ kind: 'keypair-created', localIndex: msg.receiver, initiator: true });
    }
    this.rxBytes += msg.bytes.length;
    this.#authenticatedFrom(from, now);
    this.timers.onSessionDerived(now);
    this.#handshakeComplete(now);
    return this.keepalive(now);
  }

  /** A cookie reply to our last initiation or response. */
  consumeCookieReply(msg: CookieReplyMessage, now: number): TunnelResult {
    if (!this.session.ownsIndex(msg.receiver)) return drop('unknown-index');
    const valid = this.cookieGenerator.consumeReply(msg, now);
    this.observer?.({ kind: 'cookie-received', valid });
    return valid ? NONE : drop('bad-cookie');
  }

  /** A transport message: replay check, decrypt, mark, rotate, roam, then deliver. */
  consumeTransport(msg: TransportMessage, from: Endpoint | null, now: number): TunnelResult {
    const kp = this.checkReceive(msg.receiver, now);
    if (typeof kp === 'string') return drop(kp);
    if (!kp.replay.check(msg.counter)) return drop('replay');
    const plain = openTransport(kp, msg.counter, msg.encrypted);
    if (plain === null) return drop('bad-tag');
    if (!kp.replay.mark(msg.counter)) return drop('replay');

    this.rxBytes += msg.bytes.length;
    const out: Uint8Array[] = [];
    if (this.session.receivedWith(kp)) {
      this.#handshakeComplete(now);
      if (this.#staged.length > 0) out.push(...this.#sendStaged(now));
    }
    this.#authenticatedFrom(from, now);
    this.#keepKeyFreshOnReceive(kp, now, out);
    if (plain.length === 0) {
      this.observer?.({ kind: 'keepalive-received' });
      return toNetwork(out); // a keepalive
    }
    this.timers.onDataReceived(now);
    const inner = innerPacket(plain);
    // The packet authenticated, so its side effects (rotation, roaming, staged packets sealed and
    // counted) have happened: if its content is refused, what it released must still go out, and
    // the refusal is still a drop with its reason (the batched drivers count it too).
    if (!inner.ok) return refused(inner.reason, out);
    if (this.#allowedSource && !this.#allowedSource(inner.packet, inner.family)) {
      return refused('disallowed-source', out);
    }
    return { kind: 'toTunnel', packet: inner.packet, family: inner.family, datagrams: out };
  }

  /** Endpoint roaming and the timers every authenticated inbound packet drives. */
  #authenticatedFrom(from: Endpoint | null, now: number): void {
    if (from !== null) {
      if (this.observer !== null && !sameAddress(this.endpoint, from))
        this.observer({ kind: 'endpoint-changed', endpoint: from });
      this.endpoint = from;
    }
    this.timers.onAnyAuthenticatedPacketReceived();
    this.timers.onAnyAuthenticatedPacketTraversal(now);
  }

  #handshakeComplete(now: number): void {
    this.timers.onHandshakeComplete();
    this.lastHandshakeAt = now;
    this.observer?.({ kind: 'session-established' });
  }

  /** keep_key_fresh (receive side): an initiator whose session nears REJECT_AFTER_TIME rekeys once. */
  #keepKeyFreshOnReceive(kp: Keypair, now: number, out: Uint8Array[]): void {
    const current = this.session.keypairs.current;
    if (current !== kp || !kp.isInitiator || !kp.canSend(now)) return;
    if (now - kp.createdAt < REKEY_ON_RECEIVE_AFTER_MS || this.timers.sentLastMinuteHandshake) return;
    this.timers.sentLastMinuteHandshake = true;
    const init = this.#initiate(now, false);
    if (init) out.push(init);
  }

  // ---- timers -----------------------------------------------------------------------------------

  /** Runs every expired timer rule; returns the datagrams they produce. */
  tick(now: number): TunnelResult {
    const out: Uint8Array[] = [];
    for (const action of this.timers.due(now)) {
      switch (action) {
        case 'retransmitHandshake': {
          // The kernel's and wireguard-go's timers forget the sticky source here, "in case this
          // is the cause of trouble" (a source address that no longer routes to the peer).
          this.forgetSource();
          const init = this.#initiate(now, true);
          if (init) out.push(init);
          break;
        }
        case 'giveUpHandshake':
          this.#staged = NOTHING_STAGED;
          this.observer?.({ kind: 'handshake-given-up', attempts: this.timers.handshakeAttempts + 1 });
          break;
        case 'sendKeepalive':
        case 'persistentKeepalive': {
          const r = this.#keepalive(now, action === 'persistentKeepalive');
          if (r.kind === 'toNetwork') out.push(...r.datagrams);
          break;
        }
        case 'newHandshake': {
          this.observer?.({ kind: 'handshake-stale' });
          this.forgetSource();
          const init = this.#initiate(now, false);
          if (init) out.push(init);
          break;
        }
        case 'zeroKeyMaterial':
          this.session.clear();
          this.observer?.({ kind: 'keys-zeroed' });
          break;
      }
    }
    return toNetwork(out);
  }

  /**
   * Drops the sticky source of the endpoint (replies then leave from the kernel's choice) when
   * it is still `endpoint` (default: whatever it is now). The Endpoint object is replaced, never
   * changed: a caller may still hold the old one.
   */
  forgetSource(endpoint: Endpoint | null = this.endpoint): void {
    const e = this.endpoint;
    if (e === null || e !== endpoint || e.source == null) return;
    this.endpoint = { address: e.address, port: e.port, source: null };
  }

  /**
   * The interface's private key changed: sessions made with the old key can no longer send, and
   * a new handshake may start at once (wireguard-go's ExpireCurrentKeypairs).
   */
  expireSessions(): void {
    this.session.expire();
    this.#lastSentHandshake = null;
    this.observer?.({ kind: 'sessions-expired' });
  }

  /**
   * Replaces (null: removes) the preshared key Q. The old key is wiped, not left to the garbage
   * collector: a snapshot taken earlier sees zeros rather than a key that is no longer configured.
   */
  setPresharedKey(psk: Uint8Array | null): void {
    if (psk !== null && psk.length !== KEY_LENGTH) throw new TypeError('presharedKey must be 32 bytes');
    const old = this.presharedKey;
    this.presharedKey = psk === null ? null : secretCopy(psk);
    wipe(old);
  }

  /** The peer is being removed: free its indices and wipe its keys. */
  destroy(): void {
    this.session.clear();
    wipe(this.presharedKey);
    this.timers.stopAll();
    this.#staged = NOTHING_STAGED;
    this.#cookieGenerator?.wipe();
  }

  /** Number of packets waiting for a session. */
  get stagedCount(): number {
    return this.#staged.length;
  }
}

/** Whether `b` is the address and port of `a` (the sticky source does not count: not roaming). */
function sameAddress(a: Endpoint | null, b: Endpoint): boolean {
  return a !== null && a.port === b.port && Buffer.compare(a.address, b.address) === 0;
}

/** A refused input that still has datagrams to send (none: a plain drop). */
function refused(reason: DropReason, datagrams: Uint8Array[]): TunnelResult {
  return datagrams.length > 0 ? { kind: 'toNetwork', datagrams, refused: reason } : drop(reason);
}
