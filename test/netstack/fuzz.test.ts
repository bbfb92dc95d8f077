/**
 * Seeded fuzzing of NetStack.input (src/netstack/stack.ts): random bytes, and valid packets of
 * every kind mutated (bytes flipped, cut, extended, some with the IPv4 header checksum repaired
 * so the mutation reaches the transports). Invariants: nothing throws; every packet ends in
 * exactly one outcome (a counted drop, a delivery, or a reply); no state grows.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NetStack } from '../../src/netstack/stack.js';
import type { TransportProtocol } from '../../src/netstack/types.js';
import {
  echoPacket,
  FakeHost,
  ipPacket,
  naiveChecksum,
  udpPacket,
  V4_LOCAL,
  V4_PEER,
  V6_LOCAL,
  V6_PEER,
} from './packets.js';

const SEEDS_PER_RUN = 20_000;

function seeds(): Uint8Array[] {
  const data = new TextEncoder().encode('fuzz me');
  const pad = Uint8Array.of(0, 0, 1, 4, 0, 0, 0, 0);
  const tcp = new Uint8Array(20);
  tcp[12] = 0x50;
  return [
    udpPacket(V4_PEER, V4_LOCAL, 1000, 7, data),
    udpPacket(V6_PEER, V6_LOCAL, 1000, 7, data, { extensions: [[0, pad]] }),
    udpPacket(V4_PEER, V4_LOCAL, 1000, 7, data, { zeroChecksum: true }),
    echoPacket(V4_PEER, V4_LOCAL, 8, 1, 1, data),
    echoPacket(V6_PEER, V6_LOCAL, 128, 1, 1, data),
    echoPacket(V4_PEER, V4_LOCAL, 0, 1, 1, data),
    echoPacket(V6_PEER, V6_LOCAL, 129, 1, 1, data),
    ipPacket(V4_PEER, V4_LOCAL, 6, tcp, 16),
    ipPacket(V6_PEER, V6_LOCAL, 6, tcp, 16, { extensions: [[60, pad]] }),
  ];
}

function repairIpv4(p: Uint8Array): void {
  if (p.length < 20 || p[0]! >> 4 !== 4) return;
  const h = (p[0]! & 15) * 4;
  if (h < 20 || h > p.length) return;
  p[10] = 0;
  p[11] = 0;
  const c = naiveChecksum(p.subarray(0, h));
  p[10] = c >>> 8;
  p[11] = c & 0xff;
}

describe('NetStack fuzz', () => {
  it('survives random and mutated packets with one outcome each and no state growth', () => {
    const host = new FakeHost(0x5eed);
    const out: Uint8Array[] = [];
    const stack = new NetStack({
      addresses: [V4_LOCAL, V6_LOCAL],
      mtu: 1420,
      host,
      output: (p) => out.push(p),
    });
    let outcomes = 0;
    stack.udp.bind(4, null, 7, () => outcomes++);
    stack.udp.bind(6, null, 7, () => outcomes++);
    stack.icmp.onEchoReply = () => outcomes++;
    const tcp: TransportProtocol = {
      protocol: 6,
      receive: () => outcomes++,
      nextDeadline: () => Infinity,
      poll: () => undefined,
    };
    stack.register(tcp);
    const base = seeds();
    const dropTotal = (): number => Object.values(stack.drops).reduce((a, b) => a + b, 0);
    for (let i = 0; i < SEEDS_PER_RUN; i++) {
      let packet: Uint8Array;
      const mode = host.next() % 8;
      if (mode === 0) {
        packet = host.random(host.next() % 120);
        if (packet.length > 0) packet[0] = (packet[0]! & 0x0f) | ((host.next() & 1) === 0 ? 0x40 : 0x60);
      } else {
        const seed = base[host.next() % base.length]!;
        packet = Uint8Array.from(seed);
        const flips = 1 + (host.next() % 4);
        for (let k = 0; k < flips; k++) packet[host.next() % packet.length] = host.next() & 0xff;
        if (mode === 1) packet = packet.subarray(0, host.next() % (packet.length + 1));
        if (mode === 2) {
          const longer = new Uint8Array(packet.length + (host.next() % 16));
          longer.set(packet);
          packet = longer;
        }
        if (mode >= 4) repairIpv4(packet);
      }
      const before = outcomes + out.length + dropTotal();
      assert.doesNotThrow(() => stack.input([packet]));
      assert.equal(
        outcomes + out.length + dropTotal(),
        before + 1,
        `one outcome for ${Buffer.from(packet).toString('hex')}`,
      );
      if (i % 1000 === 0) host.time += 1000; // refill the echo bucket now and then
    }
    assert.equal(stack.udp.size, 2, 'no bindings appeared');
    assert.ok(stack.drops['bad-transport-checksum'] > 0);
    assert.ok(stack.drops['bad-header-checksum'] > 0);
    assert.ok(outcomes > 0, 'some mutations still reached a transport');
  });
});
