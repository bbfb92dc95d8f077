/**
 * An oracle for undocumented settings: every environment variable the source reads (src/**, as
 * `process.env.X`, `env['X']`, or a `'WG_…'`/`'WGTS_…'` name handed to a lookup) must appear in
 * `wgtsd --help` or in the help of some wgts command, so adding a variable without documenting it
 * fails here. The man pages are checked against the same tables in man.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMANDS } from '../../src/cli/main.js';
import { CLI_MAIN } from '../cli/helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WGTSD_MAIN = join(ROOT, 'dist/src/daemon/main.js');

/** Read but deliberately not user settings. */
const NOT_SETTINGS: Readonly<Record<string, string>> = {
  PATH: 'the standard search path, used to find ip, nft, resolvconf and the daemon',
  WGTSD_READY_FD: "the daemonising parent's private pipe to its child (src/daemon/daemonize.ts)",
  WGTSD_DETACHED: 'the daemonising parent telling its child it runs detached (src/daemon/daemonize.ts)',
  WGTS_NATIVE_ADDON: "the sanitizer build of the addon for scripts/asan.sh's test run (src/io/native.ts)",
  WGTS_V8_FLAGS:
    "V8 flags for a developer's latency study of the daemon (bench/hops.mjs, src/daemon/main.ts)",
  WGTS_CPU_PROF: "a developer's CPU profile of the daemon (bench/hops.mjs, src/daemon/main.ts)",
  WGTS_CPU_PROF_INTERVAL: 'the sampling interval of that profile (src/daemon/main.ts)',
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The source without comments (a `//` inside a string such as a URL follows a non-space). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|\s)\/\/.*$/gm, '$1');
}

/** Every variable name read in `text`, with the forms listed in the header. */
export function environmentReads(text: string): Set<string> {
  const found = new Set<string>();
  const body = code(text);
  for (const m of body.matchAll(/\benv(?:\.([A-Z_][A-Z0-9_]*)\b|\[\s*['"]([A-Z_][A-Z0-9_]*)['"]\s*\])/g)) {
    found.add((m[1] ?? m[2])!);
  }
  for (const m of body.matchAll(/['"`]((?:WG|WGTS|WGTSD)_[A-Z0-9_]+)['"`]/g)) found.add(m[1]!);
  return found;
}

function run(file: string, args: string[]): string {
  return execFileSync(process.execPath, [file, ...args], { encoding: 'utf8', timeout: 20_000 });
}

test('the scanner sees each form of read (it must not pass by finding nothing)', () => {
  const sample = `
    const a = process.env.LOG_LEVEL; // process.env.IN_A_COMMENT
    const b = ctx.env['WG_HIDE_KEYS'];
    /* env.ALSO_A_COMMENT */
    const c = fdFromEnv('WG_TUN_FD');
    const d = env.WGTS_WARMUP !== '0';
    const url = 'http://example.org/'; const e = process.env["WGTS_X"];`;
  assert.deepEqual(
    [...environmentReads(sample)].sort(),
    ['LOG_LEVEL', 'WGTS_WARMUP', 'WGTS_X', 'WG_HIDE_KEYS', 'WG_TUN_FD'].sort(),
  );
});

test('every environment variable read in src/ is in wgtsd --help or a wgts help', () => {
  const read = new Set<string>();
  const where = new Map<string, string>();
  for (const file of sources(join(ROOT, 'src'))) {
    for (const name of environmentReads(readFileSync(file, 'utf8'))) {
      read.add(name);
      if (!where.has(name)) where.set(name, file.slice(ROOT.length));
    }
  }
  // The reads known today must be found, or the scanner has gone blind.
  for (const name of ['LOG_LEVEL', 'WG_PROCESS_FOREGROUND', 'WG_UAPI_FD', 'WGTS_STATS_MS', 'WG_COLOR_MODE']) {
    assert.ok(read.has(name), `scanner missed ${name}`);
  }
  let help = run(WGTSD_MAIN, ['--help']) + run(CLI_MAIN, ['help']);
  for (const c of COMMANDS) help += run(CLI_MAIN, ['help', c.name]);
  const undocumented = [...read].filter(
    (name) => NOT_SETTINGS[name] === undefined && !new RegExp(`\\b${name}=`).test(help),
  );
  assert.deepEqual(
    undocumented.map((n) => `${n} (read in ${where.get(n)})`),
    [],
    'document these in src/daemon/options.ts (wgtsd) or src/cli/help.ts (wgts), and in man/',
  );
});
