#!/usr/bin/env node
// Builds the prebuilt native addons shipped in the npm package (prebuilds/<platform>-<arch>/
// wgts.<libc>.node, Node-API so one file serves every Node >= 20), which node-gyp-build picks at
// run time so users need no compiler. Each target is built by prebuildify in a scratch copy of
// binding.gyp and native/, so a pack never deletes the developer's build/Release under a running test.
//
//   node scripts/prebuild.mjs            host target, plus every cross target whose toolchain is here
//   node scripts/prebuild.mjs --all      every target; installs missing toolchains (Debian, root)
//   node scripts/prebuild.mjs TARGET...  just those (linux-x64-glibc, linux-x64-musl, linux-arm64-glibc)
//   --out=DIR                             write DIR/prebuilds/... instead of the package's (tests)
//
// Linking: the glibc builds link libc as usual (versioned symbols, checked in test/package). The
// musl build links no libc at all (-nodefaultlibs): a musl Node already has libc in its global
// scope, and naming a library in NEEDED would tie the file to one distribution's file name.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Every target we ship: the cross compiler that builds it from another host (the host's own
 * target uses plain gcc) and the Debian packages that provide it. musl-gcc wraps the host's gcc,
 * so it builds for the host's architecture only (`host`).
 */
const TARGETS = {
  'linux-x64-glibc': {
    arch: 'x64',
    libc: 'glibc',
    cc: 'x86_64-linux-gnu-gcc',
    strip: 'x86_64-linux-gnu-strip',
    packages: ['gcc-x86-64-linux-gnu'],
  },
  'linux-x64-musl': {
    arch: 'x64',
    host: 'x64',
    libc: 'musl',
    cc: 'musl-gcc',
    strip: 'strip',
    packages: ['musl-tools'],
    // musl-gcc searches only musl's own headers; the kernel's uapi headers (linux/if_tun.h...)
    // are libc-independent, so they are lent from the host.
    kernelHeaders: ['linux', 'asm-generic', 'x86_64-linux-gnu/asm'],
    ldflags: '-nodefaultlibs',
  },
  'linux-arm64-glibc': {
    arch: 'arm64',
    libc: 'glibc',
    cc: 'aarch64-linux-gnu-gcc',
    strip: 'aarch64-linux-gnu-strip',
    packages: ['gcc-aarch64-linux-gnu', 'libc6-dev-arm64-cross'],
  },
};

/** The host's own target; Node's report names the glibc it runs on, and none under musl. */
const HOST = `linux-${process.arch}-${process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl'}`;

/** The compiler and strip for a target: the host's own for the host target, else the cross ones. */
function tools(name) {
  const t = TARGETS[name];
  return name === HOST ? { cc: process.env.CC ?? 'gcc', strip: 'strip' } : { cc: t.cc, strip: t.strip };
}

function onPath(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** node-gyp: the one npm passes to scripts, else the one bundled with this npm. */
function nodeGyp() {
  if (process.env.npm_config_node_gyp) return process.env.npm_config_node_gyp;
  const npmCli = execFileSync('sh', ['-c', 'readlink -f "$(command -v npm)"'], { encoding: 'utf8' }).trim();
  return join(dirname(npmCli), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
}

/** Node's headers: the configured nodedir, else the ones installed beside this node binary. */
function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = resolve(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

function installToolchain(name) {
  const { packages } = TARGETS[name];
  if (process.getuid?.() !== 0 || !onPath('apt-get')) {
    throw new Error(`${name}: needs ${tools(name).cc} (Debian: apt-get install ${packages.join(' ')})`);
  }
  const run = (args) =>
    spawnSync('apt-get', args, {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  const install = ['install', '-y', '--no-install-recommends', ...packages];
  if (run(install).status !== 0 && (run(['update']).status !== 0 || run(install).status !== 0)) {
    throw new Error(`${name}: apt-get install ${packages.join(' ')} failed`);
  }
}

function build(name, out) {
  const t = TARGETS[name];
  const { cc, strip } = tools(name);
  const scratch = mkdtempSync(join(tmpdir(), `wgts-prebuild-${name}-`));
  try {
    cpSync(join(ROOT, 'binding.gyp'), join(scratch, 'binding.gyp'));
    cpSync(join(ROOT, 'native'), join(scratch, 'native'), { recursive: true });
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'wgts' }));
    let cflags = process.env.CFLAGS ?? '';
    for (const dir of t.kernelHeaders ?? []) {
      const include = join(scratch, 'kernel-include');
      mkdirSync(include, { recursive: true });
      symlinkSync(join('/usr/include', dir), join(include, dir.split('/').pop()));
      cflags = `${cflags} -idirafter ${include}`;
    }
    const dir = nodeDir();
    const env = {
      ...process.env,
      CC: cc,
      CXX: cc,
      LINK: cc,
      CFLAGS: cflags.trim(),
      LDFLAGS: `${process.env.LDFLAGS ?? ''} ${t.ldflags ?? ''}`.trim(),
      JOBS: process.env.JOBS ?? '2',
      PREBUILD_NODE_GYP: nodeGyp(),
      ...(dir === undefined ? {} : { npm_config_nodedir: dir }),
    };
    const prebuildify = join(ROOT, 'node_modules', 'prebuildify', 'bin.js');
    const args = [prebuildify, '--napi', '--strip', '--tag-libc', '--quiet'];
    args.push(
      `--arch=${t.arch}`,
      `--libc=${t.libc}`,
      `--strip-bin=${strip}`,
      `--cwd=${scratch}`,
      `--out=${out}`,
    );
    const r = spawnSync(process.execPath, args, { stdio: 'inherit', env });
    if (r.status !== 0) throw new Error(`${name}: prebuildify failed (exit ${r.status ?? r.signal})`);
    console.error(`prebuild: ${join(out, 'prebuilds', `linux-${t.arch}`, `wgts.${t.libc}.node`)}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function main(argv) {
  const all = argv.includes('--all');
  const out = resolve(argv.find((a) => a.startsWith('--out='))?.slice('--out='.length) ?? ROOT);
  const named = argv.filter((a) => !a.startsWith('--'));
  for (const n of named)
    if (!(n in TARGETS)) throw new Error(`unknown target ${n}: ${Object.keys(TARGETS).join(', ')}`);
  let targets;
  if (named.length > 0) targets = named;
  else if (all) targets = Object.keys(TARGETS);
  else {
    targets = [HOST];
    for (const [n, t] of Object.entries(TARGETS)) {
      if (n === HOST) continue;
      if (t.host !== undefined && t.host !== process.arch)
        console.error(`prebuild: skipping ${n} (${t.host} hosts only)`);
      else if (onPath(tools(n).cc)) targets.push(n);
      else console.error(`prebuild: skipping ${n} (no ${t.cc}; npm run prebuild:all installs it)`);
    }
  }
  for (const n of targets) {
    const only = TARGETS[n].host;
    if (only !== undefined && only !== process.arch) throw new Error(`${n} builds on ${only} hosts only`);
    if (!onPath(tools(n).cc)) {
      if (all || named.length > 0) installToolchain(n);
      else throw new Error(`${n}: no ${tools(n).cc} on PATH`);
    }
    build(n, out);
  }
}

try {
  main(process.argv.slice(2));
} catch (err) {
  console.error(`prebuild: ${err.message}`);
  process.exit(1);
}
