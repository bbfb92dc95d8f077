/**
 * The `get` encoder (src/uapi/get-encoder.ts) against the line-by-line formatter it replaced,
 * kept here as the reference: random snapshots (keys set, unset and all-zero, IPv4, IPv6 and
 * IPv4-mapped endpoints and prefixes, handshake times, counters past 2^32 and 2^53) must print
 * byte for byte the same, through PeerSnapshot objects and through the PrefixVisitor calls a
 * device makes; values the reference refuses must be refused with the same error. Also: a
 * snapshot's own getReply is sent as is, and a reply far larger than the first buffer grows intact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAllZero } from '../../src/crypto/bytes.js';
import { encodeGet, formatGet, parseGet } from '../../src/uapi/codec.js';
import { GetEncoder } from '../../src/uapi/get-encoder.js';
import type { DeviceSnapshot, IpPrefix, PeerSnapshot } from '../../src/uapi/types.js';
import {
  formatAllowedIP,
  formatDecimal,
  formatEndpoint,
  formatHexKey,
  parseAllowedIP,
} from '../../src/uapi/values.js';
import { Prng } from '../routing/prng.js';

/** The formatGet of before the encoder: one string per line, joined. */
function referenceFormatGet(s: DeviceSnapshot): string {
  const out: string[] = [];
  if (s.privateKey !== null && !isAllZero(s.privateKey))
    out.push(`private_key=${formatHexKey(s.privateKey)}`);
  if (s.listenPort !== 0) out.push(`listen_port=${formatDecimal(s.listenPort)}`);
  if (s.fwmark !== 0) out.push(`fwmark=${formatDecimal(s.fwmark)}`);
  for (const p of s.peers) {
    out.push(`public_key=${formatHexKey(p.publicKey)}`);
    out.push(`preshared_key=${formatHexKey(p.presharedKey)}`);
    out.push('protocol_version=1');
    if (p.endpoint !== null) out.push(`endpoint=${formatEndpoint(p.endpoint)}`);
    out.push(`last_handshake_time_sec=${formatDecimal(p.lastHandshake?.sec ?? 0)}`);
    out.push(`last_handshake_time_nsec=${formatDecimal(p.lastHandshake?.nsec ?? 0)}`);
    out.push(`tx_bytes=${formatDecimal(p.txBytes)}`);
    out.push(`rx_bytes=${formatDecimal(p.rxBytes)}`);
    out.push(`persistent_keepalive_interval=${formatDecimal(p.persistentKeepalive)}`);
    for (const prefix of p.allowedIPs) out.push(`allowed_ip=${formatAllowedIP(prefix)}`);
  }
  out.push('errno=0', '', '');
  return out.join('\n');
}

/** The same snapshot through the calls a device makes (allowed IPs as words, by family). */
function viaVisitor(s: DeviceSnapshot): string {
  const out = new GetEncoder(64);
  out.device(s.privateKey, s.listenPort, s.fwmark);
  for (const p of s.peers) {
    const hs = p.lastHandshake;
    out.peer(
      p.publicKey,
      p.presharedKey,
      p.endpoint,
      hs?.sec ?? 0,
      hs?.nsec ?? 0,
      p.txBytes,
      p.rxBytes,
      p.persistentKeepalive,
    );
    for (const prefix of p.allowedIPs) {
      const b = prefix.bytes;
      const w = (i: number): number => (b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!;
      if (b.length === 4) out.ipv4(w(0), prefix.cidr);
      else out.ipv6(w(0), w(4), w(8), w(12), prefix.cidr);
    }
  }
  return Buffer.from(out.finish()).toString('latin1');
}

function randomCounter(rng: Prng): number {
  switch (rng.below(6)) {
    case 0:
      return 0;
    case 1:
      return rng.below(10);
    case 2:
      return rng.u32();
    case 3:
      return rng.u32() * 2 ** 20 + rng.below(2 ** 20); // past 2^32, below 2^53
    case 4:
      return Number.MAX_SAFE_INTEGER - rng.below(3);
    default:
      return 2 ** 53 * (1 + rng.below(4096)); // exact doubles past 2^53
  }
}

function randomAddress(rng: Prng): Uint8Array {
  const kind = rng.below(5);
  if (kind <= 1) return rng.bytes(4);
  const a = rng.bytes(16);
  if (kind === 2) a.fill(0, 0, 10).fill(0xff, 10, 12); // IPv4-mapped
  if (kind === 3) a.fill(0, 2, 14); // a long zero run
  return a;
}

function randomPrefix(rng: Prng): IpPrefix {
  const a = randomAddress(rng);
  const cidr = rng.below(a.length * 8 + 1);
  const p = parseAllowedIP(
    `${formatAllowedIP({ family: a.length === 4 ? 4 : 6, bytes: a, cidr: a.length * 8 }).split('/')[0]}/${cidr}`,
  );
  assert.ok(p);
  return p;
}

function randomPeer(rng: Prng): PeerSnapshot {
  const allowedIPs: IpPrefix[] = [];
  for (let i = rng.below(4); i > 0; i--) allowedIPs.push(randomPrefix(rng));
  const handshake = rng.below(3);
  return {
    publicKey: rng.bytes(32),
    presharedKey: rng.below(3) === 0 ? null : rng.below(4) === 0 ? new Uint8Array(32) : rng.bytes(32),
    endpoint: rng.below(4) === 0 ? null : { address: randomAddress(rng), port: rng.below(65536) },
    lastHandshake:
      handshake === 0
        ? null
        : handshake === 1
          ? { sec: 0, nsec: 0 }
          : { sec: 1_700_000_000 + rng.below(10 ** 6), nsec: rng.below(10 ** 9) },
    txBytes: randomCounter(rng),
    rxBytes: randomCounter(rng),
    persistentKeepalive: rng.below(2) === 0 ? 0 : rng.below(65536),
    allowedIPs,
  };
}

function randomSnapshot(rng: Prng, peers: number): DeviceSnapshot {
  const k = rng.below(3);
  return {
    privateKey: k === 0 ? null : k === 1 ? new Uint8Array(32) : rng.bytes(32),
    listenPort: rng.below(2) === 0 ? 0 : rng.below(65536),
    fwmark: rng.below(2) === 0 ? 0 : rng.u32(),
    peers: Array.from({ length: peers }, () => randomPeer(rng)),
  };
}

for (const seed of [1, 0xc0ffee, 0x5eed5]) {
  test(`formatGet matches the line-by-line reference on random snapshots (seed ${seed})`, () => {
    const rng = new Prng(seed);
    for (let round = 0; round < 200; round++) {
      const s = randomSnapshot(rng, rng.below(6));
      const want = referenceFormatGet(s);
      assert.equal(formatGet(s), want, `seed ${seed} round ${round}`);
      assert.equal(viaVisitor(s), want, `seed ${seed} round ${round}: through the visitor calls`);
    }
  });
}

test('a reply much larger than the first buffer grows intact, and parses back', () => {
  const rng = new Prng(7);
  const s = randomSnapshot(rng, 3000);
  const bytes = encodeGet(s);
  assert.equal(Buffer.from(bytes).toString('latin1'), referenceFormatGet(s));
  assert.equal(parseGet(Buffer.from(bytes).toString('latin1')).peers.length, 3000);
});

test('a snapshot with its own getReply is sent as is', () => {
  const getReply = Uint8Array.from(Buffer.from('listen_port=1\nerrno=0\n\n'));
  const s: DeviceSnapshot = { privateKey: null, listenPort: 1, fwmark: 0, peers: [], getReply };
  assert.equal(encodeGet(s), getReply);
  assert.equal(formatGet(s), 'listen_port=1\nerrno=0\n\n');
});

test('values the reference refuses are refused alike (the server answers EIO)', () => {
  const base = randomPeer(new Prng(3));
  const cases: Array<[string, Partial<PeerSnapshot>]> = [
    ['negative tx_bytes', { txBytes: -1 }],
    ['fractional rx_bytes', { rxBytes: 1.5 }],
    ['NaN keepalive', { persistentKeepalive: Number.NaN }],
    ['negative handshake time', { lastHandshake: { sec: -5, nsec: 0 } }],
    ['short public key', { publicKey: new Uint8Array(31) }],
    ['long pre-shared key', { presharedKey: new Uint8Array(33) }],
    ['port past 65535', { endpoint: { address: new Uint8Array(4), port: 65536 } }],
    ['5-byte endpoint address', { endpoint: { address: new Uint8Array(5), port: 1 } }],
    ['IPv4 /33', { allowedIPs: [{ family: 4, bytes: new Uint8Array(4), cidr: 33 }] }],
    ['IPv6 /129', { allowedIPs: [{ family: 6, bytes: new Uint8Array(16), cidr: 129 }] }],
  ];
  for (const [name, change] of cases) {
    const s: DeviceSnapshot = { privateKey: null, listenPort: 0, fwmark: 0, peers: [{ ...base, ...change }] };
    let expected: unknown;
    try {
      referenceFormatGet(s);
    } catch (err) {
      expected = err;
    }
    assert.ok(expected instanceof RangeError, `${name}: the reference refuses it`);
    assert.throws(() => formatGet(s), { name: 'RangeError', message: expected.message }, name);
  }
});
