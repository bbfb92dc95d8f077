/**
 * The device's outbound rule set (Device.routeOutbound, used by both data paths) on the
 * in-memory fakes: a packet with no peer, or for a peer without an endpoint, draws an ICMP
 * unreachable written back into the TUN and nothing on the network (the kernel's wg_xmit); our
 * own datagram to a peer's endpoint read back from the TUN (a routing loop) is dropped, while the
 * same datagram from another port is carried. The builders themselves are tested byte for byte in
 * icmp-unreachable.test.ts and the loop rule in loop-guard.test.ts.
 */
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { ipv4, ipv6 } from '../helpers/pair.js';
import {
  DeviceNet,
  assertOk,
  deviceSet,
  newPrivateKey,
  peerUpdate,
  prefix,
  type DeviceNode,
} from '../helpers/device-net.js';
import { publicKeyOf } from '../../src/crypto/x25519.js';

let dn: DeviceNet;
let a: DeviceNode;
let b: DeviceNode;

beforeEach(async () => {
  dn = new DeviceNet();
  a = await dn.node(1);
  b = await dn.node(2);
  await dn.link(a, b);
});

afterEach(() => dn.close());

/** A UDP payload with these ports (and 8 bytes of data). */
function udp(sport: number, dport: number): Uint8Array {
  const u = new Uint8Array(16);
  u.set([sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, 0, 16]);
  return u;
}

test('no peer: an ICMP host unreachable from the destination, nothing sent', () => {
  const mark = dn.net.log.length;
  a.tun.inject(ipv4(a.inner4, '10.0.0.99'));
  assert.equal(dn.sentSince(mark).length, 0);
  assert.equal(a.tun.written.length, 1);
  const icmp = a.tun.written[0]!;
  assert.deepEqual([icmp[9], icmp[20], icmp[21]], [1, 3, 1]);
  assert.deepEqual([...icmp.subarray(12, 16)], [10, 0, 0, 99]);
  assert.deepEqual([...icmp.subarray(16, 20)], a.inner4.split('.').map(Number));
});

test('no peer over IPv6: an ICMPv6 address unreachable', () => {
  a.tun.inject(ipv6(a.inner6, 'fd10::99'));
  assert.equal(a.tun.written.length, 1);
  const icmp = a.tun.written[0]!;
  assert.deepEqual([icmp[6], icmp[40], icmp[41]], [58, 1, 3]);
});

test('a peer without an endpoint: unreachable too, and nothing is staged or sent', async () => {
  const lonely = publicKeyOf(newPrivateKey());
  assertOk(
    await a.device.apply(
      deviceSet({
        peers: [peerUpdate(lonely, { allowedIPs: [{ kind: 'add', prefix: prefix('10.0.0.77/32') }] })],
      }),
    ),
  );
  const mark = dn.net.log.length;
  a.tun.inject(ipv4(a.inner4, '10.0.0.77'));
  assert.equal(dn.sentSince(mark).length, 0);
  assert.equal(a.tun.written.length, 1);
  assert.equal(a.device.peerByKey(lonely)!.tunnel.stagedCount, 0);
});

test('our own datagram to the peer endpoint, read back from the TUN, is dropped as a loop', async () => {
  // b's endpoint moves inside b's own allowed IPs (its inner address, port 7).
  const inside = { address: Uint8Array.from(b.inner4.split('.').map(Number)), port: 7 };
  assertOk(await a.device.apply(deviceSet({ peers: [peerUpdate(b.publicKey, { endpoint: inside })] })));
  const port = a.device.listenPort;
  let mark = dn.net.log.length;
  a.tun.inject(ipv4(a.inner4, b.inner4, udp(port, 7)));
  assert.equal(dn.sentSince(mark).length, 0);
  assert.equal(a.device.stats.loopDropped, 1);
  assert.equal(a.tun.written.length, 0, 'no ICMP for a loop');
  // The same datagram from another port is someone else's: carried (here: a handshake starts).
  mark = dn.net.log.length;
  a.tun.inject(ipv4(a.inner4, b.inner4, udp(port + 1, 7)));
  assert.equal(dn.sentSince(mark).length, 1);
  assert.equal(a.device.stats.loopDropped, 1);
});
