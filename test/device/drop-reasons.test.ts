/**
 * Drop reasons are never computed and thrown away (issue 11, "Drops are counted by reason on both
 * paths"), on the in-memory devices of test/helpers/device-net.ts:
 *
 * - an authenticated first data packet whose content is refused (a source outside the sender's
 *   allowed IPs) still confirms the responder's session and releases its staged packets (they go
 *   out), and the refusal is counted as disallowed-source — on the per-packet and the batched
 *   receive path alike (Tunnel.consumeTransport used to return only the released datagrams);
 * - a transport message to a receiver index of a handshake in flight (no keypair's) is an
 *   unknown index on both paths (Tunnel.checkReceive decides for every driver; the fast path
 *   used to call it an expired keypair);
 * - an empty datagram and a 1-byte one are counted, not skipped.
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEVICE_DROP_REASONS } from '../../src/device/drops.js';
import { DeviceNet, type DeviceNode } from '../helpers/device-net.js';
import { ipv4 } from '../helpers/pair.js';
import { noNative } from '../helpers/native-skip.js';

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

function dropsOf(node: DeviceNode): Record<string, number> {
  const out: Record<string, number> = {};
  DEVICE_DROP_REASONS.forEach((r, i) => {
    const n = node.device.drops.counts[i]!;
    if (n !== 0) out[r] = n;
  });
  return out;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

for (const batched of [false, true]) {
  describe(
    `drop reasons, ${batched ? 'batched' : 'per-packet'} receive path`,
    { skip: batched && noNative },
    () => {
      test('a refused first data packet releases the staged packets and is counted', async () => {
        a.device.batched = batched;
        b.device.batched = batched;
        // A's first packet has a source B does not allow for A (it routes by destination).
        a.tun.inject(ipv4('10.0.0.77', '10.0.0.2', 20));
        dn.net.flush(1); // the initiation reaches B's queue
        await turn(); // B answers: it holds a session it may not send on until A's first data
        const staged = ipv4('10.0.0.2', '10.0.0.1', 30);
        b.tun.inject(staged);
        assert.equal(b.device.peerByKey(a.publicKey)!.tunnel.stagedCount, 1, 'B staged its packet');
        await dn.settle();
        assert.equal(b.device.peerByKey(a.publicKey)!.tunnel.stagedCount, 0, 'released');
        assert.deepEqual(
          a.tun.takeWritten().map((p) => Buffer.from(p).toString('hex')),
          [Buffer.from(staged).toString('hex')],
          "B's staged packet reached A",
        );
        assert.deepEqual(b.tun.takeWritten(), []);
        assert.deepEqual(dropsOf(b), { 'disallowed-source': 1 });
      });

      test('a transport message to the index of a handshake in flight is an unknown index', async () => {
        b.device.batched = batched;
        a.tun.inject(ipv4('10.0.0.1', '10.0.0.2', 20));
        const initiation = dn.net.log.find((d) => d.data[0] === 1);
        assert.ok(initiation, 'A initiated');
        const sender = initiation.data.subarray(4, 8);
        // Sent back to A as if it were a transport message for that index (A has no keypair on it).
        const forged = new Uint8Array(64);
        forged[0] = 4;
        forged.set(sender, 4);
        const before = dropsOf(a)['unknown-index'] ?? 0;
        a.device.batched = batched;
        a.device.receiveDatagrams([forged], [b.endpoint(4)]);
        assert.equal((dropsOf(a)['unknown-index'] ?? 0) - before, 1);
        assert.equal(dropsOf(a)['expired-keypair'], undefined);
      });

      test('empty and 1-byte datagrams are counted', () => {
        b.device.batched = batched;
        b.device.receiveDatagrams([new Uint8Array(0), Uint8Array.of(4)], [a.endpoint(4), a.endpoint(4)]);
        const d = dropsOf(b);
        assert.equal(
          Object.values(d).reduce((x, y) => x + y, 0),
          2,
          JSON.stringify(d),
        );
      });
    },
  );
}
