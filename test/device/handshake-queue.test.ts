/**
 * The device's handshake queue and its defences (TEST-PLAN "Silence, replay and floods"), on the
 * in-memory fakes with a frozen clock: under load (≥ 1/8 of the queue's capacity) initiations are
 * answered with cookie replies and an initiator holding the cookie gets through; the cookie is
 * bound to its source; the queue is bounded under a flood of 10,000 initiations (memory too) and
 * real peers keep their traffic; a bad-mac1 flood costs no Diffie-Hellman; garbage of every size,
 * unknown types and replays get nothing back.
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { HANDSHAKE_QUEUE_SIZE } from '../../src/constants.js';
import { mac } from '../../src/crypto/blake2s.js';
import { mac1Key } from '../../src/protocol/cookie.js';
import type { FakeBind } from '../helpers/fake-io.js';
import { LOW_ORDER_POINTS } from '../helpers/fuzz.js';
import { ipv4 } from '../helpers/pair.js';
import { DeviceNet, hex, kindOf, kinds, type DeviceNode } from '../helpers/device-net.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let dn: DeviceNet;
let a: DeviceNode;
let b: DeviceNode;
let evil: FakeBind;
/** Copies of what the attacker's socket received. */
let evilGot: Uint8Array[];

beforeEach(async () => {
  dn = new DeviceNet();
  a = await dn.node(1);
  b = await dn.node(2);
  await dn.link(a, b);
  evil = dn.net.bind('198.51.100.7', '2001:db8:bad::7');
  await evil.open(40_404);
  evilGot = [];
  evil.start((datagrams) => {
    for (const d of datagrams) evilGot.push(Uint8Array.from(d));
  });
});

afterEach(() => {
  evil.close();
  dn.close();
});

const LE = (type: number): Uint8Array =>
  Uint8Array.of(type & 0xff, (type >>> 8) & 0xff, (type >>> 16) & 0xff, type >>> 24);

function random(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

/** A 148-byte initiation to `to` with random contents; mac1 valid when `validMac1`. */
function initiation(to: DeviceNode, validMac1: boolean, ephemeral?: Uint8Array): Uint8Array {
  const m = random(148);
  m.set(LE(1), 0);
  if (ephemeral) m.set(ephemeral, 8);
  m.fill(0, 132); // mac2 empty
  if (validMac1) m.set(mac(mac1Key(to.publicKey), m.subarray(0, 116)), 116);
  return m;
}

/** Counts the responder's Diffie-Hellman work (identify runs e, es, s: the first DHs). */
function countIdentify(node: DeviceNode): { readonly calls: number } {
  const r = node.device.responder;
  const original = r.identify.bind(r);
  const counter = { calls: 0 };
  r.identify = (msg) => {
    counter.calls++;
    return original(msg);
  };
  return counter;
}

/** Sends `datagrams` from the attacker to `to`, in recvmmsg-sized batches, draining in between. */
async function flood(to: DeviceNode, datagrams: readonly Uint8Array[], check?: () => void): Promise<void> {
  for (let i = 0; i < datagrams.length; i += 64) {
    evil.send(datagrams.slice(i, i + 64), to.endpoint(4));
    dn.net.flush();
    check?.();
    if ((i / 64) % 4 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

describe('under load', () => {
  test('an initiation gets a cookie reply; the initiator retries with mac2 and gets through', async () => {
    const capacity = a.device.queue.capacity;
    assert.equal(capacity, HANDSHAKE_QUEUE_SIZE);
    // 200 junk initiations (≥ capacity/8 = 128) queued ahead of b's real one, in one receive batch.
    const mark = dn.net.log.length;
    evil.send(
      Array.from({ length: 200 }, () => initiation(a, false)),
      a.endpoint(4),
    );
    const packet = ipv4(b.inner4, a.inner4, 40);
    b.tun.inject(packet);
    assert.equal(dn.net.pending, 201);
    dn.net.flush();
    assert.equal(a.device.queue.length, 201);
    assert.ok(a.device.queue.underLoad(dn.clock.mono));
    await dn.settle();
    const fromA = dn.sentSince(mark, a);
    assert.deepEqual(kinds(fromA), ['cookieReply'], 'a cookie reply, not a response');
    assert.equal(fromA[0]!.data.length, 64);
    assert.deepEqual(a.tun.takeWritten(), []);
    assert.equal(evilGot.length, 0, 'junk with a bad mac1 gets nothing');
    assert.equal(a.device.snapshot().peers[0]!.lastHandshake, null);

    // b's retry (after REKEY_TIMEOUT) carries mac2; a is under load again when it arrives.
    dn.clock.advance(5_400);
    const mark2 = dn.net.log.length;
    evil.send(
      Array.from({ length: 200 }, () => initiation(a, false)),
      a.endpoint(4),
    );
    b.device.tick();
    assert.deepEqual(kinds(dn.sentSince(mark2, b)), ['initiation']);
    dn.net.flush();
    assert.ok(a.device.queue.length > capacity / 8);
    await dn.settle();
    assert.deepEqual(kinds(dn.sentSince(mark2, a)), ['response']);
    assert.deepEqual(a.tun.takeWritten(), [packet], 'the staged packet arrives');
    assert.notEqual(a.device.snapshot().peers[0]!.lastHandshake, null);
  });

  test('the cookie is bound to its source: the same mac2 from another address gets only a cookie reply', async () => {
    evil.send(
      Array.from({ length: 150 }, () => initiation(a, false)),
      a.endpoint(4),
    );
    b.tun.inject(ipv4(b.inner4, a.inner4));
    await dn.settle();
    assert.equal(b.device.snapshot().peers[0]!.lastHandshake, null);
    dn.clock.advance(5_400);
    const mark = dn.net.log.length;
    b.device.tick();
    const retry = dn.sentSince(mark, b).find((d) => kindOf(d.data) === 'initiation');
    assert.ok(retry);
    // In the same receive batch, behind b's retry: junk to keep a under load, and the attacker
    // replaying b's retry (valid mac1, and a mac2 made for b's address) from its own address.
    evil.send(
      Array.from({ length: 150 }, () => initiation(a, false)),
      a.endpoint(4),
    );
    evil.send([retry.data], a.endpoint(4));
    await dn.settle();
    const fromA = dn.sentSince(mark, a);
    assert.deepEqual(kinds(fromA), ['response', 'cookieReply']);
    assert.equal(fromA[0]!.to.port, b.bind.port, 'the response goes to b');
    assert.equal(fromA[1]!.to.port, evil.port, 'the replayer only gets a cookie reply');
    assert.ok(evilGot.every((d) => d.length === 64));
    // b's session is up and undisturbed.
    const p = ipv4(b.inner4, a.inner4, 9);
    a.tun.takeWritten();
    b.tun.inject(p);
    await dn.settle();
    assert.ok(a.tun.takeWritten().some((x) => Buffer.from(x).equals(Buffer.from(p))));
  });
});

describe('floods', () => {
  test('10,000 initiations with a valid mac1: the queue stays within capacity, replies are cookies no larger than the input, memory is bounded, and a real peer keeps talking', async (t) => {
    // An established session first.
    b.tun.inject(ipv4(b.inner4, a.inner4));
    await dn.settle();
    a.tun.takeWritten();
    const identify = countIdentify(a);
    const msgs = Array.from({ length: 10_000 }, () => initiation(a, true));
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    let maxQueued = 0;
    let delivered = 0;
    await flood(a, msgs, () => {
      maxQueued = Math.max(maxQueued, a.device.queue.length);
      assert.ok(a.device.queue.length <= a.device.queue.capacity);
      // b's traffic is not queued behind the flood.
      const p = ipv4(b.inner4, a.inner4, 16);
      b.tun.inject(p);
      dn.net.flush();
      delivered += a.tun.takeWritten().length;
    });
    assert.equal(delivered, Math.ceil(10_000 / 64), 'every packet of the real peer arrived at once');
    await dn.settle();
    gc();
    const grown = process.memoryUsage().heapUsed - heapBefore;
    assert.ok(maxQueued <= a.device.queue.capacity);
    assert.ok(maxQueued >= a.device.queue.capacity / 8, `the flood did load the queue (${maxQueued})`);
    // Everything that got in was answered with a cookie (no larger than its input) or, before
    // the load was noticed, identified and dropped; nothing else went out.
    const cookies = evilGot.filter((d) => kindOf(d) === 'cookieReply');
    assert.equal(cookies.length, evilGot.length);
    assert.ok(cookies.every((d) => d.length === 64));
    assert.ok(cookies.length + identify.calls + a.device.queue.dropped >= 10_000 - 64);
    assert.ok(identify.calls < 200, `${identify.calls} Diffie-Hellman before the load was noticed`);
    t.diagnostic(
      `max queued ${maxQueued}/${a.device.queue.capacity}, dropped ${a.device.queue.dropped}, cookie replies ${cookies.length}, DH ${identify.calls}, heap +${Math.round(grown / 1024)} KiB`,
    );
    assert.ok(grown < 24 * 1024 * 1024, `heap grew ${grown} bytes`);
    assert.equal(a.device.queue.length, 0);
    assert.equal(a.device.responder.rateLimiter.size <= 1, true);
    assert.equal(a.device.peers.size, 1);
    assert.equal(a.device.indices.size, 1, 'no state created for the flood');
  });

  test('10,000 initiations from one source in one receive batch: only its share of the queue is used, the rest dropped uncopied', async () => {
    const msgs = Array.from({ length: 10_000 }, () => initiation(a, true));
    evil.send(msgs, a.endpoint(4));
    dn.net.flush();
    // One source holds at most perSourceLimit places, so real peers still find room in the queue.
    assert.ok(a.device.queue.perSourceLimit < a.device.queue.capacity);
    assert.equal(a.device.queue.length, a.device.queue.perSourceLimit);
    assert.equal(a.device.queue.dropped, 10_000 - a.device.queue.perSourceLimit);
    await dn.settle();
    assert.equal(evilGot.length, a.device.queue.perSourceLimit);
    assert.ok(evilGot.every((d) => kindOf(d) === 'cookieReply' && d.length === 64));
  });

  test('a bad-mac1 flood costs no Diffie-Hellman and gets no reply', async () => {
    const identify = countIdentify(a);
    await flood(
      a,
      Array.from({ length: 10_000 }, () => initiation(a, false)),
    );
    await dn.settle();
    assert.equal(identify.calls, 0);
    assert.equal(evilGot.length, 0);
    // Nor does a bad-mac1 response.
    const responses = Array.from({ length: 500 }, () => {
      const m = random(92);
      m.set(LE(2), 0);
      return m;
    });
    await flood(a, responses);
    await dn.settle();
    assert.equal(evilGot.length, 0);
  });
});

describe('silence', () => {
  test('garbage of every size, unknown types, reserved bytes, bad macs, unknown indices, low-order ephemerals: no reply, nothing on the TUN', async () => {
    const junk: Uint8Array[] = [];
    for (const size of [0, 1, 3, 4, 31, 147, 149, 91, 93, 63, 65, 32, 64, 148, 92, 1500]) {
      junk.push(random(size));
      for (const type of [1, 2, 3, 4]) {
        if (size < 4) continue;
        const m = random(size);
        m.set(LE(type), 0);
        junk.push(m);
      }
    }
    for (const type of [0, 5, 0xff, 0x100 | 1, 0x10000 | 2, 0x1000000 | 4]) {
      const m = random(148);
      m.set(LE(type), 0);
      junk.push(m);
    }
    // Reserved bytes set on an otherwise valid-mac1 initiation.
    const reserved = initiation(a, true);
    reserved[2] = 1;
    junk.push(reserved);
    // Valid mac1, garbage inside (costs a DH, answers nothing); low-order ephemerals.
    junk.push(initiation(a, true));
    for (const point of LOW_ORDER_POINTS) junk.push(initiation(a, true, point));
    // Cookie reply and transport for indices nobody owns.
    const cookie = random(64);
    cookie.set(LE(3), 0);
    junk.push(cookie);
    const transport = random(32);
    transport.set(LE(4), 0);
    junk.push(transport);
    const mark = dn.net.log.length;
    evil.send(junk, a.endpoint(4));
    evil.send(junk, a.endpoint(6));
    await dn.settle();
    assert.equal(evilGot.length, 0);
    assert.deepEqual(dn.sentSince(mark, a), []);
    assert.deepEqual(a.tun.takeWritten(), []);
    // Wrong-sized "handshakes" never even took a place in the queue.
    assert.equal(a.device.queue.dropped, 0);
    // The device still works.
    const p = ipv4(b.inner4, a.inner4);
    b.tun.inject(p);
    await dn.settle();
    assert.deepEqual(a.tun.takeWritten(), [p]);
  });

  test('handshake messages are queued as copies: the receive slots are overwritten before the queue drains', async () => {
    const mark = dn.net.log.length;
    b.tun.inject(ipv4(b.inner4, a.inner4));
    const sent = dn.sentSince(mark, b);
    assert.deepEqual(kinds(sent), ['initiation']);
    dn.net.flush(); // the callback returns, the fake poisons its slot (and the source address)
    assert.equal(a.device.queue.length, 1);
    const queued = a.device.queue.shift()!;
    assert.deepEqual(queued.datagram, sent[0]!.data);
    assert.equal(hex(queued.from.address), hex(b.endpoint(4).address));
    assert.equal(queued.from.port, b.bind.port);
    // Put back, it completes the handshake.
    a.device.queue.push(queued);
    a.device.receiveDatagrams([], []);
    await dn.settle();
    assert.notEqual(a.device.snapshot().peers[0]!.lastHandshake, null);
  });

  test('messages of a handshake type but the wrong size do not enter the queue', () => {
    const wrong = [147, 149, 91, 93].map((n, i) => {
      const m = random(n);
      m.set(LE(i < 2 ? 1 : 2), 0);
      return m;
    });
    evil.send(wrong, a.endpoint(4));
    dn.net.flush();
    assert.equal(a.device.queue.length, 0);
  });

  test('a replayed initiation gets no response and disturbs no session', async () => {
    const mark = dn.net.log.length;
    b.tun.inject(ipv4(b.inner4, a.inner4));
    await dn.settle();
    const init = dn.sentSince(mark, b).find((d) => kindOf(d.data) === 'initiation')!;
    const before = a.device.snapshot().peers[0]!.lastHandshake;
    for (const later of [0, 1_000, 60_000]) {
      dn.clock.advance(later);
      const m = dn.net.log.length;
      evil.send([init.data], a.endpoint(4)); // from elsewhere
      b.bind.send([init.data], a.endpoint(4)); // and from b's own address
      await dn.settle();
      assert.deepEqual(kinds(dn.sentSince(m, a)), [], `replay after ${later} ms`);
    }
    assert.deepEqual(a.device.snapshot().peers[0]!.lastHandshake, before);
    // The session still carries traffic both ways without a new handshake.
    const m = dn.net.log.length;
    const p = ipv4(a.inner4, b.inner4);
    b.tun.takeWritten();
    a.tun.inject(p);
    await dn.settle();
    assert.deepEqual(b.tun.takeWritten(), [p]);
    assert.deepEqual(kinds(dn.sentSince(m)), ['transport']);
    assert.equal(evilGot.length, 0);
  });
});
