/**
 * The ICMP unreachable builders of src/device/icmp-unreachable.ts, byte for byte: the expected
 * errors below were built by an independent implementation (a short Python script using only
 * struct, RFC 1071 checksums and RFC 8200's pseudo-header), not by the code under test. Then the
 * eligibility rules of RFC 1122 3.2.2 / RFC 1812 4.3.2.7 / RFC 4443 2.4 (e), the quoting caps
 * (576 bytes for v4 as the kernel's icmp_send, 1280 for v6) and the kernel-default rate limits.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildIcmp4Unreachable,
  buildIcmp6Unreachable,
  IcmpUnreachable,
  ICMP_GLOBAL_BURST,
  ICMP_PER_DESTINATION_BURST,
  onesComplementSum,
} from '../../src/device/icmp-unreachable.js';

const fromHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// An echo request 192.168.241.1 -> 192.168.241.99 (TOS 0x10, id 0xbeef, 56 bytes 00..37).
const V4_ECHO =
  '45100054beef0000400157f3c0a8f101c0a8f1630800eeb712340001' +
  '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637';
// Host unreachable from .99 to .1, TOS (0x10 & 0x1e) | 0xc0, id 0, TTL 64, no DF, quoting all 84.
const V4_ERROR = '45d000700000000040011607c0a8f163c0a8f1010301fcfe00000000' + V4_ECHO;
// An echo request fd00::1 -> fd00::99 (56 bytes 00..37).
const V6_ECHO =
  '6000000000403a40fd000000000000000000000000000001fd000000000000000000000000000099' +
  '80007ba112340001000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637';
// Address unreachable from fd00::99 to fd00::1, hop limit 64, quoting all 104 bytes.
const V6_ERROR =
  '6000000000703a40fd000000000000000000000000000099fd000000000000000000000000000001010369b000000000' +
  V6_ECHO;

/** A UDP/IPv4 datagram 10.1.2.3:40000 -> 10.9.9.9:53 of 1000 bytes, id 7 (payload (i*7) & 0xff). */
function bigV4(): Uint8Array {
  const p = new Uint8Array(1000);
  p.set(fromHex('450003e800070000401157e90a0102030a0909099c40003503d40000'));
  for (let i = 0; i < 972; i++) p[28 + i] = (i * 7) & 0xff;
  return p;
}

/** A UDP/IPv6 datagram [fd00:aa::5]:40000 -> [fd00:bb::6]:53 of 1440 bytes (payload (i*3) & 0xff). */
function bigV6(): Uint8Array {
  const p = new Uint8Array(1440);
  p.set(
    fromHex(
      '6000000005781140fd0000aa000000000000000000000005fd0000bb0000000000000000000000069c40003505780000',
    ),
  );
  for (let i = 0; i < 1392; i++) p[48 + i] = (i * 3) & 0xff;
  return p;
}

describe('ICMPv4 host unreachable', () => {
  test('byte for byte against an independent builder', () => {
    const inv = fromHex(V4_ECHO);
    assert.equal(toHex(buildIcmp4Unreachable(inv, 0, inv.length, 0)!), V4_ERROR);
  });

  test('at an offset inside a larger buffer (the batched path reads slots)', () => {
    const inv = fromHex(V4_ECHO);
    const slot = new Uint8Array(200).fill(0xee);
    slot.set(inv, 26);
    assert.equal(toHex(buildIcmp4Unreachable(slot, 26, inv.length, 0)!), V4_ERROR);
  });

  test('quotes as much as fits in 576 bytes, as the kernel', () => {
    const inv = bigV4();
    const err = buildIcmp4Unreachable(inv, 0, inv.length, 5)!;
    assert.equal(err.length, 576);
    assert.equal(toHex(err.subarray(0, 28)), '45c0024000050000400158e30a0909090a010203030187c500000000');
    assert.deepEqual(err.subarray(28), inv.subarray(0, 548));
    assert.equal(onesComplementSum(err, 0, 20), 0xffff, 'IP header checksum');
    assert.equal(onesComplementSum(err, 20, err.length), 0xffff, 'ICMP checksum');
  });

  test('quotes the IP length, not trailing bytes past it', () => {
    const inv = new Uint8Array([...fromHex(V4_ECHO), 1, 2, 3]);
    assert.equal(toHex(buildIcmp4Unreachable(inv, 0, inv.length, 0)!), V4_ERROR);
  });

  const variant = (edit: (p: Uint8Array) => void): Uint8Array | null => {
    const p = fromHex(V4_ECHO);
    edit(p);
    return buildIcmp4Unreachable(p, 0, p.length, 0);
  };
  const cases: [string, (p: Uint8Array) => void, boolean][] = [
    ['an echo reply (informational) draws one', (p) => (p[20] = 0), true],
    ['a destination unreachable (an error) draws none', (p) => (p[20] = 3), false],
    ['a time exceeded draws none', (p) => (p[20] = 11), false],
    ['a redirect draws none', (p) => (p[20] = 5), false],
    ['a parameter problem draws none', (p) => (p[20] = 12), false],
    ['an unknown ICMP type draws none', (p) => (p[20] = 200), false],
    ['a first fragment (MF, offset 0) draws one', (p) => (p[6] = 0x20), true],
    ['a later fragment draws none', (p) => ((p[6] = 0x00), (p[7] = 0x10)), false],
    ['a multicast destination draws none', (p) => p.set([224, 0, 0, 1], 16), false],
    ['the limited broadcast draws none', (p) => p.set([255, 255, 255, 255], 16), false],
    ['an unspecified source draws none', (p) => p.set([0, 0, 0, 0], 12), false],
    ['a loopback source draws none', (p) => p.set([127, 0, 0, 1], 12), false],
    ['a multicast source draws none', (p) => p.set([239, 1, 2, 3], 12), false],
    ['a class E source draws none', (p) => p.set([250, 1, 2, 3], 12), false],
    ['a bad header length draws none', (p) => (p[0] = 0x44), false],
    ['a header length past the packet draws none', (p) => (p[0] = 0x4f), false],
  ];
  for (const [name, edit, sends] of cases) {
    test(name, () => assert.equal(variant(edit) !== null, sends));
  }

  test('a UDP or TCP packet to nowhere draws one', () => {
    const inv = bigV4();
    assert.notEqual(buildIcmp4Unreachable(inv, 0, inv.length, 0), null);
    inv[9] = 6;
    assert.notEqual(buildIcmp4Unreachable(inv, 0, inv.length, 0), null);
  });

  test('not IPv4, or too short, draws none', () => {
    const inv = fromHex(V4_ECHO);
    assert.equal(buildIcmp4Unreachable(inv, 0, 19, 0), null);
    assert.equal(buildIcmp4Unreachable(fromHex(V6_ECHO), 0, 104, 0), null);
  });
});

describe('ICMPv6 address unreachable', () => {
  test('byte for byte against an independent builder', () => {
    const inv = fromHex(V6_ECHO);
    assert.equal(toHex(buildIcmp6Unreachable(inv, 0, inv.length)!), V6_ERROR);
  });

  test('quotes as much as fits in the minimum MTU of 1280', () => {
    const inv = bigV6();
    const err = buildIcmp6Unreachable(inv, 0, inv.length)!;
    assert.equal(err.length, 1280);
    assert.equal(
      toHex(err.subarray(0, 48)),
      '6000000004d83a40fd0000bb000000000000000000000006fd0000aa0000000000000000000000050103b33c00000000',
    );
    assert.deepEqual(err.subarray(48), inv.subarray(0, 1232));
  });

  const variant = (edit: (p: Uint8Array) => void): Uint8Array | null => {
    const p = fromHex(V6_ECHO);
    edit(p);
    return buildIcmp6Unreachable(p, 0, p.length);
  };
  const cases: [string, (p: Uint8Array) => void, boolean][] = [
    ['an echo reply (informational) draws one', (p) => (p[40] = 129), true],
    ['a destination unreachable (an error) draws none', (p) => (p[40] = 1), false],
    ['a packet too big draws none', (p) => (p[40] = 2), false],
    ['a redirect draws none', (p) => (p[40] = 137), false],
    ['a multicast destination draws none', (p) => (p[24] = 0xff), false],
    ['an unspecified source draws none', (p) => p.fill(0, 8, 24), false],
    ['a multicast source draws none', (p) => (p[8] = 0xff), false],
    ['a loopback source draws none', (p) => (p.fill(0, 8, 24), (p[23] = 1)), false],
  ];
  for (const [name, edit, sends] of cases) {
    test(name, () => assert.equal(variant(edit) !== null, sends));
  }

  /** The echo request behind one 8-byte extension header `nh` (fragment: offset/flags word `frag`). */
  const withExtension = (nh: number, frag = 0): Uint8Array => {
    const echo = fromHex(V6_ECHO);
    const p = new Uint8Array(echo.length + 8);
    p.set(echo.subarray(0, 40));
    p[5] = 0x48;
    p[6] = nh;
    p[40] = 58;
    if (nh === 44) {
      p[42] = frag >> 8;
      p[43] = frag & 0xff;
    }
    p.set(echo.subarray(40), 48);
    return p;
  };

  test('extension headers are walked to find an ICMPv6 error', () => {
    const hbh = withExtension(0);
    assert.notEqual(buildIcmp6Unreachable(hbh, 0, hbh.length), null);
    hbh[48] = 1; // destination unreachable behind a hop-by-hop header
    assert.equal(buildIcmp6Unreachable(hbh, 0, hbh.length), null);
    const dst = withExtension(60);
    dst[48] = 3;
    assert.equal(buildIcmp6Unreachable(dst, 0, dst.length), null);
  });

  test('a first fragment draws one, a later fragment none (deviation from RFC 4443 noted in the source)', () => {
    const first = withExtension(44, 0x0001); // offset 0, M flag
    assert.notEqual(buildIcmp6Unreachable(first, 0, first.length), null);
    const later = withExtension(44, 0x0008); // offset 1 (8 bytes)
    assert.equal(buildIcmp6Unreachable(later, 0, later.length), null);
  });
});

describe('rate limits (kernel defaults)', () => {
  const echoFrom = (last: number): Uint8Array => {
    const p = fromHex(V4_ECHO);
    p[15] = last; // source 192.168.241.<last>; checksums do not matter to the builder
    return p;
  };

  test('one destination: a burst of 6, then 1 per second', () => {
    const g = new IcmpUnreachable();
    const p = echoFrom(1);
    let sent = 0;
    for (let i = 0; i < 100; i++) if (g.build(p, 0, p.length, 1000) !== null) sent++;
    assert.equal(sent, ICMP_PER_DESTINATION_BURST);
    assert.equal(g.build(p, 0, p.length, 1500), null);
    assert.notEqual(g.build(p, 0, p.length, 2000), null);
    assert.equal(g.build(p, 0, p.length, 2000), null);
    assert.equal(g.sent, ICMP_PER_DESTINATION_BURST + 1);
    assert.equal(g.limited, 100 - ICMP_PER_DESTINATION_BURST + 2);
  });

  test('many destinations: a global burst of 50, refilled at 1000 per second', () => {
    const g = new IcmpUnreachable();
    let sent = 0;
    for (let src = 1; src <= 200; src++) {
      const p = echoFrom(src);
      if (g.build(p, 0, p.length, 1000) !== null) sent++;
    }
    assert.ok(sent <= ICMP_GLOBAL_BURST, `${sent} sent at once`);
    assert.ok(sent >= ICMP_GLOBAL_BURST - 10, `${sent} sent at once (hash collisions share a bucket)`);
    // 10 ms later: 10 more tokens globally.
    let later = 0;
    for (let src = 1; src <= 200; src++) {
      const p = echoFrom(src);
      if (g.build(p, 0, p.length, 1010) !== null) later++;
    }
    assert.ok(later <= 10, `${later} sent 10 ms later`);
  });

  test('IPv4 identification advances per error sent', () => {
    const g = new IcmpUnreachable();
    const a = g.build(echoFrom(1), 0, 84, 0)!;
    const b = g.build(echoFrom(2), 0, 84, 0)!;
    assert.equal((a[4]! << 8) | a[5]!, 0);
    assert.equal((b[4]! << 8) | b[5]!, 1);
  });
});
