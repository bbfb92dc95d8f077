/**
 * IPv4 (RFC 791) and IPv6 (RFC 8200) parsing and building in src/netstack/ipv4.ts and ipv6.ts:
 * round trips, and each refusal rule returning its drop reason without throwing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseIpv4, writeIpv4Header } from '../../src/netstack/ipv4.js';
import { parseIpv6, writeIpv6Header } from '../../src/netstack/ipv6.js';
import { naiveChecksum, udpPacket, V4_LOCAL, V4_PEER, V6_LOCAL, V6_PEER } from './packets.js';

const data = Uint8Array.of(1, 2, 3, 4, 5);

function withHeaderChecksum(p: Uint8Array): Uint8Array {
  const h = (p[0]! & 15) * 4;
  p[10] = 0;
  p[11] = 0;
  const c = naiveChecksum(p.subarray(0, h));
  p[10] = c >>> 8;
  p[11] = c & 0xff;
  return p;
}

describe('IPv4', () => {
  it('builds a header that parses back (DF, TTL 64, checksum)', () => {
    const packet = new Uint8Array(20 + 7);
    packet.set(Uint8Array.of(9, 8, 7, 6, 5, 4, 3), 20);
    writeIpv4Header(packet, 0xbeef, 17, V4_LOCAL, V4_PEER);
    assert.equal(naiveChecksum(packet.subarray(0, 20)), 0);
    assert.equal(packet[6], 0x40, 'DF');
    const p = parseIpv4(packet);
    assert.ok(typeof p !== 'string');
    assert.equal(p.ttl, 64);
    assert.equal(p.protocol, 17);
    assert.deepEqual([...p.source], [...V4_LOCAL]);
    assert.deepEqual([...p.destination], [...V4_PEER]);
    assert.deepEqual([...p.payload], [9, 8, 7, 6, 5, 4, 3]);
  });

  it('skips options and cuts link padding after the total length', () => {
    const base = udpPacket(V4_PEER, V4_LOCAL, 1, 2, data);
    const opt = new Uint8Array(base.length + 4 + 3);
    opt.set(base.subarray(0, 20));
    opt[0] = 0x46;
    opt[20] = 1; // NOP options
    opt[21] = 1;
    opt[22] = 1;
    opt[23] = 0;
    opt.set(base.subarray(20), 24);
    const total = base.length + 4;
    opt[2] = total >>> 8;
    opt[3] = total & 0xff;
    const p = parseIpv4(withHeaderChecksum(opt));
    assert.ok(typeof p !== 'string');
    assert.equal(p.headerLength, 24);
    assert.equal(p.payload.length, 8 + data.length);
  });

  it('refuses bad version, short header, bad IHL, length past the buffer, bad checksum, fragments', () => {
    const good = udpPacket(V4_PEER, V4_LOCAL, 1, 2, data);
    const mutate = (f: (p: Uint8Array) => void, fix = true): Uint8Array => {
      const p = Uint8Array.from(good);
      f(p);
      return fix ? withHeaderChecksum(p) : p;
    };
    assert.equal(parseIpv4(good.subarray(0, 19)), 'short-header');
    assert.equal(parseIpv4(mutate((p) => (p[0] = 0x55))), 'bad-version');
    assert.equal(parseIpv4(mutate((p) => (p[0] = 0x44), false)), 'short-header');
    assert.equal(parseIpv4(mutate((p) => (p[3] = p[3]! + 1))), 'bad-length');
    assert.equal(parseIpv4(mutate((p) => (p[3] = 19))), 'bad-length');
    assert.equal(parseIpv4(mutate((p) => (p[8] = 1), false)), 'bad-header-checksum');
    assert.equal(parseIpv4(mutate((p) => (p[6] = 0x20))), 'fragment', 'MF');
    assert.equal(parseIpv4(mutate((p) => ((p[6] = 0), (p[7] = 1)))), 'fragment', 'offset');
    assert.equal(parseIpv4(new Uint8Array(0)), 'short-header');
  });
});

describe('IPv6', () => {
  it('builds a header that parses back', () => {
    const packet = new Uint8Array(40 + 3);
    packet.set(Uint8Array.of(7, 7, 7), 40);
    writeIpv6Header(packet, 58, V6_LOCAL, V6_PEER);
    const p = parseIpv6(packet);
    assert.ok(typeof p !== 'string');
    assert.equal(p.hopLimit, 64);
    assert.equal(p.protocol, 58);
    assert.deepEqual([...p.source], [...V6_LOCAL]);
    assert.deepEqual([...p.payload], [7, 7, 7]);
  });

  it('walks Hop-by-Hop, Destination Options and Routing (segments left 0) to the transport', () => {
    const hbh = Uint8Array.of(0, 0, 1, 4, 0, 0, 0, 0); // PadN
    const dst = Uint8Array.of(0, 0, 0x05, 2, 0, 0, 0, 0); // Router Alert, action 00: skipped
    const rt = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0);
    const packet = udpPacket(V6_PEER, V6_LOCAL, 1, 2, data, {
      extensions: [
        [0, hbh],
        [60, dst],
        [43, rt],
      ],
    });
    const p = parseIpv6(packet);
    assert.ok(typeof p !== 'string');
    assert.equal(p.protocol, 17);
    assert.equal(p.payload.length, 8 + data.length);
  });

  it('refuses version, lengths, fragments, bad and too many extension headers', () => {
    const good = udpPacket(V6_PEER, V6_LOCAL, 1, 2, data);
    const m = (f: (p: Uint8Array) => void): Uint8Array => {
      const p = Uint8Array.from(good);
      f(p);
      return p;
    };
    const ext = (list: [number, Uint8Array][]): Uint8Array =>
      udpPacket(V6_PEER, V6_LOCAL, 1, 2, data, { extensions: list });
    const pad = (): Uint8Array => Uint8Array.of(0, 0, 1, 4, 0, 0, 0, 0);
    assert.equal(parseIpv6(good.subarray(0, 39)), 'short-header');
    assert.equal(parseIpv6(m((p) => (p[0] = 0x40))), 'bad-version');
    assert.equal(parseIpv6(m((p) => (p[5] = p[5]! + 1))), 'bad-length');
    assert.equal(parseIpv6(m((p) => ((p[4] = 0), (p[5] = 0)))), 'bad-length', 'jumbogram');
    assert.equal(parseIpv6(ext([[44, new Uint8Array(8)]])), 'fragment');
    assert.equal(
      parseIpv6(
        ext([
          [60, pad()],
          [44, new Uint8Array(8)],
        ]),
      ),
      'fragment',
    );
    assert.equal(parseIpv6(ext([[43, Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 0)]])), 'bad-extension-header');
    assert.equal(parseIpv6(ext([[60, Uint8Array.of(0, 0, 0x85, 2, 0, 0, 0, 0)]])), 'bad-extension-header');
    assert.equal(parseIpv6(ext([[60, Uint8Array.of(0, 0, 1, 9, 0, 0, 0, 0)]])), 'bad-extension-header');
    assert.equal(
      parseIpv6(
        ext([
          [60, pad()],
          [0, pad()],
        ]),
      ),
      'bad-extension-header',
      'HbH not first',
    );
    const many: [number, Uint8Array][] = Array.from({ length: 9 }, () => [60, pad()]);
    assert.equal(parseIpv6(ext(many)), 'bad-extension-header');
    const longExt = Uint8Array.from(good);
    longExt[6] = 60;
    longExt[41] = 200; // extension length past the payload
    assert.equal(parseIpv6(longExt), 'bad-extension-header');
  });
});
