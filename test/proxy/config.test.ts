/**
 * wireproxy's configuration dialect (src/proxy/config.ts): its README's sample file and its
 * WGConfig form parse into the structure the device glue needs (and back into wg-quick text), our
 * UDP sections and IPv6 addresses parse, `$NAME` reads the environment, and every malformed input
 * is a ProxyConfigError naming FILE:LINE and what to do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadProxyConfig, parseProxyConfig } from '../../src/proxy/config.js';
import { ProxyConfigError } from '../../src/proxy/config-error.js';
import { wgQuickText } from '../../src/proxy/wg-quick-text.js';
import { parseWgConfig } from '../../src/config/wg-config.js';
import { PRIVATE_KEY, PUBLIC_KEY, WG_PART } from './helpers.js';

const FIXTURES = fileURLToPath(new URL('../../../test/proxy/fixtures/', import.meta.url));

test("wireproxy's sample configuration", () => {
  const c = loadProxyConfig(`${FIXTURES}wireproxy-sample.conf`, { env: {} });
  assert.deepEqual(c.interface, {
    privateKey: 'uCTIK+56CPyCvwJxmU5dBfuyJvPuSXAq1FzHdnIxe1Q=',
    addresses: ['10.200.200.2/32'],
    dns: ['10.200.200.1'],
    mtu: 1420,
    listenPort: null,
    checkAlive: [],
    checkAliveInterval: 5,
  });
  assert.deepEqual(c.peers, [
    {
      publicKey: 'QP+A67Z2UBrMgvNIdHv8gPel5URWNLS4B3ZQ2hQIZlg=',
      presharedKey: null,
      endpoint: 'my.ddns.example.com:51820',
      persistentKeepalive: 0,
      allowedIPs: ['0.0.0.0/0', '::/0'],
    },
  ]);
  assert.deepEqual(
    c.routines.map((r) => [r.kind, r.line]),
    [
      ['tcp-client', 17],
      ['tcp-server', 22],
      ['stdio', 27],
      ['socks5', 30],
      ['http', 35],
    ],
  );
  assert.deepEqual(c.routines[0], {
    kind: 'tcp-client',
    line: 17,
    bind: { host: '127.0.0.1', port: 25565 },
    target: { host: 'play.cubecraft.net', port: 25565 },
  });
  assert.deepEqual(c.routines[1], {
    kind: 'tcp-server',
    line: 22,
    listenPort: 3422,
    target: { host: 'localhost', port: 25545 },
  });
  assert.deepEqual(c.routines[3], {
    kind: 'socks5',
    line: 30,
    bind: { host: '127.0.0.1', port: 25344 },
    username: '',
    password: '',
  });
  assert.deepEqual(c.warnings, []);
});

test('WGConfig takes [Interface] and [Peer] from a wg-quick file; $NAME reads the environment', () => {
  const env = { WG_QUICK_FILE: `${FIXTURES}wg0.conf`, PROXY_USER: 'carol', PROXY_PASSWORD: 'pa ss' };
  const c = loadProxyConfig(`${FIXTURES}wireproxy-wgconfig.conf`, { env });
  assert.equal(c.wgFile, `${FIXTURES}wg0.conf`);
  assert.deepEqual(c.interface.addresses, ['10.200.200.2/32', 'fd00:200::2/128', '10.200.201.2/32']);
  assert.deepEqual(c.interface.dns, ['10.200.200.1', 'fd00:200::1']);
  assert.equal(c.interface.mtu, 1380);
  assert.equal(c.interface.listenPort, 51821);
  assert.deepEqual(c.interface.checkAlive, ['10.200.200.1', 'fd00:200::1']);
  assert.equal(c.interface.checkAliveInterval, 10);
  assert.equal(c.peers.length, 2);
  assert.deepEqual(c.peers[0]!.allowedIPs, ['10.200.200.0/24', 'fd00:200::/64']);
  assert.equal(c.peers[0]!.endpoint, '[2001:db8::1]:51820');
  assert.equal(c.peers[0]!.presharedKey, 'UItQuvLsyh50ucXHfjF0bbR4IIpVBd74lwKc8uIPXXs=');
  assert.deepEqual(c.routines, [
    { kind: 'socks5', line: 4, bind: { host: '::1', port: 25344 }, username: 'carol', password: 'pa ss' },
  ]);
  assert.equal(
    wgQuickText(c),
    `[Interface]
PrivateKey = uCTIK+56CPyCvwJxmU5dBfuyJvPuSXAq1FzHdnIxe1Q=
Address = 10.200.200.2/32, fd00:200::2/128, 10.200.201.2/32
DNS = 10.200.200.1, fd00:200::1
MTU = 1380
ListenPort = 51821

[Peer]
PublicKey = QP+A67Z2UBrMgvNIdHv8gPel5URWNLS4B3ZQ2hQIZlg=
PresharedKey = UItQuvLsyh50ucXHfjF0bbR4IIpVBd74lwKc8uIPXXs=
Endpoint = [2001:db8::1]:51820
AllowedIPs = 10.200.200.0/24, fd00:200::/64
PersistentKeepalive = 25

[Peer]
PublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
AllowedIPs = 192.168.77.0/24
`,
  );
  // The project's own wg(8) reader accepts the text, wg-quick keys aside, and sees both peers.
  const parsed = parseWgConfig(wgQuickText(c), 'generated', {
    ignoreInterfaceKeys: ['Address', 'DNS', 'MTU'],
    kind: 'wg-quick',
  });
  assert.equal(parsed.peers.length, 2);
  assert.equal(parsed.listenPort, 51821);
  assert.equal(parsed.peers[0]!.persistentKeepalive, 25);
});

test('our UDP sections, [http] with TLS, section and key names in any case, $$ escapes', () => {
  const c = parseProxyConfig(
    `${WG_PART}
[udpclienttunnel]
bindaddress = [::1]:5353
TARGET = 10.0.0.53:53
InactivityTimeout = 30

[UDPServerTunnel]
ListenPort = 5300
Target = [fd00::53]:53

[HTTP]
BindAddress = :8443
Username = $$literal
Password = x
CertFile = /etc/cert.pem
KeyFile = /etc/key.pem
`,
    'u.conf',
    { env: {} },
  );
  assert.deepEqual(c.routines, [
    {
      kind: 'udp-client',
      line: 11,
      bind: { host: '::1', port: 5353 },
      target: { host: '10.0.0.53', port: 53 },
      inactivityTimeout: 30,
    },
    {
      kind: 'udp-server',
      line: 16,
      listenPort: 5300,
      target: { host: 'fd00::53', port: 53 },
      inactivityTimeout: 120,
    },
    {
      kind: 'http',
      line: 20,
      bind: { host: '', port: 8443 },
      username: '$literal',
      password: 'x',
      certFile: '/etc/cert.pem',
      keyFile: '/etc/key.pem',
    },
  ]);
});

test('unknown keys and sections are warnings with FILE:LINE; wg-quick-only keys are silent', () => {
  const c = parseProxyConfig(
    `${WG_PART.replace('DNS', 'Table = off\nFlavour = x\nDNS')}\n[Frobnicator]\nA = b\n`,
    'w.conf',
    { env: {} },
  );
  assert.deepEqual(c.warnings, [
    'w.conf:5: unknown key Flavour in [Interface] ignored',
    'w.conf:13: unknown section [Frobnicator] ignored',
  ]);
});

/** Each broken file, the line the error must name, and a piece of its message. */
const BROKEN: readonly [string, string, number, RegExp][] = [
  ['section header', `${WG_PART}[Socks5\n`, 10, /malformed section header/],
  ['line without =', `${WG_PART}[Socks5]\nBindAddress\n`, 11, /expected "Key = Value"/],
  ['no [Interface]', `[Peer]\nPublicKey = ${PUBLIC_KEY}\n`, 0, /exactly one \[Interface\]/],
  [
    'two [Interface]',
    `${WG_PART}[Interface]\nPrivateKey = ${PRIVATE_KEY}\n`,
    10,
    /exactly one \[Interface\]/,
  ],
  ['no [Peer]', `[Interface]\nPrivateKey = ${PRIVATE_KEY}\n`, 0, /at least one \[Peer\]/],
  [
    'no PrivateKey',
    `[Interface]\nAddress = 10.0.0.2\n[Peer]\nPublicKey = ${PUBLIC_KEY}\n`,
    1,
    /needs PrivateKey/,
  ],
  ['short key', WG_PART.replace(PUBLIC_KEY, 'AAAA'), 7, /not a 32-byte base64 key/],
  ['bad Address', WG_PART.replace('10.200.200.2/32', '10.200.200.300/32'), 3, /not an address or prefix/],
  ['bad prefix length', WG_PART.replace('10.200.200.2/32', '10.200.200.2/33'), 3, /not an address or prefix/],
  ['bad DNS', WG_PART.replace('DNS = 10.200.200.1', 'DNS = dns.example'), 4, /not an IP address/],
  ['bad MTU', WG_PART.replace('DNS', 'MTU = big\nDNS'), 4, /MTU = "big" is not a whole number/],
  [
    'interval without CheckAlive',
    WG_PART.replace('DNS', 'CheckAliveInterval = 3\nDNS'),
    4,
    /only valid when CheckAlive is set/,
  ],
  [
    'duplicate key',
    WG_PART.replace('DNS', `PrivateKey = ${PRIVATE_KEY}\nDNS`),
    4,
    /PrivateKey given twice .*first on line 2/,
  ],
  [
    'unset variable',
    WG_PART.replace(PRIVATE_KEY, '$NO_SUCH_VARIABLE'),
    2,
    /unset environment variable \$NO_SUCH_VARIABLE/,
  ],
  ['bad Endpoint', WG_PART.replace('127.0.0.1:51820', 'fd00::1:51820'), 8, /not host:port/],
  [
    'bad PersistentKeepalive',
    WG_PART.replace('AllowedIPs', 'PersistentKeepalive = 70000\nAllowedIPs'),
    9,
    /from 0 to 65535/,
  ],
  ['no BindAddress', `${WG_PART}\n[Socks5]\nUsername = x\n`, 11, /\[Socks5\] needs BindAddress/],
  ['unbracketed IPv6 bind', `${WG_PART}\n[Socks5]\nBindAddress = ::1:1080\n`, 12, /not host:port/],
  [
    'Target without port',
    `${WG_PART}\n[TCPClientTunnel]\nBindAddress = :1\nTarget = example.com\n`,
    13,
    /Target = "example.com" is not host:port/,
  ],
  ['Target port 0', `${WG_PART}\n[STDIOTunnel]\nTarget = 10.0.0.1:0\n`, 12, /not host:port/],
  [
    'ListenPort range',
    `${WG_PART}\n[TCPServerTunnel]\nListenPort = 65536\nTarget = a:1\n`,
    12,
    /from 1 to 65535/,
  ],
  [
    'CertFile alone',
    `${WG_PART}\n[http]\nBindAddress = :1\nCertFile = c.pem\n`,
    13,
    /both CertFile and KeyFile/,
  ],
  [
    'two STDIO tunnels',
    `${WG_PART}\n[STDIOTunnel]\nTarget = a:1\n[STDIOTunnel]\nTarget = b:1\n`,
    13,
    /only one \[STDIOTunnel\]/,
  ],
  [
    'bad InactivityTimeout',
    `${WG_PART}\n[UDPClientTunnel]\nBindAddress = :1\nTarget = a:1\nInactivityTimeout = 0\n`,
    14,
    /from 1 to 86400/,
  ],
  [
    'unreadable WGConfig',
    `WGConfig = /nonexistent/wg0.conf\n`,
    1,
    /cannot read WGConfig "\/nonexistent\/wg0.conf"/,
  ],
];

for (const [name, text, line, message] of BROKEN) {
  test(`error: ${name}`, () => {
    assert.throws(
      () => parseProxyConfig(text, 'broken.conf', { env: {} }),
      (err: unknown) => {
        assert.ok(err instanceof ProxyConfigError, String(err));
        assert.equal(err.line, line, err.message);
        assert.match(err.message, message);
        assert.ok(err.message.startsWith(line > 0 ? `broken.conf:${line}: ` : 'broken.conf: '), err.message);
        assert.ok(err.hint !== '', 'says what to do');
        return true;
      },
    );
  });
}

test('error: a file that does not exist', () => {
  assert.throws(
    () => loadProxyConfig('/nonexistent/proxy.conf'),
    /\/nonexistent\/proxy.conf: cannot read the configuration/,
  );
});
