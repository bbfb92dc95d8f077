/**
 * The cookie path under load (whitepaper section 5.3 and 5.4.7, the kernel's cookie.c and the
 * decision table in receive.c): a responder under load answers a handshake message without a
 * valid mac2 with a 64-byte cookie reply and nothing else; the initiator stores the cookie, and
 * its next retransmission carries mac2 and is accepted. The same works for a response arriving
 * at an initiator under load.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  COOKIE_REPLY_SIZE,
  COOKIE_SECRET_LATENCY_MS,
  COOKIE_SECRET_MAX_AGE_MS,
  INITIATION_SIZE,
  MAC_LENGTH,
  RATELIMIT_PACKETS_BURSTABLE,
} from '../../src/constants.js';
import { Pair, datagramsOf, ipv4, kindsOf, only } from '../helpers/pair.js';

const AB = ipv4('10.0.0.1', '10.0.0.2', 11);
const mac2Of = (msg: Uint8Array): Uint8Array => msg.subarray(msg.length - MAC_LENGTH);
const isZero = (b: Uint8Array): boolean => b.every((x) => x === 0);

test('under load: an initiation without mac2 gets only a cookie reply; the retry with mac2 is accepted', () => {
  const p = new Pair();
  const first = only(p.a.encapsulate(AB, p.now), 'initiation');
  assert.ok(isZero(mac2Of(first)), 'no cookie yet: mac2 is zero');

  // B is under load: a cookie reply, 64 bytes, and no handshake state at all.
  const r = p.toB(first, undefined, true);
  assert.deepEqual(kindsOf(r), ['cookieReply']);
  const reply = datagramsOf(r)[0]!;
  assert.equal(reply.length, COOKIE_REPLY_SIZE);
  assert.equal(p.b.session.keypairs.next, null);
  assert.equal(p.b.endpoint, null, 'an unauthenticated initiation does not set the endpoint');

  // A stores the cookie; nothing to send.
  assert.deepEqual(p.toA(reply), { kind: 'none' });
  // The same reply again is refused: A accepts one cookie per mac1 it sent.
  assert.deepEqual(p.toA(reply), { kind: 'drop', reason: 'bad-cookie' });

  // A's retransmission after REKEY_TIMEOUT carries mac2, and B, still under load, accepts it.
  p.now += 5_400;
  const retry = only(p.a.tick(p.now), 'initiation');
  assert.equal(retry.length, INITIATION_SIZE);
  assert.ok(!isZero(mac2Of(retry)), 'mac2 present');
  const resp = only(p.toB(retry, undefined, true), 'response');
  // The response goes to A (not under load) and the staged packet follows.
  const flushed = p.toA(resp);
  const got = p.toB(only(flushed, 'transport'), undefined, true);
  assert.equal(got.kind, 'toTunnel');
  assert.deepEqual(got.kind === 'toTunnel' && got.packet, AB);
});

test('under load: the cookie-reply path changes nothing, so the same initiation is accepted later', () => {
  const p = new Pair();
  const init = only(p.a.keepalive(p.now), 'initiation');
  assert.deepEqual(kindsOf(p.toB(init, undefined, true)), ['cookieReply']);
  // Load is gone 2 ms later: the very same initiation is fresh to B (its timestamp was never
  // recorded, and the flood limit was not touched).
  p.now += 2;
  assert.deepEqual(kindsOf(p.toB(init)), ['response']);
});

test('a cookie is bound to the source address and port it was made for', () => {
  const p = new Pair();
  const init = only(p.a.keepalive(p.now), 'initiation');
  p.toA(only(p.toB(init, undefined, true), 'cookieReply'));
  p.now += 5_400;
  const retry = only(p.a.tick(p.now), 'initiation');
  // From another port (NAT rebinding): the cookie does not match, B sends a new one.
  const moved = { address: p.sideA.endpoint.address, port: p.sideA.endpoint.port + 1 };
  assert.deepEqual(kindsOf(p.toB(retry, moved, true)), ['cookieReply']);
  // From the original source it is accepted.
  assert.deepEqual(kindsOf(p.toB(retry, undefined, true)), ['response']);
});

test('cookie replies that do not answer our last handshake message are refused', () => {
  const p = new Pair();
  const init = only(p.a.keepalive(p.now), 'initiation');
  const reply = only(p.toB(init, undefined, true), 'cookieReply');
  // Unknown receiver index.
  const wrongIndex = Uint8Array.from(reply);
  wrongIndex[4]! ^= 0xff;
  assert.deepEqual(p.toA(wrongIndex), { kind: 'drop', reason: 'unknown-index' });
  // Tampered ciphertext.
  const tampered = Uint8Array.from(reply);
  tampered[40]! ^= 1;
  assert.deepEqual(p.toA(tampered), { kind: 'drop', reason: 'bad-cookie' });
  // A reply to an older initiation (its AAD is the old mac1): after A's retransmission, the
  // first initiation's cookie reply no longer fits.
  p.now += 5_400;
  only(p.a.tick(p.now), 'initiation');
  assert.equal(p.toA(reply).kind, 'drop');
});

test('under load: a response without mac2 gets a cookie reply from the initiator, and the next one is accepted', () => {
  const p = new Pair();
  const init = only(p.a.encapsulate(AB, p.now), 'initiation');
  const resp = only(p.toB(init), 'response');
  // A is under load: it answers B's response with a cookie reply and derives nothing.
  const r = p.toA(resp, undefined, true);
  assert.deepEqual(kindsOf(r), ['cookieReply']);
  assert.equal(p.a.session.keypairs.current, null);
  // The reply is addressed to B's new keypair's index, and B stores the cookie.
  assert.deepEqual(p.toB(datagramsOf(r)[0]!), { kind: 'none' });

  // A retries; B answers with a response that now carries mac2; A, still under load, accepts.
  p.now += 5_400;
  const retry = only(p.a.tick(p.now), 'initiation');
  const resp2 = only(p.toB(retry), 'response');
  assert.ok(!isZero(mac2Of(resp2)));
  const flushed = p.toA(resp2, undefined, true);
  assert.deepEqual(kindsOf(flushed), ['transport']);
  assert.equal(p.toB(datagramsOf(flushed)[0]!).kind, 'toTunnel');
});

test('the cookie is used for COOKIE_SECRET_MAX_AGE − COOKIE_SECRET_LATENCY, then mac2 is zero again', () => {
  const p = new Pair();
  const init = only(p.a.keepalive(p.now), 'initiation');
  const gotAt = p.now;
  p.toA(only(p.toB(init, undefined, true), 'cookieReply'));
  const lifetime = COOKIE_SECRET_MAX_AGE_MS - COOKIE_SECRET_LATENCY_MS;
  p.now = gotAt + lifetime - 1;
  p.a.expireSessions();
  assert.ok(!isZero(mac2Of(only(p.a.keepalive(p.now), 'initiation'))));
  p.now = gotAt + lifetime;
  p.a.expireSessions();
  assert.ok(isZero(mac2Of(only(p.a.keepalive(p.now), 'initiation'))));
});

test('under load with a valid cookie, one source is rate limited after the burst', () => {
  const p = new Pair();
  const init = only(p.a.keepalive(p.now), 'initiation');
  p.toA(only(p.toB(init, undefined, true), 'cookieReply'));
  const reasons: string[] = [];
  for (let i = 0; i < RATELIMIT_PACKETS_BURSTABLE + 2; i++) {
    p.now += 1;
    p.sideA.skewMs += 1_000; // each initiation fresher than the last
    p.a.expireSessions();
    const r = p.toB(only(p.a.keepalive(p.now), 'initiation'), undefined, true);
    reasons.push(r.kind === 'drop' ? r.reason : kindsOf(r).join());
  }
  // The first is answered; the next four pass the rate limiter but hit the 50/s flood limit; then
  // the bucket is empty.
  assert.deepEqual(reasons, [
    'response',
    'initiation-flood',
    'initiation-flood',
    'initiation-flood',
    'initiation-flood',
    'rate-limited',
    'rate-limited',
  ]);
});
