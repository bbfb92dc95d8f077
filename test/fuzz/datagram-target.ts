/**
 * Fuzz target for the device's datagram handler (Device.receiveDatagrams and the handshake queue
 * it drains), on the in-memory fakes with a fake clock (test/helpers/device-net.ts). Node T has
 * two peers, A and B, with live sessions both ways (A initiated to T, T initiated to B). Every
 * datagram T received while they were set up is captured — initiation, response, transport (data
 * and keepalive) — plus a cookie reply B's responder makes for T's initiation: real inputs of all
 * four types. An input is a batch of datagrams, the source they claim (A's endpoint, B's, or an
 * IPv4 or IPv6 stranger) and whether a flood of 130 bad-mac1 initiations from a stranger precedes
 * them (so T is "under load" and answers mac1-valid handshakes with cookie replies).
 *
 * Mutations: the generic byte operators of test/helpers/fuzz.ts (bit flips, substitutions,
 * truncation, extension, garbage) plus structure-aware ones: set the type field, point the receiver
 * index at one of T's live indices, recompute mac1 under T's public key (so a mutant passes the
 * mac gate and reaches Diffie-Hellman or the AEAD), resize to another type's exact size, splice
 * two captured datagrams, add or drop datagrams in the batch.
 *
 * Invariants for every case (all captured datagrams are already consumed, so nothing may succeed):
 *   - nothing throws out of receiveDatagrams or the queue's drain;
 *   - nothing is written to T's TUN;
 *   - T sends nothing but cookie replies (64 bytes), and only while under load;
 *   - the index table keeps its size, the queue drains to empty and never exceeds its capacity.
 * check() (every N cases and at the end): data still flows A→T, T→A and B→T over the sessions
 * (allowing a re-handshake through the timers if the sessions aged), and the index table holds at
 * most 4 entries per peer.
 *
 * Features (output-feature guidance, see engine.ts): the input's type and length class, every
 * Responder.admit outcome, every Tunnel consume* outcome with its drop reason, reply kinds.
 */
import { COOKIE_REPLY_SIZE, INITIATION_SIZE, RESPONSE_SIZE } from '../../src/constants.js';
import { mac } from '../../src/crypto/blake2s.js';
import type { Endpoint } from '../../src/io/bind.js';
import { mac1Key } from '../../src/protocol/cookie.js';
import { parseMessage } from '../../src/protocol/messages.js';
import type { Admission } from '../../src/protocol/responder.js';
import type { TunnelResult } from '../../src/protocol/results.js';
import { REKEY_TIMEOUT_MS, REKEY_TIMEOUT_JITTER_MAX_MS } from '../../src/constants.js';
import { DeviceNet, type DeviceNode } from '../helpers/device-net.js';
import { ipBytes } from '../helpers/fake-io.js';
import {
  Prng,
  extend,
  flipBits,
  fromHex,
  garbage,
  hex,
  randomSourceFrom,
  readU32,
  substituteBytes,
  truncate,
  writeU32,
} from '../helpers/fuzz.js';
import { ipv4, ipv6 } from '../helpers/pair.js';
import { invariant, type FuzzTarget } from './engine.js';

export interface DatagramInput {
  readonly batch: readonly Uint8Array[];
  /** 0: A's endpoint, 1: B's, 2: an IPv4 stranger, 3: an IPv6 stranger. */
  readonly source: number;
  readonly flood: boolean;
}

const FLOOD = 130;
const MAX_BATCH = 16;
/** Per peer: previous, current and next keypair plus one handshake in progress. */
const MAX_INDICES_PER_PEER = 4;

function receiverOffset(type: number): number {
  return type === 1 ? -1 : 4 + (type === 2 ? 4 : 0);
}

/** Recomputes mac1 (and zeroes mac2) as if the message were addressed to `publicKey`. */
function fixMac1(d: Uint8Array, publicKey: Uint8Array): Uint8Array {
  const out = Uint8Array.from(d);
  const off = out.length - 32;
  out.set(mac(mac1Key(publicKey), out.subarray(0, off)), off);
  out.fill(0, off + 16);
  return out;
}

function lengthClass(d: Uint8Array): string {
  const type = d.length >= 4 ? readU32(d, 0) : -1;
  const t = type >= 0 && type <= 5 ? String(type) : 'other';
  const exact = [0, INITIATION_SIZE, RESPONSE_SIZE, COOKIE_REPLY_SIZE][type] ?? -1;
  if (type === 4)
    return `t${t}:${d.length < 32 ? 'short' : d.length === 32 ? 'keepalive' : (d.length - 32) % 16 === 0 ? 'padded' : 'odd'}`;
  return `t${t}:${exact < 0 ? 'any' : d.length === exact ? 'exact' : d.length < exact ? 'short' : 'long'}`;
}

function resultFeature(method: string, r: TunnelResult): string {
  return `${method}:${r.kind}${r.kind === 'drop' ? `:${r.reason}` : ''}`;
}

export interface DatagramTarget extends FuzzTarget<DatagramInput> {
  /** What the setup captured, by kind (for diagnostics). */
  readonly captured: Readonly<Record<string, number>>;
}

/**
 * `seed` drives every key and every random choice of the devices, so a run is reproducible:
 * `scripts/fuzz.mjs datagram --seed S --cases N` replays a finding's whole sequence.
 */
export async function datagramTarget(seed = 0xda7a): Promise<DatagramTarget> {
  const setupPrng = new Prng(seed ^ 0x5e7095);
  const net = new DeviceNet({ random: randomSourceFrom(setupPrng) });
  const t = await net.node(1);
  const a = await net.node(2);
  const b = await net.node(3);
  await net.link(t, a);
  await net.link(t, b);
  const tEndpoint = t.endpoint(4);

  // Sessions: A initiates to T, T initiates to B; data both ways.
  a.tun.inject(ipv4(a.inner4, t.inner4, 40));
  await net.settle();
  t.tun.inject(ipv4(t.inner4, a.inner4, 60), ipv6(t.inner6, a.inner6, 17));
  t.tun.inject(ipv4(t.inner4, b.inner4, 30));
  await net.settle();
  b.tun.inject(ipv4(b.inner4, t.inner4, 100), ipv6(b.inner6, t.inner6, 3));
  a.tun.inject(ipv6(a.inner6, t.inner6, 1));
  await net.settle();
  net.tick(10_500); // passive keepalives
  await net.settle();
  const toT = net.net.log.filter(
    (d) => hex(d.to.address) === hex(tEndpoint.address) && d.to.port === tEndpoint.port,
  );
  const fromA = (d: { from: Endpoint }): boolean => hex(d.from.address) === hex(a.endpoint(4).address);
  const seeds: DatagramInput[] = toT.map((d) => ({
    batch: [d.data],
    source: fromA(d) ? 0 : 1,
    flood: false,
  }));
  const tInit = net.net.log.find(
    (d) => parseMessage(d.data).type === 'initiation' && hex(d.to.address) === hex(b.endpoint(4).address),
  );
  invariant(tInit !== undefined, 'setup: T never initiated to B');
  const initMsg = parseMessage(tInit.data);
  invariant(initMsg.type === 'initiation', 'setup: not an initiation');
  const cookie: Admission = b.device.responder.admit(
    initMsg,
    tEndpoint.address,
    tEndpoint.port,
    true,
    net.clock.mono,
  );
  invariant(cookie.kind === 'cookie', 'setup: B made no cookie reply');
  seeds.push({ batch: [cookie.reply], source: 1, flood: false });
  seeds.push({ batch: [seeds[0]!.batch[0]!, cookie.reply], source: 2, flood: true });
  const captured: Record<string, number> = {};
  for (const s of seeds)
    for (const d of s.batch) captured[parseMessage(d).type] = (captured[parseMessage(d).type] ?? 0) + 1;
  invariant(
    ['initiation', 'response', 'cookieReply', 'transport'].every((k) => (captured[k] ?? 0) > 0),
    `setup: not every type captured: ${JSON.stringify(captured)}`,
  );

  // T's live receiver indices: the receiver field of what T got (responses, transport, cookies).
  let liveIndices: number[] = [];
  const refreshIndices = (): void => {
    const set = new Set<number>();
    for (const d of net.net.log.slice(-200)) {
      if (hex(d.to.address) !== hex(tEndpoint.address) || d.data.length < 12) continue;
      const type = readU32(d.data, 0);
      if (type === 2) set.add(readU32(d.data, 8));
      if (type === 3 || type === 4) set.add(readU32(d.data, 4));
    }
    liveIndices = [...set];
  };
  refreshIndices();

  // Output features: wrap the Responder and each peer's Tunnel entry points (test-only spies).
  let caseFeatures: string[] = [];
  const responder = t.device.responder;
  const admit = responder.admit.bind(responder);
  responder.admit = (msg, address, port, underLoad, now) => {
    const r = admit(msg, address, port, underLoad, now);
    caseFeatures.push(
      `admit:${msg.type}:${underLoad ? 'load' : 'idle'}:${r.kind}${r.kind === 'drop' ? `:${r.reason}` : ''}`,
    );
    return r;
  };
  const identify = responder.identify.bind(responder);
  responder.identify = (msg) => {
    const r = identify(msg);
    caseFeatures.push(`identify:${r === null ? 'null' : 'peer'}`);
    return r;
  };
  for (const peer of t.device.peers.values()) {
    const tunnel = peer.tunnel;
    const ct = tunnel.consumeTransport.bind(tunnel);
    tunnel.consumeTransport = (msg, from, now) => {
      const r = ct(msg, from, now);
      caseFeatures.push(resultFeature('transport', r));
      return r;
    };
    const cc = tunnel.consumeCookieReply.bind(tunnel);
    tunnel.consumeCookieReply = (msg, now) => {
      const r = cc(msg, now);
      caseFeatures.push(resultFeature('cookieReply', r));
      return r;
    };
    const ci = tunnel.consumeInitiation.bind(tunnel);
    tunnel.consumeInitiation = (partial, msg, from, now) => {
      const r = ci(partial, msg, from, now);
      caseFeatures.push(resultFeature('initiation', r));
      return r;
    };
    const cr = tunnel.consumeResponse.bind(tunnel);
    tunnel.consumeResponse = (msg, from, now) => {
      const r = cr(msg, from, now);
      caseFeatures.push(resultFeature('response', r));
      return r;
    };
  }

  const sources: Endpoint[] = [
    a.endpoint(4),
    b.endpoint(4),
    { address: ipBytes('198.51.100.7'), port: 40000 },
    { address: ipBytes('2001:db8:ffff::7'), port: 40001 },
  ];
  const allCaptured = seeds.flatMap((s) => s.batch);
  let indexBaseline = t.device.indices.size;

  const drain = async (): Promise<void> => {
    for (let i = 0; i < 1_000 && (t.device.queue.length > 0 || i < 2); i++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  };

  const mutateOne = (prng: Prng, d: Uint8Array): Uint8Array => {
    const op = prng.below(12);
    switch (op) {
      case 0:
        return flipBits(prng, d, prng.between(1, 4));
      case 1:
        return substituteBytes(prng, d, prng.between(1, 4));
      case 2:
        return truncate(prng, d);
      case 3:
        return extend(prng, d, prng.chance(0.5) ? 16 : 200);
      case 4:
        return garbage(prng, prng.pick([0, 1, 3, 4, 31, 32, 64, 92, 148, prng.below(300)]));
      case 5: {
        // Type field: a known type, a near miss (non-zero reserved bytes) or anything.
        const out = d.length >= 4 ? Uint8Array.from(d) : extend(prng, d, 40);
        writeU32(
          out,
          0,
          prng.chance(0.7)
            ? prng.between(0, 5)
            : prng.chance(0.5)
              ? prng.between(1, 4) | (1 << (8 * prng.between(1, 3)))
              : prng.u32(),
        );
        return out;
      }
      case 6: {
        // Receiver index: one of T's live ones.
        const type = d.length >= 4 ? readU32(d, 0) : 0;
        const off = receiverOffset(type);
        if (off < 0 || d.length < off + 4 || liveIndices.length === 0) return flipBits(prng, d, 1);
        const out = Uint8Array.from(d);
        writeU32(out, off, prng.pick(liveIndices));
        return out;
      }
      case 7:
      case 8: {
        // Recompute mac1 so the mutant passes the mac gate (handshake sizes only).
        const type = d.length >= 4 ? readU32(d, 0) : 0;
        let out = d;
        if (type === 1 && d.length !== INITIATION_SIZE)
          out =
            d.length > INITIATION_SIZE
              ? d.slice(0, INITIATION_SIZE)
              : extend(prng, d, INITIATION_SIZE - d.length).slice(0, INITIATION_SIZE);
        if (type === 2 && d.length !== RESPONSE_SIZE)
          out =
            d.length > RESPONSE_SIZE
              ? d.slice(0, RESPONSE_SIZE)
              : extend(prng, d, RESPONSE_SIZE - d.length).slice(0, RESPONSE_SIZE);
        if (out.length !== INITIATION_SIZE && out.length !== RESPONSE_SIZE)
          return substituteBytes(prng, d, 1);
        // Mutate inside the mac1-covered part first, then fix the mac.
        const body = substituteBytes(prng, out, prng.between(1, 3), 4, out.length - 32);
        return fixMac1(body, t.publicKey);
      }
      case 9: {
        // Splice: the head of one captured datagram with the tail of another.
        const other = prng.pick(allCaptured);
        const cut = prng.below(Math.min(d.length, other.length) + 1);
        const out = new Uint8Array(Math.max(d.length, other.length));
        out.set(d.subarray(0, cut));
        out.set(other.subarray(cut), cut);
        return out;
      }
      case 10: {
        // Resize to another type's exact size (keeping the type field).
        const size = prng.pick([INITIATION_SIZE, RESPONSE_SIZE, COOKIE_REPLY_SIZE, 32, 48]);
        const out = new Uint8Array(size);
        out.set(d.subarray(0, size));
        return out;
      }
      default:
        return Uint8Array.from(prng.pick(allCaptured));
    }
  };

  const target: DatagramTarget = {
    name: 'datagram',
    captured,
    seeds: () => seeds,
    encode: (input) => JSON.stringify({ ...input, batch: input.batch.map(hex) }),
    decode: (text) => {
      const o = JSON.parse(text) as { batch: string[]; source: number; flood: boolean };
      return { batch: o.batch.map(fromHex), source: o.source, flood: o.flood };
    },
    mutate(prng, input) {
      const batch = [...input.batch];
      let { source, flood } = input;
      const r = prng.below(100);
      if (r < 8) source = prng.below(sources.length);
      else if (r < 12) flood = prng.chance(0.25);
      else if (r < 20 && batch.length < MAX_BATCH)
        batch.splice(prng.below(batch.length + 1), 0, prng.pick(allCaptured));
      else if (r < 24 && batch.length > 1) batch.splice(prng.below(batch.length), 1);
      else if (batch.length > 0) {
        const i = prng.below(batch.length);
        batch[i] = mutateOne(prng, batch[i]!);
      } else batch.push(mutateOne(prng, prng.pick(allCaptured)));
      return { batch, source, flood };
    },
    async run(input) {
      caseFeatures = [];
      // 50 ms a case: a flood's "under load" (1 s) covers the next ~20 cases, then it is idle again.
      net.clock.advance(50);
      const device = t.device;
      const logMark = net.net.log.length;
      const tunMark = t.tun.written.length;
      const src = sources[input.source % sources.length]!;
      if (input.flood) {
        const junk: Uint8Array[] = [];
        for (let i = 0; i < FLOOD; i++) {
          const d = new Uint8Array(INITIATION_SIZE);
          writeU32(d, 0, 1);
          writeU32(d, 4, i);
          junk.push(d);
        }
        device.receiveDatagrams(
          junk,
          junk.map(() => sources[2]!),
        );
        caseFeatures.push('flood');
      }
      // Hand over copies and poison them afterwards, as the real bind's reused slots are.
      const copies = input.batch.map((d) => Uint8Array.from(d));
      const srcs = copies.map(() => ({ address: Uint8Array.from(src.address), port: src.port }));
      device.receiveDatagrams(copies, srcs);
      for (const c of copies) c.fill(0xdd);
      for (const s of srcs) s.address.fill(0xdd);
      invariant(
        device.queue.length <= device.queue.capacity,
        `queue length ${device.queue.length} over capacity`,
      );
      await drain();
      invariant(device.queue.length === 0, `queue did not drain: ${device.queue.length}`);
      for (const d of input.batch) caseFeatures.push(`in:${lengthClass(d)}`);
      invariant(
        t.tun.written.length === tunMark,
        `${t.tun.written.length - tunMark} packet(s) written to the TUN`,
      );
      const underLoad = device.queue.underLoad(net.clock.mono);
      for (const d of net.net.log.slice(logMark)) {
        const kind = parseMessage(d.data).type;
        caseFeatures.push(`out:${kind}`);
        invariant(
          kind === 'cookieReply' && d.data.length === COOKIE_REPLY_SIZE && underLoad,
          `T sent a ${d.data.length}-byte ${kind}${underLoad ? '' : ' while not under load'}`,
        );
      }
      invariant(
        device.indices.size === indexBaseline,
        `index table changed size: ${indexBaseline} → ${device.indices.size}`,
      );
      net.net.flush(); // cookie replies to A or B: let them process (and drop) them
      return caseFeatures;
    },
    async check() {
      // Leave "under load", then data must flow both ways over the existing sessions.
      net.clock.advance(1_100);
      const nonce = net.clock.mono & 0xffff;
      const want = (n: DeviceNode, from: DeviceNode): Uint8Array =>
        ipv4(from.inner4, n.inner4, Uint8Array.of(nonce >> 8, nonce & 0xff, from.n, n.n));
      const pairs: [DeviceNode, DeviceNode][] = [
        [a, t],
        [t, a],
        [b, t],
      ];
      for (const [from, to] of pairs) {
        const packet = want(to, from);
        const mark = to.tun.written.length;
        let ok = false;
        for (let attempt = 0; attempt < 6 && !ok; attempt++) {
          if (attempt === 0) from.tun.inject(packet);
          await net.settle();
          ok = to.tun.written.slice(mark).some((p) => hex(p) === hex(packet));
          if (!ok) net.tick(REKEY_TIMEOUT_MS + REKEY_TIMEOUT_JITTER_MAX_MS + 1); // retransmit the handshake
        }
        invariant(ok, `session check: ${from.n} → ${to.n} did not get through`);
      }
      for (const n of [t, a, b]) n.tun.takeWritten();
      invariant(
        t.device.indices.size <= MAX_INDICES_PER_PEER * t.device.peers.size,
        `T holds ${t.device.indices.size} indices for ${t.device.peers.size} peers`,
      );
      refreshIndices();
      indexBaseline = t.device.indices.size;
    },
    close: () => net.close(),
  };
  return target;
}
