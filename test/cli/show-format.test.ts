/**
 * `wg show` formatting without a daemon: the pretty form's exact text (times, units, sort, hidden
 * keys, colours and their filtering), dump and field views, the get-reply reader, and JSON. The
 * oracle tests (wg-oracle.test.ts, interop.test.ts) compare the same against the real wg.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDeviceReply, type WgDevice, type WgPeer } from '../../src/cli/device.js';
import { deviceJson, stringifyJson } from '../../src/cli/json.js';
import { dumpPrint, fieldPrint, formatBytes, prettyPrint, sortPeers } from '../../src/cli/show-format.js';
import { filterAnsi } from '../../src/cli/terminal.js';
import { key } from './helpers.js';

const PRIV = 'GNGoRiCtuH8K8TJr9R5XEbiZgLQiXDqhXXM6Kc4M71Y=';
const PUB = '6XiW2ql7ytU0Kbb+puYN6/d1tSdH6tFoZBJM1XvBN08='; // PRIV's public key
const P1 = 'tBPBrV17YJcS3XQhD9rF1+E+UivPPMtZYjR5wwQzPhI=';
const P2 = '1Af15LjAcJ0JtemuAaumvuT2q7/guH9GlFTcKJFHbfs=';
const hexOf = (b64: string): string => Buffer.from(b64, 'base64').toString('hex');

const REPLY =
  `private_key=${hexOf(PRIV)}\nlisten_port=51820\nfwmark=3054\n` +
  `public_key=${hexOf(P1)}\npreshared_key=${'0'.repeat(64)}\nprotocol_version=1\n` +
  'last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n' +
  'persistent_keepalive_interval=0\n' +
  `public_key=${hexOf(P2)}\npreshared_key=${hexOf(P1)}\nprotocol_version=1\nendpoint=[fe80::1%eth0]:51820\n` +
  'last_handshake_time_sec=1000\nlast_handshake_time_nsec=5\ntx_bytes=18446744073709551615\nrx_bytes=1152\n' +
  'persistent_keepalive_interval=3661\nallowed_ip=10.0.0.0/8\nallowed_ip=::ffff:1.2.3.4/128\nunknown_key=x\nerrno=0\n\n';

const dev = (): WgDevice => parseDeviceReply('wg0', REPLY);

test('the get reply is read as wg reads it: derived public key, exact u64, scope, unknown keys', () => {
  const d = dev();
  assert.equal(Buffer.from(d.publicKey!).toString('base64'), PUB);
  assert.equal(d.fwmark, 3054);
  assert.equal(d.peers.length, 2);
  assert.equal(d.peers[0]!.presharedKey, null);
  assert.equal(d.peers[1]!.txBytes, 18446744073709551615n);
  assert.equal(d.peers[1]!.endpoint?.scope, 'eth0');
  assert.throws(() => parseDeviceReply('wg0', 'listen_port=x\nerrno=0\n\n'), /malformed/);
  assert.throws(() => parseDeviceReply('wg0', 'listen_port=1\n'), /malformed/);
  assert.throws(
    () => parseDeviceReply('wg0', 'errno=19\n\n'),
    (e: unknown) => (e as { errno: number }).errno === 19,
  );
  assert.equal(parseDeviceReply('a-very-long-interface-name', 'errno=0\n\n').name, 'a-very-long-int');
});

test('pretty print: exact text without colours', () => {
  const text = prettyPrint(dev(), { color: false, hideKeys: true, now: () => 1000n + 3n * 86400n + 61n });
  assert.equal(
    text,
    'interface: wg0\n' +
      `  public key: ${PUB}\n` +
      '  private key: (hidden)\n' +
      '  listening port: 51820\n' +
      '  fwmark: 0xbee\n' +
      '\n' +
      `peer: ${P2}\n` +
      '  preshared key: (hidden)\n' +
      '  endpoint: [fe80::1%eth0]:51820\n' +
      '  allowed ips: 10.0.0.0/8, ::ffff:1.2.3.4/128\n' +
      '  latest handshake: 3 days, 1 minute, 1 second ago\n' +
      '  transfer: 1.12 KiB received, 16777216.00 TiB sent\n' +
      '  persistent keepalive: every 1 hour, 1 minute, 1 second\n' +
      '\n' +
      `peer: ${P1}\n` +
      '  allowed ips: (none)\n',
  );
});

test('pretty print: colours, shown keys, Now, and a clock wound backward', () => {
  const d = dev();
  const colored = prettyPrint(d, { color: true, hideKeys: false, now: () => 1000n });
  assert.ok(colored.startsWith(`\x1b[0m\x1b[32m\x1b[1minterface\x1b[0m: \x1b[32mwg0\x1b[0m\n`));
  assert.ok(colored.includes(`  \x1b[1mprivate key\x1b[0m: ${PRIV}\n`));
  assert.ok(colored.includes('  \x1b[1mlatest handshake\x1b[0m: Now\n'));
  assert.ok(colored.includes('10.0.0.0\x1b[36m/\x1b[0m8, '));
  assert.ok(colored.includes('1.12 \x1b[36mKiB\x1b[0m received'));
  assert.equal(filterAnsi(colored), prettyPrint(d, { color: false, hideKeys: false, now: () => 1000n }));
  const back = prettyPrint(d, { color: false, hideKeys: true, now: () => 999n });
  assert.ok(
    back.includes('latest handshake: (System clock wound backward; connection problems may ensue.)\n'),
  );
  const years = prettyPrint(d, {
    color: false,
    hideKeys: true,
    now: () => 1000n + 2n * 365n * 86400n + 3600n,
  });
  assert.ok(years.includes('latest handshake: 2 years, 1 hour ago\n'), years);
});

test('filterAnsi drops ESC [ … letter, but not one starting in the last two characters', () => {
  assert.equal(filterAnsi('a\x1b[1;32mb\x1b[0m'), 'ab');
  assert.equal(filterAnsi('x\x1b['), 'x\x1b[');
  assert.equal(filterAnsi('\x1b[12'), '');
  assert.equal(filterAnsi('\x1b[1'), '');
  assert.equal(filterAnsi('ab\x1b['), 'ab\x1b[');
});

test('bytes: B below 1 KiB, two glibc-rounded decimals above', () => {
  const cases: [bigint, string][] = [
    [0n, '0 B'],
    [1023n, '1023 B'],
    [1024n, '1.00 KiB'],
    [1152n, '1.12 KiB'],
    [1408n, '1.38 KiB'],
    [1048575n, '1024.00 KiB'],
    [1048576n, '1.00 MiB'],
    [3n * 1024n ** 3n, '3.00 GiB'],
    [1024n ** 4n, '1.00 TiB'],
  ];
  for (const [b, want] of cases) assert.equal(filterAnsi(formatBytes(b)), want, String(b));
});

test('peers sort by latest handshake (nsec breaks ties), never-handshaken last, stable otherwise', () => {
  const p = (name: string, sec: bigint, nsec = 0n): WgPeer => ({
    publicKey: key(name),
    presharedKey: null,
    endpoint: null,
    persistentKeepalive: 0,
    allowedIPs: [],
    lastHandshakeSec: sec,
    lastHandshakeNsec: nsec,
    rxBytes: 0n,
    txBytes: 0n,
  });
  const order = sortPeers([
    p('AA==', 0n),
    p('AQ==', 5n, 1n),
    p('Ag==', 0n),
    p('Aw==', 5n, 9n),
    p('BA==', 7n),
  ]);
  assert.deepEqual(
    order.map((x) => Buffer.from(x.publicKey).toString('base64')),
    ['BA==', 'Aw==', 'AQ==', 'AA==', 'Ag=='],
  );
});

test("dump and field views keep daemon order and wg's separators", () => {
  const d = dev();
  assert.equal(
    dumpPrint(d, true),
    `wg0\t${PRIV}\t${PUB}\t51820\t0xbee\n` +
      `wg0\t${P1}\t(none)\t(none)\t(none)\t0\t0\t0\toff\n` +
      `wg0\t${P2}\t${P1}\t[fe80::1%eth0]:51820\t10.0.0.0/8,::ffff:1.2.3.4/128\t1000\t1152\t18446744073709551615\t3661\n`,
  );
  assert.equal(fieldPrint(d, 'allowed-ips', false), `${P1}\t(none)\n${P2}\t10.0.0.0/8 ::ffff:1.2.3.4/128\n`);
  assert.equal(fieldPrint(d, 'endpoints', true), `wg0\t${P1}\t(none)\n${P2}\t[fe80::1%eth0]:51820\n`);
  assert.equal(fieldPrint(d, 'transfer', true), `wg0\t${P1}\t0\t0\nwg0\t${P2}\t1152\t18446744073709551615\n`);
  assert.equal(fieldPrint(d, 'fwmark', false), '0xbee\n');
  assert.equal(fieldPrint(parseDeviceReply('x', 'errno=0\n\n'), 'public-key', false), '(none)\n');
  assert.equal(fieldPrint(parseDeviceReply('x', 'errno=0\n\n'), 'fwmark', false), 'off\n');
});

test('JSON: documented shape, exact 64-bit counters', () => {
  const text = stringifyJson(deviceJson(dev()));
  assert.match(text, /"transferTx": 18446744073709551615,/);
  const parsed = JSON.parse(text) as {
    peers: { latestHandshake: number | null; persistentKeepalive: number | null }[];
  };
  assert.deepEqual(Object.keys(parsed), ['name', 'publicKey', 'privateKey', 'listenPort', 'fwmark', 'peers']);
  assert.equal(parsed.peers[0]!.latestHandshake, null);
  assert.equal(parsed.peers[1]!.latestHandshake, 1000);
  assert.equal(parsed.peers[0]!.persistentKeepalive, null);
  assert.equal(stringifyJson([]), '[]');
});
