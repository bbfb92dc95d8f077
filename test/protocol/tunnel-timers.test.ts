/**
 * The timer rules of whitepaper section 6 as the kernel implements them (drivers/net/wireguard/
 * timers.c, send.c and receive.c's keep_key_fresh), driven through two Tunnels with a fake clock:
 * rekey after REKEY_AFTER_TIME of sending, initiation retries every REKEY_TIMEOUT + jitter and the
 * give-up after MAX_TIMER_HANDSHAKES, passive keepalive, new handshake when sent data got no
 * answer, persistent keepalive, REJECT_AFTER_TIME, the initiator's last-minute rekey on receive
 * and key zeroing after 3 × REJECT_AFTER_TIME.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  KEEPALIVE_TIMEOUT_MS,
  KEY_ZEROING_AFTER_MS,
  MAX_TIMER_HANDSHAKES,
  NEW_HANDSHAKE_AFTER_MS,
  REJECT_AFTER_TIME_MS,
  REKEY_AFTER_TIME_MS,
  REKEY_ON_RECEIVE_AFTER_MS,
  REKEY_TIMEOUT_JITTER_MAX_MS,
  REKEY_TIMEOUT_MS,
} from '../../src/constants.js';
import { Pair, datagramsOf, ipv4, isKeepalive, kindsOf, only, type Sent } from '../helpers/pair.js';

const AB = ipv4('10.0.0.1', '10.0.0.2', 11);
const BA = ipv4('10.0.0.2', '10.0.0.1', 22);

function times(sent: Sent[]): number[] {
  return sent.map((s) => s.at);
}

test('rekey after REKEY_AFTER_TIME: the initiator’s first send at 120 s starts a handshake', () => {
  const p = new Pair();
  p.handshake('a');
  const t0 = p.now;
  const kp1 = p.a.session.keypairs.current!;
  // Steady traffic over a working network: A sends every 10 s and B answers 1 s later (so
  // neither side's passive keepalive ever fires and only data packets are sent).
  for (let i = 1; i <= 14; i++) {
    p.run(t0 + 10_000 * i - p.now);
    p.transmit('a', AB);
    p.run(1_000);
    p.transmit('b', BA);
  }
  const initsA = p.sentBy('a', 'initiation', t0);
  assert.deepEqual(times(initsA), [t0 + REKEY_AFTER_TIME_MS], 'exactly one, at the first send after 120 s');
  assert.deepEqual(p.sentBy('b', 'initiation', t0), [], 'the responder never rekeys on time');
  // The data packet went out (on the old keypair) before the initiation.
  const at120 = p.sent.filter((s) => s.at === t0 + REKEY_AFTER_TIME_MS && s.from === 'a');
  assert.deepEqual(
    at120.map((s) => s.kind),
    ['transport', 'initiation', 'transport'],
  );
  assert.notEqual(p.a.session.keypairs.current, kp1);
  assert.equal(p.a.session.keypairs.previous, kp1);
  assert.equal(p.deliveredTo('b', t0).length, 14, 'no packet lost to the rekey');
  assert.equal(p.deliveredTo('a', t0).length, 14);
});

test('rekey after REKEY_AFTER_TIME: the exact boundary, initiator only', () => {
  const p = new Pair();
  p.handshake('a');
  const t0 = p.now;
  assert.deepEqual(kindsOf(p.a.encapsulate(AB, t0 + REKEY_AFTER_TIME_MS - 1)), ['transport']);
  assert.deepEqual(kindsOf(p.a.encapsulate(AB, t0 + REKEY_AFTER_TIME_MS)), ['transport', 'initiation']);
  // Within REKEY_TIMEOUT of that initiation no other is sent.
  assert.deepEqual(kindsOf(p.a.encapsulate(AB, t0 + REKEY_AFTER_TIME_MS + 4_999)), ['transport']);
  assert.deepEqual(kindsOf(p.b.encapsulate(BA, t0 + REJECT_AFTER_TIME_MS - 1)), ['transport']);
});

test('retries every REKEY_TIMEOUT + jitter, gives up after MAX_TIMER_HANDSHAKES retries, drops staged packets', () => {
  const p = new Pair();
  p.linkAtoB = false; // every initiation is lost
  const t0 = p.now;
  p.transmit('a', AB);
  p.transmit('a', ipv4('10.0.0.1', '10.0.0.2', 99));
  assert.equal(p.a.stagedCount, 2);
  while (p.a.stagedCount > 0 && p.now < t0 + 200_000) p.run(1, 1);
  const gaveUpAt = p.now;

  const inits = times(p.sentBy('a', 'initiation'));
  // The kernel: the first initiation, then one retry per expiry while attempts ≤ 18 (attempts is
  // incremented per retry), so 1 + 19 = 20 in all ("did not complete after 20 attempts").
  assert.equal(MAX_TIMER_HANDSHAKES, 18);
  assert.equal(inits.length, MAX_TIMER_HANDSHAKES + 2);
  assert.equal(inits[0], t0);
  const gaps = inits.slice(1).map((t, i) => t - inits[i]!);
  for (const g of gaps) {
    assert.ok(g >= REKEY_TIMEOUT_MS && g < REKEY_TIMEOUT_MS + REKEY_TIMEOUT_JITTER_MAX_MS, `gap ${g}`);
  }
  assert.ok(new Set(gaps).size > 1, 'the jitter varies');
  assert.equal(p.a.stagedCount, 0, 'staged packets are dropped at give-up');
  assert.equal(p.a.timers.retransmitHandshakeAt, Infinity, 'no further retries are scheduled');

  // The give-up happened one more REKEY_TIMEOUT + jitter after the last initiation.
  const wait = gaveUpAt - inits[inits.length - 1]!;
  assert.ok(wait >= REKEY_TIMEOUT_MS && wait < REKEY_TIMEOUT_MS + REKEY_TIMEOUT_JITTER_MAX_MS, `${wait}`);
  p.run(60_000, 10);
  assert.equal(p.sentBy('a', 'initiation').length, MAX_TIMER_HANDSHAKES + 2, 'silence after the give-up');

  // A new packet starts a new attempt at once, with a fresh count; the dropped ones never arrive.
  p.linkAtoB = true;
  const fresh = ipv4('10.0.0.1', '10.0.0.2', 5);
  p.transmit('a', fresh);
  assert.deepEqual(
    p.deliveredTo('b').map((d) => d.packet),
    [fresh],
  );
});

test('the staged packets survive until the give-up, not longer', () => {
  const p = new Pair();
  p.linkAtoB = false;
  p.transmit('a', AB);
  // Just before the 20th retransmit deadline would have given up, restore the link: the packet
  // that waited ~95 s is delivered by the handshake that finally succeeds.
  p.run(REKEY_TIMEOUT_MS * (MAX_TIMER_HANDSHAKES + 1) - 1_000, 1);
  assert.equal(p.a.stagedCount, 1);
  p.linkAtoB = true;
  p.run(REKEY_TIMEOUT_MS + REKEY_TIMEOUT_JITTER_MAX_MS, 1);
  assert.deepEqual(
    p.deliveredTo('b').map((d) => d.packet),
    [AB],
  );
});

test('fresh data while retrying resets the attempt count: no give-up while packets keep coming', () => {
  const p = new Pair();
  p.linkAtoB = false;
  for (let i = 0; i < 8; i++) {
    p.transmit('a', AB);
    p.run(30_000, 5);
  }
  // 240 s of retries, never a give-up: initiations every ~5 s throughout.
  const inits = times(p.sentBy('a', 'initiation'));
  assert.ok(inits.length >= 240_000 / (REKEY_TIMEOUT_MS + REKEY_TIMEOUT_JITTER_MAX_MS), `${inits.length}`);
  assert.ok(p.now - inits[inits.length - 1]! < REKEY_TIMEOUT_MS + REKEY_TIMEOUT_JITTER_MAX_MS);
  assert.ok(p.a.stagedCount > 0);
});

test('passive keepalive: KEEPALIVE_TIMEOUT after receiving data with nothing sent back', () => {
  const p = new Pair();
  p.handshake('a');
  const t1 = p.now;
  p.transmit('a', AB);
  p.run(30_000, 1);
  const fromB = p.sentBy('b', undefined, t1);
  assert.deepEqual(times(fromB), [t1 + KEEPALIVE_TIMEOUT_MS]);
  assert.ok(isKeepalive(fromB[0]!.datagram));
  // The keepalive told A that B is alive: no new handshake from A.
  assert.deepEqual(p.sentBy('a', 'initiation', t1), []);
});

test('passive keepalive: not sent when data went back in the meantime', () => {
  const p = new Pair();
  p.handshake('a');
  const t1 = p.now;
  p.transmit('a', AB);
  p.run(3_000, 1);
  p.transmit('b', BA);
  p.run(30_000, 1);
  // B's data at +3 s cancelled B's keepalive; A now owes one, at +13 s.
  assert.deepEqual(
    p.sentBy('b', undefined, t1).map((s) => [s.at - t1, isKeepalive(s.datagram)]),
    [[3_000, false]],
  );
  assert.deepEqual(
    p.sentBy('a', undefined, t1 + 1).map((s) => [s.at - t1, isKeepalive(s.datagram)]),
    [[3_000 + KEEPALIVE_TIMEOUT_MS, true]],
  );
});

test('passive keepalive: one per quiet period, even when more data arrived while it was pending', () => {
  const p = new Pair();
  p.handshake('a');
  const t1 = p.now;
  p.transmit('a', AB);
  p.run(5_000, 1);
  p.transmit('a', AB);
  p.run(40_000, 1);
  // The second packet set timer_need_another_keepalive, and the expiry re-arms the timer for
  // +20 s; but sending the keepalive is itself "any authenticated packet sent", which deletes that
  // timer again (kernel: the tx worker's del_timer runs after the expiry's mod_timer; wireguard-go:
  // RoutineSequentialSender's sendKeepalive.Del after expiredSendKeepalive's Mod). So one
  // keepalive, at +10 s, as in both.
  assert.deepEqual(
    p.sentBy('b', undefined, t1).map((s) => s.at - t1),
    [KEEPALIVE_TIMEOUT_MS],
  );
  assert.ok(isKeepalive(p.sentBy('b', undefined, t1)[0]!.datagram));
  assert.equal(p.b.timers.needAnotherKeepalive, false);
});

test('new handshake when sent data got no reply for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT (+ jitter)', () => {
  const p = new Pair();
  p.handshake('a');
  p.linkBtoA = false; // B's answers (its passive keepalive) are lost
  const t1 = p.now;
  p.transmit('a', AB);
  p.run(5_000, 1);
  p.transmit('a', AB); // a second send does not push the deadline back
  p.run(NEW_HANDSHAKE_AFTER_MS + REKEY_TIMEOUT_JITTER_MAX_MS - 5_000, 1);
  const inits = times(p.sentBy('a', 'initiation', t1));
  assert.equal(inits.length, 1);
  const delay = inits[0]! - t1;
  assert.ok(
    delay >= NEW_HANDSHAKE_AFTER_MS && delay < NEW_HANDSHAKE_AFTER_MS + REKEY_TIMEOUT_JITTER_MAX_MS,
    `${delay}`,
  );
});

test('no new handshake when the peer answers, even with only a keepalive', () => {
  const p = new Pair();
  p.handshake('a');
  const t1 = p.now;
  for (let i = 0; i < 6; i++) {
    p.transmit('a', AB);
    p.run(9_000, 5);
  }
  p.run(60_000, 5);
  assert.deepEqual(p.sentBy('a', 'initiation', t1), []);
  assert.ok(p.sentBy('b', 'transport', t1).every((s) => isKeepalive(s.datagram)));
});

test('persistent keepalive: turning it on sends one at once, then one per interval of silence', () => {
  const p = new Pair();
  p.handshake('a');
  const t1 = p.now;
  const on = p.a.setPersistentKeepalive(25, p.now);
  assert.equal(datagramsOf(on).length, 1);
  assert.ok(isKeepalive(datagramsOf(on)[0]!));
  p.send('a', on);
  p.run(60_000, 1);
  assert.deepEqual(
    p.sentBy('a', undefined, t1).map((s) => s.at - t1),
    [0, 25_000, 50_000],
  );
  assert.ok(p.sentBy('a', undefined, t1).every((s) => isKeepalive(s.datagram)));

  // Traffic in either direction pushes it back: B's keepalive at +70 s moves the next to +95 s.
  // (A keepalive, not data, so that A owes no passive keepalive of its own.)
  p.run(10_000, 1);
  p.send('b', p.b.keepalive(p.now));
  p.run(30_000, 1);
  assert.deepEqual(
    p.sentBy('a', undefined, t1 + 60_001).map((s) => s.at - t1),
    [95_000],
  );

  // Changing the interval while on does not send at once; turning it off stops it.
  assert.deepEqual(p.a.setPersistentKeepalive(30, p.now), { kind: 'none' });
  const t2 = p.now;
  p.run(31_000, 1);
  // At +130 s the keepalive is also A's first send past REKEY_AFTER_TIME: it carries a rekey
  // (keepalive, initiation, then the keepalive on the new session after the response).
  assert.deepEqual(
    p.sentBy('a', undefined, t2 + 1).map((s) => [s.at - t2, s.kind]),
    [
      [30_000, 'transport'],
      [30_000, 'initiation'],
      [30_000, 'transport'],
    ],
  );
  assert.deepEqual(p.a.setPersistentKeepalive(0, p.now), { kind: 'none' });
  const t3 = p.now;
  p.run(200_000, 10);
  assert.deepEqual(p.sentBy('a', 'transport', t3 + 1), []);
});

test('persistent keepalive without a session starts the handshake (and the peer option does too)', () => {
  const p = new Pair();
  assert.deepEqual(kindsOf(p.a.setPersistentKeepalive(25, p.now)), ['initiation']);

  const q = new Pair({ a: { persistentKeepalive: 15 } });
  const t0 = q.now;
  q.tick();
  assert.deepEqual(
    q.sentBy('a').map((s) => s.kind),
    ['initiation', 'transport'],
  );
  assert.notEqual(q.b.session.keypairs.current, null, 'the handshake completed');
  q.run(40_000, 1);
  assert.deepEqual(
    q.sentBy('a', 'transport', t0 + 1).map((s) => s.at - t0),
    [15_000, 30_000],
  );
});

test('reject after REJECT_AFTER_TIME: no sending on an older keypair, a handshake instead', () => {
  const p = new Pair();
  p.handshake('a');
  const t0 = p.now;
  const old = p.b.session.keypairs.current!;
  // The responder (which never rekeys on time) at the limit.
  const lastB = p.b.encapsulate(BA, t0 + REJECT_AFTER_TIME_MS - 1);
  assert.deepEqual(kindsOf(lastB), ['transport']);
  p.now = t0 + REJECT_AFTER_TIME_MS;
  assert.deepEqual(kindsOf(p.b.encapsulate(BA, p.now)), ['initiation']);
  assert.equal(p.b.stagedCount, 1);
  assert.equal(old.canSend(p.now), false);
  // The initiator too: only an initiation, no transport.
  assert.deepEqual(kindsOf(p.a.encapsulate(AB, p.now)), ['initiation']);
  assert.equal(p.a.stagedCount, 1);
  // Receiving is refused at the same age: B's last packet arrives 1 ms too late.
  assert.deepEqual(p.toA(datagramsOf(lastB)[0]!), { kind: 'drop', reason: 'expired-keypair' });
  // A keepalive is no exception.
  assert.deepEqual(kindsOf(p.b.keepalive(p.now + 1)), []);
  assert.equal(p.b.stagedCount, 1, 'the keepalive is not added to a non-empty queue');
});

test('the initiator rekeys on receive near REJECT_AFTER_TIME − KEEPALIVE − REKEY_TIMEOUT, once', () => {
  const p = new Pair();
  p.handshake('a');
  const t0 = p.now;
  assert.equal(REKEY_ON_RECEIVE_AFTER_MS, 165_000);
  const recv = (at: number) => {
    p.now = at;
    const r = p.toA(only(p.b.encapsulate(BA, at), 'transport'));
    assert.equal(r.kind, 'toTunnel');
    return kindsOf(r);
  };
  assert.deepEqual(recv(t0 + REKEY_ON_RECEIVE_AFTER_MS - 1), []);
  assert.deepEqual(recv(t0 + REKEY_ON_RECEIVE_AFTER_MS), ['initiation']);
  assert.deepEqual(recv(t0 + REKEY_ON_RECEIVE_AFTER_MS + 1_000), []);
  // Past the 5 s initiation limit: still not again (sent_lastminute_handshake).
  assert.deepEqual(recv(t0 + REKEY_ON_RECEIVE_AFTER_MS + 6_000), []);
  assert.deepEqual(recv(t0 + REKEY_ON_RECEIVE_AFTER_MS + 14_000), []);
  // The responder never rekeys on receive, however old its keypair.
  p.now = t0 + REJECT_AFTER_TIME_MS - 1;
  const atB = p.toB(datagramsOf(p.a.encapsulate(AB, p.now))[0]!);
  assert.equal(atB.kind, 'toTunnel');
  assert.deepEqual(kindsOf(atB), []);
});

test('the last-minute rekey completes and its flag resets with the new session', () => {
  const p = new Pair();
  p.handshake('a');
  const t0 = p.now;
  p.now = t0 + REKEY_ON_RECEIVE_AFTER_MS;
  p.send('b', p.b.encapsulate(BA, p.now)); // A answers with an initiation; the network completes it
  const kp2 = p.a.session.keypairs.current!;
  assert.equal(kp2.createdAt, p.now);
  assert.equal(p.a.timers.sentLastMinuteHandshake, false);
  // The next last-minute rekey happens on the new keypair's schedule.
  p.now = kp2.createdAt + REKEY_ON_RECEIVE_AFTER_MS;
  const r = p.toA(only(p.b.encapsulate(BA, p.now), 'transport'));
  assert.deepEqual(kindsOf(r), ['initiation']);
});

test('keys are zeroed after 3 × REJECT_AFTER_TIME without a new handshake', () => {
  const p = new Pair();
  p.handshake('a');
  const t0 = p.now;
  const kpA = p.a.session.keypairs.current!;
  const kpB = p.b.session.keypairs.current!;
  // Three packets sealed now; one delivered, two held back.
  const [d1, d2, d3] = [1, 2, 3].map(() => only(p.a.encapsulate(AB, p.now), 'transport'));
  p.send('a', { kind: 'toNetwork', datagrams: [d1!] });
  assert.equal(p.deliveredTo('b').length, 1);

  // Silence (B's passive keepalive goes out at +10 s and reaches A), ticking both sides.
  p.run(REJECT_AFTER_TIME_MS, 10);
  assert.deepEqual(p.toB(d2!), { kind: 'drop', reason: 'expired-keypair' });
  p.run(KEY_ZEROING_AFTER_MS - REJECT_AFTER_TIME_MS - 10, 10);
  assert.equal(p.now, t0 + KEY_ZEROING_AFTER_MS - 10);
  assert.equal(p.a.session.keypairs.current, kpA, 'still there 10 ms before');
  assert.equal(p.b.session.keypairs.current, kpB);
  assert.deepEqual(p.sentBy('a', 'initiation', t0 + 1), [], 'nothing provoked a handshake');

  p.run(10, 10);
  for (const t of [p.a, p.b]) {
    assert.equal(t.session.keypairs.current, null);
    assert.equal(t.session.keypairs.previous, null);
    assert.equal(t.session.keypairs.next, null);
  }
  for (const kp of [kpA, kpB]) {
    assert.ok(kp.sendKey.every((x) => x === 0) && kp.receiveKey.every((x) => x === 0), 'wiped');
  }
  assert.deepEqual(p.toB(d3!), { kind: 'drop', reason: 'unknown-index' });
  // Sending again needs a new handshake.
  assert.deepEqual(kindsOf(p.a.encapsulate(AB, p.now)), ['initiation']);
});

test('after a give-up, key material is zeroed 3 × REJECT_AFTER_TIME later', () => {
  const p = new Pair();
  p.handshake('a');
  const kp = p.a.session.keypairs.current!;
  p.now += REJECT_AFTER_TIME_MS;
  p.linkAtoB = false;
  p.transmit('a', AB); // the session is too old: retries begin and all are lost
  p.run(120_000, 10);
  assert.equal(p.a.stagedCount, 0, 'given up');
  // The zeroing deadline set at the handshake was kept (it was already pending).
  assert.equal(p.a.session.keypairs.current, kp);
  p.run(KEY_ZEROING_AFTER_MS - REJECT_AFTER_TIME_MS - 120_000, 10);
  assert.equal(p.a.session.keypairs.current, null);
});
