/**
 * Two protocol Tunnels (src/protocol/tunnel.ts) wired to each other in memory, for the "Protocol
 * correctness" tests of TEST-PLAN.md: a fake monotonic clock, a seeded random source per side (so
 * runs are reproducible and the two sides' jitter differs), a TAI64N source driven by the fake
 * clock (with a per-side skew to fake a peer whose wall clock is ahead or behind), and a tiny
 * network. Tests can either drive the tunnels by hand (`a.encapsulate(...)`, `pair.toB(dg)`) or
 * let the network carry everything (`pair.send('a', result)`, `pair.run(ms)`), with each
 * direction's link switchable off to model loss. Also builds valid IPv4/IPv6 packets.
 */
import { clampPrivateKey, publicKeyOf } from '../../src/crypto/x25519.js';
import { tai64nFromMillis } from '../../src/crypto/tai64n.js';
import { LocalIdentity } from '../../src/protocol/identity.js';
import type { IndexTable } from '../../src/protocol/indices.js';
import { parseMessage } from '../../src/protocol/messages.js';
import type { RandomSource } from '../../src/protocol/cookie.js';
import type { TunnelResult } from '../../src/protocol/results.js';
import { sealTransport } from '../../src/protocol/transport.js';
import { Tunnel, type Endpoint, type TunnelOptions } from '../../src/protocol/tunnel.js';
import { parseIP } from '../../src/routing/ip.js';

// ---- deterministic randomness --------------------------------------------------------------------

/** A seeded byte source (SplitMix32 over a Weyl sequence). Not for cryptography: tests only. */
export function seededRandom(seed: number): RandomSource {
  let state = seed | 0;
  const u32 = (): number => {
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  return (length: number) => {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = u32() & 0xff;
    return out;
  };
}

/** A clamped static private key drawn from `random`. */
export function seededPrivateKey(random: RandomSource): Uint8Array {
  return clampPrivateKey(random(32));
}

// ---- results and messages ----------------------------------------------------------------------

export type MessageKind = 'initiation' | 'response' | 'cookieReply' | 'transport' | 'invalid';

export function kindOf(datagram: Uint8Array): MessageKind {
  return parseMessage(datagram).type;
}

/** The datagrams a result asks to send (none for `none`/`drop`). */
export function datagramsOf(r: TunnelResult): Uint8Array[] {
  return r.kind === 'toNetwork' || r.kind === 'toTunnel' ? r.datagrams : [];
}

export function kindsOf(r: TunnelResult): MessageKind[] {
  return datagramsOf(r).map(kindOf);
}

/** The only datagram of `kind` in `r`; throws (failing the test) unless there is exactly one. */
export function only(r: TunnelResult, kind: MessageKind): Uint8Array {
  const found = datagramsOf(r).filter((d) => kindOf(d) === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, got [${kindsOf(r).join(', ')}] (${r.kind})`);
  return found[0]!;
}

/** The receiver index of a transport, response or cookie reply (bytes 4..8 or 8..12). */
export function receiverIndex(datagram: Uint8Array): number {
  const m = parseMessage(datagram);
  if (m.type === 'transport' || m.type === 'response' || m.type === 'cookieReply') return m.receiver;
  throw new Error(`no receiver index in a ${m.type}`);
}

export const isKeepalive = (d: Uint8Array): boolean => kindOf(d) === 'transport' && d.length === 32;
export const isData = (d: Uint8Array): boolean => kindOf(d) === 'transport' && d.length > 32;

// ---- IP packets ---------------------------------------------------------------------------------

function addressBytes(text: string, family: 4 | 6): Uint8Array {
  const ip = parseIP(text);
  if (ip === null || ip.family !== family) throw new TypeError(`not an IPv${family} address: ${text}`);
  return ip.bytes;
}

function payloadOf(payload: number | Uint8Array, fill: number): Uint8Array {
  if (typeof payload !== 'number') return payload;
  const out = new Uint8Array(payload);
  for (let i = 0; i < payload; i++) out[i] = (fill + i) & 0xff;
  return out;
}

/** A valid IPv4 packet (UDP protocol number, correct header checksum) with `payload` after a 20-byte header. */
export function ipv4(src: string, dst: string, payload: number | Uint8Array = 8): Uint8Array {
  const body = payloadOf(payload, 0x41);
  const p = new Uint8Array(20 + body.length);
  p[0] = 0x45;
  p[2] = p.length >>> 8;
  p[3] = p.length & 0xff;
  p[8] = 64; // TTL
  p[9] = 17; // UDP
  p.set(addressBytes(src, 4), 12);
  p.set(addressBytes(dst, 4), 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (p[i]! << 8) | p[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const checksum = ~sum & 0xffff;
  p[10] = checksum >>> 8;
  p[11] = checksum & 0xff;
  p.set(body, 20);
  return p;
}

/** A valid IPv6 packet (next header UDP) with `payload` after the 40-byte header. */
export function ipv6(src: string, dst: string, payload: number | Uint8Array = 8): Uint8Array {
  const body = payloadOf(payload, 0x61);
  const p = new Uint8Array(40 + body.length);
  p[0] = 0x60;
  p[4] = body.length >>> 8;
  p[5] = body.length & 0xff;
  p[6] = 17;
  p[7] = 64;
  p.set(addressBytes(src, 6), 8);
  p.set(addressBytes(dst, 6), 24);
  p.set(body, 40);
  return p;
}

/** An IPv4 packet of exactly `total` bytes (20 ≤ total ≤ 65535). */
export function ipv4OfLength(total: number, src = '10.0.0.1', dst = '10.0.0.2'): Uint8Array {
  return ipv4(src, dst, total - 20);
}

/** An IPv6 packet of exactly `total` bytes (total ≥ 40). */
export function ipv6OfLength(total: number, src = 'fd00::1', dst = 'fd00::2'): Uint8Array {
  return ipv6(src, dst, total - 40);
}

// ---- the pair -------------------------------------------------------------------------------------

export type SideName = 'a' | 'b';

/** Fixed wall-clock origin for TAI64N: 2023-11-14T22:13:20Z plus the fake monotonic clock. */
export const WALL_BASE_MS = 1_700_000_000_000;
/** The fake monotonic clock starts here (not 0, so nothing relies on "never" being 0). */
export const START_MS = 1_000_000;

export interface SideOptions {
  readonly psk?: Uint8Array | null;
  readonly persistentKeepalive?: number;
  readonly mtu?: number;
  readonly allowedSource?: TunnelOptions['allowedSource'];
  /** The peer's public key, when it should not be the other side's (e.g. our own). */
  readonly remotePublic?: Uint8Array;
  /** A receiver-index table to share or inspect (a standalone tunnel otherwise makes its own). */
  readonly indices?: IndexTable<Tunnel>;
}

export interface PairOptions {
  readonly seed?: number;
  readonly a?: SideOptions;
  readonly b?: SideOptions;
}

export class Side {
  readonly identity: LocalIdentity;
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly random: RandomSource;
  /** Added to this side's wall clock for TAI64N timestamps. */
  skewMs = 0;
  tunnel!: Tunnel;

  constructor(
    readonly name: SideName,
    /** Where this side's datagrams appear to come from, as the other side sees them. */
    public endpoint: Endpoint,
    seed: number,
  ) {
    this.random = seededRandom(seed);
    this.privateKey = seededPrivateKey(this.random);
    this.publicKey = publicKeyOf(this.privateKey);
    this.identity = new LocalIdentity(this.privateKey);
  }
}

/** A datagram the network saw, for assertions on what was sent when. */
export interface Sent {
  readonly at: number;
  readonly from: SideName;
  readonly kind: MessageKind;
  readonly datagram: Uint8Array;
  readonly delivered: boolean;
}

/** A packet the network delivered to a TUN. */
export interface Delivered {
  readonly at: number;
  readonly to: SideName;
  readonly packet: Uint8Array;
}

export class Pair {
  now = START_MS;
  readonly sideA: Side;
  readonly sideB: Side;
  /** Each direction's link: when false, datagrams sent that way are lost. */
  linkAtoB = true;
  linkBtoA = true;
  readonly sent: Sent[] = [];
  readonly delivered: Delivered[] = [];
  readonly drops: { at: number; to: SideName; reason: string }[] = [];

  constructor(o: PairOptions = {}) {
    const seed = o.seed ?? 1;
    this.sideA = new Side('a', { address: Uint8Array.of(192, 0, 2, 1), port: 51820 }, seed * 2 + 1);
    this.sideB = new Side('b', { address: Uint8Array.of(198, 51, 100, 2), port: 51821 }, seed * 2 + 2);
    this.sideA.tunnel = this.#tunnel(this.sideA, this.sideB, o.a ?? {});
    this.sideB.tunnel = this.#tunnel(this.sideB, this.sideA, o.b ?? {});
  }

  #tunnel(self: Side, other: Side, o: SideOptions): Tunnel {
    return new Tunnel({
      identity: self.identity,
      remotePublic: o.remotePublic ?? other.publicKey,
      presharedKey: o.psk ?? null,
      ...(o.persistentKeepalive !== undefined ? { persistentKeepalive: o.persistentKeepalive } : {}),
      ...(o.mtu !== undefined ? { mtu: o.mtu } : {}),
      ...(o.allowedSource !== undefined ? { allowedSource: o.allowedSource } : {}),
      ...(o.indices !== undefined ? { indices: o.indices } : {}),
      timestamp: () => tai64nFromMillis(WALL_BASE_MS + this.now + self.skewMs),
      random: self.random,
    });
  }

  get a(): Tunnel {
    return this.sideA.tunnel;
  }
  get b(): Tunnel {
    return this.sideB.tunnel;
  }

  side(name: SideName): Side {
    return name === 'a' ? this.sideA : this.sideB;
  }

  // ---- manual delivery ------------------------------------------------------------------------

  /** B receives `datagram` (from A's endpoint unless told otherwise). */
  toB(datagram: Uint8Array, from: Endpoint = this.sideA.endpoint, underLoad = false): TunnelResult {
    return this.b.decapsulate(datagram, from, this.now, underLoad);
  }

  /** A receives `datagram` (from B's endpoint unless told otherwise). */
  toA(datagram: Uint8Array, from: Endpoint = this.sideB.endpoint, underLoad = false): TunnelResult {
    return this.a.decapsulate(datagram, from, this.now, underLoad);
  }

  /** Runs a full handshake by hand, started by `initiator`; returns the final keepalive's result. */
  handshake(initiator: SideName = 'a'): TunnelResult {
    const toResponder = (d: Uint8Array): TunnelResult => (initiator === 'a' ? this.toB(d) : this.toA(d));
    const toInitiator = (d: Uint8Array): TunnelResult => (initiator === 'a' ? this.toA(d) : this.toB(d));
    const init = only(this.side(initiator).tunnel.keepalive(this.now), 'initiation');
    const resp = only(toResponder(init), 'response');
    const keepalive = only(toInitiator(resp), 'transport');
    return toResponder(keepalive);
  }

  // ---- the network ----------------------------------------------------------------------------

  /** Puts `from`'s datagrams on the wire and delivers them (and all replies) while the links are up. */
  send(from: SideName, r: TunnelResult): void {
    const queue: [SideName, Uint8Array][] = datagramsOf(r).map((d) => [from, d]);
    while (queue.length > 0) {
      const [src, d] = queue.shift()!;
      const up = src === 'a' ? this.linkAtoB : this.linkBtoA;
      this.sent.push({ at: this.now, from: src, kind: kindOf(d), datagram: d, delivered: up });
      if (!up) continue;
      const dst: SideName = src === 'a' ? 'b' : 'a';
      const res = dst === 'b' ? this.toB(d) : this.toA(d);
      if (res.kind === 'drop') this.drops.push({ at: this.now, to: dst, reason: res.reason });
      if (res.kind === 'toTunnel') this.delivered.push({ at: this.now, to: dst, packet: res.packet });
      for (const reply of datagramsOf(res)) queue.push([dst, reply]);
    }
  }

  /** `from` sends an IP packet over the network. */
  transmit(from: SideName, packet: Uint8Array): void {
    this.send(from, this.side(from).tunnel.encapsulate(packet, this.now));
  }

  /** Ticks both sides at the current time and puts what they produce on the wire. */
  tick(): void {
    this.send('a', this.a.tick(this.now));
    this.send('b', this.b.tick(this.now));
  }

  /** Advances the clock by `ms` in steps of `step`, ticking both sides after each step. */
  run(ms: number, step = 10): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now = Math.min(end, this.now + step);
      this.tick();
    }
  }

  /** Datagrams sent by `from` (optionally of one kind) since `since`. */
  sentBy(from: SideName, kind?: MessageKind, since = -Infinity): Sent[] {
    return this.sent.filter(
      (s) => s.from === from && s.at >= since && (kind === undefined || s.kind === kind),
    );
  }

  deliveredTo(to: SideName, since = -Infinity): Delivered[] {
    return this.delivered.filter((d) => d.to === to && d.at >= since);
  }
}

/** Seals an arbitrary plaintext under `tunnel`'s current keypair, as a peer's send path would. */
export function sealRaw(tunnel: Tunnel, plaintext: Uint8Array): Uint8Array {
  const kp = tunnel.session.keypairs.current;
  if (kp === null) throw new Error('no current keypair to seal with');
  return sealTransport(kp, plaintext, tunnel.mtu);
}
