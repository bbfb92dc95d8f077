/**
 * The device's batched transport data path (src/device/batch-send.ts, batch-receive.ts) against its per-packet path
 * (Tunnel.consumeTransport / Tunnel.encapsulate): the same crafted and mutated transport messages
 * (whitepaper section 5.4.6) — valid v4 and v6 packets, keepalives, duplicates, counters behind
 * the replay window, bad tags, disallowed inner sources, bad inner lengths, non-IP plaintext,
 * unknown receiver indices, short messages — go through both receive paths (the replay window
 * reset in between, so the bytes are identical), one message per batch and all in one batch; the
 * verdicts, drop reasons, TUN output and byte counters must match. Outbound, both paths must emit
 * the same bytes for the same counters. Needs the native addon (skipped without it), not root.
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEVICE_DROP_REASONS } from '../../src/device/drops.js';
import type { Endpoint } from '../../src/io/bind.js';
import type { Keypair } from '../../src/protocol/keypairs.js';
import { sealTransport } from '../../src/protocol/transport.js';
import { ipv4, ipv6 } from '../helpers/pair.js';
import { DeviceNet, hex, type DeviceNode } from '../helpers/device-net.js';
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

/** Carries one packet each way so both sides hold a confirmed session. */
async function establish(): Promise<void> {
  a.tun.inject(ipv4('10.0.0.1', '10.0.0.2'));
  await dn.settle();
  b.tun.inject(ipv4('10.0.0.2', '10.0.0.1'));
  await dn.settle();
  assert.equal(b.tun.takeWritten().length, 1);
  assert.equal(a.tun.takeWritten().length, 1);
}

/** a's sending keypair towards b, and b's receiving keypair for it. */
function keypairs(): { send: Keypair; receive: Keypair } {
  const send = a.device.peerByKey(b.publicKey)!.tunnel.session.keypairs.current!;
  const tunnel = b.device.indices.get(send.remoteIndex)!;
  const receive = tunnel.receivingKeypair(send.remoteIndex, dn.clock.mono)!;
  assert.ok(receive, 'b has a receiving keypair');
  return { send, receive };
}

/** A transport message sealed by a with `counter` (the padding is sealTransport's). */
function sealed(kp: Keypair, counter: number, plain: Uint8Array): Uint8Array {
  kp.sendCounter = BigInt(counter);
  return sealTransport(kp, plain, 1420);
}

/** The crafted sequence, each with the verdict both paths must agree on. */
function crafted(kp: Keypair): { name: string; d: Uint8Array }[] {
  const valid = sealed(kp, 10_000, ipv4('10.0.0.1', '10.0.0.2', 100));
  const badTag = sealed(kp, 10_001, ipv4('10.0.0.1', '10.0.0.2', 100));
  badTag[badTag.length - 1]! ^= 1;
  const badLength = ipv4('10.0.0.1', '10.0.0.2', 8);
  badLength[2] = 0x01; // total length 256 > the plaintext
  const badV6 = ipv6('fd10::1', 'fd10::2', 8);
  badV6[4] = 0x02; // payload length 512
  const notIp = ipv4('10.0.0.1', '10.0.0.2', 8);
  notIp[0] = 0x55;
  const unknown = sealed(kp, 10_009, ipv4('10.0.0.1', '10.0.0.2'));
  unknown[4]! ^= 0xff;
  const short = Uint8Array.of(4, 0, 0, 0, ...new Uint8Array(20));
  return [
    { name: 'valid v4', d: valid },
    { name: 'duplicate', d: valid.slice() },
    { name: 'bad tag', d: badTag },
    { name: 'disallowed source', d: sealed(kp, 10_002, ipv4('10.0.0.99', '10.0.0.2')) },
    { name: 'bad v4 length', d: sealed(kp, 10_003, badLength) },
    { name: 'bad v6 length', d: sealed(kp, 10_004, badV6) },
    { name: 'not ip', d: sealed(kp, 10_005, notIp) },
    { name: 'keepalive', d: sealed(kp, 10_006, new Uint8Array(0)) },
    { name: 'valid v6', d: sealed(kp, 10_007, ipv6('fd10::1', 'fd10::2', 300)) },
    { name: 'behind the window', d: sealed(kp, 1, ipv4('10.0.0.1', '10.0.0.2')) },
    { name: 'short', d: short },
    { name: 'unknown index', d: unknown },
    { name: 'valid v4 again', d: sealed(kp, 10_008, ipv4('10.0.0.1', '10.0.0.2', 1300)) },
  ];
}

interface Outcome {
  drops: Record<string, number>;
  written: string[];
  rxBytes: number;
}

/** Runs `batches` through b's receive with `batched` on or off; what changed. */
function receive(batched: boolean, rx: Keypair, batches: Uint8Array[][], from: Endpoint): Outcome {
  const device = b.device;
  device.batched = batched;
  rx.replay.reset();
  const tunnel = device.peerByKey(a.publicKey)!.tunnel;
  const before = Float64Array.from(device.drops.counts);
  const rxBefore = tunnel.rxBytes;
  b.tun.takeWritten();
  for (const batch of batches) {
    device.receiveDatagrams(
      batch.map((d) => d.slice()),
      batch.map(() => from),
    );
  }
  const drops: Record<string, number> = {};
  DEVICE_DROP_REASONS.forEach((r, i) => {
    const n = device.drops.counts[i]! - before[i]!;
    if (n !== 0) drops[r] = n;
  });
  return { drops, written: b.tun.takeWritten().map(hex), rxBytes: tunnel.rxBytes - rxBefore };
}

describe('batched data path', { skip: noNative }, () => {
  test('each crafted message alone: identical verdict and drop reason on both receive paths', async () => {
    await establish();
    const { send, receive: rx } = keypairs();
    const from = a.endpoint(4);
    for (const { name, d } of crafted(send)) {
      const perPacket = receive(false, rx, [[d]], from);
      const batched = receive(true, rx, [[d]], from);
      assert.deepEqual(batched, perPacket, name);
    }
    // The verdicts themselves, in one batch each way.
    const all = crafted(send).map((c) => c.d);
    const perPacket = receive(false, rx, [all], from);
    const batched = receive(true, rx, [all], from);
    assert.deepEqual(batched, perPacket);
    assert.deepEqual(perPacket.drops, {
      replay: 2,
      'bad-tag': 1,
      'disallowed-source': 1,
      'bad-ip-length': 2,
      'not-ip': 1,
      'bad-length': 1,
      'unknown-index': 1,
    });
    assert.equal(perPacket.written.length, 3); // valid v4, valid v6, valid v4 again
  });

  test('outbound: the same counters seal to the same bytes on both paths', async () => {
    await establish();
    const { send } = keypairs();
    const packets = [
      ipv4('10.0.0.1', '10.0.0.2', 1),
      ipv4('10.0.0.1', '10.0.0.2', 1380),
      ipv6('fd10::1', 'fd10::2', 77),
      ipv4('10.0.0.1', '10.0.0.2', 3000), // past the MTU: padded as its last unit
    ];
    const outputs: string[][] = [];
    for (const batched of [false, true]) {
      a.device.batched = batched;
      send.sendCounter = 500n;
      const mark = dn.net.log.length;
      a.tun.inject(...packets);
      outputs.push(dn.sentSince(mark, a).map((x) => hex(x.data)));
      assert.equal(send.sendCounter, 504n);
    }
    assert.deepEqual(outputs[1], outputs[0]);
    assert.equal(outputs[0]!.length, 4);
  });

  test('runs larger than an arena, both ways, arrive whole and in order', async () => {
    a.device.batched = true;
    b.device.batched = true;
    await establish();
    const packets = Array.from({ length: 120 }, (_, i) => ipv4('10.0.0.1', '10.0.0.2', 40_000 + i));
    a.tun.inject(...packets);
    await dn.settle();
    const got = b.tun.takeWritten();
    assert.deepEqual(got.map(hex), packets.map(hex));
  });

  test('packets before a session are staged and follow the handshake', async () => {
    a.device.batched = true;
    b.device.batched = true;
    const packets = [ipv4('10.0.0.1', '10.0.0.2', 10), ipv4('10.0.0.1', '10.0.0.2', 20)];
    a.tun.inject(...packets);
    assert.equal(a.device.peerByKey(b.publicKey)!.tunnel.stagedCount, 2);
    await dn.settle();
    assert.deepEqual(b.tun.takeWritten().map(hex), packets.map(hex));
  });
});
