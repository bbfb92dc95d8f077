/**
 * Keypair rotation across handshakes (whitepaper section 5.4.6 and 6.1; the kernel's
 * noise_keypairs): packets sealed under the previous keypair still open after a rekey, the
 * responder never sends on a new keypair before the initiator has used it, a lost response is
 * replaced cleanly, and simultaneous initiations from both sides converge on one session.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { REJECT_AFTER_MESSAGES, REKEY_AFTER_MESSAGES, REKEY_AFTER_TIME_MS } from '../../src/constants.js';
import { Pair, datagramsOf, ipv4, kindsOf, only, receiverIndex } from '../helpers/pair.js';

const AB = ipv4('10.0.0.1', '10.0.0.2', 11);
const BA = ipv4('10.0.0.2', '10.0.0.1', 22);

function delivered(r: ReturnType<Pair['toA']>, packet: Uint8Array): void {
  assert.equal(
    r.kind,
    'toTunnel',
    `expected toTunnel, got ${JSON.stringify(r.kind === 'drop' ? r : r.kind)}`,
  );
  assert.deepEqual(r.kind === 'toTunnel' && r.packet, packet);
}

/** A rekeys (as initiator) at `p.now`, carried by hand; returns nothing, leaves B confirmed. */
function rekeyByA(p: Pair): void {
  p.a.expireSessions(); // stop sending on the old keypair and lift the 5 s initiation limit
  const init = only(p.a.keepalive(p.now), 'initiation');
  const resp = only(p.toB(init), 'response');
  const ka = only(p.toA(resp), 'transport');
  assert.deepEqual(p.toB(ka), { kind: 'none' });
}

test('packets sealed under the previous keypair are still accepted across a rekey, both ways', () => {
  const p = new Pair();
  p.handshake('a');
  const kpA1 = p.a.session.keypairs.current!;
  const kpB1 = p.b.session.keypairs.current!;
  // In flight across the rekey: sealed now, delivered after both sides have moved on.
  const fromA = [1, 2, 3].map(() => only(p.a.encapsulate(AB, p.now), 'transport'));
  const fromB = [1, 2, 3].map(() => only(p.b.encapsulate(BA, p.now), 'transport'));
  delivered(p.toB(fromA[0]!), AB);

  // A's data after REKEY_AFTER_TIME triggers the rekey (transport first, then the initiation).
  p.now += REKEY_AFTER_TIME_MS;
  const out = p.a.encapsulate(AB, p.now);
  assert.deepEqual(kindsOf(out), ['transport', 'initiation']);
  delivered(p.toB(datagramsOf(out)[0]!), AB);
  const resp = only(p.toB(datagramsOf(out)[1]!), 'response');
  const ka = only(p.toA(resp), 'transport');
  p.toB(ka);

  assert.notEqual(p.a.session.keypairs.current, kpA1);
  assert.equal(p.a.session.keypairs.previous, kpA1);
  assert.notEqual(p.b.session.keypairs.current, kpB1);
  assert.equal(p.b.session.keypairs.previous, kpB1);

  // Out of order and late, under the old keys: still accepted.
  delivered(p.toB(fromA[2]!), AB);
  delivered(p.toB(fromA[1]!), AB);
  delivered(p.toA(fromB[1]!), BA);
  delivered(p.toA(fromB[0]!), BA);
  delivered(p.toA(fromB[2]!), BA);
  // And the replay window of the old keypair still works.
  assert.deepEqual(p.toB(fromA[1]!), { kind: 'drop', reason: 'replay' });

  // New traffic uses the new keys.
  const fresh = only(p.a.encapsulate(AB, p.now), 'transport');
  assert.equal(receiverIndex(fresh), p.b.session.keypairs.current!.localIndex);
  delivered(p.toB(fresh), AB);
});

test('a keypair two rekeys old is gone', () => {
  const p = new Pair();
  p.handshake('a');
  const old = only(p.a.encapsulate(AB, p.now), 'transport');
  p.now += 1_000;
  rekeyByA(p);
  p.now += 1_000;
  rekeyByA(p);
  assert.deepEqual(p.toB(old), { kind: 'drop', reason: 'unknown-index' });
});

test('the responder sends nothing on a new keypair before it has received on it (first handshake)', () => {
  const p = new Pair();
  const init = only(p.a.keepalive(p.now), 'initiation');
  const resp = only(p.toB(init), 'response');

  // B has only the unconfirmed keypair: its packet waits. It does not start a handshake of its
  // own either, having just sent a response (the kernel stamps last_sent_handshake there).
  const r = p.b.encapsulate(BA, p.now);
  assert.deepEqual(kindsOf(r), []);
  assert.equal(p.b.stagedCount, 1);
  p.now += 100;
  assert.deepEqual(kindsOf(p.b.encapsulate(BA, p.now)), []);
  assert.equal(p.b.stagedCount, 2);

  // A's keepalive on the new keypair is B's confirmation: B flushes on it at once.
  const ka = only(p.toA(resp), 'transport');
  const flushed = p.toB(ka);
  assert.deepEqual(kindsOf(flushed), ['transport', 'transport']);
  const kpB = p.b.session.keypairs.current!;
  for (const d of datagramsOf(flushed)) {
    assert.equal(receiverIndex(d), kpB.remoteIndex);
    delivered(p.toA(d), BA);
  }
});

test('on a rekey, the responder keeps sending on the old keypair until the new one is confirmed', () => {
  const p = new Pair();
  p.handshake('a');
  const kpB1 = p.b.session.keypairs.current!;
  p.now += 30_000;
  p.a.expireSessions();
  const init = only(p.a.keepalive(p.now), 'initiation');
  const resp = only(p.toB(init), 'response');
  const kpB2 = p.b.session.keypairs.next!;
  assert.notEqual(kpB2, null);
  assert.equal(p.b.session.keypairs.current, kpB1);

  // B's data goes out under the old keypair, which A still holds (as previous, once it rotates).
  const onOld = only(p.b.encapsulate(BA, p.now), 'transport');
  assert.equal(receiverIndex(onOld), kpB1.remoteIndex);
  assert.notEqual(receiverIndex(onOld), kpB2.remoteIndex);

  // A takes the response (A rotates at once: it is the initiator) and its keepalive is lost.
  only(p.toA(resp), 'transport');
  delivered(p.toA(onOld), BA);
  const stillOld = only(p.b.encapsulate(BA, p.now), 'transport');
  assert.equal(receiverIndex(stillOld), kpB1.remoteIndex);
  delivered(p.toA(stillOld), BA);

  // A's next data on the new keypair confirms it; from then on B uses the new one.
  delivered(p.toB(only(p.a.encapsulate(AB, p.now), 'transport')), AB);
  assert.equal(p.b.session.keypairs.current, kpB2);
  assert.equal(p.b.session.keypairs.previous, kpB1);
  const onNew = only(p.b.encapsulate(BA, p.now), 'transport');
  assert.equal(receiverIndex(onNew), kpB2.remoteIndex);
  delivered(p.toA(onNew), BA);
});

test('a lost response: the retransmitted initiation replaces the unconfirmed keypair', () => {
  const p = new Pair();
  const first = only(p.a.encapsulate(AB, p.now), 'initiation');
  only(p.toB(first), 'response'); // lost
  const unconfirmed = p.b.session.keypairs.next!;
  p.now += 6_000;
  const retry = only(p.a.tick(p.now), 'initiation');
  const resp = only(p.toB(retry), 'response');
  const replacement = p.b.session.keypairs.next!;
  assert.notEqual(replacement, unconfirmed);
  assert.equal(p.b.session.keypairs.previous, null);
  assert.equal(p.b.session.keypairs.current, null);
  assert.ok(
    unconfirmed.sendKey.every((x) => x === 0),
    'the dropped keypair is wiped',
  );

  const flushed = p.toA(resp);
  delivered(p.toB(only(flushed, 'transport')), AB);
  assert.equal(p.b.session.keypairs.current, replacement);
  delivered(p.toA(only(p.b.encapsulate(BA, p.now), 'transport')), BA);
});

test('a response to a superseded initiation is not accepted', () => {
  const p = new Pair();
  const first = only(p.a.encapsulate(AB, p.now), 'initiation');
  const late = only(p.toB(first), 'response');
  p.now += 6_000;
  const retry = only(p.a.tick(p.now), 'initiation');
  const resp = only(p.toB(retry), 'response');
  // The delayed response to the first initiation names an index A no longer holds.
  assert.deepEqual(p.toA(late), { kind: 'drop', reason: 'unexpected-response' });
  assert.equal(p.a.session.keypairs.current, null);
  delivered(p.toB(only(p.toA(resp), 'transport')), AB);
});

test('REKEY_AFTER_MESSAGES rekeys from either side; nothing is sent at REJECT_AFTER_MESSAGES', () => {
  const p = new Pair();
  p.handshake('a');
  p.now += 5_000; // past the 5 s initiation limit that B's response started
  // The responder too rekeys on message count (only the time rule is the initiator's).
  const kpB = p.b.session.keypairs.current!;
  kpB.sendCounter = REKEY_AFTER_MESSAGES - 1n;
  const below = p.b.encapsulate(BA, p.now);
  assert.deepEqual(kindsOf(below), ['transport']);
  const over = p.b.encapsulate(BA, p.now);
  assert.deepEqual(kindsOf(over), ['transport', 'initiation']);
  delivered(p.toA(datagramsOf(below)[0]!), BA);
  delivered(p.toA(datagramsOf(over)[0]!), BA);

  // The last nonce below REJECT_AFTER_MESSAGES is usable and accepted; then the keypair is spent.
  const kpA = p.a.session.keypairs.current!;
  kpA.sendCounter = REJECT_AFTER_MESSAGES - 1n;
  const last = p.a.encapsulate(AB, p.now);
  assert.deepEqual(kindsOf(last), ['transport', 'initiation']);
  delivered(p.toB(datagramsOf(last)[0]!), AB);
  assert.equal(kpA.canSend(p.now), false);
  assert.deepEqual(kindsOf(p.a.encapsulate(AB, p.now)), [], 'staged; the initiation already went');
  assert.equal(p.a.stagedCount, 1);
});

for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
  test(`simultaneous initiation from both sides converges (seed ${seed})`, () => {
    const p = new Pair({ seed });
    const start = p.now;
    // Both have data at the same instant and both initiate.
    const initA = only(p.a.encapsulate(AB, p.now), 'initiation');
    const initB = only(p.b.encapsulate(BA, p.now), 'initiation');
    // The initiations cross; each side answers the other's and drops its own pending handshake.
    const respB = only(p.toB(initA), 'response');
    const respA = only(p.toA(initB), 'response');
    // So each response is for a handshake its receiver abandoned.
    assert.deepEqual(p.toA(respB), { kind: 'drop', reason: 'unexpected-response' });
    assert.deepEqual(p.toB(respA), { kind: 'drop', reason: 'unexpected-response' });
    assert.equal(p.a.session.keypairs.current, null);
    assert.equal(p.b.session.keypairs.current, null);

    // Let the timers run with a working network: the retransmissions (5 s + jitter) sort it out.
    p.run(20_000);
    const a = p.deliveredTo('a');
    const b = p.deliveredTo('b');
    assert.deepEqual(
      b.map((d) => d.packet),
      [AB],
      'A’s staged packet arrived once',
    );
    assert.deepEqual(
      a.map((d) => d.packet),
      [BA],
      'B’s staged packet arrived once',
    );
    assert.ok(b[0]!.at - start <= 6_000 && a[0]!.at - start <= 6_000, 'within one retransmission');

    // One session, both directions, keys mirrored.
    const kpA = p.a.session.keypairs.current!;
    const kpB = p.b.session.keypairs.current!;
    assert.deepEqual(kpA.sendKey, kpB.receiveKey);
    assert.deepEqual(kpA.receiveKey, kpB.sendKey);
    p.transmit('a', AB);
    p.transmit('b', BA);
    assert.equal(p.deliveredTo('b').length, 2);
    assert.equal(p.deliveredTo('a').length, 2);
    // Nobody is still retrying.
    const inits = p.sent.filter((s) => s.kind === 'initiation' && s.at > start + 6_000);
    assert.deepEqual(inits, []);
  });
}
