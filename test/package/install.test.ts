/**
 * The npm package on a machine without a compiler (issue 12): `npm pack` of this repository,
 * installed with `npm install -g` and as a library dependency into a sandbox (sandbox.ts: fresh
 * HOME, no cc/gcc/make/python3 on PATH, no Node headers reachable). The install must use the
 * shipped prebuild (node-gyp-build) and compile nothing; then the installed `wgts genkey` works,
 * `import('wgts')` completes a handshake in memory with no addon at all, `wgtsd` without an addon
 * says exactly what is missing, and the installed `wgtsd` brings up a live tunnel to Debian's
 * wireguard-go in two network namespaces (ping through it).
 *
 * The tarball is packed once per run with `--ignore-scripts` from the dist/ that `npm run build`
 * made, plus the host prebuild built by the same script `prepack` runs (scripts/prebuild.mjs,
 * skipped when prebuilds/ is newer than native/), so the run stays well under a minute; the
 * prepack build itself is what `npm pack` adds on top.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  addAddress,
  cleanup,
  createNamespace,
  exec,
  execOk,
  ping,
  spawn,
  trackLink,
  trackPath,
  waitFor,
  waitLinkReady,
} from '../helpers/netns.js';
import {
  configureInterface,
  genKeyPair,
  interopSkipReason,
  startDaemon,
  UAPI_DIR,
} from '../helpers/wg-peer.js';
import { COMPILER_TOOLS, createSandbox, ROOT, type Sandbox } from './sandbox.js';

const HOST_PREBUILD = join('prebuilds', `linux-${process.arch}`, 'wgts.glibc.node');
const INSTALL_TIMEOUT_MS = 120_000;

const skip =
  process.platform !== 'linux'
    ? 'Linux only'
    : !existsSync(join(ROOT, 'dist', 'src', 'index.js'))
      ? 'dist/ not built (npm run build)'
      : false;

let box: Sandbox;
let tarball: string;
/** What `npm pack --json` says about the tarball. */
interface Packed {
  readonly filename: string;
  readonly files: readonly { readonly path: string }[];
  readonly size: number;
  readonly unpackedSize: number;
  readonly entryCount: number;
}
let packed: Packed;

/** Builds the host prebuild as prepack does, unless the one in prebuilds/ is newer than every C source. */
async function ensureHostPrebuild(): Promise<void> {
  const target = join(ROOT, HOST_PREBUILD);
  const sources = [
    join(ROOT, 'binding.gyp'),
    ...readdirSync(join(ROOT, 'native')).map((f) => join(ROOT, 'native', f)),
  ];
  const newest = Math.max(...sources.map((f) => statSync(f).mtimeMs));
  if (existsSync(target) && statSync(target).mtimeMs > newest) return;
  await execOk(
    null,
    process.execPath,
    [join(ROOT, 'scripts', 'prebuild.mjs'), `linux-${process.arch}-glibc`],
    {
      timeoutMs: 180_000,
    },
  );
}

/** npm with the sandbox's environment, bounded. */
function npm(args: readonly string[], timeoutMs = INSTALL_TIMEOUT_MS): ReturnType<typeof execOk> {
  return execOk(null, box.npm[0], [box.npm[1], ...args], { env: box.env, timeoutMs });
}

before(async () => {
  if (skip !== false) return;
  box = createSandbox('pk-pack');
  await ensureHostPrebuild();
  const pack = await execOk(
    null,
    process.execPath,
    [box.npm[1], 'pack', ROOT, '--ignore-scripts', '--json', '--pack-destination', box.dir],
    { timeoutMs: 60_000 },
  );
  [packed] = JSON.parse(pack.stdout) as [Packed];
  tarball = join(box.dir, packed.filename);
  // Both installs at once: the global one for the commands, the local one for the library user.
  await Promise.all([
    npm(['install', '-g', '--prefix', box.prefix, '--prefer-offline', tarball]),
    npm(['install', '--prefix', box.app, '--prefer-offline', tarball]),
  ]);
});

after(async () => {
  await cleanup();
  if (box !== undefined) rmSync(box.dir, { recursive: true, force: true });
});

test('the sandbox has no compiler: none of cc, gcc, g++, make, python3 on its PATH', { skip }, () => {
  for (const tool of COMPILER_TOOLS) {
    assert.equal(existsSync(join(box.bin, tool)), false, tool);
  }
  const extra = readdirSync(box.bin).filter((name) => !['ip', 'node', 'sh'].includes(name));
  assert.deepEqual(extra, []);
  assert.equal(box.env['npm_config_nodedir'], undefined);
});

test(
  'control: in the sandbox a build from source fails (node-gyp finds no python3, no compiler)',
  { skip },
  async () => {
    const app = join(box.dir, 'app-from-source');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'wgts-from-source', private: true }));
    const r = await exec(
      null,
      box.npm[0],
      [box.npm[1], 'install', '--prefix', app, '--prefer-offline', tarball],
      { env: { ...box.env, npm_config_build_from_source: 'true' }, timeoutMs: INSTALL_TIMEOUT_MS },
    );
    assert.notEqual(r.code, 0, 'a build from source succeeded without a compiler');
    assert.match(r.stderr, /gyp ERR!/);
  },
);

test(
  'npm pack ships built JavaScript, types and the host prebuild; no tests or source maps',
  { skip },
  (t) => {
    const files = new Set(packed.files.map((f) => f.path));
    for (const f of [
      'package.json',
      'README.md',
      'binding.gyp',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/src/cli/main.js',
      'dist/src/daemon/main.js',
      'dist/src/io/native.js',
      HOST_PREBUILD,
    ]) {
      assert.ok(files.has(f), `${f} missing from the tarball`);
    }
    const unwanted = [...files].filter(
      (f) => f.endsWith('.map') || f.startsWith('dist/test/') || (f.endsWith('.ts') && !f.endsWith('.d.ts')),
    );
    assert.deepEqual(unwanted, []);
    t.diagnostic(
      `tarball ${packed.size} bytes (${packed.unpackedSize} unpacked), ${packed.entryCount} files`,
    );
  },
);

test('the installs compiled nothing: the shipped prebuild is what loads', { skip }, async () => {
  for (const root of [
    join(box.prefix, 'lib', 'node_modules', 'wgts'),
    join(box.app, 'node_modules', 'wgts'),
  ]) {
    assert.ok(existsSync(join(root, HOST_PREBUILD)), `${root}: no prebuild`);
    assert.equal(existsSync(join(root, 'build')), false, `${root}: something was built from source`);
  }
  const script = join(box.dir, 'resolve.cjs');
  writeFileSync(
    script,
    `console.log(require(${JSON.stringify(join(box.app, 'node_modules', 'node-gyp-build'))}).resolve(process.argv[2]))`,
  );
  const r = await execOk(null, 'node', [script, join(box.app, 'node_modules', 'wgts')], { env: box.env });
  assert.equal(r.stdout.trim(), join(box.app, 'node_modules', 'wgts', HOST_PREBUILD));
});

test(
  'the installed wgts genkey | wgts pubkey gives a key pair that X25519 agrees with',
  { skip },
  async () => {
    const wgts = join(box.prefix, 'bin', 'wgts');
    const priv = (await execOk(null, wgts, ['genkey'], { env: box.env })).stdout.trim();
    assert.match(priv, /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/);
    const pub = (await execOk(null, wgts, ['pubkey'], { env: box.env, input: `${priv}\n` })).stdout.trim();
    const pkcs8 = Buffer.concat([
      Buffer.from('302e020100300506032b656e04220420', 'hex'),
      Buffer.from(priv, 'base64'),
    ]);
    const spki = createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })).export({
      format: 'der',
      type: 'spki',
    });
    assert.equal(pub, spki.subarray(-32).toString('base64'));
  },
);

/** Two Tunnels of the installed package complete a handshake and carry one packet, in memory. */
const HANDSHAKE_SCRIPT = `
import { randomBytes } from 'node:crypto';
import { LocalIdentity, PrivateKey, Tunnel, tai64nFromMillis } from 'wgts';
const random = (n) => new Uint8Array(randomBytes(n));
const timestamp = () => tai64nFromMillis(Date.now());
const a = PrivateKey.generate(), b = PrivateKey.generate();
const alice = new Tunnel({ identity: new LocalIdentity(a.bytes), remotePublic: b.publicKey().bytes, timestamp, random });
const bob = new Tunnel({ identity: new LocalIdentity(b.bytes), remotePublic: a.publicKey().bytes, timestamp, random });
const from = { address: Uint8Array.of(192, 0, 2, 1), port: 51820 };
// IPv4 echo request 10.0.0.1 -> 10.0.0.2, 28 bytes.
const packet = Uint8Array.of(0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 8, 0, 0xf7, 0xfe, 0, 1, 0, 0);
const kinds = [];
let r = alice.encapsulate(packet, performance.now()); kinds.push(r.kind);
r = bob.decapsulate(r.datagrams[0], from, performance.now()); kinds.push(r.kind);
r = alice.decapsulate(r.datagrams[0], from, performance.now()); kinds.push(r.kind);
r = bob.decapsulate(r.datagrams[0], from, performance.now()); kinds.push(r.kind);
console.log(JSON.stringify({ kinds, same: r.kind === 'toTunnel' && Buffer.compare(r.packet, packet) === 0 }));
`;

test(
  "with no addon at all, import('wgts') completes a handshake in memory and wgtsd says what is missing",
  { skip },
  async () => {
    const installed = join(box.app, 'node_modules', 'wgts');
    rmSync(join(installed, 'prebuilds'), { recursive: true, force: true });
    const script = join(box.app, 'handshake.mjs');
    writeFileSync(script, HANDSHAKE_SCRIPT);
    const r = await execOk(null, 'node', [script], { env: box.env });
    assert.deepEqual(JSON.parse(r.stdout), {
      kinds: ['toNetwork', 'toNetwork', 'toNetwork', 'toTunnel'],
      same: true,
    });
    trackPath(join(UAPI_DIR, 'pkwgnone.sock'));
    const d = await exec(null, join(box.app, 'node_modules', '.bin', 'wgtsd'), ['-f', 'pkwgnone'], {
      env: box.env,
      timeoutMs: 20_000,
    });
    assert.equal(d.code, 1, d.stderr);
    assert.match(d.stderr, /wgts native addon not found for linux-/);
    assert.ok(d.stderr.includes(join(`prebuilds`, `linux-${process.arch}`, 'wgts.glibc.node')), d.stderr);
    assert.ok(d.stderr.includes(installed), d.stderr);
    assert.match(d.stderr, /npm run build:native/);
    assert.equal(existsSync(join(UAPI_DIR, 'pkwgnone.sock')), false);
  },
);

const tunnelSkip = skip || interopSkipReason(['wireguard-go'], ['ping']);

test(
  'the installed wgtsd brings up a live tunnel to wireguard-go in network namespaces (ping through it)',
  { skip: tunnelSkip, timeout: 60_000 },
  async () => {
    const id = process.pid.toString(36);
    const [nsA, nsB] = [`pk-${id}-a`, `pk-${id}-b`];
    const [ifA, ifB, vA, vB] = [`pkwg${id}a`, `pkwg${id}b`, `pkv${id}a`, `pkv${id}b`];
    await createNamespace(nsA);
    await createNamespace(nsB);
    await execOk(null, 'ip', [
      '-n',
      nsA,
      'link',
      'add',
      vA,
      'type',
      'veth',
      'peer',
      'name',
      vB,
      'netns',
      nsB,
    ]);
    trackLink(nsA, vA);
    await addAddress(nsA, vA, '10.77.0.1/24');
    await addAddress(nsB, vB, '10.77.0.2/24');
    await execOk(nsA, 'ip', ['link', 'set', vA, 'up']);
    await execOk(nsB, 'ip', ['link', 'set', vB, 'up']);
    await Promise.all([waitLinkReady(nsA, vA), waitLinkReady(nsB, vB)]);

    const socket = join(UAPI_DIR, `${ifA}.sock`);
    trackPath(socket);
    trackLink(nsA, ifA);
    const wgtsd = spawn(nsA, join(box.prefix, 'bin', 'wgtsd'), ['-f', ifA], {
      env: { ...box.env, LOG_LEVEL: 'error' },
    });
    await waitFor(
      () => {
        if (wgtsd.hasExited()) throw new Error(`wgtsd exited: ${wgtsd.output()}`);
        return existsSync(socket);
      },
      { timeoutMs: 20_000, what: `${socket}` },
    );
    const wggo = await startDaemon(nsB, { impl: 'wireguard-go', ifname: ifB });
    const [ka, kb] = await Promise.all([genKeyPair(), genKeyPair()]);
    await configureInterface(
      { ns: nsA, ifname: ifA },
      {
        privateKey: ka.privateKey,
        listenPort: 51820,
        addresses: ['10.78.0.1/24'],
        peers: [{ publicKey: kb.publicKey, endpoint: '10.77.0.2:51821', allowedIps: ['10.78.0.2/32'] }],
      },
    );
    await configureInterface(
      { ns: nsB, ifname: ifB },
      {
        privateKey: kb.privateKey,
        listenPort: 51821,
        addresses: ['10.78.0.2/24'],
        peers: [{ publicKey: ka.publicKey, endpoint: '10.77.0.1:51820', allowedIps: ['10.78.0.1/32'] }],
      },
    );
    const first = await ping(nsA, '10.78.0.2', { count: 1, deadlineS: 15 });
    assert.ok(
      first.ok,
      `first ping (handshake) failed:\n${first.output}\n${wgtsd.output()}\n${wggo.output()}`,
    );
    const more = await ping(nsB, '10.78.0.1', { count: 3, deadlineS: 10 });
    assert.equal(more.received, 3, `${more.output}\n${wgtsd.output()}`);
    const shown = await execOk(nsA, 'wg', ['show', ifA, 'latest-handshakes']);
    assert.match(shown.stdout, new RegExp(`^${kb.publicKey.replace(/[+/]/g, '\\$&')}\\t[1-9]\\d*$`, 'm'));
  },
);
