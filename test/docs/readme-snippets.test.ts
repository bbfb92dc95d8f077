/**
 * The README's TypeScript examples, type-checked under this project's strict compiler settings
 * and then run, as a user who copies them would: each ```ts block becomes a module that imports
 * `wgts` by its package name (resolved to this checkout through a node_modules link), is compiled
 * by the same tsc, and is executed with Node. A block that fails to compile, throws or exits
 * non-zero fails its test; a README without TypeScript blocks fails too, so the check cannot
 * pass by finding nothing.
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

/** The fenced ```ts blocks of a markdown text, with the line each starts on. */
function typescriptBlocks(markdown: string): { line: number; code: string }[] {
  const blocks: { line: number; code: string }[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i]!)) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end] !== '```') end++;
    blocks.push({ line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return blocks;
}

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const blocks = typescriptBlocks(readme);

test('the README has TypeScript examples to check', () => {
  assert.ok(blocks.length > 0, 'no ```ts block found in README.md');
});

for (const [i, block] of blocks.entries()) {
  test(`README.md:${block.line}: the example type-checks strictly and runs`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgts-readme-'));
    try {
      // `import ... from 'wgts'` resolves through package.json "exports" of this checkout, as an
      // installed package would; @types/node comes from our own devDependencies.
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
            noUnusedLocals: false,
            skipLibCheck: false,
            outDir: 'out',
          },
          files: ['example.ts'],
        }),
      );
      writeFileSync(join(dir, 'example.ts'), `${block.code}\nexport {};\n`);
      const compiled = await exec(null, process.execPath, [TSC, '-p', dir], { timeoutMs: 120_000 });
      assert.equal(
        compiled.code,
        0,
        `block ${i + 1} does not type-check:\n${compiled.stdout}${compiled.stderr}`,
      );
      const ran = await exec(null, process.execPath, [join(dir, 'out', 'example.js')], { timeoutMs: 60_000 });
      assert.equal(ran.code, 0, `block ${i + 1} failed when run:\n${ran.stdout}${ran.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
