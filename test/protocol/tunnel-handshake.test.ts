/**
 * Handshakes between two Tunnels (whitepaper section 5.4.2–5.4.4 and 5.1, "Silence is a
 * Virtue"), with a fake clock and in memory: both directions, with and without a preshared key
 * (no psk is the all-zero psk), a mismatched psk failing silently, replayed and stale initiations,
 * the 50-per-second initiation limit, a private-key change and a peer whose key is our own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { INITIATION_SIZE, RESPONSE_SIZE, TRANSPORT_MIN_SIZE } from '../../src/constants.js';
import { tai64nFromMillis } from '../../src/crypto/tai64n.js';
import { publicKeyOf } from '../../src/crypto/x25519.js';
import { Tunnel } from '../../src/protocol/tunnel.js';
import {
  Pair,
  datagramsOf,
  ipv4,
  ipv6,
  kindsOf,
  only,
  receiverIndex,
  seededPrivateKey,
  seededRandom,
  WALL_BASE_MS,
  type SideName,
} from '../helpers/pair.js';

const PSK = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const OTHER_PSK = Uint8Array.from({ length: 32 }, (_, i) => 0xff - i);
const ZERO_PSK = new Uint8Array(32);

/** Sends one packet each way and checks both arrive intact. */
function assertDataFlows(p: Pair, label = ''): void {
  const ab = ipv4('10.0.0.1', '10.0.0.2', 33);
  const ba = ipv6('fd00::2', 'fd00::1', 7);
  const r1 = p.toB(only(p.a.encapsulate(ab, p.now), 'transport'));
  assert.equal(r1.kind, 'toTunnel', `A→B ${label}`);
  assert.deepEqual(r1.kind === 'toTunnel' && r1.packet, ab);
  const r2 = p.toA(only(p.b.encapsulate(ba, p.now), 'transport'));
  assert.equal(r2.kind, 'toTunnel', `B→A ${label}`);
  assert.deepEqual(r2.kind === 'toTunnel' && r2.packet, ba);
  assert.equal(r2.kind === 'toTunnel' && r2.family, 6);
}

/** A handshake carried step by step, checking each message's size, then data both ways. */
function fullHandshake(p: Pair, initiator: SideName): void {
  const [i, r] = initiator === 'a' ? [p.a, p.b] : [p.b, p.a];
  const toR = (d: Uint8Array) => (initiator === 'a' ? p.toB(d) : p.toA(d));
  const toI = (d: Uint8Array) => (initiator === 'a' ? p.toA(d) : p.toB(d));
  const packet = ipv4('10.0.0.1', '10.0.0.2', 20);

  // The first packet is staged and an initiation goes out instead.
  const first = i.encapsulate(packet, p.now);
  assert.deepEqual(kindsOf(first), ['initiation']);
  const init = datagramsOf(first)[0]!;
  assert.equal(init.length, INITIATION_SIZE);
  assert.equal(i.stagedCount, 1);
  assert.equal(i.session.handshakePending, true);

  // The responder answers and parks its keypair in `next`: it cannot send yet.
  const resp = only(toR(init), 'response');
  assert.equal(resp.length, RESPONSE_SIZE);
  assert.equal(r.session.keypairs.current, null);
  assert.notEqual(r.session.keypairs.next, null);
  assert.equal(r.lastHandshakeAt, null);

  // The initiator derives its keypair and flushes the staged packet (no keepalive needed).
  const flushed = toI(resp);
  assert.equal(flushed.kind, 'toNetwork');
  assert.deepEqual(kindsOf(flushed), ['transport']);
  assert.equal(i.stagedCount, 0);
  assert.equal(i.lastHandshakeAt, p.now);
  assert.equal(i.session.handshakePending, false);
  const kpI = i.session.keypairs.current!;
  assert.equal(kpI.isInitiator, true);
  assert.equal(receiverIndex(datagramsOf(flushed)[0]!), r.session.keypairs.next!.localIndex);

  // The responder confirms its keypair with that first transport message.
  const got = toR(datagramsOf(flushed)[0]!);
  assert.equal(got.kind, 'toTunnel');
  assert.deepEqual(got.kind === 'toTunnel' && got.packet, packet);
  assert.equal(r.session.keypairs.next, null);
  const kpR = r.session.keypairs.current!;
  assert.equal(kpR.isInitiator, false);
  assert.equal(r.lastHandshakeAt, p.now);
  // Same keys, mirrored.
  assert.deepEqual(kpI.sendKey, kpR.receiveKey);
  assert.deepEqual(kpI.receiveKey, kpR.sendKey);
  assert.equal(kpI.remoteIndex, kpR.localIndex);
  assert.equal(kpR.remoteIndex, kpI.localIndex);

  assertDataFlows(p, `after ${initiator} initiated`);
}

for (const initiator of ['a', 'b'] as const) {
  test(`handshake: ${initiator.toUpperCase()} initiates, no psk`, () => {
    fullHandshake(new Pair(), initiator);
  });

  test(`handshake: ${initiator.toUpperCase()} initiates, same psk on both`, () => {
    fullHandshake(new Pair({ a: { psk: PSK }, b: { psk: PSK } }), initiator);
  });

  test(`handshake: ${initiator.toUpperCase()} initiates, all-zero psk interoperates with no psk`, () => {
    fullHandshake(new Pair({ a: { psk: ZERO_PSK } }), initiator);
    fullHandshake(new Pair({ b: { psk: ZERO_PSK } }), initiator);
  });

  for (const [name, a, b] of [
    ['different psks', PSK, OTHER_PSK],
    ['psk on the initiator only', PSK, null],
    ['psk on the responder only', null, PSK],
  ] as const) {
    test(`handshake: ${initiator.toUpperCase()} initiates, ${name}: fails silently`, () => {
      const p = new Pair({ a: { psk: initiator === 'a' ? a : b }, b: { psk: initiator === 'a' ? b : a } });
      const [i, r] = initiator === 'a' ? [p.a, p.b] : [p.b, p.a];
      const toR = (d: Uint8Array) => (initiator === 'a' ? p.toB(d) : p.toA(d));
      const toI = (d: Uint8Array) => (initiator === 'a' ? p.toA(d) : p.toB(d));
      const init = only(i.encapsulate(ipv4('10.0.0.1', '10.0.0.2'), p.now), 'initiation');
      // The psk is mixed in only by message 2: the responder cannot tell and answers.
      const resp = only(toR(init), 'response');
      const res = toI(resp);
      assert.deepEqual(res, { kind: 'drop', reason: 'handshake-failed' });
      assert.equal(i.session.keypairs.current, null);
      assert.equal(i.session.keypairs.next, null);
      assert.equal(i.lastHandshakeAt, null);
      assert.equal(i.stagedCount, 1, 'the packet still waits for a session');
      assert.equal(i.session.handshakePending, true, 'a forged response does not consume our handshake');
      // The responder never gets a confirmation, so never uses its keypair.
      assert.equal(r.session.keypairs.current, null);
      assert.equal(kindsOf(r.encapsulate(ipv4('10.0.0.2', '10.0.0.1'), p.now)).includes('transport'), false);
    });
  }
}

test('handshake: a response to an initiation we did not send is unexpected', () => {
  const p = new Pair();
  const init = only(p.a.keepalive(p.now), 'initiation');
  const resp = only(p.toB(init), 'response');
  assert.equal(p.toA(resp).kind, 'toNetwork');
  // The same response again: the handshake it answered is gone.
  assert.deepEqual(p.toA(resp), { kind: 'drop', reason: 'unexpected-response' });
});

test('handshake: an initiation from a key we do not know is refused', () => {
  const p = new Pair();
  const stranger = new Tunnel({
    identity: new Pair({ seed: 99 }).sideA.identity,
    remotePublic: p.sideB.publicKey,
    timestamp: () => new Uint8Array(12).fill(0x40),
    random: seededRandom(1234),
  });
  const init = only(stranger.keepalive(p.now), 'initiation');
  assert.deepEqual(p.toB(init), { kind: 'drop', reason: 'unknown-peer' });
  assert.equal(p.b.session.keypairs.next, null);
});

test('replayed initiation: no response, and the established session is undisturbed', () => {
  const p = new Pair();
  const init = only(p.a.keepalive(p.now), 'initiation');
  const resp = only(p.toB(init), 'response');
  p.toB(only(p.toA(resp), 'transport'));
  const kpA = p.a.session.keypairs.current!;
  const kpB = p.b.session.keypairs.current!;
  const handshakeAt = p.b.lastHandshakeAt;
  assertDataFlows(p);

  for (const later of [1, 30_000, 100_000]) {
    p.now += later;
    assert.deepEqual(p.toB(init), { kind: 'drop', reason: 'stale-timestamp' });
    // Also from an address an attacker controls: no roaming on a replay.
    const evil = { address: Uint8Array.of(203, 0, 113, 66), port: 666 };
    assert.deepEqual(p.toB(init, evil), { kind: 'drop', reason: 'stale-timestamp' });
    assert.deepEqual(p.b.endpoint, p.sideA.endpoint);
    assert.equal(p.b.session.keypairs.current, kpB, 'same keypair object');
    assert.equal(p.b.session.keypairs.next, null, 'no new keypair waiting');
    assert.equal(p.b.session.keypairs.previous, null);
    assert.equal(p.b.lastHandshakeAt, handshakeAt);
    assert.equal(p.a.session.keypairs.current, kpA);
    assertDataFlows(p, `${later} ms later`);
  }
});

test('initiation with an older timestamp than the last accepted one is dropped (stale-timestamp)', () => {
  const p = new Pair();
  // A's first initiation is delayed in the network; its retransmission 5 s later arrives first.
  const older = only(p.a.keepalive(p.now), 'initiation');
  p.now += 6_000;
  const newer = only(p.a.tick(p.now), 'initiation');
  assert.equal(p.toB(newer).kind, 'toNetwork');
  const next = p.b.session.keypairs.next;
  p.now += 1_000;
  assert.deepEqual(p.toB(older), { kind: 'drop', reason: 'stale-timestamp' });
  assert.equal(p.b.session.keypairs.next, next);
  // A peer whose clock went backwards is refused the same way, whatever the monotonic clock says.
  p.sideA.skewMs = -60_000;
  p.now += 10_000;
  p.a.expireSessions();
  const behind = only(p.a.keepalive(p.now), 'initiation');
  assert.deepEqual(p.toB(behind), { kind: 'drop', reason: 'stale-timestamp' });
});

test('initiations faster than 50 per second from one peer are dropped (initiation-flood)', () => {
  const p = new Pair();
  const first = only(p.a.keepalive(p.now), 'initiation');
  assert.equal(p.toB(first).kind, 'toNetwork');
  const next1 = p.b.session.keypairs.next;

  // A second, fresher initiation 10 ms later (A's wall clock ahead so the timestamp is newer).
  p.now += 10;
  p.sideA.skewMs += 1_000;
  p.a.expireSessions(); // lifts A's own 5 s initiation limit so it sends again at once
  const second = only(p.a.keepalive(p.now), 'initiation');
  assert.deepEqual(p.toB(second), { kind: 'drop', reason: 'initiation-flood' });
  assert.equal(p.b.session.keypairs.next, next1, 'a flood drop changes nothing');

  // 19.x ms after the accepted one: still a flood. 20 ms after: accepted. The dropped initiation
  // did not record its timestamp, so the same message is now fine.
  p.now += 9;
  assert.deepEqual(p.toB(second), { kind: 'drop', reason: 'initiation-flood' });
  p.now += 1;
  const resp = only(p.toB(second), 'response');
  assert.notEqual(p.b.session.keypairs.next, next1);
  // A completes the handshake with that response and data flows.
  p.toB(only(p.toA(resp), 'transport'));
  assertDataFlows(p);
});

test('private key change: old sessions cannot send, the old peer refuses us, a fresh handshake works', () => {
  const p = new Pair();
  p.handshake('a');
  assertDataFlows(p);
  const oldKp = p.a.session.keypairs.current!;

  const newPrivate = seededPrivateKey(seededRandom(77));
  assert.equal(p.sideA.identity.setPrivateKey(newPrivate), true);
  p.a.expireSessions();

  // Sending on the old session is over: the packet is staged and an initiation goes out at once.
  const out = p.a.encapsulate(ipv4('10.0.0.1', '10.0.0.2'), p.now);
  assert.deepEqual(kindsOf(out), ['initiation']);
  assert.equal(p.a.stagedCount, 1);
  assert.equal(oldKp.canSend(p.now), false);
  // Receiving on it still works until it is replaced or expires (the kernel's expire only stops sends).
  const late = p.toA(only(p.b.encapsulate(ipv4('10.0.0.2', '10.0.0.1'), p.now), 'transport'));
  assert.equal(late.kind, 'toTunnel');

  // B still expects A's old public key, so the new identity is someone else.
  const init = datagramsOf(out)[0]!;
  assert.deepEqual(p.toB(init), { kind: 'drop', reason: 'unknown-peer' });

  // B reconfigured with A's new key (same B identity): the handshake completes, A's staged packet
  // arrives, and data flows on the new session.
  const b2 = new Tunnel({
    identity: p.sideB.identity,
    remotePublic: publicKeyOf(newPrivate),
    timestamp: () => new Uint8Array(12),
    random: seededRandom(555),
  });
  const resp = only(b2.decapsulate(init, p.sideA.endpoint, p.now), 'response');
  const flushed = p.a.decapsulate(resp, p.sideB.endpoint, p.now);
  assert.deepEqual(kindsOf(flushed), ['transport']);
  const got = b2.decapsulate(datagramsOf(flushed)[0]!, p.sideA.endpoint, p.now);
  assert.equal(got.kind, 'toTunnel');
  assert.notEqual(p.a.session.keypairs.current, oldKp);
  assert.equal(p.a.session.keypairs.previous, oldKp);
  const back = p.a.decapsulate(
    only(b2.encapsulate(ipv4('10.0.0.2', '10.0.0.1'), p.now), 'transport'),
    null,
    p.now,
  );
  assert.equal(back.kind, 'toTunnel');
});

test('setting the same private key again is not a change', () => {
  const p = new Pair();
  p.handshake('a');
  const version = p.sideA.identity.version;
  assert.equal(p.sideA.identity.setPrivateKey(p.sideA.privateKey), false);
  assert.equal(p.sideA.identity.version, version);
  assertDataFlows(p);
});

test('a peer configured with our own public key never handshakes', () => {
  const p = new Pair();
  const self = new Tunnel({
    identity: p.sideA.identity,
    remotePublic: p.sideA.publicKey,
    persistentKeepalive: 5,
    timestamp: () => new Uint8Array(12),
    random: seededRandom(3),
  });
  let sent = 0;
  sent += datagramsOf(self.encapsulate(ipv4('10.0.0.1', '10.0.0.2'), p.now)).length;
  sent += datagramsOf(self.keepalive(p.now)).length;
  sent += datagramsOf(self.setPersistentKeepalive(10, p.now)).length;
  for (let t = 0; t < 200_000; t += 100) sent += datagramsOf(self.tick(p.now + t)).length;
  assert.equal(sent, 0);
  assert.equal(self.session.handshakePending, false);
  assert.equal(self.session.keypairs.current, null);
});

test('handshake messages have the fixed sizes and a keepalive is a bare 32-byte transport message', () => {
  const p = new Pair();
  const init = only(p.a.keepalive(p.now), 'initiation');
  assert.equal(init.length, 148);
  const resp = only(p.toB(init), 'response');
  assert.equal(resp.length, 92);
  const ka = only(p.toA(resp), 'transport');
  assert.equal(ka.length, TRANSPORT_MIN_SIZE);
  assert.deepEqual(p.toB(ka), { kind: 'none' });
});

test('a peer that restarts (fresh state, same key, later clock) is accepted and the session moves on', () => {
  const p = new Pair();
  p.handshake('a');
  assertDataFlows(p);
  const oldB = p.b.session.keypairs.current!;
  p.now += 30_000;
  // A restarts: a new Tunnel with the same identity and no memory of the session.
  const a2 = new Tunnel({
    identity: p.sideA.identity,
    remotePublic: p.sideB.publicKey,
    timestamp: () => tai64nFromMillis(WALL_BASE_MS + p.now),
    random: seededRandom(4242),
  });
  // B still sends on the old session; the restarted A knows nothing of it.
  const stale = only(p.b.encapsulate(ipv4('10.0.0.2', '10.0.0.1'), p.now), 'transport');
  assert.deepEqual(a2.decapsulate(stale, p.sideB.endpoint, p.now), { kind: 'drop', reason: 'unknown-index' });
  // A's new initiation carries a later timestamp than anything B saw: accepted.
  const packet = ipv4('10.0.0.1', '10.0.0.2', 9);
  const init = only(a2.encapsulate(packet, p.now), 'initiation');
  const resp = only(p.toB(init), 'response');
  assert.equal(p.b.session.keypairs.current, oldB, 'B keeps the old session until confirmed');
  const flushed = a2.decapsulate(resp, p.sideB.endpoint, p.now);
  const got = p.toB(only(flushed, 'transport'));
  assert.deepEqual(got.kind === 'toTunnel' && got.packet, packet);
  assert.notEqual(p.b.session.keypairs.current, oldB);
  const back = ipv4('10.0.0.2', '10.0.0.1', 4);
  const r = a2.decapsulate(only(p.b.encapsulate(back, p.now), 'transport'), p.sideB.endpoint, p.now);
  assert.deepEqual(r.kind === 'toTunnel' && r.packet, back);
});

test('at most 128 packets wait for a handshake; the newest are kept', () => {
  const p = new Pair();
  const sent = Array.from({ length: 200 }, (_, i) =>
    ipv4('10.0.0.1', '10.0.0.2', Uint8Array.of(i >> 8, i & 0xff)),
  );
  let init: Uint8Array | null = null;
  for (const packet of sent) {
    const r = p.a.encapsulate(packet, p.now);
    if (r.kind === 'toNetwork') init = only(r, 'initiation');
  }
  assert.equal(p.a.stagedCount, 128);
  const flushed = p.toA(only(p.toB(init!), 'response'));
  assert.equal(datagramsOf(flushed).length, 128);
  const got = datagramsOf(flushed).map((d) => {
    const r = p.toB(d);
    assert.equal(r.kind, 'toTunnel');
    return r.kind === 'toTunnel' ? r.packet : null;
  });
  assert.deepEqual(got, sent.slice(200 - 128));
});
