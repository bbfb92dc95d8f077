/**
 * The man pages (man/wgts.8, man/wgtsd.8): groff renders them with every warning on and must say
 * nothing (a roff error or an unknown macro fails), package.json installs them, and each names
 * every option, environment variable and command of the tables the programs' help comes from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMANDS } from '../../src/cli/main.js';
import { CLI_ENVIRONMENT } from '../../src/cli/help.js';
import { daemonEnvironmentNames, daemonHelp } from '../../src/daemon/options.js';
import { which } from '../helpers/netns.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PAGES = ['man/wgts.8', 'man/wgtsd.8'];

/** groff's complaints about `file`: empty when the page is clean. */
function groffWarnings(file: string): string {
  const r = spawnSync('groff', ['-ww', '-man', '-z', file], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.error, undefined, String(r.error));
  return `${r.stderr}${r.status === 0 ? '' : `exit ${r.status}`}`;
}

/** The page as text, with roff's escaped hyphens plain, for looking names up. */
function source(page: string): string {
  return readFileSync(join(ROOT, page), 'utf8').replace(/\\-/g, '-');
}

const noGroff =
  which('groff') === null ? 'groff not on PATH (scripts/ensure-deps.sh installs groff-base)' : false;

test('groff -ww finds nothing wrong in either page, and does catch a broken one', { skip: noGroff }, () => {
  for (const page of PAGES) assert.equal(groffWarnings(join(ROOT, page)), '', page);
  const dir = mkdtempSync(join(tmpdir(), 'op-man-'));
  try {
    const broken = join(dir, 'broken.8');
    writeFileSync(broken, `${readFileSync(join(ROOT, PAGES[0]!), 'utf8')}\n.XX undefined macro\n\\fQfont\n`);
    assert.match(groffWarnings(broken), /warning/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('package.json installs both pages and ships man/ and deploy/', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    man?: string[];
    files?: string[];
  };
  assert.deepEqual(pkg.man?.map((p) => p.replace(/^\.\//, '')).sort(), [...PAGES].sort());
  assert.ok(pkg.files?.includes('man') && pkg.files.includes('deploy'), JSON.stringify(pkg.files));
});

test('wgtsd.8 names every option and variable of wgtsd --help', () => {
  const page = source('man/wgtsd.8');
  for (const name of daemonEnvironmentNames()) assert.match(page, new RegExp(`^\\.B ${name}$`, 'm'), name);
  for (const m of daemonHelp().matchAll(/^ {2}(?:-\w, )?(--[a-z-]+)/gm))
    assert.ok(page.includes(m[1]!), m[1]);
});

test('wgts.8 names every command and every variable of the wgts help', () => {
  const page = source('man/wgts.8');
  for (const name of Object.keys(CLI_ENVIRONMENT))
    assert.match(page, new RegExp(`^\\.B ${name}$`, 'm'), name);
  for (const c of COMMANDS) assert.match(page, new RegExp(`\\b${c.name}\\b`), c.name);
});
