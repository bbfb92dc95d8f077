/**
 * A user's machine without a compiler, for the package tests (test/package/): a fresh HOME (so
 * no ~/.npmrc and no nodedir), an empty global npmrc, and a PATH holding only `node`, `sh` and `ip`,
 * so no cc, gcc, g++, make or python3 is reachable and node-gyp could build nothing. Header
 * downloads point at a closed loopback port, so a fall-back to building from source fails at
 * once instead of fetching Node's headers (node-gyp reads NODEJS_ORG_MIRROR). The registry stays reachable but installs prefer the
 * developer's npm cache (`--prefer-offline`), which `npm install` in this repo has filled.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is dist/test/package/sandbox.js when compiled). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Commands a build from source needs; none may be on the sandbox's PATH. */
export const COMPILER_TOOLS = ['cc', 'gcc', 'g++', 'c++', 'make', 'python3', 'python'] as const;

/** The environment that says how to reach the network, kept in the sandbox. */
const NETWORK_ENV = [
  'NODE_EXTRA_CA_CERTS',
  'HTTPS_PROXY',
  'https_proxy',
  'HTTP_PROXY',
  'http_proxy',
  'NO_PROXY',
  'no_proxy',
] as const;

/** Where node-gyp would download headers from: a closed port on the loopback. */
const NO_HEADERS_URL = 'http://127.0.0.1:9/';

export interface Sandbox {
  /** A temporary directory holding everything below; the caller removes it. */
  readonly dir: string;
  /** The environment of every command run "on the user's machine". */
  readonly env: NodeJS.ProcessEnv;
  /** The PATH directory (node, sh, and ip for `ip netns exec` to start a daemon). */
  readonly bin: string;
  /** `npm install -g --prefix` target: its bin/ has wgts and wgtsd. */
  readonly prefix: string;
  /** An empty project for `npm install TARBALL` (a library user). */
  readonly app: string;
  /** argv to run npm with this node: [node, npm-cli.js]. */
  readonly npm: readonly [string, string];
}

/** npm's own CLI script, as the `npm` on the developer's PATH runs it. */
function npmCli(): string {
  const npm = execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim();
  const real = realpathSync(npm);
  return real.endsWith('.js')
    ? real
    : join(dirname(real), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
}

/** The developer's npm settings the sandbox keeps: the cache (offline installs) and the registry. */
function npmSetting(key: string): string {
  return execFileSync(process.execPath, [npmCli(), 'config', 'get', key], { encoding: 'utf8' }).trim();
}

export function createSandbox(tag: string): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), `wgts-${tag}-`));
  const bin = join(dir, 'bin');
  const home = join(dir, 'home');
  const prefix = join(dir, 'prefix');
  const app = join(dir, 'app');
  for (const d of [bin, home, prefix, app]) mkdirSync(d);
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync('/bin/sh', join(bin, 'sh'));
  const ip = execFileSync('sh', ['-c', 'command -v ip || true'], { encoding: 'utf8' }).trim();
  if (ip !== '') symlinkSync(ip, join(bin, 'ip'));
  writeFileSync(join(dir, 'npmrc-global'), '');
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'wgts-user-app', private: true }));
  const env: NodeJS.ProcessEnv = {
    HOME: home,
    PATH: bin,
    LANG: 'C',
    npm_config_cache: npmSetting('cache'),
    npm_config_registry: npmSetting('registry'),
    npm_config_globalconfig: join(dir, 'npmrc-global'),
    npm_config_fetch_retries: '1',
    npm_config_logs_dir: join(dir, 'npm-logs'),
    NODEJS_ORG_MIRROR: NO_HEADERS_URL,
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  };
  // How this machine reaches the registry (a proxy, its CA) is the network's, not a build tool.
  const cafile = npmSetting('cafile');
  if (cafile !== '' && cafile !== 'null' && cafile !== 'undefined') env['npm_config_cafile'] = cafile;
  for (const key of NETWORK_ENV) if (process.env[key] !== undefined) env[key] = process.env[key];
  return { dir, env, bin, prefix, app, npm: [process.execPath, npmCli()] };
}
