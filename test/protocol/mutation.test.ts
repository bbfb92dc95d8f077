/**
 * Seeded mutation test of the sans-I/O core's receive path (DESIGN.md habits 3 and 4; whitepaper
 * section 5.4 for the formats, 5.3 for the mac1/cookie gate, 5.4.6 for the replay window). Two
 * tunnels A and B complete three handshakes (A initiates the first, B the second and third, whose
 * response is held back so B has a pending handshake) and exchange data, so B holds a previous
 * and a current keypair, a pending initiation and a cookie generator waiting for a reply. Valid
 * datagrams of every type are captured — some already consumed by B (replays), some held back
 * (fresh: they would still be accepted) — and then well over 100,000 mutated or malformed
 * datagrams are fed to B.decapsulate and, for handshake messages, to a Responder's admit and
 * identify. For every one:
 *
 *   - nothing throws;
 *   - the result is exactly what an independent classifier predicts: a drop with the expected
 *     reason, or, for a handshake message with a valid mac1 under load, one cookie reply that
 *     decrypts (with B's cookie key, bound to that message's mac1) — and nothing else;
 *   - B's observable state is unchanged: endpoint, byte counters, last handshake time, the three
 *     keypair slots (object identity, indices, send counter, replay window top), the pending
 *     handshake, staged packets, the index table's size and every timer deadline.
 *
 * Afterwards every held-back datagram is delivered and must still be accepted (so no forged
 * packet moved a replay window or disturbed the pending handshake), and new data flows both ways.
 * A mutant that is cryptographically equivalent to a fresh valid message (it would rightly be
 * accepted) is never fed as a drop: fresh transport and cookie-reply equivalents are regenerated,
 * and a response equivalent (the sender index and mac2 are not authenticated by the AEAD) is fed
 * under load, where the only allowed answer is a cookie reply.
 *
 * WGTS_FUZZ_SEED=<n> replays another seed; WGTS_FUZZ_CASES=<n> changes the case count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  COOKIE_REPLY_SIZE,
  INITIATION_SIZE,
  MAC_LENGTH,
  NEW_HANDSHAKE_AFTER_MS,
  REJECT_AFTER_MESSAGES,
  REKEY_AFTER_TIME_MS,
  REKEY_TIMEOUT_JITTER_MAX_MS,
  RESPONSE_SIZE,
  TRANSPORT_MIN_SIZE,
} from '../../src/constants.js';
import { xopen } from '../../src/crypto/aead.js';
import { mac } from '../../src/crypto/blake2s.js';
import { tai64nFromMillis } from '../../src/crypto/tai64n.js';
import { clampPrivateKey, dh, publicKeyOf } from '../../src/crypto/x25519.js';
import { cookieKey, mac1Key } from '../../src/protocol/cookie.js';
import { LocalIdentity } from '../../src/protocol/identity.js';
import { IndexTable } from '../../src/protocol/indices.js';
import { INITIATION, parseMessage } from '../../src/protocol/messages.js';
import { Responder } from '../../src/protocol/responder.js';
import type { DropReason, TunnelResult } from '../../src/protocol/results.js';
import { Tunnel, type Endpoint } from '../../src/protocol/tunnel.js';
import {
  LOW_ORDER_POINTS,
  Prng,
  bytesEqual,
  extend,
  flipBits,
  garbage,
  hex,
  randomSourceFrom,
  rangeEqual,
  readU32,
  readU64,
  substituteBytes,
  truncate,
  writeU32,
  writeU64,
} from '../helpers/fuzz.js';

const SEED = envInt('WGTS_FUZZ_SEED', 0x5eed2024);
const TARGET_CASES = envInt('WGTS_FUZZ_CASES', 120_000);
/** Handshake mutants that reach X25519 cost ~1 ms each in node:crypto; cap them, cover the rest under load. */
const DEEP_BUDGET = 900;
const UNDER_LOAD_P = 0.3;
const MAX_REPORTED = 25;

const WALL_BASE_MS = 1_700_000_000_000;
const TWO_64 = 1n << 64n;
/** Sizes around every message's boundaries (header 4, transport minimum 32, cookie 64, response 92, initiation 148). */
const EDGE_SIZES = [0, 1, 3, 4, 31, 32, 33, 63, 64, 65, 91, 92, 93, 147, 148, 149] as const;
/** Type words for the fixed-size sweep: unknown, the four types, and the types with a reserved byte set. */
const TYPE_WORDS = [0, 1, 2, 3, 4, 5, 0xff, 0x0101, 0x01000004, 0x00010002] as const;

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new RangeError(`${name} must be an integer, got ${raw}`);
  return n;
}

/** An IPv4 packet 10.0.0.1 -> 10.0.0.2 (UDP) with `payload` bytes after the header. */
function ipv4(payload: number, id: number): Uint8Array {
  const p = new Uint8Array(20 + payload);
  const total = p.length;
  p.set([
    0x45,
    0,
    total >> 8,
    total & 0xff,
    id >> 8,
    id & 0xff,
    0,
    0,
    64,
    17,
    0,
    0,
    10,
    0,
    0,
    1,
    10,
    0,
    0,
    2,
  ]);
  for (let i = 20; i < total; i++) p[i] = (i * 7 + id) & 0xff;
  return p;
}

function datagrams(r: TunnelResult, what: string): Uint8Array[] {
  if (r.kind !== 'toNetwork') assert.fail(`${what}: expected toNetwork, got ${JSON.stringify(r)}`);
  return r.datagrams;
}

function one(r: TunnelResult, what: string, length?: number): Uint8Array {
  const d = datagrams(r, what);
  assert.equal(d.length, 1, `${what}: expected one datagram`);
  if (length !== undefined) assert.equal(d[0]!.length, length, `${what}: length`);
  return d[0]!;
}

function delivered(r: TunnelResult, packet: Uint8Array, what: string): void {
  if (r.kind !== 'toTunnel') assert.fail(`${what}: expected toTunnel, got ${describe(r)}`);
  assert.ok(bytesEqual(r.packet, packet), `${what}: packet differs`);
}

function describe(r: TunnelResult): string {
  switch (r.kind) {
    case 'drop':
      return `drop(${r.reason})`;
    case 'none':
      return 'none';
    case 'toNetwork':
      return `toNetwork[${r.datagrams.map((d) => d.length).join(',')}]`;
    case 'toTunnel':
      return `toTunnel(${r.packet.length})`;
  }
}

// ---- the world: two peers with a live session and a pending handshake ---------------------------

interface World {
  readonly A: Tunnel;
  readonly B: Tunnel;
  readonly indicesB: IndexTable<Tunnel>;
  readonly identityB: LocalIdentity;
  readonly publicA: Uint8Array;
  readonly publicB: Uint8Array;
  readonly privateB: Uint8Array;
  readonly epA: Endpoint;
  readonly epB: Endpoint;
  /** Monotonic ms at which the barrage starts. */
  readonly start: number;
  /** B's pending initiation index (init3's sender). */
  readonly pendingIndex: number;
  /** Valid datagrams, by name. */
  readonly captured: {
    /** A -> B initiation, consumed by B. */
    readonly init1: Uint8Array;
    /** B -> A initiations (mac1 is keyed to A). */
    readonly init2: Uint8Array;
    readonly init3: Uint8Array;
    /** B -> A response to init1. */
    readonly resp1: Uint8Array;
    /** A -> B response to init2, consumed. */
    readonly resp2: Uint8Array;
    /** A -> B response to init3, held back: it answers B's pending handshake. */
    readonly resp3: Uint8Array;
    /** B's cookie reply to init1 (addressed to A). */
    readonly cookieToA: Uint8Array;
    /** A's cookie reply to init2: addressed to B's current keypair's index, stale (B's last mac1 is init3's). */
    readonly cookieToB2: Uint8Array;
    /** A's cookie reply to init3: B would accept it. Held back. */
    readonly cookieToB3: Uint8Array;
    /** A -> B transport on keypair 1 (B's previous) and 2 (B's current), consumed by B. */
    readonly data1: Uint8Array;
    readonly keepalive1: Uint8Array;
    readonly data2: Uint8Array;
    readonly keepalive2: Uint8Array;
    /** A -> B transport held back (fresh counters). */
    readonly fresh1: Uint8Array;
    readonly fresh2a: Uint8Array;
    readonly fresh2b: Uint8Array;
    readonly freshKeepalive2: Uint8Array;
    /** B -> A transport (addressed to A's indices). */
    readonly dataToA: Uint8Array;
  };
  /** The plaintexts of the held-back transport datagrams. */
  readonly freshPackets: {
    readonly fresh1: Uint8Array;
    readonly fresh2a: Uint8Array;
    readonly fresh2b: Uint8Array;
  };
}

function buildWorld(seed: number): World {
  const keyPrng = new Prng(seed ^ 0x4b455953);
  const privateA = clampPrivateKey(keyPrng.bytes(32));
  const privateB = clampPrivateKey(keyPrng.bytes(32));
  const publicA = publicKeyOf(privateA);
  const publicB = publicKeyOf(privateB);
  const clock = { now: 1000 };
  const timestamp = (): Uint8Array => tai64nFromMillis(WALL_BASE_MS + clock.now);
  const randomA = randomSourceFrom(new Prng(seed ^ 0x41414141));
  const randomB = randomSourceFrom(new Prng(seed ^ 0x42424242));
  const identityB = new LocalIdentity(privateB);
  const indicesB = new IndexTable<Tunnel>(randomB);
  const A = new Tunnel({
    identity: new LocalIdentity(privateA),
    remotePublic: publicB,
    timestamp,
    random: randomA,
  });
  const B = new Tunnel({
    identity: identityB,
    remotePublic: publicA,
    timestamp,
    random: randomB,
    indices: indicesB,
  });
  const epA: Endpoint = { address: Uint8Array.of(10, 0, 0, 1), port: 51820 };
  const epB: Endpoint = { address: Uint8Array.of(10, 0, 0, 2), port: 51821 };

  // Handshake 1, A initiates.
  let t = clock.now;
  const ping1 = ipv4(40, 1);
  const init1 = one(A.encapsulate(ping1, t), 'A initiation 1', INITIATION_SIZE);
  const cookieToA = one(B.decapsulate(init1, epA, t, true), 'B cookie reply under load', COOKIE_REPLY_SIZE);
  const resp1 = one(B.decapsulate(init1, epA, t), 'B response 1', RESPONSE_SIZE);
  const data1 = one(A.decapsulate(resp1, epB, t), 'A sends staged ping after response 1');
  delivered(B.decapsulate(data1, epA, t), ping1, 'B receives ping 1');
  t = clock.now += 10;
  const keepalive1 = one(A.keepalive(t), 'A keepalive 1', TRANSPORT_MIN_SIZE);
  assert.equal(B.decapsulate(keepalive1, epA, t).kind, 'none');
  const fresh1Packet = ipv4(100, 2);
  const fresh1 = one(A.encapsulate(fresh1Packet, t), 'A fresh data on keypair 1');
  t = clock.now += 10;
  const dataToA = one(B.encapsulate(ipv4(60, 3), t), 'B data 1');
  assert.equal(A.decapsulate(dataToA, epB, t).kind, 'toTunnel');

  // Handshake 2, B initiates: B sent data and heard nothing back, so its new-handshake timer fires.
  t = clock.now += NEW_HANDSHAKE_AFTER_MS + REKEY_TIMEOUT_JITTER_MAX_MS;
  const init2 = one(B.tick(t), 'B initiation 2 (new-handshake timer)', INITIATION_SIZE);
  const cookieToB2 = one(A.decapsulate(init2, epB, t, true), 'A cookie reply to init 2', COOKIE_REPLY_SIZE);
  const resp2 = one(A.decapsulate(init2, epB, t), 'A response 2', RESPONSE_SIZE);
  const keepaliveToA = one(B.decapsulate(resp2, epA, t), 'B keepalive after response 2', TRANSPORT_MIN_SIZE);
  assert.equal(A.decapsulate(keepaliveToA, epB, t).kind, 'none');
  const keypair2Born = t;
  t = clock.now += 10;
  const ping3 = ipv4(20, 4);
  const data2 = one(A.encapsulate(ping3, t), 'A data on keypair 2');
  delivered(B.decapsulate(data2, epA, t), ping3, 'B receives data 2');
  const keepalive2 = one(A.keepalive(t), 'A keepalive 2', TRANSPORT_MIN_SIZE);
  assert.equal(B.decapsulate(keepalive2, epA, t).kind, 'none');
  const fresh2aPacket = ipv4(0, 5);
  const fresh2bPacket = ipv4(1300, 6);
  const fresh2a = one(A.encapsulate(fresh2aPacket, t), 'A fresh data 2a');
  const fresh2b = one(A.encapsulate(fresh2bPacket, t), 'A fresh data 2b');
  const freshKeepalive2 = one(A.keepalive(t), 'A fresh keepalive 2', TRANSPORT_MIN_SIZE);

  // Handshake 3, B initiates again (its keypair 2 is REKEY_AFTER_TIME old); the response is held back.
  t = clock.now = keypair2Born + REKEY_AFTER_TIME_MS + 1;
  const out = datagrams(B.encapsulate(ipv4(30, 7), t), 'B data + initiation 3');
  assert.equal(out.length, 2, 'B sends data and a rekeying initiation');
  assert.equal(A.decapsulate(out[0]!, epB, t).kind, 'toTunnel');
  const init3 = out[1]!;
  assert.equal(init3.length, INITIATION_SIZE);
  const cookieToB3 = one(A.decapsulate(init3, epB, t, true), 'A cookie reply to init 3', COOKIE_REPLY_SIZE);
  const resp3 = one(A.decapsulate(init3, epB, t), 'A response 3', RESPONSE_SIZE);
  const pendingIndex = readU32(init3, INITIATION.sender);

  const kps = B.session.keypairs;
  assert.ok(kps.previous && kps.current && kps.next === null, 'B holds previous and current keypairs');
  assert.ok(B.session.handshakePending && B.session.ownsIndex(pendingIndex), 'B has a pending handshake');
  assert.equal(indicesB.size, 3);
  assert.equal(B.endpoint, epA);

  return {
    A,
    B,
    indicesB,
    identityB,
    publicA,
    publicB,
    privateB,
    epA,
    epB,
    start: t,
    pendingIndex,
    captured: {
      init1,
      init2,
      init3,
      resp1,
      resp2,
      resp3,
      cookieToA,
      cookieToB2,
      cookieToB3,
      data1,
      keepalive1,
      data2,
      keepalive2,
      fresh1,
      fresh2a,
      fresh2b,
      freshKeepalive2,
      dataToA,
    },
    freshPackets: { fresh1: fresh1Packet, fresh2a: fresh2aPacket, fresh2b: fresh2bPacket },
  };
}

// ---- B's observable state -------------------------------------------------------------------------

const SNAPSHOT_FIELDS = [
  'endpoint',
  'rxBytes',
  'txBytes',
  'lastHandshakeAt',
  'stagedCount',
  'handshakePending',
  'indices.size',
  'mtu',
  'timers.retransmitHandshakeAt',
  'timers.sendKeepaliveAt',
  'timers.newHandshakeAt',
  'timers.zeroKeyMaterialAt',
  'timers.persistentKeepaliveAt',
  'timers.handshakeAttempts',
  'timers.needAnotherKeepalive',
  'timers.sentLastMinuteHandshake',
  'timers.persistentKeepaliveInterval',
  ...['previous', 'current', 'next'].flatMap((slot) =>
    ['', '.localIndex', '.remoteIndex', '.sendCounter', '.sendingValid', '.replay.greatest'].map(
      (f) => slot + f,
    ),
  ),
] as const;

function snapshot(tun: Tunnel, indices: IndexTable<Tunnel>): unknown[] {
  const tm = tun.timers;
  const kps = tun.session.keypairs;
  const v: unknown[] = [
    tun.endpoint,
    tun.rxBytes,
    tun.txBytes,
    tun.lastHandshakeAt,
    tun.stagedCount,
    tun.session.handshakePending,
    indices.size,
    tun.mtu,
    tm.retransmitHandshakeAt,
    tm.sendKeepaliveAt,
    tm.newHandshakeAt,
    tm.zeroKeyMaterialAt,
    tm.persistentKeepaliveAt,
    tm.handshakeAttempts,
    tm.needAnotherKeepalive,
    tm.sentLastMinuteHandshake,
    tm.persistentKeepaliveInterval,
  ];
  for (const kp of [kps.previous, kps.current, kps.next]) {
    v.push(kp, kp?.localIndex, kp?.remoteIndex, kp?.sendCounter, kp?.sendingValid, kp?.replay.greatest);
  }
  return v;
}

function snapshotDiff(before: readonly unknown[], after: readonly unknown[]): string[] {
  const diffs: string[] = [];
  for (let i = 0; i < before.length; i++) {
    if (!Object.is(before[i], after[i])) {
      diffs.push(`${SNAPSHOT_FIELDS[i]}: ${String(before[i])} -> ${String(after[i])}`);
    }
  }
  return diffs;
}

// ---- the barrage ------------------------------------------------------------------------------------

type Expectation = { readonly kind: 'drop'; readonly reason: DropReason } | { readonly kind: 'cookie' };

interface Case {
  readonly cls: string;
  readonly bytes: Uint8Array;
  underLoad: boolean;
}

test('mutated and malformed datagrams are drops that change nothing; the session survives', (t) => {
  const started = performance.now();
  const w = buildWorld(SEED);
  const { A, B, captured: c } = w;
  const prng = new Prng(SEED);
  const responder = new Responder(w.identityB, randomSourceFrom(new Prng(SEED ^ 0x52455350)));
  const mac1KeyB = mac1Key(w.publicB);
  const cookieKeyB = cookieKey(w.publicB);
  const kps = B.session.keypairs;
  const kp1 = kps.previous!;
  const kp2 = kps.current!;
  const indicesOfB = [kp1.localIndex, kp2.localIndex, w.pendingIndex];
  const indicesOfA = [A.session.keypairs.previous, A.session.keypairs.current, A.session.keypairs.next]
    .filter((k) => k !== null)
    .map((k) => k.localIndex);
  const receivers = [...indicesOfB, ...indicesOfB, ...indicesOfA, 0, 0xffffffff];

  const handshakeBases = [c.init1, c.init2, c.init3, c.resp1, c.resp2, c.resp3];
  const transportBases = [
    c.data1,
    c.keepalive1,
    c.data2,
    c.keepalive2,
    c.fresh1,
    c.fresh2a,
    c.fresh2b,
    c.freshKeepalive2,
    c.dataToA,
  ];
  const receiverBases = [
    c.resp1,
    c.resp2,
    c.resp3,
    c.cookieToA,
    c.cookieToB2,
    c.cookieToB3,
    ...transportBases,
  ];
  const allBases = [...handshakeBases, c.cookieToA, c.cookieToB2, c.cookieToB3, ...transportBases];
  const freshTransports = [c.fresh1, c.fresh2a, c.fresh2b, c.freshKeepalive2];

  const spoofedA: Endpoint = { address: Uint8Array.from(w.epA.address), port: w.epA.port };
  const sources: readonly (readonly [number, Endpoint | null])[] = [
    [5, { address: Uint8Array.of(192, 0, 2, 66), port: 4444 }],
    [
      3,
      {
        address: Uint8Array.from({ length: 16 }, (_, i) => (i === 0 ? 0x20 : i === 1 ? 0x01 : i)),
        port: 5555,
      },
    ],
    [2, spoofedA],
    [1, null],
  ];

  // -- the oracle: what B must answer, from the bytes and B's (unchanging) state alone --
  const mac1Valid = (m: Uint8Array): boolean => {
    const at = m.length - 2 * MAC_LENGTH;
    return bytesEqual(mac(mac1KeyB, m.subarray(0, at)), m.subarray(at, at + MAC_LENGTH));
  };
  const refreshMac1 = (m: Uint8Array): Uint8Array => {
    const at = m.length - 2 * MAC_LENGTH;
    m.set(mac(mac1KeyB, m.subarray(0, at)), at);
    return m;
  };
  const expectFor = (m: Uint8Array, underLoad: boolean, m1ok: boolean): Expectation => {
    if (m.length < 4) return { kind: 'drop', reason: 'unknown-type' };
    const type = readU32(m, 0);
    switch (type) {
      case 1:
      case 2: {
        if (m.length !== (type === 1 ? INITIATION_SIZE : RESPONSE_SIZE))
          return { kind: 'drop', reason: 'bad-length' };
        if (!m1ok) return { kind: 'drop', reason: 'bad-mac1' };
        if (underLoad) return { kind: 'cookie' };
        if (type === 2) {
          const reason = readU32(m, 8) === w.pendingIndex ? 'handshake-failed' : 'unexpected-response';
          return { kind: 'drop', reason };
        }
        // Only init1's e and encrypted s identify A; only its timestamp then decrypts (and is a replay).
        if (!rangeEqual(m, c.init1, 8, 88)) return { kind: 'drop', reason: 'handshake-failed' };
        return {
          kind: 'drop',
          reason: rangeEqual(m, c.init1, 88, 116) ? 'stale-timestamp' : 'handshake-failed',
        };
      }
      case 3:
        if (m.length !== COOKIE_REPLY_SIZE) return { kind: 'drop', reason: 'bad-length' };
        return { kind: 'drop', reason: B.session.ownsIndex(readU32(m, 4)) ? 'bad-cookie' : 'unknown-index' };
      case 4: {
        if (m.length < TRANSPORT_MIN_SIZE) return { kind: 'drop', reason: 'bad-length' };
        const kp = kps.byIndex(readU32(m, 4));
        if (kp === null) return { kind: 'drop', reason: 'unknown-index' };
        return { kind: 'drop', reason: kp.replay.check(readU64(m, 8)) ? 'bad-tag' : 'replay' };
      }
      default:
        return { kind: 'drop', reason: 'unknown-type' };
    }
  };
  /** A cookie reply to handshake message `m`, sealed under B's cookie key and bound to m's mac1. */
  const isCookieReplyTo = (reply: Uint8Array, m: Uint8Array): boolean => {
    if (
      reply.length !== COOKIE_REPLY_SIZE ||
      readU32(reply, 0) !== 3 ||
      readU32(reply, 4) !== readU32(m, 4)
    ) {
      return false;
    }
    const at = m.length - 2 * MAC_LENGTH;
    const cookie = xopen(
      cookieKeyB,
      reply.subarray(8, 32),
      reply.subarray(32),
      m.subarray(at, at + MAC_LENGTH),
    );
    return cookie !== null && cookie.length === 16;
  };
  /** Mutants that would rightly be accepted: they must not be fed as drops. */
  const wouldBeAccepted = (m: Uint8Array): boolean => {
    if (m.length === COOKIE_REPLY_SIZE && readU32(m, 0) === 3) {
      return rangeEqual(m, c.cookieToB3, 8, COOKIE_REPLY_SIZE) && B.session.ownsIndex(readU32(m, 4));
    }
    return freshTransports.some((f) => bytesEqual(f, m));
  };
  const respondsLikeResp3 = (m: Uint8Array): boolean =>
    m.length === RESPONSE_SIZE &&
    readU32(m, 0) === 2 &&
    rangeEqual(m, c.resp3, 8, RESPONSE_SIZE - 2 * MAC_LENGTH);

  // -- bookkeeping --
  const failures: string[] = [];
  let failureCount = 0;
  const classCounts = new Map<string, number>();
  const outcomeCounts = new Map<string, number>();
  let cases = 0;
  let deep = 0;
  let skippedEquivalent = 0;
  let forcedUnderLoad = 0;
  let responderCases = 0;
  let identified = 0;
  let baseline = snapshot(B, w.indicesB);
  const bump = (m: Map<string, number>, k: string): void => void m.set(k, (m.get(k) ?? 0) + 1);
  const fail = (cs: Case, from: Endpoint | null, what: string): void => {
    failureCount++;
    if (failures.length < MAX_REPORTED) {
      const src = from === null ? 'null' : `${hex(from.address)}:${from.port}`;
      failures.push(
        `#${cases} ${cs.cls} underLoad=${cs.underLoad} from=${src} len=${cs.bytes.length}: ${what}\n` +
          `  datagram=${hex(cs.bytes)}`,
      );
    }
  };

  const run = (cs: Case): void => {
    const now = w.start + Math.floor(cases / 10);
    const m = cs.bytes;
    const from = prng.weighted(sources);
    const type = m.length >= 4 ? readU32(m, 0) : -1;
    const handshakeShaped =
      (type === 1 && m.length === INITIATION_SIZE) || (type === 2 && m.length === RESPONSE_SIZE);
    const m1ok = handshakeShaped && mac1Valid(m);
    if (m1ok && !cs.underLoad) {
      if (type === 2 && respondsLikeResp3(m)) {
        cs.underLoad = true; // it would complete B's pending handshake: only a cookie reply is allowed
        forcedUnderLoad++;
      } else if (type === 1 || readU32(m, 8) === w.pendingIndex) {
        if (deep < DEEP_BUDGET) deep++;
        else cs.underLoad = true;
      }
    }
    cases++;
    bump(classCounts, cs.cls);
    const expected = expectFor(m, cs.underLoad, m1ok);

    let r: TunnelResult;
    try {
      r = B.decapsulate(m, from, now, cs.underLoad);
    } catch (e) {
      fail(cs, from, `Tunnel.decapsulate threw ${String(e)}`);
      return;
    }
    bump(outcomeCounts, r.kind === 'drop' ? r.reason : r.kind);
    if (expected.kind === 'drop') {
      if (r.kind !== 'drop' || r.reason !== expected.reason) {
        fail(cs, from, `expected drop(${expected.reason}), got ${describe(r)}`);
      }
    } else if (r.kind !== 'toNetwork' || r.datagrams.length !== 1 || !isCookieReplyTo(r.datagrams[0]!, m)) {
      fail(cs, from, `expected one valid cookie reply, got ${describe(r)}`);
    }
    const after = snapshot(B, w.indicesB);
    const diffs = snapshotDiff(baseline, after);
    if (diffs.length > 0) {
      fail(cs, from, `B's state changed: ${diffs.join('; ')}`);
      baseline = after;
    }

    // The same message through the device-level front door.
    if (!handshakeShaped) return;
    responderCases++;
    const msg = parseMessage(m);
    if (msg.type !== 'initiation' && msg.type !== 'response') {
      fail(cs, from, `parseMessage classified a handshake-shaped datagram as ${msg.type}`);
      return;
    }
    try {
      const a = responder.admit(msg, from?.address ?? new Uint8Array(0), from?.port ?? 0, cs.underLoad, now);
      if (!m1ok) {
        if (a.kind !== 'drop' || a.reason !== 'bad-mac1')
          fail(cs, from, `admit: expected bad-mac1, got ${a.kind}`);
      } else if (cs.underLoad) {
        if (a.kind !== 'cookie' || !isCookieReplyTo(a.reply, m))
          fail(cs, from, `admit: expected cookie, got ${a.kind}`);
      } else if (a.kind !== 'accept') {
        fail(cs, from, `admit: expected accept, got ${a.kind}`);
      } else if (msg.type === 'initiation') {
        const partial = responder.identify(msg);
        const shouldIdentify = rangeEqual(m, c.init1, 8, 88);
        if ((partial !== null) !== shouldIdentify) {
          fail(
            cs,
            from,
            `identify: expected ${shouldIdentify ? 'A' : 'null'}, got ${partial ? 'a peer' : 'null'}`,
          );
        } else if (partial !== null) {
          identified++;
          if (!bytesEqual(partial.remoteStatic, w.publicA)) fail(cs, from, 'identify: wrong static key');
        }
      }
    } catch (e) {
      fail(cs, from, `Responder threw ${String(e)}`);
    }
  };

  const feed = (cls: string, bytes: Uint8Array, underLoad = prng.chance(UNDER_LOAD_P)): void => {
    run({ cls, bytes, underLoad });
  };

  // -- fixed sweeps --
  // Every edge size with every interesting type word, random bodies.
  for (const size of EDGE_SIZES) {
    for (const word of TYPE_WORDS) {
      for (let rep = 0; rep < 4; rep++) {
        const d = garbage(prng, size);
        const header = new Uint8Array(4);
        writeU32(header, 0, word);
        d.set(header.subarray(0, Math.min(4, size)));
        feed('edge-size', d);
      }
    }
    feed('edge-size-zeros', new Uint8Array(size));
  }
  // Low-order ephemeral keys in initiations whose mac1 is right, so they reach the DH.
  for (const point of LOW_ORDER_POINTS) {
    assert.equal(dh(w.privateB, point), null, `low-order point ${hex(point)} must give no shared secret`);
    for (const underLoad of [false, true]) {
      const fromInit1 = Uint8Array.from(c.init1);
      fromInit1.set(point, INITIATION.ephemeral);
      feed('low-order-ephemeral', refreshMac1(fromInit1), underLoad);
      const randomBody = garbage(prng, INITIATION_SIZE);
      writeU32(randomBody, 0, 1);
      randomBody.set(point, INITIATION.ephemeral);
      feed('low-order-ephemeral', refreshMac1(randomBody), underLoad);
    }
  }
  // Counters at and around the top of the 64-bit space, and around each window.
  const nearTop = [
    TWO_64 - 1n,
    TWO_64 - 2n,
    REJECT_AFTER_MESSAGES + 1n,
    REJECT_AFTER_MESSAGES,
    REJECT_AFTER_MESSAGES - 1n,
    REJECT_AFTER_MESSAGES - 2n,
    TWO_64 - 8192n,
    1n << 63n,
    (1n << 63n) - 1n,
    (1n << 53n) + 1n,
    1n << 32n,
    0xffffffffn,
  ];
  for (const kp of [kp1, kp2]) {
    const top = kp.replay.greatest ?? 0n;
    const around = [top, top + 1n, top + 2n, top + 8128n, top + 8192n, 0n];
    for (const counter of [...nearTop, ...around]) {
      for (const base of [c.data1, c.fresh2b, c.keepalive2, c.freshKeepalive2]) {
        const d = Uint8Array.from(base);
        writeU32(d, 4, kp.localIndex);
        writeU64(d, 8, counter);
        if (!wouldBeAccepted(d)) feed('counter-edge', d);
      }
    }
  }

  // -- random mutations until the target --
  const mutators: readonly (readonly [number, string])[] = [
    [20, 'bit-flip'],
    [14, 'substitute'],
    [8, 'truncate'],
    [8, 'extend'],
    [6, 'type-byte'],
    [6, 'reserved-byte'],
    [10, 'garbage'],
    [8, 'header-random-body'],
    [8, 'swap-receiver'],
    [4, 'counter-near-2^64'],
    [5, 'mac1-refresh'],
    [3, 'mac2-only'],
    [3, 'splice'],
    [1, 'low-order-ephemeral'],
  ];
  const mutate = (cls: string): Uint8Array => {
    switch (cls) {
      case 'bit-flip':
        return flipBits(prng, prng.pick(allBases), prng.pick([1, 1, 1, 2, 3, 8]));
      case 'substitute':
        return substituteBytes(prng, prng.pick(allBases), prng.pick([1, 1, 2, 4]));
      case 'truncate':
        return truncate(prng, prng.pick(allBases));
      case 'extend':
        return extend(prng, prng.pick(allBases), prng.pick([1, 16, 64, 200]));
      case 'type-byte': {
        const d = Uint8Array.from(prng.pick(allBases));
        d[0] = prng.chance(0.5)
          ? prng.pick([0, 1, 2, 3, 4, 5, 0x80, 0xff].filter((v) => v !== d[0]))
          : d[0]! ^ (1 + prng.below(255));
        return d;
      }
      case 'reserved-byte': {
        const d = Uint8Array.from(prng.pick(allBases));
        d[1 + prng.below(3)] = 1 + prng.below(255);
        return d;
      }
      case 'garbage': {
        const d = garbage(prng, prng.below(201));
        if (d.length >= 4 && prng.chance(0.5)) writeU32(d, 0, 1 + prng.below(4)); // a valid header
        return d;
      }
      case 'header-random-body': {
        const type = 1 + prng.below(4);
        const length =
          type === 1
            ? INITIATION_SIZE
            : type === 2
              ? RESPONSE_SIZE
              : type === 3
                ? COOKIE_REPLY_SIZE
                : 32 + prng.below(169);
        const d = garbage(prng, length);
        writeU32(d, 0, type);
        if (type >= 2 && prng.chance(0.6)) writeU32(d, type === 2 ? 8 : 4, prng.pick(receivers));
        if (type <= 2 && prng.chance(0.5)) refreshMac1(d);
        return d;
      }
      case 'swap-receiver': {
        const d = Uint8Array.from(prng.pick(receiverBases));
        const at = readU32(d, 0) === 2 ? 8 : 4;
        const old = readU32(d, at);
        let r = prng.chance(0.8) ? prng.pick(receivers) : prng.u32();
        if (r === old) r = (r + 1) >>> 0;
        writeU32(d, at, r);
        if (readU32(d, 0) === 2 && prng.chance(0.5)) refreshMac1(d);
        return d;
      }
      case 'counter-near-2^64': {
        const d = Uint8Array.from(prng.pick(transportBases));
        if (prng.chance(0.7)) writeU32(d, 4, prng.pick([kp1.localIndex, kp2.localIndex]));
        const counter = prng.chance(0.5) ? prng.pick(nearTop) : TWO_64 - 1n - BigInt(prng.below(20_000));
        writeU64(d, 8, counter);
        return d;
      }
      case 'mac1-refresh': {
        const base = prng.pick(handshakeBases);
        const end = base.length - 2 * MAC_LENGTH;
        const d = prng.chance(0.5)
          ? substituteBytes(prng, base, prng.pick([1, 2, 8]), 4, end)
          : Uint8Array.from(base);
        if (bytesEqual(d, base)) {
          const bit = 32 + prng.below((end - 4) * 8);
          d[bit >>> 3] ^= 1 << (bit & 7);
        }
        return refreshMac1(d);
      }
      case 'mac2-only': {
        const base = prng.pick(handshakeBases);
        return substituteBytes(prng, base, prng.pick([1, 4, 16]), base.length - MAC_LENGTH, base.length);
      }
      case 'splice': {
        const x = prng.pick(allBases);
        const y = prng.pick(allBases);
        const d = new Uint8Array(prng.below(x.length + 1) + prng.below(y.length + 1));
        const cut = Math.min(d.length, prng.below(x.length + 1));
        d.set(x.subarray(0, cut));
        d.set(y.subarray(y.length - (d.length - cut)), cut);
        return d;
      }
      case 'low-order-ephemeral': {
        const d = Uint8Array.from(c.init1);
        d.set(prng.pick(LOW_ORDER_POINTS), INITIATION.ephemeral);
        if (prng.chance(0.5)) d.set(garbage(prng, 60), INITIATION.static);
        return refreshMac1(d);
      }
      default:
        throw new Error(`unknown mutator ${cls}`);
    }
  };
  while (cases < TARGET_CASES) {
    const cls = prng.weighted(mutators);
    let d = mutate(cls);
    while (wouldBeAccepted(d)) {
      skippedEquivalent++;
      d = mutate(cls);
    }
    feed(cls, d);
  }

  const barrageMs = performance.now() - started;
  const sorted = (m: Map<string, number>): string =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
  t.diagnostic(
    `seed=${SEED} cases=${cases} (Tunnel.decapsulate) + ${responderCases} (Responder.admit/identify)`,
  );
  t.diagnostic(
    `deep (reached X25519, not under load)=${deep} identified=${identified} forcedUnderLoad=${forcedUnderLoad} regeneratedEquivalents=${skippedEquivalent}`,
  );
  t.diagnostic(`classes: ${sorted(classCounts)}`);
  t.diagnostic(`outcomes: ${sorted(outcomeCounts)}`);
  t.diagnostic(`barrage took ${barrageMs.toFixed(0)} ms`);
  assert.ok(cases >= 100_000 || TARGET_CASES < 100_000, `only ${cases} cases ran`);
  assert.equal(
    failureCount,
    0,
    `${failureCount} failures (seed ${SEED}), first ${failures.length}:\n${failures.join('\n')}`,
  );

  // -- the session, the windows and the pending handshake all survived --
  let now = w.start + Math.ceil(cases / 10) + 1;
  assert.ok(kp1.canReceive(now) && kp2.canReceive(now), 'the barrage stayed inside the keypairs’ lifetime');
  const ping = ipv4(64, 100);
  delivered(
    B.decapsulate(one(A.encapsulate(ping, now), 'A data after barrage'), w.epA, now),
    ping,
    'new A -> B data',
  );
  delivered(B.decapsulate(c.fresh1, w.epA, now), w.freshPackets.fresh1, 'held-back data on keypair 1');
  delivered(B.decapsulate(c.fresh2a, w.epA, now), w.freshPackets.fresh2a, 'held-back data 2a');
  delivered(B.decapsulate(c.fresh2b, w.epA, now), w.freshPackets.fresh2b, 'held-back data 2b');
  assert.equal(B.decapsulate(c.freshKeepalive2, w.epA, now).kind, 'none', 'held-back keepalive');
  assert.equal(
    B.decapsulate(c.cookieToB3, w.epA, now).kind,
    'none',
    'held-back cookie reply is still accepted',
  );
  const rxBefore = B.rxBytes;
  const keepalive3 = one(
    B.decapsulate(c.resp3, w.epA, now),
    'held-back response completes the pending handshake',
  );
  assert.ok(B.rxBytes > rxBefore && !B.session.handshakePending && B.session.keypairs.current !== kp2);
  assert.equal(A.decapsulate(keepalive3, w.epB, now).kind, 'none');
  now += 5;
  const ping2 = ipv4(200, 101);
  delivered(
    B.decapsulate(one(A.encapsulate(ping2, now), 'A data on keypair 3'), w.epA, now),
    ping2,
    'keypair 3',
  );
  const pong = ipv4(32, 102);
  delivered(A.decapsulate(one(B.encapsulate(pong, now), 'B data on keypair 3'), w.epB, now), pong, 'B -> A');
  for (const replay of [c.fresh2a, c.data2]) {
    assert.deepEqual(B.decapsulate(replay, w.epA, now), { kind: 'drop', reason: 'replay' });
  }
  // Keypair 1 rotated out with handshake 3, and its index with it.
  assert.deepEqual(B.decapsulate(c.fresh1, w.epA, now), { kind: 'drop', reason: 'unknown-index' });
  t.diagnostic(`total with setup and liveness checks: ${(performance.now() - started).toFixed(0)} ms`);
});

// ---- regressions: bugs this test once found ------------------------------------------------------

/** A fresh deterministic pair with nothing exchanged yet. */
function freshPair(seed: number): { A: Tunnel; B: Tunnel } {
  const keys = new Prng(seed);
  const privateA = clampPrivateKey(keys.bytes(32));
  const privateB = clampPrivateKey(keys.bytes(32));
  const timestamp = (): Uint8Array => tai64nFromMillis(WALL_BASE_MS);
  const A = new Tunnel({
    identity: new LocalIdentity(privateA),
    remotePublic: publicKeyOf(privateB),
    timestamp,
    random: randomSourceFrom(new Prng(seed + 1)),
  });
  const B = new Tunnel({
    identity: new LocalIdentity(privateB),
    remotePublic: publicKeyOf(privateA),
    timestamp,
    random: randomSourceFrom(new Prng(seed + 2)),
  });
  return { A, B };
}

test('a non-IP first packet on a new keypair does not swallow the packets it flushed', () => {
  const { A, B } = freshPair(11);
  const ep: Endpoint = { address: Uint8Array.of(10, 0, 0, 1), port: 1 };
  const init = one(A.encapsulate(ipv4(8, 1), 1000), 'initiation');
  const resp = one(B.decapsulate(init, ep, 1000), 'response');
  B.encapsulate(ipv4(8, 2), 1000); // B has only a `next` keypair: the packet is staged
  assert.equal(B.stagedCount, 1);
  A.decapsulate(resp, ep, 1000);
  const notIp = one(A.encapsulate(Uint8Array.of(0, 1, 2, 3), 1000), 'authenticated non-IP packet');
  const r = B.decapsulate(notIp, ep, 1000);
  // Confirming `next` sealed B's staged packet (counter used, txBytes counted); it must go out.
  const sent = r.kind === 'toNetwork' || r.kind === 'toTunnel' ? r.datagrams.length : 0;
  assert.ok(sent > 0 || B.stagedCount === 1, `staged packet lost: ${describe(r)}, staged=${B.stagedCount}`);
});

test('decapsulate from a null endpoint under load with a valid mac2 does not throw', () => {
  const { A, B } = freshPair(12);
  const ep: Endpoint = { address: Uint8Array.of(10, 0, 0, 1), port: 1 };
  const init1 = one(A.encapsulate(ipv4(8, 1), 1000), 'initiation');
  const cookie = one(B.decapsulate(init1, null, 1000, true), 'cookie reply for the empty source', 64);
  assert.equal(A.decapsulate(cookie, ep, 1000).kind, 'none');
  const init2 = one(A.tick(1000 + 5_400), 'retransmitted initiation, now with mac2');
  assert.doesNotThrow(() => B.decapsulate(init2, null, 1000 + 5_400, true));
});
