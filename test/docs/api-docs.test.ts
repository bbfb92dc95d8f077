/**
 * The generated API reference (`npm run docs`, TypeDoc over the package root src/index.ts): it
 * must build with warnings treated as errors, so every type a public signature names is itself
 * exported and documented, and the pages for the embedding API must exist.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exec } from '../helpers/netns.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TYPEDOC = join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc');

test('npm run docs: the API reference builds without warnings and documents WireGuard.open', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'wgts-api-docs-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const r = await exec(
    null,
    process.execPath,
    [
      TYPEDOC,
      '--options',
      join(ROOT, 'typedoc.json'),
      '--tsconfig',
      join(ROOT, 'tsconfig.json'),
      '--out',
      out,
    ],
    {
      timeoutMs: 120_000,
    },
  );
  assert.equal(r.code, 0, `typedoc failed:\n${r.stdout}\n${r.stderr}`);
  const page = join(out, 'classes', 'WireGuard.html');
  assert.ok(existsSync(page), 'no page for WireGuard');
  const html = readFileSync(page, 'utf8');
  for (const member of ['open', 'setconfig', 'peers', 'stats', 'uapiget', 'close', 'network']) {
    assert.match(html, new RegExp(`id="${member}"`), `WireGuard.${member} is not documented`);
  }
});
