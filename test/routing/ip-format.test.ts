/**
 * Formatting of IP addresses and prefixes (src/routing/ip-format.ts) against glibc's inet_ntop(3),
 * which is what `wg show` prints through. Every expected string below was produced by glibc on the
 * development machine with `python3 -c 'import socket; print(socket.inet_ntop(socket.AF_INET6,
 * bytes.fromhex("...")))'`, including its IPv4-mapped and IPv4-compatible dotted forms.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIP, formatPrefix, parseIP, parseIPv6 } from '../../src/routing/ip.js';
import { Prng } from './prng.js';

const INET_NTOP6: ReadonlyArray<readonly [string, string]> = [
  ['00000000000000000000000000000000', '::'],
  ['00000000000000000000000000000001', '::1'],
  ['00000000000000000000000001020304', '::1.2.3.4'],
  ['00000000000000000000ffff01020304', '::ffff:1.2.3.4'],
  ['00000000000000000000ffff00000000', '::ffff:0.0.0.0'],
  ['00000000000000000000ffff00000001', '::ffff:0.0.0.1'],
  ['00000000000000000000ffff0000ffff', '::ffff:0.0.255.255'],
  ['00000000000000000000ffff0102ffff', '::ffff:1.2.255.255'],
  ['00000000000000000000000000010000', '::0.1.0.0'],
  ['00000000000000000000000000ff0000', '::0.255.0.0'],
  ['000000000000000000000000ffffffff', '::255.255.255.255'],
  ['00000000000000000000000000000102', '::102'],
  ['0000000000000000000000000000ffff', '::ffff'],
  ['00000000000000000000000100000000', '::1:0:0'],
  ['0000000000000000000000010a000001', '::1:a00:1'],
  ['0000000000000000ffff000001020304', '::ffff:0:102:304'],
  ['00000000000000000000fffe01020304', '::fffe:102:304'],
  ['00000000000000000000fffe00000000', '::fffe:0:0'],
  ['00010000000000000000ffff01020304', '1::ffff:102:304'],
  ['0064ff9b000000000000000001020304', '64:ff9b::102:304'],
  ['20010db8000000000000000000000001', '2001:db8::1'],
  ['20010db8000000000000000000000000', '2001:db8::'],
  ['20010db8000000010000000000000001', '2001:db8:0:1::1'],
  ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
  ['20010db8000000000000000100000000', '2001:db8::1:0:0'],
  ['20010db8000100010001000100010001', '2001:db8:1:1:1:1:1:1'],
  ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'],
  ['2001db80000000000000000000000000', '2001:db80::'],
  ['00010000000100000000000100000000', '1:0:1::1:0:0'],
  ['00000000000100000000000100010001', '::1:0:0:1:1:1'],
  ['00010000000000010000000000010001', '1::1:0:0:1:1'],
  ['00010001000000000001000000000001', '1:1::1:0:0:1'],
  ['0000000000000001000000000000ffff', '::1:0:0:0:ffff'],
  ['00010000000000010000000000000001', '1:0:0:1::1'],
  ['00000000000000010000000000000000', '0:0:0:1::'],
  ['0000000000010000000000000000ffff', '0:0:1::ffff'],
  ['00000000000100000000000000000000', '0:0:1::'],
  ['0000ffff000000000000000000000000', '0:ffff::'],
  ['000000000000ffff0000000000000000', '0:0:0:ffff::'],
  ['00010002000300040005000600070008', '1:2:3:4:5:6:7:8'],
  ['00010002000300040005000600070000', '1:2:3:4:5:6:7:0'],
  ['00000002000300040005000600070008', '0:2:3:4:5:6:7:8'],
  ['00010000000300040005000600070008', '1:0:3:4:5:6:7:8'],
  ['abcd00ef000000000000000000000000', 'abcd:ef::'],
  ['fe800000000000000000000000000001', 'fe80::1'],
  ['ff020000000000000000000000000001', 'ff02::1'],
  ['ffffffffffffffffffffffffffffffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
];

test('IPv6 formats exactly as glibc inet_ntop', () => {
  for (const [bytes, text] of INET_NTOP6) {
    assert.equal(formatIP(Uint8Array.from(Buffer.from(bytes, 'hex'))), text, bytes);
  }
});

test('IPv4 formats as a dotted quad', () => {
  assert.equal(formatIP(Uint8Array.of(0, 0, 0, 0)), '0.0.0.0');
  assert.equal(formatIP(Uint8Array.of(192, 168, 1, 10)), '192.168.1.10');
  assert.equal(formatIP(Uint8Array.of(255, 255, 255, 255)), '255.255.255.255');
});

test('formatting then parsing gives the same bytes, and canonical text is a fixed point', () => {
  const rng = new Prng(0x1e7f);
  for (let i = 0; i < 20_000; i++) {
    // Zero most groups, so runs of zeros (and their ties) are common; sometimes add ffff at 5.
    const bytes = rng.bytes(16);
    for (let g = 0; g < 8; g++) if (rng.below(3) !== 0) bytes.fill(0, g * 2, g * 2 + 2);
    if (rng.below(8) === 0) bytes.fill(0, 0, 10).fill(0xff, 10, 12);
    const text = formatIP(bytes);
    assert.deepEqual(parseIPv6(text), bytes, text);
    assert.equal(formatIP(parseIPv6(text)!), text);
    assert.match(text, /^[0-9a-f:.]+$/);
    assert.ok(!/(^|:)0[0-9a-f]/.test(text), `no leading zeros: ${text}`);
    assert.ok(!text.includes(':::') && text.split('::').length <= 2, text);
  }
  for (let i = 0; i < 2_000; i++) {
    const bytes = rng.bytes(4);
    assert.deepEqual(parseIP(formatIP(bytes))?.bytes, bytes);
  }
});

test('formatPrefix prints address/cidr as given', () => {
  assert.equal(formatPrefix(Uint8Array.of(10, 0, 0, 0), 8), '10.0.0.0/8');
  assert.equal(formatPrefix(Uint8Array.of(10, 0, 0, 1), 8), '10.0.0.1/8');
  assert.equal(formatPrefix(new Uint8Array(16), 0), '::/0');
  assert.equal(
    formatPrefix(Uint8Array.from(Buffer.from('00000000000000000000ffff01020304', 'hex')), 128),
    '::ffff:1.2.3.4/128',
  );
  assert.throws(() => formatPrefix(Uint8Array.of(10, 0, 0, 0), 33), RangeError);
  assert.throws(() => formatPrefix(new Uint8Array(16), 129), RangeError);
  assert.throws(() => formatPrefix(new Uint8Array(16), -1), RangeError);
  assert.throws(() => formatPrefix(new Uint8Array(3), 0), RangeError);
  assert.throws(() => formatIP(new Uint8Array(0)), RangeError);
  assert.throws(() => formatIP(new Uint8Array(6)), RangeError);
});
