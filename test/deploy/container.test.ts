/**
 * deploy/Dockerfile and its entrypoint. No container engine runs here, so the recipe is checked
 * for what would break its build or its start: every file it copies from the build context exists,
 * both stages use one Node major (the addon compiled in the first must load in the second), the
 * packages it installs exist in Debian bookworm's lists, the entrypoint it starts is in the npm
 * tarball and executable, and the commands the entrypoint runs are the package's `bin`. The
 * entrypoint itself runs for real in a network namespace: `wgts up` on start, `wgts down` and
 * exit 0 on SIGTERM (docker stop), exit 1 when the daemon goes away underneath it.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI_MAIN } from '../cli/helpers.js';
import { daemonPids } from '../cli/quick-helpers.js';
import { cleanup, createNamespace, exec, spawn, trackPath, which } from '../helpers/netns.js';
import { interopSkipReason, UAPI_DIR } from '../helpers/wg-peer.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DOCKERFILE = readFileSync(join(ROOT, 'deploy/Dockerfile'), 'utf8');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  bin: Record<string, string>;
};

after(async () => {
  for (const pid of daemonPids(IFNAME)) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // gone
    }
  }
  await cleanup();
});

/** The instructions, continuation lines joined, comments dropped: [keyword, rest]. */
function instructions(text: string): [string, string][] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [kw, ...rest] = l.split(/\s+/);
      return [kw!.toUpperCase(), rest.join(' ')];
    });
}

test('every COPY from the build context names files that exist', () => {
  const copies = instructions(DOCKERFILE).filter(([kw, rest]) => kw === 'COPY' && !rest.startsWith('--from'));
  assert.ok(copies.length >= 5, 'the build stage copies the sources');
  for (const [, rest] of copies) {
    const sources = rest.split(/\s+/).slice(0, -1);
    for (const s of sources) assert.ok(existsSync(join(ROOT, s)), `COPY ${s}: not in the repository`);
  }
});

test('both stages run the same Node major, one the package supports', () => {
  const froms = instructions(DOCKERFILE)
    .filter(([kw]) => kw === 'FROM')
    .map(([, rest]) => rest.split(/\s+/)[0]!);
  assert.equal(froms.length, 2, froms.join(', '));
  const majors = froms.map((f) => /^node:(\d+)-/.exec(f)?.[1]);
  assert.ok(majors[0] !== undefined && majors[0] === majors[1], froms.join(', '));
  const engines = (
    JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }
  ).engines.node;
  assert.ok(Number(majors[0]) >= Number(/\d+/.exec(engines)![0]), `${froms[0]} vs engines ${engines}`);
});

test(
  'the packages it installs exist in Debian bookworm',
  {
    skip:
      which('apt-cache') === null || !/bookworm/.test(readFileSync('/etc/os-release', 'utf8'))
        ? 'not a bookworm machine with apt-cache'
        : false,
  },
  () => {
    const install = instructions(DOCKERFILE).find(
      ([kw, rest]) => kw === 'RUN' && rest.includes('apt-get install'),
    );
    assert.ok(install !== undefined);
    const packages = install[1]
      .split('apt-get install')[1]!
      .split('&&')[0]!
      .split(/\s+/)
      .filter((w) => w !== '' && !w.startsWith('-'));
    assert.deepEqual(packages.slice(0, 2), ['wireguard-tools', 'iproute2']);
    for (const p of packages) {
      const r = spawnSync('apt-cache', ['show', '--no-all-versions', p], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      assert.equal(r.status, 0, `${p}: ${r.stderr}`);
    }
  },
);

test('the entrypoint is in the npm tarball, executable, and runs the package bin', () => {
  const entry = instructions(DOCKERFILE).find(([kw]) => kw === 'ENTRYPOINT');
  assert.ok(entry !== undefined);
  const path = (JSON.parse(entry[1]) as string[])[0]!;
  const prefix = `/usr/local/lib/node_modules/${PKG.name}/`;
  assert.ok(path.startsWith(prefix), path);
  const inPackage = path.slice(prefix.length);
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    }),
  ) as { files: { path: string; mode: number }[] }[];
  const file = packed[0]!.files.find((f) => f.path === inPackage);
  assert.ok(file !== undefined, `${inPackage} is not in the tarball (package.json files)`);
  assert.equal(file.mode & 0o111, 0o111, `${inPackage} mode ${file.mode.toString(8)}`);
  for (const page of ['man/wgts.8', 'man/wgtsd.8']) {
    assert.ok(
      packed[0]!.files.some((f) => f.path === page),
      page,
    );
  }
  const script = readFileSync(join(ROOT, inPackage), 'utf8');
  for (const m of script.matchAll(/(\S+) (?:up|down) "\$target"/g))
    assert.ok(PKG.bin[m[1]!] !== undefined, m[1]);
  assert.equal(spawnSync('sh', ['-n', join(ROOT, inPackage)]).status, 0, 'sh -n');
});

// ---------------------------------------------------------------------------------------------
// The entrypoint, run

const IFNAME = `opwg${process.pid.toString(36)}e`.slice(0, 15);
const skip = interopSkipReason(['wgtsd'], ['sh']);

test(
  'the entrypoint: up on start, down and exit 0 on SIGTERM, exit 1 if the daemon goes',
  { skip },
  async () => {
    const ns = await createNamespace(`op-${process.pid.toString(36)}-ct`);
    const dir = mkdtempSync(join(tmpdir(), 'op-ct-'));
    trackPath(dir);
    // `wgts` on PATH, as `npm install -g` puts it in the image.
    writeFileSync(join(dir, 'wgts'), `#!/bin/sh\nexec "${process.execPath}" "${CLI_MAIN}" "$@"\n`, {
      mode: 0o755,
    });
    const conf = join(dir, `${IFNAME}.conf`);
    writeFileSync(
      conf,
      '[Interface]\nPrivateKey = GNGoRiCtuH8K8TJr9R5XEbiZgLQiXDqhXXM6Kc4M71Y=\nAddress = 10.213.0.1/24\n',
      { mode: 0o600 },
    );
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${dir}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
      WGTS_WARMUP: '0',
    };
    delete env['LOG_LEVEL'];
    const sock = join(UAPI_DIR, `${IFNAME}.sock`);
    const linkUp = async (): Promise<boolean> =>
      (await exec(ns, 'ip', ['-o', 'address', 'show', 'dev', IFNAME])).stdout.includes('10.213.0.1/24');
    const entrypoint = join(ROOT, 'deploy/container-entrypoint.sh');

    const first = spawn(ns, entrypoint, [conf], { env });
    await first.waitForOutput(new RegExp(`wgts: ${IFNAME} is up`), 30_000);
    assert.ok(existsSync(sock) && (await linkUp()), first.output());
    assert.equal(first.hasExited(), false, first.output());
    const stopped = await first.stop({ graceMs: 20_000 });
    assert.deepEqual(stopped, { code: 0, signal: null }, first.output());
    assert.match(first.output(), /\[#\] ip link delete dev /);
    assert.equal(existsSync(sock), false);
    assert.equal((await exec(ns, 'ip', ['link', 'show', 'dev', IFNAME])).code, 1, 'link removed');

    const second = spawn(ns, entrypoint, [conf], { env });
    await second.waitForOutput(new RegExp(`wgts: ${IFNAME} is up`), 30_000);
    await exec(ns, 'ip', ['link', 'del', 'dev', IFNAME]);
    const timer = new Promise<null>((resolve) => setTimeout(() => resolve(null), 20_000).unref());
    const gone = await Promise.race([second.exited, timer]);
    assert.deepEqual(gone, { code: 1, signal: null }, second.output());
    assert.match(second.output(), new RegExp(`the daemon of ${IFNAME} exited`));
    rmSync(dir, { recursive: true, force: true });
  },
);
