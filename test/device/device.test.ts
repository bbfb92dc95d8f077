/**
 * The Device (src/device) on the in-memory fakes: two (or three) devices configured only through
 * `apply(DeviceSet)`, a fake clock, manual delivery. Covers traffic both ways over v4 and v6 inner
 * packets, cryptokey routing in both directions, allowed IPs moving between peers, replace_peers,
 * update_only, remove, private key changes, listen port changes (and EADDRINUSE), persistent
 * keepalive, snapshot times, and the fakes' "views valid only during the callback" contract.
 * The handshake queue under load and floods are in handshake-queue.test.ts.
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { publicKeyOf } from '../../src/crypto/x25519.js';
import { formatGet } from '../../src/uapi/codec.js';
import { EADDRINUSE } from '../../src/uapi/errno.js';
import { LOW_ORDER_POINTS } from '../helpers/fuzz.js';
import { ipv4, ipv6 } from '../helpers/pair.js';
import {
  DeviceNet,
  assertOk,
  deviceSet,
  hex,
  kinds,
  newPrivateKey,
  peerOf,
  peerUpdate,
  prefix,
  WALL_BASE_MS,
  MONO_BASE_MS,
  type DeviceNode,
} from '../helpers/device-net.js';

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

/** Injects `packet` into `from`'s TUN, settles, and returns what `to`'s TUN got. */
async function carry(from: DeviceNode, to: DeviceNode, ...packets: Uint8Array[]): Promise<Uint8Array[]> {
  to.tun.takeWritten();
  from.tun.inject(...packets);
  await dn.settle();
  return to.tun.takeWritten();
}

/** Runs the clock forward in 500 ms steps, ticking and settling at each. */
async function run(ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 500) {
    dn.tick(500);
    await dn.settle();
  }
}

function peerIds(node: DeviceNode): string[] {
  return node.device
    .snapshot()
    .peers.map((p) => hex(p.publicKey))
    .sort();
}

function allowedOf(node: DeviceNode, peer: DeviceNode): string[] {
  const p = node.device.snapshot().peers.find((x) => hex(x.publicKey) === hex(peer.publicKey));
  assert.ok(p, 'peer present');
  return p.allowedIPs.map((x) => `${hex(x.bytes)}/${x.cidr}`);
}

/** A get as text, minus what traffic changes (handshake times, byte counters). */
function config(node: DeviceNode): string {
  return formatGet(node.device.snapshot())
    .split('\n')
    .filter((l) => !/^(last_handshake|rx_bytes|tx_bytes)/.test(l))
    .join('\n');
}

describe('traffic', () => {
  test('a handshake, then v4 and v6 packets both ways, delivered byte for byte', async () => {
    const p1 = ipv4(a.inner4, b.inner4, 100);
    assert.deepEqual(await carry(a, b, p1), [p1]);
    const p2 = ipv4(b.inner4, a.inner4, 1200);
    assert.deepEqual(await carry(b, a, p2), [p2]);
    const p3 = ipv6(a.inner6, b.inner6, 500);
    assert.deepEqual(await carry(a, b, p3), [p3]);
    const p4 = ipv6(b.inner6, a.inner6, 1);
    assert.deepEqual(await carry(b, a, p4), [p4]);
    // One handshake for all of it.
    const hs = kinds(dn.net.log).filter((k) => k === 'initiation' || k === 'response');
    assert.deepEqual(hs, ['initiation', 'response']);
  });

  test('v6 outer endpoints carry v4 and v6 inner packets', async () => {
    const c = await dn.node(3);
    await dn.link(a, c, 6);
    const p = ipv4(a.inner4, c.inner4, 64);
    assert.deepEqual(await carry(a, c, p), [p]);
    const q = ipv6(c.inner6, a.inner6, 64);
    assert.deepEqual(await carry(c, a, q), [q]);
    const ep = a.device.snapshot().peers.find((x) => hex(x.publicKey) === hex(c.publicKey))!.endpoint;
    assert.equal(ep?.address.length, 16);
  });

  test('a batch of packets staged before the handshake all arrive intact (views are copied)', async () => {
    const batch = Array.from({ length: 40 }, (_, i) => ipv4(a.inner4, b.inner4, 10 + i));
    const got = await carry(a, b, ...batch);
    assert.equal(got.length, batch.length);
    for (let i = 0; i < batch.length; i++) assert.deepEqual(got[i], batch[i], `packet ${i}`);
    // And a batch on an established session, mixed families.
    const mixed = Array.from({ length: 30 }, (_, i) =>
      i % 2 === 0 ? ipv4(b.inner4, a.inner4, 5 + i) : ipv6(b.inner6, a.inner6, 5 + i),
    );
    assert.deepEqual(await carry(b, a, ...mixed), mixed);
  });

  test('the endpoint a device learns is a copy, not a view of a reused receive slot', async () => {
    await carry(a, b, ipv4(a.inner4, b.inner4));
    // The fakes poison every receive slot after the callback; a kept view would read 0xdd.
    for (const [node, other] of [
      [a, b],
      [b, a],
    ] as const) {
      const ep = node.device.snapshot().peers[0]!.endpoint;
      assert.ok(ep);
      assert.equal(hex(ep.address), hex(other.endpoint(4).address));
      assert.equal(ep.port, other.bind.port);
    }
  });

  test('a TUN packet that is not IP, or is truncated, is dropped: nothing is sent', async () => {
    const mark = dn.net.log.length;
    a.tun.inject(
      new Uint8Array(0),
      Uint8Array.of(0x45),
      new Uint8Array(19).fill(0x45),
      new Uint8Array(39).fill(0x60),
      new Uint8Array(60).fill(0x75),
    );
    await dn.settle();
    assert.equal(dn.net.log.length, mark);
  });
});

describe('cryptokey routing', () => {
  test('outbound: a packet to an address no peer has is dropped and nothing is sent', async () => {
    const mark = dn.net.log.length;
    assert.deepEqual(await carry(a, b, ipv4(a.inner4, '10.0.0.99'), ipv6(a.inner6, 'fd10::99')), []);
    assert.equal(dn.net.log.length, mark, 'no handshake, no datagram');
    // Also once a session exists.
    await carry(a, b, ipv4(a.inner4, b.inner4));
    const mark2 = dn.net.log.length;
    assert.deepEqual(await carry(a, b, ipv4(a.inner4, '192.168.1.1')), []);
    assert.equal(dn.net.log.length, mark2);
  });

  test('inbound: a peer sending from a source outside its allowed IPs is dropped, never written to the TUN', async () => {
    await carry(a, b, ipv4(a.inner4, b.inner4));
    const c = await dn.node(3);
    await dn.link(a, c);
    // b's routing sends to a (the destination is a's), but the sources are not b's.
    for (const src of ['10.0.0.99', c.inner4, '0.0.0.0']) {
      const mark = dn.net.log.length;
      assert.deepEqual(await carry(b, a, ipv4(src, a.inner4)), [], src);
      assert.ok(kinds(dn.sentSince(mark, b)).includes('transport'), `${src}: b did send it`);
    }
    assert.deepEqual(await carry(b, a, ipv6(c.inner6, a.inner6)), []);
    assert.deepEqual(await carry(b, a, ipv6('fd10::2:0', a.inner6)), []);
    // The session is unharmed.
    const ok = ipv4(b.inner4, a.inner4);
    assert.deepEqual(await carry(b, a, ok), [ok]);
  });

  test('an allowed IP moves between peers', async () => {
    const c = await dn.node(3);
    await dn.link(a, c);
    await carry(a, b, ipv4(a.inner4, b.inner4));
    // Give c the prefix b holds (plus a covering one, to check longest-prefix still wins).
    assertOk(
      await a.device.apply(deviceSet({ peers: [peerOf(c, { allowed: [`${b.inner4}/32`, '10.0.0.0/24'] })] })),
    );
    assert.deepEqual(allowedOf(a, b), [`${hex(prefix(`${b.inner6}/128`).bytes)}/128`]);
    assert.ok(allowedOf(a, c).includes(`0a000002/32`));
    // Outbound to b.inner4 now goes to c.
    const p = ipv4(a.inner4, b.inner4, 33);
    b.tun.takeWritten();
    assert.deepEqual(await carry(a, c, p), [p]);
    assert.deepEqual(b.tun.takeWritten(), []);
    // Inbound from b with its old source: refused now; its v6 is still b's.
    assert.deepEqual(await carry(b, a, ipv4(b.inner4, a.inner4)), []);
    const v6 = ipv6(b.inner6, a.inner6);
    assert.deepEqual(await carry(b, a, v6), [v6]);
    // Removing one prefix with `remove` leaves the covering /24 to c.
    assertOk(
      await a.device.apply(
        deviceSet({
          peers: [
            peerUpdate(c.publicKey, { allowedIPs: [{ kind: 'remove', prefix: prefix(`${b.inner4}/32`) }] }),
          ],
        }),
      ),
    );
    assert.deepEqual(
      allowedOf(a, c).sort(),
      ['0a000000/24', '0a000003/32', `${hex(prefix(`${c.inner6}/128`).bytes)}/128`].sort(),
    );
  });

  test("replace_allowed_ips (clear) replaces a peer's list", async () => {
    assertOk(
      await a.device.apply(
        deviceSet({
          peers: [
            peerUpdate(b.publicKey, {
              allowedIPs: [{ kind: 'clear' }, { kind: 'add', prefix: prefix('10.9.0.0/16') }],
            }),
          ],
        }),
      ),
    );
    assert.deepEqual(allowedOf(a, b), ['0a090000/16']);
    const mark = dn.net.log.length;
    assert.deepEqual(await carry(a, b, ipv4(a.inner4, b.inner4)), []);
    assert.equal(dn.net.log.length, mark);
  });
});

describe('peers', () => {
  test('replace_peers: the peers that follow replace all, and the old ones lose their sessions', async () => {
    await carry(a, b, ipv4(a.inner4, b.inner4));
    const c = await dn.node(3);
    await dn.link(c, a);
    assertOk(await a.device.apply(deviceSet({ replacePeers: true, peers: [peerOf(c)] })));
    assert.deepEqual(peerIds(a), [hex(c.publicKey)]);
    // b's session with a is dead on a's side: b's packets are dropped, nothing answered.
    const mark = dn.net.log.length;
    assert.deepEqual(await carry(b, a, ipv4(b.inner4, a.inner4)), []);
    assert.deepEqual(kinds(dn.sentSince(mark, a)), []);
    // Nothing routes to b any more.
    const mark2 = dn.net.log.length;
    assert.deepEqual(await carry(a, b, ipv4(a.inner4, b.inner4)), []);
    assert.equal(dn.net.log.length, mark2);
    // c works.
    const p = ipv4(a.inner4, c.inner4);
    assert.deepEqual(await carry(a, c, p), [p]);
    // replace_peers with no peers empties the device.
    assertOk(await a.device.apply(deviceSet({ replacePeers: true })));
    assert.deepEqual(peerIds(a), []);
    assert.equal(a.device.allowedIPs.size, 0);
    assert.equal(a.device.indices.size, 0, 'no session is left indexed');
  });

  test('update_only on a missing peer does nothing; on a present one it updates', async () => {
    const before = config(a);
    const ghost = publicKeyOf(newPrivateKey());
    assertOk(
      await a.device.apply(
        deviceSet({
          peers: [
            peerUpdate(ghost, {
              updateOnly: true,
              endpoint: { address: Uint8Array.of(192, 0, 2, 77), port: 1 },
              persistentKeepalive: 5,
              allowedIPs: [{ kind: 'add', prefix: prefix('10.7.0.0/16') }],
            }),
          ],
        }),
      ),
    );
    assert.equal(config(a), before);
    assertOk(
      await a.device.apply(
        deviceSet({
          peers: [
            peerUpdate(b.publicKey, {
              updateOnly: true,
              allowedIPs: [{ kind: 'add', prefix: prefix('10.7.0.0/16') }],
            }),
          ],
        }),
      ),
    );
    assert.ok(allowedOf(a, b).includes('0a070000/16'));
  });

  test('remove: the peer, its allowed IPs and its sessions go; removing a missing peer is a no-op', async () => {
    await carry(a, b, ipv4(a.inner4, b.inner4));
    assertOk(await a.device.apply(deviceSet({ peers: [peerUpdate(b.publicKey, { remove: true })] })));
    assert.deepEqual(peerIds(a), []);
    assert.equal(a.device.allowedIPs.size, 0);
    const mark = dn.net.log.length;
    assert.deepEqual(await carry(a, b, ipv4(a.inner4, b.inner4)), []);
    assert.deepEqual(await carry(b, a, ipv4(b.inner4, a.inner4)), []);
    assert.deepEqual(kinds(dn.sentSince(mark, a)), [], 'a answers nothing');
    const before = config(a);
    assertOk(await a.device.apply(deviceSet({ peers: [peerUpdate(b.publicKey, { remove: true })] })));
    assert.equal(config(a), before);
    // Added back, a fresh handshake works.
    assertOk(await a.device.apply(deviceSet({ peers: [peerOf(b)] })));
    dn.tick(6_000);
    const p = ipv4(a.inner4, b.inner4);
    assert.deepEqual(await carry(a, b, p), [p]);
  });

  test('a peer with a low-order public key and keepalive on: no packet leaves', async () => {
    const mark = dn.net.log.length;
    for (const point of LOW_ORDER_POINTS) {
      assertOk(
        await a.device.apply(
          deviceSet({
            peers: [
              {
                publicKey: point,
                remove: false,
                updateOnly: false,
                endpoint: b.endpoint(4),
                persistentKeepalive: 1,
                allowedIPs: [{ kind: 'add', prefix: prefix('10.50.0.0/16') }],
              },
            ],
          }),
        ),
      );
    }
    a.tun.inject(ipv4(a.inner4, '10.50.0.1'));
    for (let i = 0; i < 30; i++) dn.tick(1_000);
    await dn.settle();
    assert.deepEqual(dn.sentSince(mark, a), []);
  });
});

describe('private key', () => {
  test('a new key expires the sessions; once the peer knows the new key a fresh handshake works', async () => {
    const p = ipv4(a.inner4, b.inner4);
    assert.deepEqual(await carry(a, b, p), [p]);
    const oldPublic = a.publicKey;
    a.privateKey = newPrivateKey();
    a.publicKey = publicKeyOf(a.privateKey);
    assertOk(await a.device.apply(deviceSet({ privateKey: a.privateKey })));
    assert.equal(hex(a.device.snapshot().privateKey!), hex(a.privateKey));
    // The old session no longer sends: a starts a handshake instead, which b refuses (unknown key).
    const mark = dn.net.log.length;
    assert.deepEqual(await carry(a, b, p), []);
    assert.deepEqual(kinds(dn.sentSince(mark, a)), ['initiation']);
    assert.deepEqual(kinds(dn.sentSince(mark, b)), []);
    // b learns the new key.
    assertOk(
      await b.device.apply(deviceSet({ peers: [peerUpdate(oldPublic, { remove: true }), peerOf(a)] })),
    );
    dn.tick(6_000);
    // The packet staged during the refused attempt goes out too.
    assert.deepEqual(await carry(a, b, p), [p, p]);
    const back = ipv6(b.inner6, a.inner6);
    assert.deepEqual(await carry(b, a, back), [back]);
  });

  test('setting the same private key changes nothing: the session survives (wg syncconf)', async () => {
    const p = ipv4(a.inner4, b.inner4);
    await carry(a, b, p);
    const handshake = a.device.snapshot().peers[0]!.lastHandshake;
    dn.clock.advance(1_000);
    assertOk(await a.device.apply(deviceSet({ privateKey: Uint8Array.from(a.privateKey) })));
    const mark = dn.net.log.length;
    assert.deepEqual(await carry(a, b, p), [p]);
    assert.deepEqual(kinds(dn.sentSince(mark, a)), ['transport']);
    assert.deepEqual(a.device.snapshot().peers[0]!.lastHandshake, handshake);
  });

  test('a peer equal to our own public key is removed when the key changes, and never added', async () => {
    const c = await dn.node(3);
    await dn.link(a, c);
    assert.equal(peerIds(a).length, 2);
    // a takes c's private key: its peer c is now itself.
    assertOk(await a.device.apply(deviceSet({ privateKey: c.privateKey })));
    assert.deepEqual(peerIds(a), [hex(b.publicKey)]);
    // Adding a peer with our own public key is ignored (and so is the rest of its section).
    const before = config(a);
    assertOk(
      await a.device.apply(
        deviceSet({ peers: [peerOf(c, { allowed: ['10.66.0.0/16'], extra: { persistentKeepalive: 1 } })] }),
      ),
    );
    assert.equal(config(a), before);
    assert.equal(a.device.allowedIPs.size, 2);
  });

  test('removing the private key (all zero → null): no handshakes at all', async () => {
    assertOk(await a.device.apply(deviceSet({ privateKey: null })));
    assert.equal(a.device.snapshot().privateKey, null);
    const mark = dn.net.log.length;
    assert.deepEqual(await carry(a, b, ipv4(a.inner4, b.inner4)), []);
    assert.deepEqual(await carry(b, a, ipv4(b.inner4, a.inner4)), []);
    assert.deepEqual(kinds(dn.sentSince(mark, a)), [], 'a sends nothing, answers nothing');
  });
});

describe('listen port', () => {
  test('a port change moves the socket; the peer follows the authenticated packets', async () => {
    const p = ipv4(a.inner4, b.inner4);
    await carry(a, b, p);
    assertOk(await a.device.apply(deviceSet({ listenPort: 40_000 })));
    assert.equal(a.device.listenPort, 40_000);
    assert.equal(a.device.snapshot().listenPort, 40_000);
    assert.equal(a.bind.port, 40_000);
    assert.deepEqual(await carry(a, b, p), [p]);
    assert.equal(b.device.snapshot().peers[0]!.endpoint?.port, 40_000, 'b roamed to the new port');
    const q = ipv4(b.inner4, a.inner4);
    assert.deepEqual(await carry(b, a, q), [q]);
  });

  test('EADDRINUSE: the whole set is refused and nothing else in it is applied', async () => {
    const c = await dn.node(3, 45_000);
    // Another socket holds port 45001 on a's address.
    const squatter = dn.net.bind(a.outer4, a.outer6);
    await squatter.open(45_001);
    const before = config(a);
    const port = a.device.listenPort;
    const errno = await a.device.apply({
      privateKey: newPrivateKey(),
      listenPort: 45_001,
      fwmark: 77,
      replacePeers: true,
      peers: [peerOf(c)],
    });
    assert.equal(errno, EADDRINUSE);
    assert.equal(config(a), before);
    assert.equal(a.device.listenPort, port);
    assert.equal(a.bind.port, port);
    assert.equal(a.bind.mark, 0, 'the fwmark set before the port was rolled back');
    assert.equal(a.device.fwmark, 0);
    // The device still works on its old port.
    const p = ipv4(a.inner4, b.inner4);
    assert.deepEqual(await carry(a, b, p), [p]);
  });

  test('port 0 picks a random port and get reports it', async () => {
    assertOk(await a.device.apply(deviceSet({ listenPort: 0 })));
    assert.notEqual(a.device.listenPort, 0);
    assert.equal(a.device.snapshot().listenPort, a.bind.port);
  });
});

describe('persistent keepalive', () => {
  test('turning it on sends one keepalive at once; then one per interval; setting it again sends none', async () => {
    await carry(a, b, ipv4(a.inner4, b.inner4));
    const mark = dn.net.log.length;
    assertOk(
      await a.device.apply(deviceSet({ peers: [peerUpdate(b.publicKey, { persistentKeepalive: 25 })] })),
    );
    const sent = dn.sentSince(mark, a);
    assert.equal(sent.length, 1);
    assert.equal(kinds(sent)[0], 'transport');
    assert.equal(sent[0]!.data.length, 32, 'an empty transport message');
    await dn.settle();
    const mark2 = dn.net.log.length;
    assertOk(
      await a.device.apply(deviceSet({ peers: [peerUpdate(b.publicKey, { persistentKeepalive: 25 })] })),
    );
    assert.equal(dn.sentSince(mark2, a).length, 0);
    // Then one keepalive 25 s after the last authenticated packet either way (b's passive
    // keepalive, 10 s after the data it got, counts), and every 25 s after that.
    const times: number[] = [];
    const start = dn.clock.mono;
    for (let t = 0; t < 70_000; t += 500) {
      const m = dn.net.log.length;
      await run(500);
      for (const d of dn.sentSince(m, a)) {
        assert.equal(d.data.length, 32);
        times.push(dn.clock.mono - start);
      }
    }
    assert.deepEqual(times, [35_000, 60_000]);
    assert.equal(a.device.snapshot().peers[0]!.persistentKeepalive, 25);
  });

  test('with no session, turning it on starts a handshake at once', async () => {
    const mark = dn.net.log.length;
    assertOk(
      await a.device.apply(deviceSet({ peers: [peerUpdate(b.publicKey, { persistentKeepalive: 10 })] })),
    );
    assert.deepEqual(kinds(dn.sentSince(mark, a)), ['initiation']);
    await dn.settle();
    assert.notEqual(a.device.snapshot().peers[0]!.lastHandshake, null);
    assert.notEqual(b.device.snapshot().peers[0]!.lastHandshake, null);
  });
});

describe('snapshot', () => {
  test('last handshake is absolute wall time, the same whenever it is read', async () => {
    assert.equal(a.device.snapshot().peers[0]!.lastHandshake, null);
    dn.clock.advance(12_345);
    const at = dn.clock.wall;
    await carry(a, b, ipv4(a.inner4, b.inner4));
    const expected = { sec: Math.floor(at / 1000), nsec: (at % 1000) * 1e6 };
    assert.deepEqual(a.device.snapshot().peers[0]!.lastHandshake, expected);
    assert.deepEqual(b.device.snapshot().peers[0]!.lastHandshake, expected);
    dn.clock.advance(3_500);
    assert.deepEqual(a.device.snapshot().peers[0]!.lastHandshake, expected);
    assert.ok(expected.sec > 1_600_000_000 && expected.sec < 2_000_000_000, 'unix seconds');
    assert.equal(WALL_BASE_MS + (dn.clock.mono - MONO_BASE_MS), dn.clock.wall);
  });

  test('byte counters count both directions', async () => {
    await carry(a, b, ipv4(a.inner4, b.inner4, 200));
    await carry(b, a, ipv4(b.inner4, a.inner4, 200));
    const pa = a.device.snapshot().peers[0]!;
    const pb = b.device.snapshot().peers[0]!;
    assert.ok(pa.txBytes > 200 && pa.rxBytes > 200);
    assert.equal(pa.txBytes, pb.rxBytes);
    assert.equal(pa.rxBytes, pb.txBytes);
  });
});

describe('MTU', () => {
  test("the device follows the TUN's MTU (wg-quick sets it after start): padding never passes it", async () => {
    await carry(a, b, ipv4(a.inner4, b.inner4));
    a.tun.setMtu(1412);
    dn.tick(1_000);
    assert.equal(a.device.mtu, 1412);
    const mark = dn.net.log.length;
    const p = ipv4(a.inner4, b.inner4, 1410 - 20);
    assert.deepEqual(await carry(a, b, p), [p]);
    const sent = dn.sentSince(mark, a).filter((d) => d.data.length > 32);
    assert.equal(sent.length, 1);
    // 16 header + 1412 (padded to the MTU, not to 1424) + 16 tag.
    assert.equal(sent[0]!.data.length, 16 + 1412 + 16);
  });
});
