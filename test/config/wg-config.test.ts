/**
 * wg(8) config files: what parses (wg's own leniencies: case, comments, whitespace anywhere, bare
 * allowed IPs, repeated AllowedIPs, several [Interface] sections), every TEST-PLAN "Config files"
 * rejection with its FILE:LINE and code, showconf's serializer, and the DeviceSet each of setconf,
 * addconf and syncconf sends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keyToBase64, PrivateKey } from '../../src/crypto/keys.js';
import {
  ConfigError,
  configToDeviceSet,
  parseWgConfig,
  serializeWgConfig,
  syncToDeviceSet,
  type DeviceConfigState,
  type WgConfig,
} from '../../src/config/wg-config.js';
import { formatSet } from '../../src/uapi/codec.js';

const PRIV = 'GNGoRiCtuH8K8TJr9R5XEbiZgLQiXDqhXXM6Kc4M71Y=';
const PUB1 = 'tBPBrV17YJcS3XQhD9rF1+E+UivPPMtZYjR5wwQzPhI=';
const PUB2 = '6XiW2ql7ytU0Kbb+puYN6/d1tSdH6tFoZBJM1XvBN08=';
const PSK = '1Af15LjAcJ0JtemuAaumvuT2q7/guH9GlFTcKJFHbfs=';
const ZERO = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

const b64 = (k: Uint8Array | null | undefined): string | null | undefined =>
  k === undefined ? undefined : k === null ? null : keyToBase64(k);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function rejects(text: string, line: number, code: string, pattern: RegExp): ConfigError {
  let caught: unknown = null;
  try {
    parseWgConfig(text, 'wg0.conf');
  } catch (err) {
    caught = err;
  }
  assert.ok(
    caught instanceof ConfigError,
    `expected a ConfigError for ${JSON.stringify(text)}, got ${String(caught)}`,
  );
  assert.equal(caught.file, 'wg0.conf');
  assert.equal(caught.line, line, caught.message);
  assert.equal(caught.code, code, caught.message);
  assert.ok(caught.message.startsWith(`wg0.conf:${line}: `), caught.message);
  assert.match(caught.message, pattern);
  return caught;
}

test('a full config parses with wg leniencies: case, comments, inner whitespace, bare IPs', () => {
  const c = parseWgConfig(
    [
      '# leading comment',
      '[interface]',
      `Private Key = ${PRIV}  # trailing comment`,
      'LISTENPORT = 51820',
      'fwmark = 0x10',
      '',
      '[ Peer ]',
      `publickey=${PUB1}`,
      `PresharedKey = ${PSK}`,
      'AllowedIPs = 10.0.0.1, fd00::/64',
      'allowedips = 192.168.0.0/16',
      'Endpoint = 192.0.2.1:51820',
      'PersistentKeepalive = off',
      '[Peer]',
      `PublicKey = ${PUB2}`,
      `PresharedKey = ${ZERO}`,
      'Endpoint = [2001:db8::1]:1234',
      'PersistentKeepalive = 25',
    ].join('\n'),
    'wg0.conf',
  );
  assert.equal(b64(c.privateKey), PRIV);
  assert.equal(c.listenPort, 51820);
  assert.equal(c.fwmark, 16);
  assert.equal(c.peers.length, 2);
  const [p1, p2] = c.peers;
  assert.equal(b64(p1!.publicKey), PUB1);
  assert.equal(p1!.line, 7);
  assert.equal(b64(p1!.presharedKey), PSK);
  assert.deepEqual(
    p1!.allowedIPs.map((p) => `${hex(p.bytes)}/${p.cidr}`),
    ['0a000001/32', 'fd000000000000000000000000000000/64', 'c0a80000/16'],
  );
  assert.equal(p1!.endpoint?.host, '192.0.2.1');
  assert.equal(p1!.endpoint?.port, 51820);
  assert.equal(p1!.endpoint?.line, 12);
  assert.equal(p1!.persistentKeepalive, 0);
  assert.equal(p2!.presharedKey, null, 'an all-zero psk means "remove it"');
  assert.equal(p2!.endpoint?.host, '2001:db8::1');
  assert.equal(p2!.persistentKeepalive, 25);
  assert.deepEqual(p2!.allowedIPs, []);
  assert.deepEqual(c.warnings, []);
});

test("host bits: masked, with wg's warning carrying FILE:LINE", () => {
  const c = parseWgConfig(`[Peer]\nPublicKey = ${PUB1}\nAllowedIPs = 10.1.2.3/8\n`, 'x.conf');
  assert.equal(hex(c.peers[0]!.allowedIPs[0]!.bytes), '0a000000');
  assert.deepEqual(c.warnings, ['x.conf:3: Warning: AllowedIP has nonzero host part: 10.1.2.3/8']);
});

test('hostnames are kept for resolution; an empty file and comments-only files are empty configs', () => {
  const c = parseWgConfig(`[Peer]\nPublicKey = ${PUB1}\nEndpoint = vpn.example.com:51820\n`, 'f');
  assert.equal(c.peers[0]!.endpoint?.address, null);
  assert.equal(c.peers[0]!.endpoint?.host, 'vpn.example.com');
  assert.deepEqual(parseWgConfig('', 'f').peers, []);
  assert.deepEqual(parseWgConfig('# nothing\n\n   \n', 'f').peers, []);
  assert.equal(parseWgConfig('[Interface]\n[Interface]\nListenPort=1\n', 'f').listenPort, 1);
});

test('ignoreInterfaceKeys lets wg-quick skip its own keys', () => {
  const text = `[Interface]\nAddress = 10.0.0.1/24\nPrivateKey = ${PRIV}\n`;
  rejects(text, 2, 'EKEY', /Address' is a wg-quick\(8\) key/);
  assert.equal(b64(parseWgConfig(text, 'f', { ignoreInterfaceKeys: ['address'] }).privateKey), PRIV);
});

// TEST-PLAN "Config files": each case gives a message with file and line.
const KEY_CASES: [string, string, RegExp][] = [
  ['43 characters', PUB1.slice(1), /43 characters; a key is 44/],
  ['45 characters', `A${PUB1}`, /45 characters; a key is 44/],
  ['URL-safe base64', PUB2.replace('+', '-').replace('/', '_'), /URL-safe base64/],
  ['non-canonical last character', `${PUB1.slice(0, 42)}J=`, /not canonical/],
  ['no padding', `${PUB1.slice(0, 43)}A`, /ends with '='/],
  ['a non-base64 character', `${PUB1.slice(0, 10)}*${PUB1.slice(11)}`, /outside the base64 alphabet/],
];
for (const [name, key, why] of KEY_CASES) {
  test(`key rejected: ${name} (PublicKey echoed, PrivateKey and PresharedKey never)`, () => {
    const pub = rejects(`[Peer]\nPublicKey = ${key}\n`, 2, 'EVALUE', why);
    assert.ok(pub.message.includes(key), pub.message);
    const priv = rejects(`[Interface]\nPrivateKey = ${key}\n`, 2, 'EVALUE', why);
    assert.ok(!priv.message.includes(key), `private key echoed: ${priv.message}`);
    const psk = rejects(`[Peer]\nPublicKey = ${PUB1}\nPresharedKey = ${key}\n`, 3, 'EVALUE', why);
    assert.ok(!psk.message.includes(key), `psk echoed: ${psk.message}`);
  });
}

test('rejected: unknown section, unknown key, key in the wrong section, key before [Interface]', () => {
  rejects('[Interface]\n[Foo]\n', 2, 'ESECTION', /unknown section `\[Foo\]'/);
  rejects('[Interface]\nListenPort = 1\nFoo = 1\n', 3, 'EKEY', /unknown key `Foo' in \[Interface\]/);
  rejects(`[Peer]\nPublicKey = ${PUB1}\nBar = 2\n`, 3, 'EKEY', /unknown key `Bar' in \[Peer\]/);
  rejects(`[Interface]\nPublicKey = ${PUB1}\n`, 2, 'EKEY', /belongs in \[Peer\], not in \[Interface\]/);
  rejects(
    `[Peer]\nPublicKey = ${PUB1}\nListenPort = 1\n`,
    3,
    'EKEY',
    /belongs in \[Interface\], not in \[Peer\]/,
  );
  rejects(`# comment\n\nPrivateKey = ${PRIV}\n[Interface]\n`, 3, 'ENOSECTION', /before any \[Interface\]/);
  rejects('[Interface]\nno equals sign\n', 2, 'ESYNTAX', /Line unrecognized: `noequalssign'/);
  rejects('[Interface]\nListenPort =\n', 2, 'EVALUE', /`ListenPort' has no value/);
});

test('rejected: [Peer] without PublicKey (at its header line), duplicate peers, duplicate keys', () => {
  rejects('[Interface]\n\n[Peer]\nAllowedIPs = 10.0.0.0/8\n', 3, 'ENOPUBKEY', /\[Peer\] has no PublicKey/);
  rejects(`[Peer]\nPublicKey = ${PUB1}\n[Peer]\n`, 3, 'ENOPUBKEY', /no PublicKey/);
  rejects(
    `[Peer]\nPublicKey = ${PUB1}\n[Peer]\nPublicKey = ${PUB2}\n[Peer]\npublickey=${PUB1}\n`,
    6,
    'EDUPLICATE',
    /duplicate peer: PublicKey `tBPB.*' is also the peer at line 2/,
  );
  rejects(
    '[Interface]\nListenPort = 1\n[Interface]\nListenPort = 2\n',
    4,
    'EDUPLICATE',
    /first given at line 2/,
  );
  rejects(`[Peer]\nPublicKey = ${PUB1}\nPublicKey = ${PUB2}\n`, 3, 'EDUPLICATE', /duplicate `PublicKey'/);
});

test('rejected: CRLF line endings and a byte order mark', () => {
  rejects(`[Interface]\r\nPrivateKey = ${PRIV}\r\n`, 1, 'ECRLF', /CRLF/);
  rejects(`[Interface]\nPrivateKey = ${PRIV}\r\n`, 2, 'ECRLF', /Unix line endings/);
  rejects(`\uFEFF[Interface]\nPrivateKey = ${PRIV}\n`, 1, 'EBOM', /byte order mark/);
});

test('rejected: ports, fwmarks, keepalives, allowed IPs and endpoints out of range or malformed', () => {
  const peer = `[Peer]\nPublicKey = ${PUB1}\n`;
  rejects('[Interface]\nListenPort = 65536\n', 2, 'EVALUE', /ListenPort: .*`65536'/);
  rejects('[Interface]\nListenPort = -1\n', 2, 'EVALUE', /ListenPort/);
  rejects('[Interface]\nListenPort = ssh\n', 2, 'EVALUE', /ListenPort/);
  rejects('[Interface]\nFwMark = 4294967296\n', 2, 'EVALUE', /Fwmark is neither 0\/off nor 0-0xffffffff/);
  rejects('[Interface]\nFwMark = 0X10\n', 2, 'EVALUE', /Fwmark/);
  rejects(`${peer}PersistentKeepalive = 65536\n`, 3, 'EVALUE', /Persistent keepalive interval/);
  rejects(
    `${peer}AllowedIPs = 10.0.0.0/33\n`,
    3,
    'EVALUE',
    /AllowedIP is not in the correct format: `10.0.0.0\/33'/,
  );
  rejects(`${peer}AllowedIPs = fd00::/129\n`, 3, 'EVALUE', /AllowedIP is not in the correct format/);
  rejects(`${peer}AllowedIPs = 10.0.0.0/8,,10.1.0.0/16\n`, 3, 'EVALUE', /Unable to parse IP address: `'/);
  rejects(`${peer}AllowedIPs = 10.0.0.256/32\n`, 3, 'EVALUE', /Unable to parse IP address/);
  rejects(`${peer}AllowedIPs = +10.0.0.0/8\n`, 3, 'EVALUE', /only for `set'/);
  rejects(`${peer}Endpoint = 192.0.2.1:65536\n`, 3, 'EVALUE', /Endpoint: .*port/);
  rejects(`${peer}Endpoint = 192.0.2.1\n`, 3, 'EVALUE', /Unable to find port of endpoint/);
  rejects(`${peer}Endpoint = [2001:db8::1:51820\n`, 3, 'EVALUE', /matching brace/);
  rejects(`${peer}Endpoint = 2001:db8::1:51820\n`, 3, 'EVALUE', /must be in brackets/);
  rejects(`${peer}Endpoint = [192.0.2.1]:51820\n`, 3, 'EVALUE', /Brackets in an endpoint must hold an IPv6/);
  rejects(`${peer}Endpoint = [fe80::1%eth0]:51820\n`, 3, 'EVALUE', /scope ids/);
  rejects(`${peer}Endpoint = bad_host!:51820\n`, 3, 'EVALUE', /not an address or a hostname/);
});

test('values at the edges of their ranges are accepted', () => {
  const c = parseWgConfig(
    `[Interface]\nListenPort = 0\nFwMark = 0xffffffff\n[Peer]\nPublicKey = ${PUB1}\n` +
      'PersistentKeepalive = 65535\nAllowedIPs = 0.0.0.0/0, ::/0, 10.0.0.0/024\nEndpoint = [::ffff:192.0.2.1]:65535\n',
    'f',
  );
  assert.equal(c.listenPort, 0);
  assert.equal(c.fwmark, 0xffffffff);
  assert.equal(c.peers[0]!.persistentKeepalive, 65535);
  assert.deepEqual(
    c.peers[0]!.allowedIPs.map((p) => p.cidr),
    [0, 0, 24],
  );
  assert.equal(parseWgConfig('[Interface]\nFwMark = off\n', 'f').fwmark, 0);
  assert.equal(parseWgConfig('[Interface]\nFwMark = 4294967295\n', 'f').fwmark, 0xffffffff);
});

// -------------------------------------------------------------------------------------------
// serializeWgConfig (showconf)

const key = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

test('serializeWgConfig prints showconf byte for byte (order, omissions, hex fwmark, glibc IPv6)', () => {
  const state: DeviceConfigState = {
    privateKey: key(PRIV),
    listenPort: 51820,
    fwmark: 0xbeef,
    peers: [
      {
        publicKey: key(PUB1),
        presharedKey: key(PSK),
        endpoint: { address: new Uint8Array([192, 0, 2, 1]), port: 51820 },
        persistentKeepalive: 25,
        allowedIPs: [
          { family: 4, bytes: new Uint8Array([10, 0, 0, 0]), cidr: 8 },
          { family: 6, bytes: new Uint8Array([...new Uint8Array(10), 0xff, 0xff, 1, 2, 3, 4]), cidr: 128 },
        ],
      },
      { publicKey: key(PUB2), presharedKey: null, endpoint: null, persistentKeepalive: 0, allowedIPs: [] },
    ],
  };
  assert.equal(
    serializeWgConfig(state),
    `[Interface]\nListenPort = 51820\nFwMark = 0xbeef\nPrivateKey = ${PRIV}\n\n` +
      `[Peer]\nPublicKey = ${PUB1}\nPresharedKey = ${PSK}\nAllowedIPs = 10.0.0.0/8, ::ffff:1.2.3.4/128\n` +
      `Endpoint = 192.0.2.1:51820\nPersistentKeepalive = 25\n\n[Peer]\nPublicKey = ${PUB2}\n`,
  );
  assert.equal(
    serializeWgConfig({ privateKey: null, listenPort: 0, fwmark: 0, peers: [] }),
    '[Interface]\n\n',
  );
});

test('showconf output parses back to the same configuration', () => {
  const text = `[Interface]\nListenPort = 1\nPrivateKey = ${PRIV}\n\n[Peer]\nPublicKey = ${PUB1}\nAllowedIPs = 10.0.0.0/8, fd00::/8\nEndpoint = [fd00::1]:2\nPersistentKeepalive = 3\n`;
  const c = parseWgConfig(text, 'f');
  const state: DeviceConfigState = {
    privateKey: c.privateKey ?? null,
    listenPort: c.listenPort ?? 0,
    fwmark: c.fwmark ?? 0,
    peers: c.peers.map((p) => ({
      publicKey: p.publicKey,
      presharedKey: p.presharedKey ?? null,
      endpoint: p.endpoint?.address ? { address: p.endpoint.address, port: p.endpoint.port } : null,
      persistentKeepalive: p.persistentKeepalive ?? 0,
      allowedIPs: p.allowedIPs,
    })),
  };
  assert.equal(serializeWgConfig(state), text);
});

// -------------------------------------------------------------------------------------------
// DeviceSets for setconf / addconf / syncconf

const sample = (): WgConfig =>
  parseWgConfig(
    `[Interface]\nPrivateKey = ${PRIV}\n[Peer]\nPublicKey = ${PUB1}\nAllowedIPs = 10.0.0.0/8\nEndpoint = 192.0.2.1:1\n`,
    'f',
  );

test('setconf sends what wg sends: key, port 0, fwmark 0, replace_peers, replace_allowed_ips', () => {
  const hexPriv = Buffer.from(PRIV, 'base64').toString('hex');
  const hexPub = Buffer.from(PUB1, 'base64').toString('hex');
  assert.equal(
    formatSet(configToDeviceSet(sample(), 'set')),
    `private_key=${hexPriv}\nlisten_port=0\nfwmark=0\nreplace_peers=true\npublic_key=${hexPub}\n` +
      'endpoint=192.0.2.1:1\nreplace_allowed_ips=true\nallowed_ip=10.0.0.0/8\n',
  );
  assert.equal(
    formatSet(configToDeviceSet(parseWgConfig('', 'f'), 'set')),
    `private_key=${'0'.repeat(64)}\nlisten_port=0\nfwmark=0\nreplace_peers=true\n`,
  );
});

test('addconf sends only what the file gives', () => {
  const hexPub = Buffer.from(PUB1, 'base64').toString('hex');
  const c = parseWgConfig(`[Peer]\nPublicKey = ${PUB1}\nPersistentKeepalive = 5\n`, 'f');
  assert.equal(
    formatSet(configToDeviceSet(c, 'add')),
    `public_key=${hexPub}\npersistent_keepalive_interval=5\nreplace_allowed_ips=true\n`,
  );
  assert.throws(
    () =>
      configToDeviceSet(parseWgConfig(`[Peer]\nPublicKey = ${PUB1}\nEndpoint = h.example:1\n`, 'f'), 'add'),
    TypeError,
  );
});

test('syncconf: identical state sends nothing; differences only; removals; psk/keepalive reset', () => {
  const c = sample();
  const same: DeviceConfigState = {
    // the daemon reports the clamped key; an identical key must count as unchanged
    privateKey: new PrivateKey(c.privateKey!).clamped().bytes,
    listenPort: 43210,
    fwmark: 0,
    peers: [
      {
        publicKey: key(PUB1),
        presharedKey: null,
        endpoint: { address: new Uint8Array([192, 0, 2, 1]), port: 1 },
        persistentKeepalive: 0,
        allowedIPs: [{ family: 4, bytes: new Uint8Array([10, 0, 0, 0]), cidr: 8 }],
      },
    ],
  };
  assert.equal(formatSet(syncToDeviceSet(c, same)), '', 'no ListenPort in the file: the current port stays');
  const hexPub1 = Buffer.from(PUB1, 'base64').toString('hex');
  const hexPub2 = Buffer.from(PUB2, 'base64').toString('hex');
  const drifted: DeviceConfigState = {
    ...same,
    fwmark: 7,
    peers: [
      { ...same.peers[0]!, presharedKey: key(PSK), persistentKeepalive: 9, allowedIPs: [] },
      { publicKey: key(PUB2), presharedKey: null, endpoint: null, persistentKeepalive: 0, allowedIPs: [] },
    ],
  };
  assert.equal(
    formatSet(syncToDeviceSet(c, drifted)),
    `fwmark=0\npublic_key=${hexPub2}\nremove=true\npublic_key=${hexPub1}\nupdate_only=true\n` +
      `preshared_key=${'0'.repeat(64)}\npersistent_keepalive_interval=0\nreplace_allowed_ips=true\nallowed_ip=10.0.0.0/8\n`,
  );
  const otherKey = { ...same, privateKey: key(PSK) };
  assert.match(formatSet(syncToDeviceSet(c, otherKey)), /^private_key=/);
  const noKey = parseWgConfig(
    `[Peer]\nPublicKey = ${PUB1}\nAllowedIPs = 10.0.0.0/8\nEndpoint = 192.0.2.1:1\n`,
    'f',
  );
  assert.equal(
    formatSet(syncToDeviceSet(noKey, same)),
    `private_key=${'0'.repeat(64)}\n`,
    'no PrivateKey: removed',
  );
});
