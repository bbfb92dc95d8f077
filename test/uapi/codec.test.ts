/**
 * The UAPI codec: formatGet byte for byte (wireguard-go's IpcGetOperation order and omissions),
 * parseGet as its inverse and as tolerant as wg(8), formatSet/parseSet round trips, every bad set
 * body of TEST-PLAN.md with its errno, and the value syntaxes (Go's netip forms).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatGet, formatSet, parseGet, parseSet, setBodyLines } from '../../src/uapi/codec.js';
import { EINVAL, EPROTO, UapiError } from '../../src/uapi/errno.js';
import {
  formatAddress,
  formatEndpoint,
  parseAllowedIP,
  parseDecimal,
  parseEndpoint,
} from '../../src/uapi/values.js';
import type { DeviceSet, DeviceSnapshot, IpPrefix } from '../../src/uapi/types.js';
import { parseIP } from '../../src/routing/ip.js';
import { clampPrivateKey } from '../../src/crypto/x25519.js';
import { SET_CASES } from './cases.js';
import { hex, key } from './helpers.js';

function prefix(text: string): IpPrefix {
  const p = parseAllowedIP(text);
  assert.ok(p, text);
  return p;
}

function addr(text: string): Uint8Array {
  const a = parseIP(text);
  assert.ok(a, text);
  return a.bytes;
}

const FULL: DeviceSnapshot = {
  privateKey: key(0xa8),
  listenPort: 51820,
  fwmark: 0x1234,
  peers: [
    {
      publicKey: key(0x01),
      presharedKey: key(0x02, 0x22),
      endpoint: { address: addr('192.0.2.1'), port: 51820 },
      lastHandshake: { sec: 1700000000, nsec: 123456789 },
      txBytes: 148,
      rxBytes: 2 ** 40,
      persistentKeepalive: 25,
      allowedIPs: [prefix('10.0.0.0/24'), prefix('fd00::/64'), prefix('::ffff:1.2.3.4/128')],
    },
    {
      publicKey: key(0x03),
      presharedKey: null,
      endpoint: { address: addr('2001:db8::1'), port: 4500 },
      lastHandshake: null,
      txBytes: 0,
      rxBytes: 0,
      persistentKeepalive: 0,
      allowedIPs: [],
    },
    {
      publicKey: key(0x04),
      presharedKey: null,
      endpoint: null,
      lastHandshake: null,
      txBytes: 0,
      rxBytes: 0,
      persistentKeepalive: 0,
      allowedIPs: [prefix('0.0.0.0/0')],
    },
  ],
};

test('formatGet prints exactly what wireguard-go prints, in its order', () => {
  const zeros = '0'.repeat(64);
  const expected = [
    `private_key=${hex(key(0xa8))}`,
    'listen_port=51820',
    'fwmark=4660',
    `public_key=${hex(key(0x01))}`,
    `preshared_key=${hex(key(0x02, 0x22))}`,
    'protocol_version=1',
    'endpoint=192.0.2.1:51820',
    'last_handshake_time_sec=1700000000',
    'last_handshake_time_nsec=123456789',
    'tx_bytes=148',
    'rx_bytes=1099511627776',
    'persistent_keepalive_interval=25',
    'allowed_ip=10.0.0.0/24',
    'allowed_ip=fd00::/64',
    'allowed_ip=::ffff:1.2.3.4/128',
    `public_key=${hex(key(0x03))}`,
    `preshared_key=${zeros}`,
    'protocol_version=1',
    'endpoint=[2001:db8::1]:4500',
    'last_handshake_time_sec=0',
    'last_handshake_time_nsec=0',
    'tx_bytes=0',
    'rx_bytes=0',
    'persistent_keepalive_interval=0',
    `public_key=${hex(key(0x04))}`,
    `preshared_key=${zeros}`,
    'protocol_version=1',
    'last_handshake_time_sec=0',
    'last_handshake_time_nsec=0',
    'tx_bytes=0',
    'rx_bytes=0',
    'persistent_keepalive_interval=0',
    'allowed_ip=0.0.0.0/0',
    'errno=0',
    '',
    '',
  ].join('\n');
  assert.equal(formatGet(FULL), expected);
});

test('formatGet omits an unset private key, port 0 and fwmark 0', () => {
  assert.equal(formatGet({ privateKey: null, listenPort: 0, fwmark: 0, peers: [] }), 'errno=0\n\n');
  assert.equal(
    formatGet({ privateKey: new Uint8Array(32), listenPort: 0, fwmark: 0, peers: [] }),
    'errno=0\n\n',
  );
  assert.equal(
    formatGet({ privateKey: null, listenPort: 1, fwmark: 0, peers: [] }),
    'listen_port=1\nerrno=0\n\n',
  );
});

test('formatGet refuses a snapshot that cannot be printed (the server answers EIO)', () => {
  const bad = { ...FULL, listenPort: 1.5 };
  assert.throws(() => formatGet(bad), RangeError);
  const badPeer = { ...FULL, peers: [{ ...FULL.peers[0]!, txBytes: -1 }] };
  assert.throws(() => formatGet(badPeer), RangeError);
});

test('parseGet inverts formatGet', () => {
  assert.deepEqual(parseGet(formatGet(FULL)), FULL);
  const empty: DeviceSnapshot = { privateKey: null, listenPort: 0, fwmark: 0, peers: [] };
  assert.deepEqual(parseGet(formatGet(empty)), empty);
});

test('parseGet is as tolerant as wg: unknown keys, misplaced keys, extra text after the blank line', () => {
  const text =
    `private_key=${hex(key(0xa8))}\nlisten_port=1\njc=5\nfuture_key=whatever\n` +
    `public_key=${hex(key(1))}\nlisten_port=99\nprotocol_version=1\nnew_peer_thing=x\n` +
    `allowed_ip=10.1.2.3/8\nerrno=0\n\nnext reply`;
  const s = parseGet(text);
  assert.equal(s.listenPort, 1);
  assert.equal(s.peers.length, 1);
  assert.deepEqual(s.peers[0]!.allowedIPs, [prefix('10.0.0.0/8')]);
  // A peer key before any peer is ignored (wg skips it).
  assert.equal(parseGet('endpoint=1.2.3.4:5\nerrno=0\n\n').peers.length, 0);
});

test('parseGet fails like wg: EPROTO when malformed, the errno when non-zero', () => {
  const proto = (text: string): void =>
    assert.throws(
      () => parseGet(text),
      (e: unknown) => e instanceof UapiError && e.errno === EPROTO,
      JSON.stringify(text),
    );
  proto('listen_port=1\n'); // no blank line
  proto('listen_port=1\n\n'); // no errno line
  proto('listen_port\nerrno=0\n\n');
  proto('listen_port=65536\nerrno=0\n\n');
  proto('private_key=abc\nerrno=0\n\n');
  proto(`public_key=${hex(key(1))}\nendpoint=host:1\nerrno=0\n\n`);
  proto(`public_key=${hex(key(1))}\nallowed_ip=10.0.0.0/33\nerrno=0\n\n`);
  proto(`public_key=${hex(key(1))}\ntx_bytes=-1\nerrno=0\n\n`);
  proto('errno=x\n\n');
  assert.throws(
    () => parseGet('errno=-22\n\n'),
    (e: unknown) => e instanceof UapiError && e.errno === EINVAL && e.code === 'EINVAL',
  );
});

test('parseGet error messages never carry key material', () => {
  const secret = 'ab'.repeat(31) + 'zz';
  try {
    parseGet(`private_key=${secret}\nerrno=0\n\n`);
    assert.fail('should throw');
  } catch (e) {
    assert.ok(e instanceof UapiError);
    assert.ok(!e.message.includes(secret.slice(0, 20)), e.message);
  }
});

/** key(0xa8) clamped: the form parseSet gives back, as wireguard-go stores it. */
const PRIVATE = clampPrivateKey(key(0xa8));

const SETS: readonly DeviceSet[] = [
  { replacePeers: false, peers: [] },
  { privateKey: null, listenPort: 0, fwmark: 0, replacePeers: true, peers: [] },
  {
    privateKey: PRIVATE,
    listenPort: 51820,
    fwmark: 0xffffffff,
    replacePeers: true,
    peers: [
      {
        publicKey: key(1),
        remove: false,
        updateOnly: false,
        presharedKey: key(2),
        endpoint: { address: addr('2001:db8::1'), port: 0 },
        persistentKeepalive: 65535,
        allowedIPs: [
          { kind: 'add', prefix: prefix('10.0.0.0/8') },
          { kind: 'clear' },
          { kind: 'add', prefix: prefix('fd00::/8') },
          { kind: 'remove', prefix: prefix('fd00:1::/32') },
          { kind: 'clear' },
          { kind: 'add', prefix: prefix('::ffff:0.0.0.0/96') },
        ],
      },
      { publicKey: key(3), remove: false, updateOnly: true, presharedKey: null, allowedIPs: [] },
      { publicKey: key(4), remove: true, updateOnly: false, allowedIPs: [] },
      { publicKey: key(1), remove: false, updateOnly: false, persistentKeepalive: 0, allowedIPs: [] },
    ],
  },
];

test('parseSet inverts formatSet', () => {
  for (const set of SETS) {
    assert.deepEqual(parseSet(setBodyLines(formatSet(set))), set);
  }
});

test('formatSet writes what wg sends, one key=value per line', () => {
  const body = formatSet(SETS[2]!);
  assert.match(body, /^private_key=a8(11){30}51\nlisten_port=51820\nfwmark=4294967295\nreplace_peers=true\n/);
  assert.ok(body.includes('replace_allowed_ips=true\nallowed_ip=fd00::/8\nallowed_ip=-fd00:1::/32\n'));
  assert.ok(body.includes(`public_key=${hex(key(3))}\nupdate_only=true\npreshared_key=${'0'.repeat(64)}\n`));
  assert.ok(body.includes(`public_key=${hex(key(4))}\nremove=true\npublic_key=`));
  assert.ok(body.endsWith('\n') && !body.includes('\n\n'));
  assert.equal(formatSet({ replacePeers: false, peers: [] }), '');
});

test('formatSet drops the other fields of a peer being removed (wireguard-go ignores them)', () => {
  const set: DeviceSet = {
    replacePeers: false,
    peers: [
      {
        publicKey: key(1),
        remove: true,
        updateOnly: true,
        persistentKeepalive: 5,
        allowedIPs: [{ kind: 'clear' }],
      },
    ],
  };
  assert.equal(formatSet(set), `public_key=${hex(key(1))}\nremove=true\n`);
});

test('parseSet: every line type, in order', () => {
  const set = parseSet([
    `private_key=${'0'.repeat(64)}`,
    'listen_port=0051821',
    'fwmark=0',
    'replace_peers=true',
    `public_key=${hex(key(1))}`,
    'protocol_version=1',
    `preshared_key=${'0'.repeat(64)}`,
    'endpoint=[::ffff:1.2.3.4]:0080',
    'persistent_keepalive_interval=025',
    'allowed_ip=10.1.2.3/8',
    'replace_allowed_ips=true',
    'allowed_ip=-fd00::1/64',
    'update_only=true',
    'remove=true',
    `public_key=${hex(key(2))}`,
    'endpoint=192.0.2.1:1',
    'endpoint=192.0.2.2:2',
  ]);
  assert.deepEqual(set, {
    privateKey: null,
    listenPort: 51821,
    fwmark: 0,
    replacePeers: true,
    peers: [
      {
        publicKey: key(1),
        remove: true,
        updateOnly: true,
        presharedKey: null,
        endpoint: { address: addr('::ffff:1.2.3.4'), port: 80 },
        persistentKeepalive: 25,
        allowedIPs: [
          { kind: 'add', prefix: prefix('10.0.0.0/8') },
          { kind: 'clear' },
          { kind: 'remove', prefix: prefix('fd00::/64') },
        ],
      },
      {
        publicKey: key(2),
        remove: false,
        updateOnly: false,
        endpoint: { address: addr('192.0.2.2'), port: 2 },
        allowedIPs: [],
      },
    ],
  });
});

for (const c of SET_CASES) {
  test(`parseSet ${c.errno === 0 ? 'accepts' : `errno ${c.errno} for`}: ${c.name}`, () => {
    if (c.errno === 0) {
      assert.doesNotThrow(() => parseSet(c.lines));
      return;
    }
    assert.throws(
      () => parseSet(c.lines),
      (e: unknown) => e instanceof UapiError && e.errno === c.errno,
    );
  });
}

test('parseSet clamps a private key, as wireguard-go and the kernel do', () => {
  assert.deepEqual(
    parseSet([`private_key=${'ff'.repeat(32)}`]).privateKey,
    Uint8Array.from([0xf8, ...new Array<number>(30).fill(0xff), 0x7f]),
  );
  assert.deepEqual(parseSet([`private_key=${hex(key(0xa8))}`]).privateKey, PRIVATE);
});

test('parseSet messages name the line and never the key material', () => {
  const secret = 'c'.repeat(63) + 'G';
  try {
    parseSet(['listen_port=1', `private_key=${secret}`]);
    assert.fail('should throw');
  } catch (e) {
    assert.ok(e instanceof UapiError);
    assert.match(e.message, /^set line 2: /);
    assert.ok(!e.message.includes('cccccccc'), e.message);
  }
});

test('values: Go netip forms', () => {
  // Only IPv4-mapped addresses get a dotted tail in Go; glibc also dots the compatible form.
  assert.equal(formatAddress(addr('::1.2.3.4')), '::102:304');
  assert.equal(formatAddress(addr('::1.2.0.0')), '::102:0');
  assert.equal(formatAddress(addr('::ffff:1.2.3.4')), '::ffff:1.2.3.4');
  assert.equal(formatAddress(addr('::ffff:0.0.0.0')), '::ffff:0.0.0.0');
  assert.equal(formatAddress(addr('::')), '::');
  assert.equal(formatAddress(addr('::1')), '::1');
  assert.equal(formatAddress(addr('::0.0.0.2')), '::2');
  assert.equal(formatAddress(addr('1:0:0:1:0:0:0:1')), '1:0:0:1::1');
  assert.equal(formatAddress(addr('2001:DB8::')), '2001:db8::');
  assert.equal(formatEndpoint({ address: addr('::1'), port: 0 }), '[::1]:0');
  assert.equal(formatEndpoint({ address: addr('10.0.0.1'), port: 65535 }), '10.0.0.1:65535');
  assert.deepEqual(parseEndpoint('[2001:db8::1]:51820'), { address: addr('2001:db8::1'), port: 51820 });
  assert.equal(parseEndpoint('[2001:db8::1]:51820]'), null);
  assert.equal(parseEndpoint('[[::1]]:1'), null);
  assert.equal(parseDecimal('4294967295', 0xffffffff), 4294967295);
  assert.equal(parseDecimal('4294967296', 0xffffffff), null);
  assert.equal(parseDecimal('0000000000000000000000000001', 1), 1);
  assert.equal(parseDecimal('١', 9), null); // Arabic-Indic digit one
  assert.deepEqual(parseAllowedIP('10.1.2.3/8'), prefix('10.0.0.0/8'));
  assert.deepEqual(parseAllowedIP('ffff::1/1'), { family: 6, bytes: addr('8000::'), cidr: 1 });
});
