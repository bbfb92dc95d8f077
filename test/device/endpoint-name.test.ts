/**
 * The re-resolution decision rules of src/device/endpoint-name.ts, with time passed in and no DNS:
 * when a lookup is due (interval, stalled handshake, backoff after failures, one in flight), and
 * whether an answer replaces the endpoint (the name moved; a stall away from the name's address;
 * never over a roamed-to endpoint while the name gives what it gave before).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RESOLVE_RETRY_MAX_MS,
  RESOLVE_RETRY_MIN_MS,
  RESOLVE_STALL_ATTEMPTS,
  RESOLVE_STALL_GAP_MS,
} from '../../src/constants.js';
import { EndpointName, handshakeStalled, retryDelay } from '../../src/device/endpoint-name.js';
import { Timers } from '../../src/protocol/timers.js';

const X = Uint8Array.of(192, 0, 2, 10);
const Y = Uint8Array.of(192, 0, 2, 20);
const R = Uint8Array.of(198, 51, 100, 7);
const T0 = 1_000_000;
const INTERVAL = 2_000;

function fresh(): EndpointName {
  return new EndpointName({ host: 'peer.test', port: 51820 }, X, T0);
}

describe('when a lookup is due', () => {
  test('every interval after the last start, not before; 0 turns the interval off', () => {
    const n = fresh();
    assert.equal(n.due(T0 + INTERVAL - 1, false, INTERVAL), null);
    assert.equal(n.due(T0 + INTERVAL, false, INTERVAL), 'interval');
    assert.equal(n.due(T0 + 10 * INTERVAL, false, 0), null);
    n.start(T0 + INTERVAL);
    n.succeeded(X, { address: X, port: 51820 }, false);
    assert.equal(n.due(T0 + 2 * INTERVAL - 1, false, INTERVAL), null);
    assert.equal(n.due(T0 + 2 * INTERVAL, false, INTERVAL), 'interval');
  });

  test('never while one is in flight', () => {
    const n = fresh();
    n.start(T0 + INTERVAL);
    assert.equal(n.due(T0 + 100 * INTERVAL, true, INTERVAL), null);
  });

  test('a stalled handshake brings it forward, at most once per RESOLVE_STALL_GAP_MS', () => {
    const n = fresh();
    const interval = 120_000;
    assert.equal(n.due(T0 + RESOLVE_STALL_GAP_MS - 1, true, interval), null);
    assert.equal(n.due(T0 + RESOLVE_STALL_GAP_MS, true, interval), 'stall');
    assert.equal(n.due(T0 + RESOLVE_STALL_GAP_MS, false, interval), null);
    // With the interval off, stalls still count.
    assert.equal(n.due(T0 + RESOLVE_STALL_GAP_MS, true, 0), 'stall');
  });

  test('after failures only the backoff counts, doubling to the cap; a success resets it', () => {
    const n = fresh();
    let now = T0 + INTERVAL;
    const delays: number[] = [];
    for (let i = 0; i < 9; i++) {
      n.start(now);
      const delay = n.failed(now);
      delays.push(delay);
      assert.equal(n.due(now + delay - 1, true, INTERVAL), null, `failure ${i + 1}: not before the retry`);
      now += delay;
      assert.equal(n.due(now, false, INTERVAL), 'retry');
    }
    assert.deepEqual(delays, [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
    assert.equal(RESOLVE_RETRY_MIN_MS, delays[0]);
    n.start(now);
    n.succeeded(X, null, false);
    assert.equal(n.failures, 0);
    assert.equal(n.due(now + 1, false, INTERVAL), null);
    assert.equal(n.due(now + INTERVAL, false, INTERVAL), 'interval');
  });

  test('retryDelay is bounded for any count', () => {
    assert.equal(retryDelay(1), RESOLVE_RETRY_MIN_MS);
    assert.equal(retryDelay(1_000_000), RESOLVE_RETRY_MAX_MS);
    assert.equal(retryDelay(0), RESOLVE_RETRY_MIN_MS);
  });
});

describe('whether an answer replaces the endpoint', () => {
  test('an unchanged answer leaves the endpoint, even a roamed-to one', () => {
    const n = fresh();
    n.start(T0 + INTERVAL);
    assert.equal(n.succeeded(X, { address: X, port: 51820 }, false), null);
    n.start(T0 + 2 * INTERVAL);
    assert.equal(n.succeeded(X, { address: R, port: 40000 }, false), null, 'roaming wins');
  });

  test('a new answer replaces it (the name moved), once', () => {
    const n = fresh();
    n.start(T0 + INTERVAL);
    assert.deepEqual(n.succeeded(Y, { address: X, port: 51820 }, false), Y);
    assert.deepEqual(n.resolved, Y);
    // The peer then roams away from Y: the same answer again does not pull it back.
    n.start(T0 + 2 * INTERVAL);
    assert.equal(n.succeeded(Y, { address: R, port: 51820 }, false), null);
    // A name moving back to X is news again, whatever the endpoint is.
    n.start(T0 + 3 * INTERVAL);
    assert.deepEqual(n.succeeded(X, { address: R, port: 51820 }, false), X);
  });

  test('while stalled, the name wins over an endpoint that is not its address', () => {
    const n = fresh();
    n.start(T0 + RESOLVE_STALL_GAP_MS);
    assert.deepEqual(n.succeeded(X, { address: R, port: 51820 }, true), X);
    n.start(T0 + 2 * RESOLVE_STALL_GAP_MS);
    assert.deepEqual(n.succeeded(X, { address: X, port: 9 }, true), X, 'same address, other port');
    n.start(T0 + 3 * RESOLVE_STALL_GAP_MS);
    assert.equal(n.succeeded(X, { address: X, port: 51820 }, true), null, 'already there');
    n.start(T0 + 4 * RESOLVE_STALL_GAP_MS);
    assert.deepEqual(n.succeeded(X, null, false), null, 'no stall: the old answer again is no news');
  });

  test('a failure never produces an endpoint and keeps the last answer', () => {
    const n = fresh();
    n.start(T0 + INTERVAL);
    n.failed(T0 + INTERVAL);
    assert.deepEqual(n.resolved, X);
    assert.equal(n.inFlight, false);
  });

  test('addresses of either family compare by bytes', () => {
    const v6 = new Uint8Array(16);
    v6[15] = 1;
    const n = new EndpointName({ host: 'peer.test', port: 1 }, v6, T0);
    n.start(T0 + 1);
    assert.deepEqual(n.succeeded(X, { address: v6, port: 1 }, false), X);
    n.start(T0 + 2);
    assert.deepEqual(n.succeeded(Uint8Array.from(v6), { address: X, port: 1 }, false), v6);
  });
});

describe('handshakeStalled', () => {
  test('only while an attempt is running with RESOLVE_STALL_ATTEMPTS unanswered retries', () => {
    const t = new Timers(() => 0);
    assert.equal(handshakeStalled(t), false);
    t.onHandshakeInitiated(0);
    for (let i = 1; i < RESOLVE_STALL_ATTEMPTS; i++) {
      assert.deepEqual(t.due(t.retransmitHandshakeAt), ['retransmitHandshake']);
      t.onHandshakeInitiated(t.handshakeAttempts * 5_000);
      assert.equal(handshakeStalled(t), false, `after ${i} retries`);
    }
    assert.deepEqual(t.due(t.retransmitHandshakeAt), ['retransmitHandshake']);
    t.onHandshakeInitiated(RESOLVE_STALL_ATTEMPTS * 5_000);
    assert.equal(handshakeStalled(t), true);
    t.onHandshakeComplete();
    assert.equal(handshakeStalled(t), false, 'a response ends the stall');
  });
});
