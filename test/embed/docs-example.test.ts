/**
 * docs/embedding.md's TypeScript example, compiled under strict settings against the package as
 * a user installs it (`import ... from 'wgts'` through a node_modules link to this checkout) and
 * run. It needs the userspace network stack: while the default stack is not available in this
 * build (it refuses with ERR_WGTS_NO_USERSPACE_STACK), the run is reported as skipped, the type
 * check still counts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exec } from '../helpers/netns.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

test('docs/embedding.md: the example type-checks strictly and runs', async (t) => {
  const markdown = readFileSync(join(ROOT, 'docs', 'embedding.md'), 'utf8');
  const blocks = [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
  assert.equal(blocks.length, 1, 'docs/embedding.md has exactly one ```ts example');
  const dir = mkdtempSync(join(tmpdir(), 'wgts-embed-doc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
  symlinkSync(ROOT, join(dir, 'node_modules', 'wgts'), 'dir');
  symlinkSync(
    join(ROOT, 'node_modules', '@types', 'node'),
    join(dir, 'node_modules', '@types', 'node'),
    'dir',
  );
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        types: ['node'],
        strict: true,
        exactOptionalPropertyTypes: true,
        skipLibCheck: false,
        outDir: 'out',
      },
      files: ['example.ts'],
    }),
  );
  writeFileSync(join(dir, 'example.ts'), `${blocks[0]}\nexport {};\n`);
  const compiled = await exec(null, process.execPath, [TSC, '-p', dir], { timeoutMs: 120_000 });
  assert.equal(compiled.code, 0, `the example does not type-check:\n${compiled.stdout}${compiled.stderr}`);
  const ran = await exec(null, process.execPath, [join(dir, 'out', 'example.js')], { timeoutMs: 60_000 });
  if (ran.code !== 0 && ran.stderr.includes('ERR_WGTS_NO_USERSPACE_STACK')) {
    t.skip('run skipped: the userspace network stack is not in this build yet');
    return;
  }
  assert.equal(ran.code, 0, `the example failed:\n${ran.stdout}${ran.stderr}`);
  assert.match(ran.stdout, /^hello through WireGuard$/m);
});
