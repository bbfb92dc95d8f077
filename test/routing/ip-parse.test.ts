/**
 * Parsing of IP addresses and prefixes (src/routing/ip.ts): RFC 4291 section 2.2 text forms and
 * dotted-quad IPv4, accepting exactly what glibc's inet_pton(3) accepts. Every accepted and
 * rejected address below was checked against glibc on the development machine with
 * `python3 -c 'import socket; socket.inet_pton(socket.AF_INET6, "...")'`.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskPrefix, parseIP, parseIPv4, parseIPv6, parsePrefix } from '../../src/routing/ip.js';

const hex = (bytes: Uint8Array | null | undefined): string | null =>
  bytes ? Buffer.from(bytes).toString('hex') : null;

// [text, bytes as inet_pton(AF_INET6) gives them]
const V6_ACCEPTED: ReadonlyArray<readonly [string, string]> = [
  ['::', '00000000000000000000000000000000'],
  ['::1', '00000000000000000000000000000001'],
  ['1::', '00010000000000000000000000000000'],
  ['1:2:3:4:5:6:7::', '00010002000300040005000600070000'],
  ['::2:3:4:5:6:7:8', '00000002000300040005000600070008'],
  ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
  ['::ffff:1.2.3.4', '00000000000000000000ffff01020304'],
  ['::1.2.3.4', '00000000000000000000000001020304'],
  ['1::1.2.3.4', '00010000000000000000000001020304'],
  ['1:2:3:4:5:6:1.2.3.4', '00010002000300040005000601020304'],
  ['1:2:3:4:5::1.2.3.4', '00010002000300040005000001020304'],
  ['0001::', '00010000000000000000000000000000'],
  ['ABCD::EF', 'abcd00000000000000000000000000ef'],
  ['2001:DB8::A:b:C', '20010db8000000000000000a000b000c'],
  ['fe80::1', 'fe800000000000000000000000000001'],
  ['ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255', 'ffffffffffffffffffffffffffffffff'],
  ['0000:0000:0000:0000:0000:0000:0000:0000', '00000000000000000000000000000000'],
  ['2001:db8:0:0:1:0:0:1', '20010db8000000000001000000000001'],
  ['::0:0', '00000000000000000000000000000000'],
  ['1:0::', '00010000000000000000000000000000'],
];

const V6_REJECTED = [
  '',
  ':',
  '1:',
  ':1',
  ':::',
  '1:::2',
  '::1::',
  ':1::',
  '1::1:',
  '1::2::3',
  '1::2:',
  '1:2:3:4:5:6:7',
  '1:2:3:4:5:6:7:8:9',
  '1:2:3:4::5:6:7:8', // `::` standing for no group at all
  '1:2:3:4:5:6:7:1.2.3.4',
  '1:2:3:4:5:6::1.2.3.4',
  '::1.2.3.4:5',
  '::01.2.3.4',
  '::1.2.3',
  '::256.1.1.1',
  '::1.2.3.4.',
  '::.1.2.3',
  '::ffff:1.2.3.4.5',
  '00001::',
  '::g',
  '::0x1',
  '::-1',
  '::+1',
  'fe80::1%eth0',
  'fe80::1%1',
  '[::1]',
  ' ::1',
  '::1 ',
  '1.2.3.4',
  '::１', // fullwidth digit
  '1:2:3:4:5:6:7:8/64',
  'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255:1',
];

const V4_ACCEPTED: ReadonlyArray<readonly [string, string]> = [
  ['0.0.0.0', '00000000'],
  ['1.2.3.4', '01020304'],
  ['255.255.255.255', 'ffffffff'],
  ['192.168.100.10', 'c0a8640a'],
  ['10.0.0.0', '0a000000'],
];

const V4_REJECTED = [
  '',
  '1.2.3',
  '1.2.3.4.5',
  '256.0.0.1',
  '1.2.3.256',
  '01.2.3.4',
  '1.2.3.04',
  '00.0.0.0',
  '1..2.3',
  '1.2.3.4 ',
  ' 1.2.3.4',
  '0x1.2.3.4',
  '1.2.3.-4',
  '+1.2.3.4',
  '1000.1.1.1',
  '1.2.3.4/8',
  '1.2.3.',
  '.1.2.3',
  '16909060',
  '1.2.3.4.',
  '١.٢.٣.٤', // Arabic-Indic digits
];

test('IPv6 text forms inet_pton accepts', () => {
  for (const [text, bytes] of V6_ACCEPTED) {
    assert.equal(hex(parseIPv6(text)), bytes, text);
    assert.equal(parseIP(text)?.family, 6, text);
    assert.equal(hex(parseIP(text)?.bytes), bytes, text);
  }
});

test('IPv6 text forms inet_pton rejects', () => {
  for (const text of V6_REJECTED) {
    assert.equal(parseIPv6(text), null, JSON.stringify(text));
    if (text.includes(':')) assert.equal(parseIP(text), null, JSON.stringify(text));
  }
});

test('IPv4 dotted quads only', () => {
  for (const [text, bytes] of V4_ACCEPTED) {
    assert.equal(hex(parseIPv4(text)), bytes, text);
    assert.equal(parseIP(text)?.family, 4, text);
    assert.equal(hex(parseIP(text)?.bytes), bytes, text);
    assert.equal(parseIPv6(text), null, text);
  }
  for (const text of V4_REJECTED) {
    assert.equal(parseIPv4(text), null, JSON.stringify(text));
    assert.equal(parseIP(text), null, JSON.stringify(text));
  }
});

test('prefixes: cidr required by default, range-checked, strict digits', () => {
  assert.deepEqual(parsePrefix('192.168.1.77/24'), {
    family: 4,
    bytes: Uint8Array.of(192, 168, 1, 77), // as written: parsePrefix does not mask
    cidr: 24,
  });
  assert.equal(parsePrefix('::/0')?.cidr, 0);
  assert.equal(parsePrefix('::/0')?.family, 6);
  assert.equal(parsePrefix('0.0.0.0/0')?.cidr, 0);
  assert.equal(parsePrefix('1.2.3.4/32')?.cidr, 32);
  assert.equal(parsePrefix('::1/128')?.cidr, 128);
  assert.equal(parsePrefix('::ffff:1.2.3.4/96')?.cidr, 96);
  const rejected = [
    '1.2.3.4/33',
    '::/129',
    '1.2.3.4/',
    '1.2.3.4/-1',
    '/24',
    '',
    '/',
    '1.2.3.4',
    '::1',
    '1.2.3.4/024',
    '1.2.3.4/00',
    '::/0128',
    '1.2.3.4/1000',
    '1.2.3.4/ 8',
    '1.2.3.4/8 ',
    '1.2.3.4/8/8',
    '1.2.3/8',
    '[::1]/128',
    'fe80::1%eth0/64',
    '1.2.3.4/+8',
    '1.2.3.4/0x8',
    '::/1e2',
  ];
  for (const text of rejected) assert.equal(parsePrefix(text), null, JSON.stringify(text));
});

test('prefixes: a bare address is a host route only when asked', () => {
  const host = { implicitHostPrefix: true } as const;
  assert.deepEqual(parsePrefix('10.0.0.1', host), { family: 4, bytes: Uint8Array.of(10, 0, 0, 1), cidr: 32 });
  assert.equal(parsePrefix('fd00::1', host)?.cidr, 128);
  assert.equal(parsePrefix('10.0.0.1/8', host)?.cidr, 8);
  assert.equal(parsePrefix('10.0.0.1/', host), null);
  assert.equal(parsePrefix('10.0.0.01', host), null);
  assert.equal(parsePrefix('', host), null);
  assert.equal(parsePrefix('10.0.0.1', { implicitHostPrefix: false }), null);
});

test('maskPrefix clears host bits into a copy', () => {
  const original = Uint8Array.of(192, 168, 1, 77);
  assert.deepEqual(maskPrefix(original, 24), Uint8Array.of(192, 168, 1, 0));
  assert.deepEqual(original, Uint8Array.of(192, 168, 1, 77), 'input untouched');
  assert.deepEqual(maskPrefix(original, 0), Uint8Array.of(0, 0, 0, 0));
  assert.deepEqual(maskPrefix(original, 32), original);
  assert.notEqual(maskPrefix(original, 32), original, 'always a copy');
  assert.deepEqual(maskPrefix(Uint8Array.of(255, 255, 255, 255), 13), Uint8Array.of(255, 248, 0, 0));
  assert.deepEqual(maskPrefix(Uint8Array.of(255, 255, 255, 255), 1), Uint8Array.of(128, 0, 0, 0));
  const v6 = new Uint8Array(16).fill(0xff);
  assert.equal(hex(maskPrefix(v6, 65)), 'ffffffffffffffff8000000000000000');
  assert.equal(hex(maskPrefix(v6, 127)), 'fffffffffffffffffffffffffffffffe');
  assert.equal(hex(maskPrefix(v6, 128)), 'ffffffffffffffffffffffffffffffff');
  assert.throws(() => maskPrefix(v6, 129), RangeError);
  assert.throws(() => maskPrefix(Uint8Array.of(1, 2, 3, 4), 33), RangeError);
  assert.throws(() => maskPrefix(Uint8Array.of(1, 2, 3, 4), -1), RangeError);
  assert.throws(() => maskPrefix(Uint8Array.of(1, 2, 3, 4), 8.5), RangeError);
  assert.throws(() => maskPrefix(new Uint8Array(5), 8), RangeError);
});
