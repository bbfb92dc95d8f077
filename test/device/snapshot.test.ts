/**
 * The device's `get` snapshot (src/device/snapshot.ts), which is taken as the encoded reply and
 * decodes `peers` from it on demand: both views must say what the device holds (keys, a
 * pre-shared key that is all zeros as well as none, IPv4 and IPv6 endpoints, handshake times,
 * counters, allowed IPs of both families in the device's order), agree with each other byte for
 * byte, and stay those of the moment the snapshot was taken however the device changes after;
 * and the snapshot behaves as the plain object it always was (spread, JSON, deep equality).
 */
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeGet, formatGet } from '../../src/uapi/codec.js';
import type { DeviceSnapshot } from '../../src/uapi/types.js';
import { ipv4 } from '../helpers/pair.js';
import {
  DeviceNet,
  assertOk,
  deviceSet,
  hex,
  newPrivateKey,
  peerOf,
  peerUpdate,
  prefix,
  type DeviceNode,
} from '../helpers/device-net.js';
import { isAllZero } from '../../src/crypto/bytes.js';
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

/** The same peers printed through the generic path (PeerSnapshot objects, no getReply). */
function printedFromPeers(s: DeviceSnapshot): string {
  return formatGet({ privateKey: s.privateKey, listenPort: s.listenPort, fwmark: s.fwmark, peers: s.peers });
}

test('the reply and the peers say what the device holds, and agree byte for byte', async () => {
  // Traffic, so b has a handshake time and counters.
  b.tun.inject(ipv4(b.inner4, a.inner4, 100));
  await dn.settle();
  const zeroPsk = new Uint8Array(32);
  const psk = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
  const c = publicKeyOf(newPrivateKey());
  const d = publicKeyOf(newPrivateKey());
  assertOk(
    await a.device.apply(
      deviceSet({
        peers: [
          peerUpdate(c, {
            presharedKey: zeroPsk,
            endpoint: {
              address: Uint8Array.from(Buffer.from('20010db8000000000000000000000001', 'hex')),
              port: 4500,
            },
            persistentKeepalive: 0,
            allowedIPs: [
              { kind: 'add', prefix: prefix('fd00::/64') },
              { kind: 'add', prefix: prefix('10.9.0.0/16') },
              { kind: 'add', prefix: prefix('::ffff:1.2.3.4/128') },
            ],
          }),
          peerUpdate(d, { presharedKey: psk }),
        ],
      }),
    ),
  );
  const s = a.device.snapshot();
  assert.equal(printedFromPeers(s), formatGet(s));
  assert.equal(hex(s.privateKey!), hex(a.privateKey));
  assert.equal(s.listenPort, a.device.listenPort);
  assert.equal(s.peers.length, a.device.peers.size);
  const peers = [...a.device.peers.values()];
  s.peers.forEach((p, i) => {
    const peer = peers[i]!;
    const t = peer.tunnel;
    assert.equal(hex(p.publicKey), peer.id);
    // The configured key itself: an all-zero key stays a key, as the device keeps it.
    assert.equal(p.presharedKey, t.presharedKey);
    assert.deepEqual(
      p.endpoint === null ? null : { address: hex(p.endpoint.address), port: p.endpoint.port },
      t.endpoint === null ? null : { address: hex(t.endpoint.address), port: t.endpoint.port },
    );
    assert.equal(p.txBytes, peer.txBytes);
    assert.equal(p.rxBytes, t.rxBytes);
    assert.equal(p.persistentKeepalive, t.timers.persistentKeepaliveInterval);
    assert.equal(p.lastHandshake === null, t.lastHandshakeAt === null);
    assert.deepEqual(
      p.allowedIPs.map((x) => `${x.family} ${hex(x.bytes)}/${x.cidr}`),
      a.device.allowedIPs.entriesForPeer(peer).map((x) => `${x.family} ${hex(x.bytes)}/${x.cidr}`),
    );
  });
  const ofB = s.peers.find((p) => hex(p.publicKey) === hex(b.publicKey))!;
  assert.notEqual(ofB.lastHandshake, null);
  assert.ok(ofB.rxBytes > 0 && ofB.txBytes > 0);
  const ofC = s.peers.find((p) => hex(p.publicKey) === hex(c))!;
  assert.ok(ofC.presharedKey !== null && isAllZero(ofC.presharedKey), 'an all-zero key is not "none"');
  assert.equal(hex(s.peers.find((p) => hex(p.publicKey) === hex(d))!.presharedKey!), hex(psk));
  assert.ok(formatGet(s).includes(`preshared_key=${'0'.repeat(64)}`));
  assert.ok(formatGet(s).includes('endpoint=[2001:db8::1]:4500'));
  assert.ok(formatGet(s).includes('allowed_ip=::ffff:1.2.3.4/128'));
});

test('a snapshot is of its moment: later changes show in neither its reply nor its peers', async () => {
  const s = a.device.snapshot();
  const reply = formatGet(s);
  // Change everything a get reports, then read the old snapshot's peers for the first time.
  b.tun.inject(ipv4(b.inner4, a.inner4, 200));
  await dn.settle();
  assertOk(
    await a.device.apply(
      deviceSet({
        listenPort: 40_001,
        peers: [
          peerOf(b, { allowed: ['10.7.0.0/16'], extra: { persistentKeepalive: 5 } }),
          peerUpdate(publicKeyOf(newPrivateKey()), {
            allowedIPs: [{ kind: 'add', prefix: prefix('10.8.0.0/16') }],
          }),
        ],
      }),
    ),
  );
  assert.notEqual(formatGet(a.device.snapshot()), reply);
  assert.equal(formatGet(s), reply);
  assert.equal(printedFromPeers(s), reply);
  assert.equal(s.peers.length, 1);
  assert.equal(s.peers[0]!.persistentKeepalive, 0);
  assert.equal(s.peers[0]!.lastHandshake, null);
  assert.equal(Buffer.from(encodeGet(s)).toString('latin1'), reply);
});

test('a device with no key and no peers prints its port and the errno', async () => {
  const lone = await dn.node(3);
  assertOk(await lone.device.apply(deviceSet({ privateKey: null })));
  const s = lone.device.snapshot();
  assert.deepEqual(s.peers, []);
  assert.equal(s.privateKey, null);
  assert.equal(formatGet(s), `listen_port=${lone.device.listenPort}\nerrno=0\n\n`);
});

test('a snapshot is a plain object: spreads, JSON and deep comparisons see its peers, not its reply', () => {
  const s = a.device.snapshot();
  const plain = { privateKey: s.privateKey, listenPort: s.listenPort, fwmark: s.fwmark, peers: s.peers };
  assert.deepStrictEqual(s, plain);
  assert.deepEqual(Object.keys(s), ['privateKey', 'listenPort', 'fwmark', 'peers']);
  assert.deepEqual(JSON.parse(JSON.stringify(s)).peers.length, 1);
  // A copy with a field changed is printed from its fields, not as the original's reply.
  const moved = { ...s, listenPort: 1234 };
  assert.equal(moved.peers, s.peers);
  assert.equal(formatGet(moved), formatGet(s).replace(`listen_port=${s.listenPort}\n`, 'listen_port=1234\n'));
});
