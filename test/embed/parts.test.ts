/**
 * The embed pieces on their own, no sockets: UserspaceTun (batches per microtask, drops counted,
 * close idempotent) and PeerEvents (peer-up on the first completed handshake, peer-down when the
 * session reaches REJECT_AFTER_TIME on a fake clock, when keys are zeroed, and on removal;
 * endpoint changes by roaming and by configuration).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserspaceTun } from '../../src/embed/userspace-tun.js';
import { PeerEvents, type PeerEventMap } from '../../src/embed/peer-events.js';
import type { Peer } from '../../src/device/peer.js';
import { REJECT_AFTER_TIME_MS } from '../../src/constants.js';
import { keyToBase64 } from '../../src/index.js';

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('UserspaceTun: deliver batches a turn into one onPackets call; write reaches the receiver', async () => {
  const tun = new UserspaceTun(1400);
  assert.equal(tun.mtu, 1400);
  const batches: number[][] = [];
  const p = (n: number): Uint8Array => Uint8Array.of(0x45, n);
  tun.deliver(p(0)); // before start: dropped at the flush
  await settle();
  assert.equal(tun.stats.dropped, 1);
  tun.start(
    (packets) => batches.push(packets.map((x) => x[1]!)),
    () => undefined,
  );
  tun.deliver(p(1));
  tun.deliver(p(2));
  tun.deliver(p(3));
  assert.equal(batches.length, 0, 'nothing before the microtask');
  await settle();
  tun.deliver(p(4));
  await settle();
  assert.deepEqual(batches, [[1, 2, 3], [4]]);
  assert.equal(tun.stats.delivered, 4);

  tun.write([p(9)]); // no receiver yet
  assert.equal(tun.stats.dropped, 2);
  const seen: number[] = [];
  tun.attach((packets) => seen.push(...packets.map((x) => x[1]!)));
  tun.write([p(5), p(6)]);
  assert.deepEqual(seen, [5, 6]);
  assert.equal(tun.stats.written, 2);

  assert.throws(() => tun.setMtu(10), RangeError);
  tun.setMtu(9000);
  assert.equal(tun.mtu, 9000);
  tun.deliver(p(7));
  tun.close();
  tun.close();
  await settle();
  assert.equal(batches.length, 2, 'nothing delivered after close');
  assert.equal(tun.deliver(p(8)), false);
  tun.write([p(1)]);
  assert.deepEqual(seen, [5, 6]);
  assert.equal(tun.stats.dropped, 5);
  assert.throws(
    () =>
      tun.start(
        () => undefined,
        () => undefined,
      ),
    /closed/,
  );
});

function fakePeer(): { peer: Peer; tunnel: { endpoint: unknown; lastHandshakeAt: number | null } } {
  const publicKey = new Uint8Array(32).fill(7);
  const tunnel = { endpoint: null as unknown, lastHandshakeAt: null as number | null };
  return { peer: { publicKey, tunnel } as unknown as Peer, tunnel };
}

test('PeerEvents: up on a completed handshake, down at REJECT_AFTER_TIME, on zeroed keys, on removal', async () => {
  let now = 1000;
  const seen: string[] = [];
  const events = new PeerEvents(
    <K extends keyof PeerEventMap>(name: K, ...args: PeerEventMap[K]) => {
      const e = args[0] as { reason?: string; endpoint?: string | null; initiator?: boolean };
      seen.push(
        `${name}${e.reason !== undefined ? `:${e.reason}` : ''}${e.initiator === true ? ':initiator' : ''}`,
      );
    },
    () => now,
  );
  const { peer, tunnel } = fakePeer();
  let ups = 0;
  events.onUp = () => ups++;
  assert.equal(events.nextCheck(), Infinity, 'no peer up: nothing to check');
  const observe = events.observe(peer);
  const key = keyToBase64(peer.publicKey);
  assert.ok(key.length === 44);

  observe({ kind: 'keypair-created', localIndex: 1, initiator: true });
  tunnel.lastHandshakeAt = now;
  observe({ kind: 'session-established' });
  observe({ kind: 'session-established' }); // a rekey: a handshake, not a second peer-up
  assert.equal(seen.length, 0, 'events wait for a microtask');
  assert.equal(ups, 1, 'onUp told once, on the first session');
  await settle();
  assert.deepEqual(seen, ['handshake:initiator', 'peer-up', 'handshake:initiator']);
  assert.equal(events.isUp(peer), true);
  // The interface's one check timer is armed for exactly the expiry, not polled each second.
  assert.equal(events.nextCheck(), now + REJECT_AFTER_TIME_MS);

  now += REJECT_AFTER_TIME_MS - 1;
  events.check('resolved');
  await settle();
  assert.equal(seen.length, 3, 'still up 1 ms before REJECT_AFTER_TIME');
  now += 1;
  events.check('resolved');
  await settle();
  assert.deepEqual(seen.slice(3), ['peer-down:expired']);
  assert.equal(events.isUp(peer), false);
  assert.equal(events.nextCheck(), Infinity, 'no peer up: nothing to check');

  tunnel.lastHandshakeAt = now;
  observe({ kind: 'keypair-created', localIndex: 2, initiator: false });
  observe({ kind: 'session-established' });
  observe({ kind: 'keys-zeroed' });
  await settle();
  assert.deepEqual(seen.slice(4), ['handshake', 'peer-up', 'peer-down:keys-zeroed']);

  // Roaming and configuration both report endpoint changes, each once.
  observe({ kind: 'endpoint-changed', endpoint: { address: Uint8Array.of(192, 0, 2, 1), port: 51820 } });
  tunnel.endpoint = { address: Uint8Array.of(192, 0, 2, 1), port: 51820 };
  events.check('config');
  tunnel.endpoint = { address: Uint8Array.of(192, 0, 2, 2), port: 51820 };
  events.check('config');
  await settle();
  assert.deepEqual(seen.slice(7), ['endpoint:roaming', 'endpoint:config']);

  observe({ kind: 'session-established' });
  events.removed(peer);
  events.removed(peer);
  await settle();
  assert.deepEqual(seen.slice(9), ['handshake', 'peer-up', 'peer-down:removed']);
});

test('PeerEvents: endpoints configured at open are adopted, not reported as changes', async () => {
  const seen: string[] = [];
  const events = new PeerEvents(
    (name, ..._args) => {
      seen.push(name);
    },
    () => 0,
  );
  const { peer, tunnel } = fakePeer();
  events.observe(peer); // as the device creates the peer, before the endpoint is applied
  tunnel.endpoint = { address: Uint8Array.of(192, 0, 2, 1), port: 51820 };
  events.adopt();
  events.check('resolved');
  await settle();
  assert.deepEqual(seen, []);
  tunnel.endpoint = { address: Uint8Array.of(192, 0, 2, 9), port: 51820 };
  events.check('resolved');
  await settle();
  assert.deepEqual(seen, ['endpoint']);
});
