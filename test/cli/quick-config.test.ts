/**
 * wg-quick config handling without a network: the split into wg-quick keys and the wg(8) part
 * (linux.bash `parse_options`), validation with FILE:LINE, `strip` output compared byte for byte
 * with the real `wg-quick strip` on the same files, config path and interface name rules, and the
 * world-accessible warning (compared with wg-quick's).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/config/wg-config.js';
import { parseQuickFile, validateExtras } from '../../src/cli/quick/config-extras.js';
import { QuickError } from '../../src/cli/quick/exec.js';
import { locateConfig } from '../../src/cli/quick/locate.js';
import { stripOutput } from '../../src/cli/quick/strip.js';
import { exec, isRoot, which } from '../helpers/netns.js';
import { quickCli } from './quick-helpers.js';

const dir = mkdtempSync(join(tmpdir(), `wgts-${process.pid}-quick-`));
chmodSync(dir, 0o700);
after(() => rmSync(dir, { recursive: true, force: true }));

const KEY_A = 'YFt3Ehp1u1xoQ/XqqZLAD0HEXDT0AYzCKPHmvWv5YWM=';
const KEY_B = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';

const FULL = `[Interface]
PrivateKey = ${KEY_A}
Address = 10.0.0.1/24, fd00::1/64
Address = 10.0.1.1/32
ListenPort = 51820
DNS = 1.1.1.1, 2606:4700:4700::1111, example.com corp.example
MTU = 1380
Table = 1234
PreUp = echo pre %i # kept: hooks keep their comment
PostUp = echo "up %i" && echo 'second'
PreDown = true
PostDown = echo down %i
SaveConfig = true

[Peer]
PublicKey = ${KEY_B}
AllowedIPs = 0.0.0.0/0, ::/0
Endpoint = 192.0.2.1:51820
`;

test('parseQuickFile: wg-quick keys out, the wg(8) part kept, line numbers preserved', () => {
  const q = parseQuickFile(FULL, '/x/wg0.conf');
  const e = q.extras;
  assert.deepEqual(
    e.addresses.map((a) => [a.value, a.line]),
    [
      ['10.0.0.1/24', 3],
      ['fd00::1/64', 3],
      ['10.0.1.1/32', 4],
    ],
  );
  assert.deepEqual(
    e.dns.map((d) => d.value),
    ['1.1.1.1', '2606:4700:4700::1111'],
  );
  assert.deepEqual(
    e.dnsSearch.map((d) => d.value),
    ['example.com', 'corp.example'],
  );
  assert.deepEqual(e.mtu, { value: '1380', line: 7 });
  assert.deepEqual(e.table, { value: '1234', line: 8 });
  assert.deepEqual(e.preUp, ['echo pre %i # kept: hooks keep their comment']);
  assert.deepEqual(e.postUp, [`echo "up %i" && echo 'second'`]);
  assert.deepEqual(e.preDown, ['true']);
  assert.deepEqual(e.postDown, ['echo down %i']);
  assert.equal(e.saveConfig, true);
  const wgLines = q.wgText.split('\n');
  const fileLines = FULL.split('\n');
  assert.equal(wgLines.length, fileLines.length);
  assert.equal(wgLines[1], `PrivateKey = ${KEY_A}`);
  assert.equal(wgLines[2], '');
  assert.equal(wgLines[4], 'ListenPort = 51820');
  assert.equal(wgLines[16], 'AllowedIPs = 0.0.0.0/0, ::/0');
  assert.equal(
    q.stripped,
    `[Interface]\nPrivateKey = ${KEY_A}\nListenPort = 51820\n\n[Peer]\nPublicKey = ${KEY_B}\n` +
      'AllowedIPs = 0.0.0.0/0, ::/0\nEndpoint = 192.0.2.1:51820\n',
  );
});

test('parseQuickFile: keys are case-insensitive, only in [Interface], last MTU/Table win', () => {
  const q = parseQuickFile(
    '[interface]\naddress=10.1.1.1/24\nmtu = 1300\nMTU = 1280\ntable=off\n[Peer]\nAddress = 10.9.9.9/32\nMTU = 1\n',
    'f',
  );
  assert.deepEqual(
    q.extras.addresses.map((a) => a.value),
    ['10.1.1.1/24'],
  );
  assert.equal(q.extras.mtu?.value, '1280');
  assert.equal(q.extras.table?.value, 'off');
  assert.equal(q.stripped, '[interface]\n[Peer]\nAddress = 10.9.9.9/32\nMTU = 1\n');
});

test('parseQuickFile: SaveConfig must be true or false (any case), with FILE:LINE', () => {
  assert.equal(parseQuickFile('[Interface]\nSaveConfig = TRUE\n', 'f').extras.saveConfig, true);
  assert.equal(
    parseQuickFile('[Interface]\nSaveConfig = true\nSaveConfig = false\n', 'f').extras.saveConfig,
    false,
  );
  assert.throws(
    () => parseQuickFile('[Interface]\n\nSaveConfig = yes\n', '/etc/wireguard/wg0.conf'),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.line === 3 &&
      err.message === "/etc/wireguard/wg0.conf:3: `yes' is neither true nor false",
  );
});

test('parseQuickFile: empty MTU and Table mean auto; DNS classification follows wg-quick', () => {
  const q = parseQuickFile(
    '[Interface]\nMTU = 1300\nMTU =\nTable = 7\nTable=\nDNS = 10.0.0.53 fe80::1 lan 1.2\n',
    'f',
  );
  assert.equal(q.extras.mtu, null);
  assert.equal(q.extras.table, null);
  assert.deepEqual(
    q.extras.dns.map((d) => d.value),
    ['10.0.0.53', 'fe80::1', '1.2'],
  );
  assert.deepEqual(
    q.extras.dnsSearch.map((d) => d.value),
    ['lan'],
  );
});

test('parseQuickFile: a BOM before [Interface] does not hide the section', () => {
  const q = parseQuickFile('\uFEFF[Interface]\nAddress = 10.0.0.1/24\n', 'f');
  assert.equal(q.extras.addresses.length, 1);
});

test('validateExtras: bad values give FILE:LINE before anything runs', () => {
  const cases: [string, number, RegExp][] = [
    ['[Interface]\nAddress = 10.0.0.300/24\n', 2, /Address `10\.0\.0\.300\/24'/],
    ['[Interface]\nAddress = 10.0.0.1/24\nAddress = fd00::1/129\n', 3, /Address `fd00::1\/129'/],
    ['[Interface]\n# c\nMTU = 12x\n', 3, /MTU `12x'/],
    ['[Interface]\nMTU = 70000\n', 2, /MTU `70000'/],
    ['[Interface]\nTable = 12 3\n', 2, /Table `12 3'/],
    ['[Interface]\nTable = 99999999999\n', 2, /Table `99999999999'/],
    ['[Interface]\nDNS = 1.2.3\n', 2, /DNS `1\.2\.3'/],
    ['[Interface]\nDNS = 1.1.1.1, bad!domain\n', 2, /DNS `bad!domain'/],
  ];
  for (const [text, line, re] of cases) {
    const q = parseQuickFile(text, '/d/wg9.conf');
    assert.throws(
      () => validateExtras(q.extras, '/d/wg9.conf'),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.line === line &&
        err.message.startsWith(`/d/wg9.conf:${line}: `) &&
        re.test(err.message),
      text,
    );
  }
  for (const ok of ['off', 'auto', 'main', '51820', '0']) {
    validateExtras(
      parseQuickFile(`[Interface]\nTable = ${ok}\nMTU = 1280\nAddress = 10.0.0.1\n`, 'f').extras,
      'f',
    );
  }
});

/** Config texts whose strip output must equal wg-quick's byte for byte. */
const STRIP_CASES: Record<string, string> = {
  full: FULL,
  messy:
    '  [Interface]  \n\tPrivateKey=' +
    KEY_A +
    '   # comment\n  address = 10.0.0.1/24 # c\n\n# a comment line\n' +
    'postup = echo a#b\nPostDown=\n[Peer]\n  PublicKey = ' +
    KEY_B +
    '\nAllowedIPs = 10.0.0.0/24\n\t\nAddress = 1.2.3.4/32\n[Interface]\nDNS = 9.9.9.9\nListenPort = 1\n',
  'no final newline': `[Interface]\nPrivateKey = ${KEY_A}\nAddress = 10.0.0.1/24\n[Peer]\nPublicKey = ${KEY_B}`,
  crlf: `[Interface]\r\nPrivateKey = ${KEY_A}\r\nAddress = 10.0.0.1/24\r\nMTU = 1400\r\n[Peer]\r\nPublicKey = ${KEY_B}\r\n`,
  'sections by other names':
    '[Interfacex]\nAddress = 1.1.1.1/32\n[INTERFACE]\nTable = off\nSaveConfig = false\n',
  empty: '',
};

const stripSkip = !isRoot()
  ? 'wg-quick strip needs root (it would sudo)'
  : which('wg-quick') === null || which('bash') === null
    ? 'wg-quick or bash not on PATH'
    : false;

test('strip: byte-identical to `wg-quick strip` on the same files', { skip: stripSkip }, async () => {
  let i = 0;
  for (const [name, text] of Object.entries(STRIP_CASES)) {
    const file = join(dir, `strip${i++}.conf`);
    writeFileSync(file, text, { mode: 0o600 });
    const real = await exec(null, 'wg-quick', ['strip', file]);
    assert.equal(real.code, 0, `${name}: wg-quick strip: ${real.stderr}`);
    assert.equal(stripOutput(parseQuickFile(text, file)), real.stdout, name);
  }
});

test(
  'strip through the CLI: same stdout as wg-quick, same world-accessible warning',
  { skip: stripSkip },
  async () => {
    const sub = join(dir, 'open');
    mkdirSync(sub, { mode: 0o755 });
    chmodSync(sub, 0o755);
    const file = join(sub, 'wgopen.conf');
    writeFileSync(file, FULL);
    chmodSync(file, 0o644);
    const real = await exec(null, 'wg-quick', ['strip', file]);
    const ours = await exec(null, process.execPath, [...quickCli(), 'strip', file]);
    assert.equal(ours.code, 0, ours.stderr);
    assert.equal(ours.stdout, real.stdout);
    assert.equal(real.stderr, `Warning: \`${file}' is world accessible\n`);
    assert.equal(ours.stderr, real.stderr);
    chmodSync(file, 0o600);
    const quiet = await exec(null, process.execPath, [...quickCli(), 'strip', file]);
    assert.equal(quiet.stderr, '');
  },
);

test('locateConfig: interface names, .conf paths, symlinks and the world-accessible rule', () => {
  const etc = join(dir, 'etc');
  mkdirSync(etc, { mode: 0o700 });
  chmodSync(etc, 0o700);
  writeFileSync(join(etc, 'wg0.conf'), '');
  chmodSync(join(etc, 'wg0.conf'), 0o644);
  // An interface name means CONFIG_DIR/NAME.conf; the mode of the directory masks the file's.
  const t = locateConfig('wg0', etc);
  assert.deepEqual(t, { file: join(etc, 'wg0.conf'), ifname: 'wg0', warning: null });
  chmodSync(etc, 0o701); // other: x on the directory, r on the file: nothing in common
  assert.equal(locateConfig('wg0', etc).warning, null);
  chmodSync(etc, 0o705);
  assert.equal(locateConfig('wg0', etc).warning, `Warning: \`${join(etc, 'wg0.conf')}' is world accessible`);
  chmodSync(join(etc, 'wg0.conf'), 0o640);
  assert.equal(locateConfig('wg0', etc).warning, null);
  chmodSync(etc, 0o700);

  // A path: the interface is the link's name, the file its target.
  symlinkSync(join(etc, 'wg0.conf'), join(etc, 'tun-a_b=c+d.conf'));
  const viaLink = locateConfig(join(etc, 'tun-a_b=c+d.conf'), etc);
  assert.equal(viaLink.ifname, 'tun-a_b=c+d');
  assert.equal(viaLink.file, join(etc, 'wg0.conf'));

  const fails: [string, string][] = [
    ['nope', `\`${join(etc, 'nope.conf')}' does not exist`],
    [join(etc, 'missing.conf'), `\`${join(etc, 'missing.conf')}' does not exist`],
  ];
  for (const [arg, message] of fails) {
    assert.throws(
      () => locateConfig(arg, etc),
      (err: unknown) => err instanceof QuickError && err.message === message,
    );
  }
  for (const bad of ['wg0.cfg', 'sixteen-chars-xx.conf', 'has space.conf']) {
    writeFileSync(join(etc, bad), '');
    assert.throws(
      () => locateConfig(join(etc, bad), etc),
      (err: unknown) =>
        err instanceof QuickError &&
        err.message === 'The config file must be a valid interface name, followed by .conf',
      bad,
    );
  }
  // As in wg-quick, `wg0.conf` is itself a valid interface name: CONFIG_DIR/wg0.conf.conf.
  assert.throws(() => locateConfig('wg0.conf', etc), /wg0\.conf\.conf' does not exist/);
});
