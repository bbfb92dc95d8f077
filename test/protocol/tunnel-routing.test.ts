/**
 * Roaming and cryptokey routing on receive (whitepaper section 2, "Endpoints & Roaming", and
 * section 3, "Cryptokey Routing"; the kernel's receive.c): the peer's endpoint follows the source
 * of the latest authenticated packet only, and a decrypted packet whose inner source address the
 * allowed-IPs table does not map to this peer is dropped, although (as in the kernel, which sets
 * the endpoint before the routing check) the endpoint still roams. The outbound half, "no
 * allowed IP matches the destination", is the device's decision and is tested there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { IP_SOURCE_OFFSET } from '../../src/protocol/transport.js';
import type { Endpoint } from '../../src/protocol/tunnel.js';
import { AllowedIPs } from '../../src/routing/allowed-ips.js';
import { parsePrefix } from '../../src/routing/ip.js';
import { Pair, ipv4, ipv6, only, seededRandom } from '../helpers/pair.js';

const AB = ipv4('10.0.0.1', '10.0.0.2', 11);

const EP1: Endpoint = { address: Uint8Array.of(203, 0, 113, 10), port: 40000 };
const EP2: Endpoint = { address: Uint8Array.of(203, 0, 113, 20), port: 40001 };
const EP3: Endpoint = {
  address: Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x66),
  port: 666,
};

test('a valid packet from a new endpoint moves the endpoint', () => {
  const p = new Pair();
  p.handshake('a');
  assert.deepEqual(p.b.endpoint, p.sideA.endpoint, 'learned from the handshake');
  assert.equal(p.toB(only(p.a.encapsulate(AB, p.now), 'transport'), EP1).kind, 'toTunnel');
  assert.deepEqual(p.b.endpoint, EP1);
  // A keepalive authenticates just as well.
  assert.deepEqual(p.toB(only(p.a.keepalive(p.now), 'transport'), EP3), { kind: 'none' });
  assert.deepEqual(p.b.endpoint, EP3);
});

test('the endpoint follows the latest authenticated packet, not the highest counter', () => {
  const p = new Pair();
  p.handshake('a');
  const [d1, d2] = [1, 2].map(() => only(p.a.encapsulate(AB, p.now), 'transport'));
  assert.equal(p.toB(d2!, EP1).kind, 'toTunnel');
  assert.equal(p.toB(d1!, EP2).kind, 'toTunnel'); // older counter, still inside the window
  assert.deepEqual(p.b.endpoint, EP2);
});

test('replayed, garbage and forged packets from another address do not move the endpoint', () => {
  const p = new Pair();
  p.handshake('a');
  const d = only(p.a.encapsulate(AB, p.now), 'transport');
  assert.equal(p.toB(d, EP1).kind, 'toTunnel');

  // A replay of that packet from elsewhere.
  assert.deepEqual(p.toB(d, EP2), { kind: 'drop', reason: 'replay' });
  // A fresh packet with one bit of its ciphertext flipped (valid index, fresh counter).
  const forged = only(p.a.encapsulate(AB, p.now), 'transport');
  forged[forged.length - 20]! ^= 1;
  assert.deepEqual(p.toB(forged, EP2), { kind: 'drop', reason: 'bad-tag' });
  // Its tag flipped instead.
  const badTag = only(p.a.encapsulate(AB, p.now), 'transport');
  badTag[badTag.length - 1]! ^= 0x80;
  assert.deepEqual(p.toB(badTag, EP2), { kind: 'drop', reason: 'bad-tag' });
  // Random bytes, a transport header with the right index, an unknown index, a runt.
  const rnd = seededRandom(9);
  const junk = rnd(80);
  junk.set([4, 0, 0, 0], 0);
  junk.set(d.subarray(4, 8), 4);
  assert.deepEqual(p.toB(junk, EP2), { kind: 'drop', reason: 'bad-tag' });
  const unknown = rnd(48);
  unknown.set([4, 0, 0, 0], 0);
  assert.equal(p.toB(unknown, EP2).kind, 'drop');
  assert.equal(p.toB(rnd(3), EP2).kind, 'drop');
  assert.equal(p.toB(rnd(200), EP2).kind, 'drop');
  assert.deepEqual(p.b.endpoint, EP1);

  // The forged packets consumed nothing: the next genuine packet still arrives, and roams.
  assert.equal(p.toB(only(p.a.encapsulate(AB, p.now), 'transport'), EP3).kind, 'toTunnel');
  assert.deepEqual(p.b.endpoint, EP3);
});

test('handshake messages roam only when they authenticate', () => {
  const p = new Pair();
  const init = only(p.a.keepalive(p.now), 'initiation');
  const resp = only(p.toB(init, EP1), 'response');
  assert.deepEqual(p.b.endpoint, EP1, 'a valid initiation sets the endpoint');
  assert.equal(p.toA(resp, EP2).kind, 'toNetwork');
  assert.deepEqual(p.a.endpoint, EP2, 'a valid response sets it on the initiator');

  p.now += 1_000;
  assert.deepEqual(p.toB(init, EP3), { kind: 'drop', reason: 'stale-timestamp' });
  assert.deepEqual(p.b.endpoint, EP1, 'a replayed initiation does not');
  const forged = Uint8Array.from(init);
  forged[40] ^= 1; // inside the encrypted static; mac1 now fails first
  assert.deepEqual(p.toB(forged, EP3), { kind: 'drop', reason: 'bad-mac1' });
  assert.deepEqual(p.toA(resp, EP3), { kind: 'drop', reason: 'unexpected-response' });
  assert.deepEqual(p.a.endpoint, EP2);
});

/** B's table: A owns 10.0.0.0/24 and fd00::/64, another peer C owns 10.0.1.0/24. */
function routedPair(): Pair {
  const table = new AllowedIPs<string>();
  for (const [prefix, peer] of [
    ['10.0.0.0/24', 'A'],
    ['fd00::/64', 'A'],
    ['10.0.1.0/24', 'C'],
  ] as const) {
    const pr = parsePrefix(prefix)!;
    table.insert(pr.bytes, pr.cidr, peer);
  }
  return new Pair({
    b: {
      allowedSource: (packet, family) => table.lookupAt(packet, IP_SOURCE_OFFSET[family], family) === 'A',
    },
  });
}

test('cryptokey routing: a packet whose inner source is not allowed for the peer is dropped', () => {
  const p = routedPair();
  p.handshake('a');
  const ok4 = ipv4('10.0.0.7', '10.0.0.2', 5);
  const ok6 = ipv6('fd00::7', 'fd00::2', 5);
  for (const good of [ok4, ok6]) {
    const r = p.toB(only(p.a.encapsulate(good, p.now), 'transport'));
    assert.equal(r.kind, 'toTunnel');
    assert.deepEqual(r.kind === 'toTunnel' && r.packet, good);
  }
  for (const [what, bad] of [
    ['another peer’s prefix', ipv4('10.0.1.5', '10.0.0.2', 5)],
    ['no peer’s prefix', ipv4('192.168.7.7', '10.0.0.2', 5)],
    ['an IPv6 source outside', ipv6('fd00:0:0:1::7', 'fd00::2', 5)],
    ['an IPv4-mapped source', ipv6('::ffff:10.0.0.7', 'fd00::2', 5)],
  ] as const) {
    const r = p.toB(only(p.a.encapsulate(bad, p.now), 'transport'));
    assert.deepEqual(r, { kind: 'drop', reason: 'disallowed-source' }, what);
  }
});

test('cryptokey routing: a disallowed packet still authenticates, so the endpoint roams (kernel order)', () => {
  const p = routedPair();
  p.handshake('a');
  const bad = only(p.a.encapsulate(ipv4('10.0.1.5', '10.0.0.2', 5), p.now), 'transport');
  assert.deepEqual(p.toB(bad, EP2), { kind: 'drop', reason: 'disallowed-source' });
  assert.deepEqual(p.b.endpoint, EP2);
  // Its counter was consumed: the same datagram again is a replay.
  assert.deepEqual(p.toB(bad, EP1), { kind: 'drop', reason: 'replay' });
  assert.deepEqual(p.b.endpoint, EP2);
  // And the session carries on.
  assert.equal(p.toB(only(p.a.encapsulate(AB, p.now), 'transport')).kind, 'toTunnel');
});
