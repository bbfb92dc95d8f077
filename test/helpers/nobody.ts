/**
 * Running things as the unprivileged user `nobody`, for the rootless-mode tests (the point of the
 * userspace stack is that a program without CAP_NET_ADMIN can use WireGuard). Commands go through
 * util-linux setpriv(1): `setpriv --reuid=nobody --regid=GROUP --clear-groups -- env -C / CMD …`
 * (real and effective ids both changed, no supplementary groups, working directory `/` because the
 * caller's may not be traversable), inside a namespace or not, tracked like every netns.ts process.
 *
 * Where the code comes from: CI clones the repository into a fresh temporary directory, which may
 * sit under a directory `nobody` cannot traverse (e.g. /root). `nobodyRuntime()` checks, as
 * nobody, that the built package (dist/, package.json, the runtime dependencies) and node are
 * readable and executable where they are; if not, it copies what the package needs at run time
 * (package.json, dist/, node_modules of the runtime dependencies, the native addon) into a fresh
 * world-readable temporary directory (tracked, removed by cleanup) and checks again. Copying was
 * chosen over skipping so the rootless tests run wherever CI puts the clone; only when even the
 * copy (or node itself) is unusable does it return a reason to skip, naming the path that failed.
 */
import { chmodSync, chownSync, cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  exec,
  spawn,
  trackPath,
  which,
  type ExecOptions,
  type ExecResult,
  type SpawnOptions,
  type TrackedProcess,
} from './netns.js';

/** The repository root: three levels above this compiled file (dist/test/helpers). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function nobodyGroup(): string {
  // Debian's group for nobody is nogroup; other distributions call it nobody.
  return readFileSync('/etc/group', 'utf8').includes('\nnogroup:') ? 'nogroup' : 'nobody';
}

/** Why commands cannot run as nobody here (not root, no setpriv, no such user), or null. */
export function nobodyUnavailable(): string | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root to become nobody';
  if (which('setpriv') === null) return 'setpriv (util-linux) not on PATH';
  if (!/^nobody:/m.test(readFileSync('/etc/passwd', 'utf8'))) return 'no user nobody';
  return null;
}

/** The setpriv argv that runs `cmd args` as nobody. */
export function asNobody(cmd: string, args: readonly string[]): [string, string[]] {
  return [
    which('setpriv') ?? 'setpriv',
    ['--reuid=nobody', `--regid=${nobodyGroup()}`, '--clear-groups', '--', 'env', '-C', '/', cmd, ...args],
  ];
}

/** A small environment for nobody: PATH, a writable HOME, a UTF-8 locale, plus `extra`. */
export function nobodyEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: tmpdir(), LANG: 'C.UTF-8', ...extra };
}

/** Starts `cmd args` as nobody (in `ns`, or this namespace), tracked by pid like `spawn`. */
export function spawnAsNobody(
  cmd: string,
  args: readonly string[],
  opts: SpawnOptions & { readonly ns?: string | null } = {},
): TrackedProcess {
  const [file, argv] = asNobody(cmd, args);
  return spawn(opts.ns ?? null, file, argv, { ...opts, env: opts.env ?? nobodyEnv() });
}

/** Runs `cmd args` as nobody to completion (bounded, like `exec`). */
export function execAsNobody(
  cmd: string,
  args: readonly string[],
  opts: ExecOptions & { readonly ns?: string | null } = {},
): Promise<ExecResult> {
  const [file, argv] = asNobody(cmd, args);
  return exec(opts.ns ?? null, file, argv, { ...opts, env: opts.env ?? nobodyEnv() });
}

/**
 * The first of `paths` nobody cannot read (or, for `executables`, execute), naming the first
 * ancestor directory it cannot traverse when that is the cause; null when all are fine.
 */
export async function nobodyCannotUse(
  paths: readonly string[],
  executables: readonly string[] = [],
): Promise<string | null> {
  const checks = [...paths.map((p) => ['-r', p] as const), ...executables.map((p) => ['-x', p] as const)];
  for (const [flag, path] of checks) {
    if ((await execAsNobody('test', [flag, path])).code === 0) continue;
    // From the top down: the first directory that fails is the one to fix (those below fail too).
    const ancestors: string[] = [];
    for (let dir = dirname(path); !ancestors.includes(dir); dir = dirname(dir)) ancestors.unshift(dir);
    for (const dir of ancestors) {
      if ((await execAsNobody('test', ['-x', dir])).code !== 0) {
        return `nobody cannot traverse ${dir} (on the way to ${path})`;
      }
    }
    return `nobody cannot ${flag === '-r' ? 'read' : 'execute'} ${path}`;
  }
  return null;
}

/** nobody's uid and gid (65534 on Debian), from /etc/passwd. */
export function nobodyIds(): { uid: number; gid: number } {
  const m = /^nobody:[^:]*:(\d+):(\d+):/m.exec(readFileSync('/etc/passwd', 'utf8'));
  return m === null ? { uid: 65534, gid: 65534 } : { uid: Number(m[1]), gid: Number(m[2]) };
}

/**
 * Writes `text` to a file `name` that nobody owns and alone can read (0600, as a private key
 * should be), in a fresh tracked directory nobody can traverse (0711). Returns its path.
 */
export function writeFileForNobody(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'nspf-nobody-'));
  trackPath(dir);
  chmodSync(dir, 0o711);
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  const { uid, gid } = nobodyIds();
  chownSync(path, uid, gid);
  return path;
}

export interface NobodyRuntime {
  /** The package root nobody runs from (the repository, or a staged copy). */
  readonly root: string;
  /** `wgts` (dist/src/cli/main.js) under `root`. */
  readonly cliMain: string;
  /** The compiled tests and helpers under `root` (dist/test). */
  readonly distTest: string;
  /** The node binary nobody runs. */
  readonly node: string;
  readonly staged: boolean;
}

function runtimeDeps(root: string): string[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  return Object.keys(pkg.dependencies ?? {});
}

function required(root: string): string[] {
  return [
    join(root, 'package.json'),
    join(root, 'dist', 'src', 'cli', 'main.js'),
    ...runtimeDeps(root).map((d) => join(root, 'node_modules', d, 'package.json')),
  ];
}

/** Copies what the package needs at run time into a fresh world-readable directory (tracked). */
export function stagePackage(root: string = REPO_ROOT): string {
  const dir = mkdtempSync(join(tmpdir(), 'nspf-pkg-'));
  trackPath(dir);
  const copy = (rel: string): void => {
    if (existsSync(join(root, rel)))
      cpSync(join(root, rel), join(dir, rel), { recursive: true, dereference: true });
  };
  for (const rel of ['package.json', 'dist', 'prebuilds', join('build', 'Release')]) copy(rel);
  for (const dep of runtimeDeps(root)) copy(join('node_modules', dep));
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * Where nobody can run the built package from: the repository itself when nobody can read it,
 * else a staged copy (`force` stages regardless). Returns a reason string when neither works.
 */
export async function nobodyRuntime(
  opts: { readonly force?: boolean } = {},
): Promise<NobodyRuntime | string> {
  const unavailable = nobodyUnavailable();
  if (unavailable !== null) return unavailable;
  const node = process.execPath;
  const nodeProblem = await nobodyCannotUse([], [node]);
  if (nodeProblem !== null) return `${nodeProblem}: install node where nobody can run it (e.g. /usr/bin)`;
  let root = REPO_ROOT.replace(/\/$/, '');
  let staged = false;
  if (opts.force === true || (await nobodyCannotUse(required(root))) !== null) {
    root = stagePackage(root);
    staged = true;
    const still = await nobodyCannotUse(required(root));
    if (still !== null) return `staged copy unusable: ${still}`;
  }
  return {
    root,
    cliMain: join(root, 'dist', 'src', 'cli', 'main.js'),
    distTest: join(root, 'dist', 'test'),
    node,
    staged,
  };
}
