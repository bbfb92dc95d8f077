#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with Node's test runner. Node 20's
// `--test DIR` would also run helper modules as if they were tests; listing the files avoids that.
// Arguments narrow the run to paths containing any of them (e.g. `npm test -- interop`).
import { readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.js') ? [p] : [];
  });
}

const filters = process.argv.slice(2);
const files = walk('dist/test')
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  ['--test', `--test-concurrency=${process.env.WGTS_TEST_CONCURRENCY ?? 2}`, ...files],
  {
    stdio: 'inherit',
  },
);
process.exit(r.status ?? 1);
