/**
 * Sticky source addresses in the device (src/device/device.ts, src/protocol/tunnel.ts), on the
 * in-memory fakes (no root): what the kernel's socket.c and timers.c and wireguard-go's
 * device/peer.go do with the source address an endpoint carries.
 *
 * - The local address an authenticated packet arrived at (handshake or transport) is kept with the
 *   peer's endpoint, and what the device sends to the peer carries it.
 * - A source the bind reports refused (the address is gone) is forgotten, the remote kept.
 * - A handshake retry forgets it ("in case this is the cause of trouble"), and so does a new
 *   fwmark or listen port (other routes, new sockets).
 * - An endpoint set through the UAPI has none, and the UAPI shows only the remote address.
 *
 * The fake bind knows nothing of sources, so the tests put one on what it delivers (as the real
 * bind's recvmmsg would) and record what the device asks it to send.
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Endpoint } from '../../src/io/bind.js';
import { formatGet } from '../../src/uapi/codec.js';
import { ipv4 } from '../helpers/pair.js';
import { ipBytes } from '../helpers/fake-io.js';
import { DeviceNet, deviceSet, hex, peerOf, type DeviceNode } from '../helpers/device-net.js';

/** The local address of b that a's packets "arrived at". */
const LOCAL = ipBytes('198.51.100.7');

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
  // Everything b receives arrived at LOCAL.
  const receive = b.device.receiveDatagrams.bind(b.device);
  b.device.receiveDatagrams = (datagrams, sources) =>
    receive(
      datagrams,
      sources.map((s) => ({ address: s.address, port: s.port, source: LOCAL })),
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
});
