/**
 * NetStack (src/netstack/stack.ts) ICMP and UDP with a fake host: echo in both families and its
 * rate limit, ignored ICMP, UDP bind/send/receive, zero checksums and length rules, ephemeral
 * ports and EADDRINUSE, the MTU and source-address limits on sending.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SocketAddress } from '../../src/netstack/types.js';
import {
  echoPacket,
  expectDrop,
  ipPacket,
  makeStack,
  transportChecksumOk,
  udpPacket,
  V4_LOCAL,
  V4_PEER,
  V6_LOCAL,
  V6_PEER,
} from './packets.js';

const hello = new TextEncoder().encode('hello');

describe('NetStack ICMP', () => {
  for (const [family, local, peer, request, reply] of [
    [4, V4_LOCAL, V4_PEER, 8, 0],
    [6, V6_LOCAL, V6_PEER, 128, 129],
  ] as const) {
    it(`answers an IPv${family} echo request and reports echo replies`, () => {
      const { stack, out } = makeStack();
      stack.input([echoPacket(peer, local, request, 0x1234, 7, hello)]);
      assert.equal(out.length, 1);
      const r = out[0]!;
      assert.ok(transportChecksumOk(r));
      const h = family === 4 ? 20 : 40;
      assert.equal(r[h], reply);
      assert.deepEqual([...r.subarray(family === 4 ? 16 : 24, family === 4 ? 20 : 40)], [...peer]);
      assert.deepEqual([...r.subarray(h + 4, h + 8)], [0x12, 0x34, 0, 7]);
      assert.deepEqual([...r.subarray(h + 8)], [...hello]);

      const seen: [number, number, string][] = [];
      stack.icmp.onEchoReply = (from, id, seq, data) => {
        assert.deepEqual([...from], [...peer]);
        seen.push([id, seq, new TextDecoder().decode(data)]);
      };
      assert.ok(stack.icmp.echoRequest(peer, 99, 3, hello));
      assert.equal(out.length, 2);
      assert.ok(transportChecksumOk(out[1]!));
      assert.equal(out[1]![h], request);
      stack.input([echoPacket(peer, local, reply, 99, 3, hello)]);
      assert.deepEqual(seen, [[99, 3, 'hello']]);
    });
  }

  it('rate-limits echo replies (burst 200, then refills with time)', () => {
    const { stack, out, host } = makeStack();
    const req = echoPacket(V4_PEER, V4_LOCAL, 8, 1, 1, hello);
    stack.input(Array.from({ length: 250 }, () => req));
    assert.equal(out.length, 200);
    assert.equal(stack.drops['icmp-rate-limited'], 50);
    host.time += 10; // 10 ms at 1000/s: 10 tokens
    stack.input(Array.from({ length: 20 }, () => req));
    assert.equal(out.length, 210);
  });

  it('ignores other ICMP types, echo to multicast, and ICMP of the wrong family', () => {
    const { stack, out } = makeStack();
    expectDrop(stack, out, echoPacket(V4_PEER, V4_LOCAL, 3, 0, 0, hello), 'icmp-ignored');
    expectDrop(stack, out, echoPacket(V6_PEER, V6_LOCAL, 135, 0, 0, hello), 'icmp-ignored');
    const allNodes = Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
    expectDrop(stack, out, echoPacket(V6_PEER, allNodes, 128, 0, 0, hello), 'icmp-ignored');
    const solicited = Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 2);
    expectDrop(stack, out, echoPacket(V6_PEER, solicited, 135, 0, 0, hello), 'icmp-ignored');
    const otherGroup = Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2);
    expectDrop(stack, out, echoPacket(V6_PEER, otherGroup, 128, 0, 0, hello), 'not-our-address');
    const m = new Uint8Array(8);
    m[0] = 128;
    expectDrop(stack, out, ipPacket(V4_PEER, V4_LOCAL, 58, m, -1), 'unknown-protocol');
    expectDrop(
      stack,
      out,
      ipPacket(V4_PEER, V4_LOCAL, 1, Uint8Array.of(8, 0, 0xf7, 0xff), 2),
      'short-transport',
    );
  });
});

describe('NetStack UDP', () => {
  it('delivers to a binding and sends back with a correct checksum (both families)', () => {
    const { stack, out } = makeStack();
    for (const [family, local, peer] of [
      [4, V4_LOCAL, V4_PEER],
      [6, V6_LOCAL, V6_PEER],
    ] as const) {
      const got: [string, number, string][] = [];
      const b = stack.udp.bind(family, null, 5353, (data, from: SocketAddress, to) => {
        assert.deepEqual([...to], [...local]);
        got.push([new TextDecoder().decode(data), from.port, from.address.join('.')]);
        b.send(data, from);
      });
      stack.input([udpPacket(peer, local, 40000, 5353, hello)]);
      assert.deepEqual(got, [['hello', 40000, peer.join('.')]]);
      const r = out.at(-1)!;
      assert.ok(transportChecksumOk(r));
      const h = family === 4 ? 20 : 40;
      assert.deepEqual([...r.subarray(h, h + 4)], [5353 >> 8, 5353 & 0xff, 40000 >> 8, 40000 & 0xff]);
      assert.deepEqual([...r.subarray(h + 8)], [...hello]);
      b.close();
      b.close();
      expectDrop(stack, out, udpPacket(peer, local, 40000, 5353, hello), 'udp-no-listener');
      assert.equal(b.send(hello, { address: peer, port: 1 }), false, 'closed');
    }
    assert.equal(stack.udp.size, 0);
  });

  it('accepts a zero checksum on IPv4 only, and checks the UDP length', () => {
    const { stack, out } = makeStack();
    let n = 0;
    stack.udp.bind(4, null, 9, () => n++);
    stack.udp.bind(6, null, 9, () => n++);
    stack.input([udpPacket(V4_PEER, V4_LOCAL, 1, 9, hello, { zeroChecksum: true })]);
    assert.equal(n, 1);
    expectDrop(
      stack,
      out,
      udpPacket(V6_PEER, V6_LOCAL, 1, 9, hello, { zeroChecksum: true }),
      'bad-transport-checksum',
    );
    const long = udpPacket(V4_PEER, V4_LOCAL, 1, 9, hello, { zeroChecksum: true });
    long[25] = 200;
    expectDrop(stack, out, long, 'bad-udp-length');
    const short = udpPacket(V4_PEER, V4_LOCAL, 1, 9, hello, { zeroChecksum: true });
    short[25] = 7;
    expectDrop(stack, out, short, 'bad-udp-length');
    expectDrop(stack, out, ipPacket(V4_PEER, V4_LOCAL, 17, new Uint8Array(4), -1), 'short-transport');
  });

  it('binds ephemeral ports at random in 49152-65535, refuses taken ports with EADDRINUSE', () => {
    const { stack } = makeStack();
    const ports = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const b = stack.udp.bind(4, null, 0, () => undefined);
      assert.ok(b.local.port >= 49152 && b.local.port <= 65535);
      ports.add(b.local.port);
    }
    assert.equal(ports.size, 50);
    stack.udp.bind(4, null, 53, () => undefined);
    assert.throws(() => stack.udp.bind(4, null, 53, () => undefined), { code: 'EADDRINUSE' });
    assert.throws(() => stack.udp.bind(4, V4_LOCAL, 53, () => undefined), { code: 'EADDRINUSE' });
    stack.udp.bind(6, V6_LOCAL, 53, () => undefined);
    assert.throws(() => stack.udp.bind(6, null, 53, () => undefined), { code: 'EADDRINUSE' });
    assert.throws(() => stack.udp.bind(4, V4_PEER, 54, () => undefined), { code: 'EADDRNOTAVAIL' });
  });

  it('refuses datagrams over the MTU and sends without a local address of the family', () => {
    const { stack, out } = makeStack(100);
    const b = stack.udp.bind(4, null, 7, () => undefined);
    assert.equal(b.send(new Uint8Array(72), { address: V4_PEER, port: 7 }), true);
    assert.equal(b.send(new Uint8Array(73), { address: V4_PEER, port: 7 }), false);
    assert.equal(stack.drops['too-big'], 1);
    assert.equal(b.send(hello, { address: V6_PEER, port: 7 }), false, 'wrong family');
    stack.setAddresses([V6_LOCAL]);
    assert.equal(stack.ip.sourceFor(V4_PEER), null);
    assert.equal(stack.icmp.echoRequest(V4_PEER, 1, 1, hello), false);
    assert.equal(stack.drops['no-source-address'], 1);
    assert.equal(out.length, 1);
    stack.setMtu(1280);
    assert.equal(stack.ip.mtu, 1280);
    assert.throws(() => stack.setMtu(10), RangeError);
  });
});
