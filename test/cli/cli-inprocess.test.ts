/**
 * The wgts CLI run in process (runCli with a captured context) against UapiServer sockets in a
 * temporary directory (WGTS_UAPI_DIR), so it needs neither root nor wg: dispatch, usage and exit
 * statuses, show/showconf/JSON, the requests set/setconf/addconf/syncconf send (including the
 * newer `+`/`-` allowed-IP changes), config errors reaching no daemon, stale sockets, genkey's
 * warning and pubkey's errors, and the API wg-quick builds on (applyWgConfig, showConf).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyWgConfig } from '../../src/cli/apply-config.js';
import type { CliContext } from '../../src/cli/context.js';
import { COMMANDS, runCli } from '../../src/cli/main.js';
import { showConf } from '../../src/cli/show.js';
import { ConfigError, parseWgConfig } from '../../src/config/wg-config.js';
import { PrivateKey, keyToBase64 } from '../../src/crypto/keys.js';
import { formatSet } from '../../src/uapi/codec.js';
import { UapiServer } from '../../src/uapi/server.js';
import type { DeviceSnapshot } from '../../src/uapi/types.js';
import { RecordingTarget, key } from './helpers.js';

const PRIV = 'GNGoRiCtuH8K8TJr9R5XEbiZgLQiXDqhXXM6Kc4M71Y=';
const P1 = 'tBPBrV17YJcS3XQhD9rF1+E+UivPPMtZYjR5wwQzPhI=';
const P2 = '6XiW2ql7ytU0Kbb+puYN6/d1tSdH6tFoZBJM1XvBN08=';
const hexOf = (b64: string): string => Buffer.from(b64, 'base64').toString('hex');

const STATE: DeviceSnapshot = {
  privateKey: key(PRIV),
  listenPort: 51820,
  fwmark: 0,
  peers: [
    {
      publicKey: key(P1),
      presharedKey: null,
      endpoint: { address: new Uint8Array([192, 0, 2, 1]), port: 51820 },
      lastHandshake: null,
      txBytes: 0,
      rxBytes: 0,
      persistentKeepalive: 0,
      allowedIPs: [{ family: 4, bytes: new Uint8Array([10, 0, 0, 0]), cidr: 8 }],
    },
  ],
};

let dir = '';
let target: RecordingTarget;
let server: UapiServer;
const savedDir = process.env['WGTS_UAPI_DIR'];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), `wgts-${process.pid}-uapi-`));
  process.env['WGTS_UAPI_DIR'] = dir;
  target = new RecordingTarget(STATE);
  server = new UapiServer(target);
  await server.listen(join(dir, 'wg0.sock'));
});

after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
  if (savedDir === undefined) delete process.env['WGTS_UAPI_DIR'];
  else process.env['WGTS_UAPI_DIR'] = savedDir;
});

interface Captured {
  code: number;
  out: string;
  err: string;
}

async function run(
  args: string[],
  opts: { env?: Record<string, string>; stdin?: string; mode?: number } = {},
): Promise<Captured> {
  let out = '';
  let err = '';
  const ctx: CliContext = {
    prog: 'wgts',
    env: { ...opts.env },
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    stdoutIsTTY: false,
    stdoutFileMode: () => opts.mode ?? null,
    readStdin: async () => Buffer.from(opts.stdin ?? ''),
  };
  const code = await runCli(args, ctx);
  return { code, out, err };
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text, { mode: 0o600 });
  return p;
}

test('dispatch: help, version, invalid subcommand, the wg-quick entries', async () => {
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /^Usage: wgts <cmd> \[<args>\]\n\nAvailable subcommands:\n {2}show: /);
  assert.match(help.out, / {2}up: .*\n {2}down: .*\n {2}save: .*\n {2}strip: /);
  assert.equal((await run(['help'])).out, help.out);
  assert.match((await run(['--version'])).out, /^wgts v\d+\.\d+\.\d+/);
  const bad = await run(['frobnicate']);
  assert.equal(bad.code, 1);
  assert.ok(bad.err.startsWith("Invalid subcommand: `frobnicate'\nUsage: wgts <cmd>"));
  assert.deepEqual(
    COMMANDS.map((c) => c.name),
    [
      'show',
      'showconf',
      'set',
      'setconf',
      'addconf',
      'syncconf',
      'genkey',
      'genpsk',
      'pubkey',
      'up',
      'down',
      'save',
      'strip',
      'proxy',
    ],
  );
  for (const c of [
    'show',
    'showconf',
    'set',
    'setconf',
    'addconf',
    'syncconf',
    'genkey',
    'genpsk',
    'pubkey',
  ]) {
    const r = await run([c, '--help']);
    assert.equal(r.code, 0, c);
    assert.match(r.out, new RegExp(`^Usage: wgts ${c}\\b`), c);
  }
});

test('show, showconf and their JSON read the daemon; bare wgts is show all', async () => {
  const show = await run(['show', 'wg0']);
  assert.equal(show.code, 0, show.err);
  assert.ok(show.out.startsWith('interface: wg0\n  public key: 6XiW2ql7'), show.out);
  assert.equal((await run([])).out, show.out);
  assert.equal((await run(['show', 'interfaces'])).out, 'wg0\n');
  assert.equal((await run(['show', 'all', 'listen-port'])).out, 'wg0\t51820\n');
  const conf = await run(['showconf', 'wg0']);
  assert.equal(
    conf.out,
    `[Interface]\nListenPort = 51820\nPrivateKey = ${PRIV}\n\n[Peer]\nPublicKey = ${P1}\nAllowedIPs = 10.0.0.0/8\nEndpoint = 192.0.2.1:51820\n`,
  );
  assert.equal(await showConf('wg0'), conf.out);
  const json = JSON.parse((await run(['show', 'wg0', '--json'])).out) as Record<string, unknown>;
  assert.equal(json['privateKey'], PRIV);
  assert.equal(json['listenPort'], 51820);
  assert.equal((JSON.parse((await run(['show', '--json'])).out) as unknown[]).length, 1);
  assert.deepEqual(JSON.parse((await run(['show', 'interfaces', '--json'])).out), ['wg0']);
  assert.deepEqual(JSON.parse((await run(['showconf', 'wg0', '--json'])).out), {
    interface: { listenPort: 51820, privateKey: PRIV },
    peers: [{ publicKey: P1, allowedIPs: ['10.0.0.0/8'], endpoint: '192.0.2.1:51820' }],
  });
  assert.equal((await run(['show', 'wg0', 'peers', '--json'])).code, 1);
});

test('a missing interface is reported as wg reports it; a stale socket is removed', async () => {
  const r = await run(['show', 'nosuch0']);
  assert.equal(r.code, 1);
  // wg's line, then the hint wg lacks (src/cli/ipc.ts).
  assert.match(
    r.err,
    /^Unable to access interface: (Protocol not supported|No such device)\nwgts: no interface nosuch0: no daemon serves it \(.*\/nosuch0\.sock does not exist\); start it with `wgts up nosuch0' or `wgtsd nosuch0'\n$/,
  );
  assert.match((await run(['set', 'nosuch0', 'listen-port', '1'])).err, /^Unable to modify interface: /);
  // A socket nobody listens on any more: refused, unlinked, then "no such interface".
  const stale = join(dir, 'stale0.sock');
  const child = spawnSync(
    process.execPath,
    ['-e', "require('net').createServer().listen(process.argv[1], () => process.exit(0))", stale],
    { timeout: 10_000 },
  );
  assert.equal(child.status, 0);
  assert.ok(existsSync(stale), 'the exited process left its socket behind');
  writeFileSync(join(dir, 'notasocket.sock'), '');
  assert.equal((await run(['show', 'interfaces'])).out, 'wg0\n');
  assert.ok(!existsSync(stale), 'a socket refusing connections is unlinked, as wg does');
  const r2 = await run(['show', 'notasocket']);
  assert.equal(r2.code, 1);
});

test("set sends wg's request; +/- allowed IPs add and remove without replacing", async () => {
  target.applied.length = 0;
  const r = await run([
    'set',
    'wg0',
    'listen-port',
    '1',
    'fwmark',
    '0x10',
    'peer',
    P1,
    'allowed-ips',
    '10.1.2.3/8',
    'endpoint',
    '[::1]:2',
    'peer',
    P2,
    'allowed-ips',
    '+10.9.0.0/16,-10.0.0.0/8',
    'persistent-keepalive',
    '25',
  ]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, 'Warning: AllowedIP has nonzero host part: 10.1.2.3/8\n');
  assert.equal(
    formatSet(target.applied[0]!),
    `listen_port=1\nfwmark=16\npublic_key=${hexOf(P1)}\nendpoint=[::1]:2\nreplace_allowed_ips=true\nallowed_ip=10.0.0.0/8\n` +
      `public_key=${hexOf(P2)}\npersistent_keepalive_interval=25\nallowed_ip=10.9.0.0/16\nallowed_ip=-10.0.0.0/8\n`,
  );
  const bad = await run(['set', 'wg0', 'peer', P1, 'allowed-ips', '10.0.0.0/33']);
  assert.equal(bad.code, 1);
  assert.equal(bad.err, "AllowedIP is not in the correct format: `10.0.0.0/33'\n");
  assert.equal(target.applied.length, 1);
});

test('setconf, addconf and syncconf send the whole file, the additions, and only the differences', async () => {
  const conf = file(
    'wg0.conf',
    `[Interface]\nPrivateKey = ${PRIV}\nListenPort = 51820\n[Peer]\nPublicKey = ${P1}\nAllowedIPs = 10.0.0.0/8\nEndpoint = 192.0.2.1:51820\n` +
      `[Peer]\nPublicKey = ${P2}\nAllowedIPs = 10.2.0.0/16\n`,
  );
  target.applied.length = 0;
  for (const cmd of ['setconf', 'addconf', 'syncconf']) {
    const r = await run([cmd, 'wg0', conf]);
    assert.equal(r.code, 0, `${cmd}: ${r.err}`);
  }
  const [set, add, sync] = target.applied.map(formatSet);
  assert.match(set!, /^private_key=.*\nlisten_port=51820\nfwmark=0\nreplace_peers=true\n/);
  assert.match(add!, /^private_key=.*\nlisten_port=51820\npublic_key=/);
  assert.equal(
    sync,
    `public_key=${hexOf(P2)}\nreplace_allowed_ips=true\nallowed_ip=10.2.0.0/16\n`,
    'only the new peer',
  );
});

test('config errors print FILE:LINE, exit 1, and reach no daemon', async () => {
  target.applied.length = 0;
  const cases: [string, string][] = [
    ['crlf', `[Interface]\r\nListenPort = 1\r\n`],
    ['bom', `\uFEFF[Interface]\n`],
    ['dup', `[Peer]\nPublicKey = ${P1}\n[Peer]\nPublicKey = ${P1}\n`],
  ];
  for (const [name, text] of cases) {
    const p = file(`${name}.conf`, text);
    for (const cmd of ['setconf', 'addconf', 'syncconf']) {
      const r = await run([cmd, 'wg0', p]);
      assert.equal(r.code, 1);
      assert.match(r.err, new RegExp(`^${p.replace(/[.]/g, '\\.')}:\\d+: `));
    }
  }
  const missing = await run(['setconf', 'wg0', join(dir, 'absent.conf')]);
  assert.equal(missing.err, 'fopen: No such file or directory\n');
  assert.equal(target.applied.length, 0);
});

test('the wg-quick API: applyWgConfig and its errors', async () => {
  target.applied.length = 0;
  await applyWgConfig(
    'wg0',
    parseWgConfig(`[Peer]\nPublicKey = ${P2}\nEndpoint = localhost:7\n`, 'q.conf'),
    'add',
  );
  assert.match(
    formatSet(target.applied[0]!),
    /^public_key=.*\nendpoint=(127\.0\.0\.1|\[::1\]):7\nreplace_allowed_ips=true\n$/,
  );
  await assert.rejects(
    applyWgConfig('nosuch0', parseWgConfig('[Interface]\nListenPort = 1\n', 'q.conf'), 'set'),
    /^IpcError: Unable to modify interface: /,
  );
  await assert.rejects(
    applyWgConfig(
      'wg0',
      parseWgConfig(`[Peer]\nPublicKey = ${P2}\nEndpoint = nx.invalid:7\n`, 'q.conf'),
      'add',
      {
        retries: 0,
        onRetry: () => {},
      },
    ),
    (e: unknown) => e instanceof ConfigError && e.line === 3,
  );
});

test('genkey warns about a world-accessible file; pubkey derives and rejects as wg', async () => {
  const quiet = await run(['genkey'], { mode: 0o100600 });
  assert.equal(quiet.err, '');
  const loud = await run(['genpsk'], { mode: 0o100644 });
  assert.equal(
    loud.err,
    'Warning: writing to world accessible file.\nConsider setting the umask to 077 and trying again.\n',
  );
  const priv = PrivateKey.generate();
  const r = await run(['pubkey'], { stdin: `${priv.toBase64()}\n` });
  assert.equal(r.out, `${keyToBase64(priv.publicKey().bytes)}\n`);
  assert.deepEqual(await run(['pubkey'], { stdin: 'short' }), {
    code: 1,
    out: '',
    err: 'wgts: Key is not the correct length or format\n',
  });
  assert.equal(
    (await run(['pubkey'], { stdin: `${priv.toBase64()} x` })).err,
    'wgts: Trailing characters found after key\n',
  );
});
