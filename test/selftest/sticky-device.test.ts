/**
 * Sticky source addresses in the device (src/device/device.ts, src/protocol/tunnel.ts), on the
 * in-memory fakes (no root): what the kernel's socket.c and timers.c and wireguard-go's
 * device/peer.go do with the source address an endpoint carries.
 *
 * - The local address an authenticated packet arrived at (handshake or transport) is kept with the
 *   peer's endpoint, and what the device sends to the peer carries it; replayed, forged or
 *   garbage datagrams arriving at another address change nothing (roaming needs authentication).
 * - A source the bind reports refused (the address is gone) is forgotten, the remote kept.
 * - A handshake retry forgets it ("in case this is the cause of trouble"), and so does a new
 *   fwmark or listen port (other routes, new sockets).
 * - An endpoint set through the UAPI has none, and the UAPI shows only the remote address.
 * - A source is kept only while the route to the peer leaves through the interface the peer's
 *   packets arrived on (the kernel's send4; src/device/sticky-source.ts): asked on the first send
 *   after the endpoint changed and after each route change, once, not per packet.
 *
 * The fake bind knows nothing of sources, so the tests put one on what it delivers (as the real
 * bind's recvmmsg would) and record what the device asks it to send.
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Bind, Endpoint } from '../../src/io/bind.js';
import { SourceRoutes } from '../../src/device/sticky-source.js';
import type { Peer } from '../../src/device/peer.js';
import { formatGet } from '../../src/uapi/codec.js';
import { ipv4 } from '../helpers/pair.js';
import { ipBytes } from '../helpers/fake-io.js';
import { DeviceNet, deviceSet, hex, peerOf, type DeviceNode } from '../helpers/device-net.js';

/** The local address of b that a's packets "arrived at", and the interface they came in on. */
const LOCAL = ipBytes('198.51.100.7');
const ARRIVAL_IFINDEX = 7;
/** The interface b's packets from a "arrive on" now, and the local address they arrive at. */
let arrival: number;
let arrivedAt: Uint8Array;

let dn: DeviceNet;
let a: DeviceNode;
let b: DeviceNode;
/** The `to` of every send b's device made. */
let sentTo: Endpoint[];
/** What b's bind says about its last send's source. */
let refuse: boolean;

beforeEach(async () => {
  dn = new DeviceNet();
  a = await dn.node(1);
  b = await dn.node(2);
  await dn.link(a, b);
  sentTo = [];
  refuse = false;
  arrival = ARRIVAL_IFINDEX;
  arrivedAt = LOCAL;
  // Everything b receives arrived at LOCAL.
  const receive = b.device.receiveDatagrams.bind(b.device);
  b.device.receiveDatagrams = (datagrams, sources) =>
    receive(
      datagrams,
      sources.map((s) => ({
        address: s.address,
        port: s.port,
        source: arrivedAt,
        sourceIfindex: arrival,
      })),
    );
  const send = b.bind.send.bind(b.bind);
  b.bind.send = (datagrams, to) => {
    sentTo.push(to);
    return send(datagrams, to);
  };
  Object.defineProperty(b.bind, 'sourceRefused', { get: () => refuse });
});

afterEach(() => dn.close());

/** b's endpoint for a. */
function endpointOfA(): Endpoint | null {
  return b.device.peerByKey(a.publicKey)!.tunnel.endpoint;
}

function sourceOf(e: Endpoint | null | undefined): string | null {
  return e?.source == null ? null : hex(e.source);
}

async function carry(from: DeviceNode, ...packets: Uint8Array[]): Promise<void> {
  from.tun.inject(...packets);
  await dn.settle();
}

describe('sticky source in the device', () => {
  test('an endpoint set through the UAPI has no source', () => {
    assert.equal(sourceOf(endpointOfA()), null);
  });

  test('the address an authenticated handshake and transport arrived at goes with the endpoint and every send', async () => {
    await carry(a, ipv4(a.inner4, b.inner4, 64));
    // b answered a's initiation: the response already left from LOCAL.
    assert.ok(sentTo.length > 0);
    assert.deepEqual(
      sentTo.map((to) => sourceOf(to)),
      sentTo.map(() => hex(LOCAL)),
    );
    assert.equal(sourceOf(endpointOfA()), hex(LOCAL));
    assert.equal(hex(endpointOfA()!.address), hex(a.endpoint(4).address), 'the remote is as before');
    await carry(b, ipv4(b.inner4, a.inner4, 64));
    assert.equal(sourceOf(sentTo.at(-1)), hex(LOCAL));
    // The UAPI shows the remote address only, as `wg show` expects.
    const get = formatGet(b.device.snapshot());
    assert.match(get, new RegExp(`\\nendpoint=192\\.0\\.2\\.1:${a.bind.port}\\n`));
    assert.doesNotMatch(get, /198\.51\.100\.7/);
  });

  test('a source the bind refused is forgotten; the remote stays and the next send goes without it', async () => {
    await carry(a, ipv4(a.inner4, b.inner4, 64));
    const before = endpointOfA()!;
    refuse = true;
    await carry(b, ipv4(b.inner4, a.inner4, 64));
    refuse = false;
    const after = endpointOfA()!;
    assert.equal(sourceOf(after), null);
    assert.equal(hex(after.address), hex(before.address));
    assert.equal(after.port, before.port);
    assert.equal(sourceOf(before), hex(LOCAL), 'the old Endpoint object is not changed in place');
    const n = sentTo.length;
    await carry(b, ipv4(b.inner4, a.inner4, 64));
    assert.ok(sentTo.length > n);
    assert.equal(sourceOf(sentTo.at(-1)), null);
    // a's next packet teaches it again.
    await carry(a, ipv4(a.inner4, b.inner4, 64));
    assert.equal(sourceOf(endpointOfA()), hex(LOCAL));
  });

  test('only an authenticated packet moves the source: a replayed or forged one at another address does not', async () => {
    const mark = dn.net.log.length;
    await carry(a, ipv4(a.inner4, b.inner4, 64));
    assert.equal(sourceOf(endpointOfA()), hex(LOCAL));
    const fromA = dn.net.log.slice(mark).filter((d) => hex(d.from.address) === hex(a.endpoint(4).address));
    const transport = fromA.filter((d) => d.data[0] === 4);
    assert.ok(transport.length > 0);
    const elsewhere = ipBytes('203.0.113.9');
    arrivedAt = elsewhere;
    const deliver = (data: Uint8Array): void => b.device.receiveDatagrams([data], [a.endpoint(4)]);
    for (const d of fromA) deliver(d.data); // replays: the replay window and timestamps refuse them
    const forged = Uint8Array.from(transport[0]!.data);
    forged[forged.length - 1]! ^= 1; // a bad tag
    deliver(forged);
    deliver(new Uint8Array([4, 0, 0, 0, 1, 2, 3])); // garbage
    await dn.settle();
    assert.equal(sourceOf(endpointOfA()), hex(LOCAL));
    // The same path with a fresh authenticated packet does move it.
    await carry(a, ipv4(a.inner4, b.inner4, 64));
    assert.equal(sourceOf(endpointOfA()), hex(elsewhere));
  });

  test('a handshake retry forgets the source', async () => {
    await carry(a, ipv4(a.inner4, b.inner4, 64));
    assert.equal(sourceOf(endpointOfA()), hex(LOCAL));
    // b's sessions go (a private-key change on b's side would do too): b must initiate, and a
    // never hears it.
    b.device.peerByKey(a.publicKey)!.tunnel.expireSessions();
    dn.net.filter = (d) => hex(d.from.address) !== hex(b.endpoint(4).address);
    await carry(b, ipv4(b.inner4, a.inner4, 64));
    assert.equal(sourceOf(endpointOfA()), hex(LOCAL), 'the first initiation still goes from it');
    dn.tick(5_000 + 400); // REKEY_TIMEOUT plus the largest jitter
    await dn.settle();
    assert.equal(sourceOf(endpointOfA()), null);
    assert.equal(sourceOf(sentTo.at(-1)), null, 'the retry leaves from the kernel choice');
  });

  test('a new fwmark or listen port forgets every source', async () => {
    for (const change of [{ fwmark: 7 }, { listenPort: 40000 }]) {
      await carry(a, ipv4(a.inner4, b.inner4, 64));
      assert.equal(sourceOf(endpointOfA()), hex(LOCAL));
      assert.equal(await b.device.apply(deviceSet(change)), 0);
      assert.equal(sourceOf(endpointOfA()), null, JSON.stringify(change));
      // a follows b's new port (b's next packet reaches it from there).
      await b.device.apply(deviceSet({ peers: [peerOf(a)] }));
      await a.device.apply(deviceSet({ peers: [peerOf(b)] }));
    }
  });

  test('a source whose route leaves through another interface is forgotten before the send', async () => {
    const asked: (Endpoint | null)[] = [];
    const bind = b.bind as unknown as {
      routeInterface: (to: Endpoint) => number;
      routesChanged: () => boolean;
    };
    bind.routeInterface = (to) => {
      asked.push(to);
      return ARRIVAL_IFINDEX; // the route to a leaves through interface 7
    };
    bind.routesChanged = () => false;
    await carry(a, ipv4(a.inner4, b.inner4, 64));
    assert.ok(asked.length >= 1, 'the first send with the new source asks the route');
    assert.equal(sourceOf(endpointOfA()), hex(LOCAL), 'the route leaves where the packets came in: kept');
    assert.equal(sourceOf(asked[0]), hex(LOCAL), 'the question carries the source');
    // a's packets now come in on interface 8 (another path): b asks again, and since the route
    // back leaves through 7, b sends without the source and forgets it.
    const n = asked.length;
    arrival = ARRIVAL_IFINDEX + 1;
    await carry(a, ipv4(a.inner4, b.inner4, 64));
    await carry(b, ipv4(b.inner4, a.inner4, 64));
    assert.ok(asked.length > n, 'a new arrival interface is asked about');
    assert.equal(sourceOf(sentTo.at(-1)), null);
    assert.equal(sourceOf(endpointOfA()), null);
  });
});

describe('SourceRoutes: when a sticky source is checked against its route', () => {
  const peer = {} as Peer;
  const other = {} as Peer;
  const endpoint = (source: string, ifindex: number, port = 51820): Endpoint => ({
    address: ipBytes('192.0.2.1'),
    port,
    source: ipBytes(source),
    sourceIfindex: ifindex,
  });
  function fakeBind(): { bind: Bind; asked: number; changed: boolean; via: number } {
    const state = {
      asked: 0,
      changed: false,
      via: 3,
      bind: {} as Bind,
    };
    state.bind = {
      routesChanged: () => {
        const c = state.changed;
        state.changed = false;
        return c;
      },
      routeInterface: () => {
        state.asked++;
        return state.via;
      },
    } as unknown as Bind;
    return state;
  }

  test('asks once per endpoint value and per route change, not per send', () => {
    const f = fakeBind();
    let now = 1_000;
    const routes = new SourceRoutes(f.bind, () => now);
    assert.equal(routes.fits(peer, endpoint('198.51.100.7', 3)), true);
    assert.equal(f.asked, 1);
    // A new Endpoint object with the same values (every received run makes one): no question.
    for (let i = 0; i < 100; i++) assert.equal(routes.fits(peer, endpoint('198.51.100.7', 3)), true);
    assert.equal(f.asked, 1);
    // Another source, interface or remote port: asked again.
    assert.equal(routes.fits(peer, endpoint('198.51.100.8', 3)), true);
    assert.equal(routes.fits(peer, endpoint('198.51.100.8', 4)), false, 'via 3, came in on 4');
    assert.equal(routes.fits(peer, endpoint('198.51.100.8', 3, 1)), true);
    assert.equal(f.asked, 4);
    // A route change, seen once the watch is drained (at most once a millisecond).
    f.changed = true;
    f.via = 9;
    assert.equal(routes.fits(peer, endpoint('198.51.100.8', 3, 1)), true, 'not drained yet');
    now += 1;
    assert.equal(routes.fits(peer, endpoint('198.51.100.8', 3, 1)), false, 'now via 9');
    assert.equal(f.asked, 5);
    assert.equal(routes.fits(peer, endpoint('198.51.100.8', 3, 1)), false, 'the answer is kept');
    assert.equal(f.asked, 5);
    // Each peer has its own answer.
    assert.equal(routes.fits(other, endpoint('198.51.100.8', 9, 1)), true);
    assert.equal(f.asked, 6);
  });

  test('keeps what it cannot check: no source, no interface, a bind without routes, IPv6; refuses on an error', () => {
    const f = fakeBind();
    const routes = new SourceRoutes(f.bind, () => 0);
    assert.equal(routes.fits(peer, { address: ipBytes('192.0.2.1'), port: 1 }), true);
    assert.equal(routes.fits(peer, endpoint('198.51.100.7', 0)), true);
    assert.equal(f.asked, 0);
    assert.equal(new SourceRoutes({} as Bind).fits(peer, endpoint('198.51.100.7', 3)), true);
    // IPv6: the kernel's send6 does not compare the route's device, and neither do we.
    const v6: Endpoint = {
      address: ipBytes('2001:db8::1'),
      port: 1,
      source: ipBytes('2001:db8::7'),
      sourceIfindex: 3,
    };
    f.via = 9;
    assert.equal(routes.fits(peer, v6), true);
    assert.equal(f.asked, 0);
    f.via = -101; // -ENETUNREACH: the source is no longer ours
    assert.equal(routes.fits(peer, endpoint('198.51.100.7', 3)), false);
  });
});
