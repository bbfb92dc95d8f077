/**
 * NetStack's IP layer (src/netstack/stack.ts) with a fake host: each refusal rule as a counted
 * drop, transports registered from outside (checksum checked before dispatch, flush at the end
 * of a batch, deadlines and poll), the checksum filled in for a transport's send, IPv4 IDs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IpDatagram, TransportProtocol } from '../../src/netstack/types.js';
import {
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

describe('NetStack IP layer', () => {
  it('counts every refusal rule and never throws', () => {
    const { stack, out } = makeStack();
    stack.udp.bind(4, null, 9, () => undefined);
    const good = udpPacket(V4_PEER, V4_LOCAL, 1, 9, hello);
    const mut = (f: (p: Uint8Array) => void): Uint8Array => {
      const p = Uint8Array.from(good);
      f(p);
      return p;
    };
    expectDrop(stack, out, new Uint8Array(0), 'bad-version');
    expectDrop(
      stack,
      out,
      mut((p) => (p[0] = 0x75)),
      'bad-version',
    );
    expectDrop(stack, out, good.subarray(0, 10), 'short-header');
    expectDrop(
      stack,
      out,
      mut((p) => (p[3] = 200)),
      'bad-length',
    );
    expectDrop(
      stack,
      out,
      mut((p) => (p[8] = 3)),
      'bad-header-checksum',
    );
    expectDrop(stack, out, udpPacket(V4_PEER, V4_LOCAL, 1, 9, hello, { flagsOffset: 0x2000 }), 'fragment');
    expectDrop(
      stack,
      out,
      udpPacket(V4_PEER, V4_LOCAL, 1, 9, hello, { badChecksum: true }),
      'bad-transport-checksum',
    );
    expectDrop(stack, out, udpPacket(V4_PEER, V4_PEER, 1, 9, hello), 'not-our-address');
    expectDrop(stack, out, udpPacket(Uint8Array.of(224, 0, 0, 1), V4_LOCAL, 1, 9, hello), 'bad-source');
    expectDrop(stack, out, udpPacket(V6_PEER, V6_PEER, 1, 9, hello), 'not-our-address');
    expectDrop(stack, out, udpPacket(new Uint8Array(16), V6_LOCAL, 1, 9, hello), 'bad-source');
    expectDrop(stack, out, ipPacket(V4_PEER, V4_LOCAL, 6, new Uint8Array(20), 16), 'unknown-protocol');
    expectDrop(stack, out, ipPacket(V6_PEER, V6_LOCAL, 59, new Uint8Array(4), -1), 'unknown-protocol');
    assert.equal(out.length, 0);
  });

  it('dispatches registered transports after checking their checksum, flushes per batch, polls', () => {
    const { stack, out, host } = makeStack();
    const got: IpDatagram[] = [];
    let flushes = 0;
    let polls = 0;
    let deadline = Infinity;
    const tcp: TransportProtocol = {
      protocol: 6,
      receive: (d) => got.push({ ...d, payload: Uint8Array.from(d.payload) }),
      nextDeadline: () => deadline,
      poll: () => {
        polls++;
        deadline = Infinity;
      },
      flush: () => flushes++,
    };
    stack.register(tcp);
    assert.throws(() => stack.register(tcp));
    const seg = new Uint8Array(24).fill(5);
    const p4 = ipPacket(V4_PEER, V4_LOCAL, 6, seg, 16);
    const p6 = ipPacket(V6_PEER, V6_LOCAL, 6, seg, 16);
    stack.input([p4, p6, ipPacket(V4_PEER, V4_LOCAL, 6, seg, 16, { badChecksum: true })]);
    assert.equal(got.length, 2);
    assert.equal(flushes, 1);
    assert.equal(stack.drops['bad-transport-checksum'], 1);
    assert.equal(got[1]!.family, 6);
    assert.equal(got[0]!.hopLimit, 64);
    expectDrop(stack, out, ipPacket(V4_PEER, V4_LOCAL, 6, new Uint8Array(12), -1), 'short-transport');

    // The IP layer fills the checksum at the given offset for a transport's send.
    const payload = new Uint8Array(20);
    payload[12] = 0x50;
    assert.ok(stack.ip.send(V6_LOCAL, V6_PEER, 6, payload, 16));
    assert.ok(transportChecksumOk(out.at(-1)!));
    assert.equal(stack.ip.send(V4_PEER, V4_LOCAL, 6, payload, 16), false, 'not our source');

    assert.equal(stack.nextDeadline(), Infinity);
    deadline = host.time + 50;
    assert.equal(stack.nextDeadline(), host.time + 50);
    stack.poll();
    assert.equal(polls, 0, 'not due yet');
    host.time += 50;
    stack.poll();
    assert.equal(polls, 1);
  });

  it('numbers IPv4 packets with an incrementing identification', () => {
    const { stack, out } = makeStack();
    const b = stack.udp.bind(4, null, 7, () => undefined);
    b.send(hello, { address: V4_PEER, port: 7 });
    b.send(hello, { address: V4_PEER, port: 7 });
    const id = (p: Uint8Array): number => (p[4]! << 8) | p[5]!;
    assert.equal(id(out[1]!), (id(out[0]!) + 1) & 0xffff);
  });
});
