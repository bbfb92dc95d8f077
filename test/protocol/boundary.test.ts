/**
 * The sans-I/O boundary, enforced from the test suite (DESIGN.md "Architecture" and habit 14):
 * nothing in src/protocol or src/routing may import a Node I/O module, read a clock or schedule
 * work. Time enters the core only as the `now` argument; wall time only through an injected
 * function. The scan reads the TypeScript sources (not the compiled output), strips comments so
 * documentation may mention Date.now, and checks string contents only where they matter (module
 * specifiers). Relative imports must stay inside the pure core (src/protocol, src/routing,
 * src/crypto, src/constants.ts), so I/O cannot come in through a sibling layer either.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

// This file runs as dist/test/protocol/boundary.test.js; the repository root is three levels up.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SCANNED_DIRS = ['src/protocol', 'src/routing'] as const;
/** Where a relative import from a scanned file may land. */
const PURE_CORE = ['src/protocol', 'src/routing', 'src/crypto', 'src/constants.ts'] as const;

/** Node built-ins that do I/O, read clocks or schedule work (named without the `node:` prefix). */
const FORBIDDEN_MODULES = new Set([
  'fs',
  'fs/promises',
  'net',
  'dgram',
  'child_process',
  'http',
  'https',
  'http2',
  'tls',
  'worker_threads',
  'os',
  'process',
  'timers',
  'timers/promises',
  'perf_hooks',
  'readline',
  'readline/promises',
  'tty',
  'cluster',
  'dns',
  'dns/promises',
  'inspector',
  'repl',
  'async_hooks',
  'diagnostics_channel',
  'trace_events',
  'v8',
  'vm',
  'wasi',
  'module',
  'stream',
  'stream/promises',
  'sqlite',
]);
/** The only built-ins the core may use (pure computation). */
const ALLOWED_BUILTINS = new Set(['crypto', 'buffer', 'util', 'string_decoder', 'assert', 'assert/strict']);
/** Third-party packages DESIGN.md allows in the core. */
const ALLOWED_PACKAGES = ['@noble/hashes', '@noble/ciphers'];
const BUILTINS = new Set(builtinModules.map((m) => m.replace(/^node:/, '')));

/** Clock reads and scheduling, matched against code with comments and string contents removed. */
const FORBIDDEN_CODE: readonly (readonly [RegExp, string])[] = [
  [/\bDate\s*\.\s*now\b/, 'Date.now'],
  [/\bnew\s+Date\b/, 'new Date'],
  [/(?<![\w$.])Date\s*\(/, 'Date()'],
  [/(?<![\w$])performance\s*[.[]/, 'performance.*'],
  [/(?<![\w$.])process\s*[.[]/, 'process.*'],
  [/\bhrtime\b/, 'hrtime'],
  [/(?<![\w$.])(?:setTimeout|setInterval|setImmediate|queueMicrotask|requestIdleCallback)\b/, 'scheduling'],
  [/(?<![\w$.])(?:clearTimeout|clearInterval|clearImmediate)\b/, 'scheduling'],
  [/\bglobalThis\s*\.\s*(?:process|performance|Date|set\w+|queueMicrotask)\b/, 'globalThis clock/scheduling'],
  [/\bglobalThis\s*\[/, 'computed globalThis access'],
  [/\bcreateRequire\b/, 'createRequire'],
];

interface Views {
  /** Comments replaced by spaces; strings intact (for module specifiers). */
  readonly code: string;
  /** Comments and the contents of string and template literals replaced by spaces. */
  readonly bare: string;
}

/**
 * A small TypeScript lexer: enough to tell comments, strings, template literals (with nested
 * `${}` expressions) and regular expression literals from code. Newlines are kept so reported
 * line numbers match the source.
 */
function lex(src: string): Views {
  let code = '';
  let bare = '';
  const emit = (ch: string, inCode: boolean, inString: boolean): void => {
    const blank = ch === '\n' ? '\n' : ' ';
    code += inCode || inString ? ch : blank;
    bare += inCode ? ch : blank;
  };
  // Stack of template-literal brace depths: when we are inside `${ ... }` of a template.
  const templates: number[] = [];
  let braceDepth = 0;
  // The previous token, to tell a regular expression literal from a division.
  let prevKind: 'start' | 'punct' | 'word' | 'operand' = 'start';
  let prevPunct = '';
  let prevWord = '';
  let i = 0;
  const regexAllowed = (): boolean =>
    prevKind === 'start' ||
    (prevKind === 'punct' && '(,=:[!&|?{};+-*%<>~^'.includes(prevPunct)) ||
    (prevKind === 'word' &&
      /^(?:return|typeof|instanceof|in|of|new|delete|void|throw|case|do|else|yield|await)$/.test(prevWord));

  while (i < src.length) {
    const ch = src[i]!;
    const next = src[i + 1];
    if (ch === '/' && next === '/') {
      while (i < src.length && src[i] !== '\n') emit(src[i++]!, false, false);
      continue;
    }
    if (ch === '/' && next === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end === -1 ? src.length : end + 2;
      while (i < stop) emit(src[i++]!, false, false);
      continue;
    }
    if (ch === "'" || ch === '"') {
      emit(ch, true, false);
      i++;
      while (i < src.length && src[i] !== ch && src[i] !== '\n') {
        if (src[i] === '\\') emit(src[i++]!, false, true);
        if (i < src.length) emit(src[i++]!, false, true);
      }
      if (i < src.length) emit(src[i++]!, true, false);
      prevKind = 'operand';
      continue;
    }
    if (
      ch === '`' ||
      (ch === '}' && templates.length > 0 && templates[templates.length - 1] === braceDepth)
    ) {
      // The start of a template, or the end of a `${}` expression resuming one.
      if (ch === '}') templates.pop();
      emit(ch, true, false);
      i++;
      while (i < src.length) {
        const c = src[i]!;
        if (c === '\\') {
          emit(src[i++]!, false, true);
          if (i < src.length) emit(src[i++]!, false, true);
          continue;
        }
        if (c === '`') {
          emit(c, true, false);
          i++;
          break;
        }
        if (c === '$' && src[i + 1] === '{') {
          emit('$', true, false);
          emit('{', true, false);
          i += 2;
          templates.push(braceDepth);
          break;
        }
        emit(c, false, true);
        i++;
      }
      prevKind = 'operand';
      continue;
    }
    if (ch === '/' && regexAllowed()) {
      emit(ch, true, false);
      i++;
      let inClass = false;
      while (i < src.length && src[i] !== '\n') {
        const c = src[i]!;
        if (c === '\\') {
          emit(src[i++]!, false, true);
          if (i < src.length) emit(src[i++]!, false, true);
          continue;
        }
        if (c === '[') inClass = true;
        else if (c === ']') inClass = false;
        else if (c === '/' && !inClass) break;
        emit(c, false, true);
        i++;
      }
      if (i < src.length && src[i] === '/') emit(src[i++]!, true, false);
      prevKind = 'operand';
      continue;
    }
    if (/[\w$]/.test(ch)) {
      let word = '';
      while (i < src.length && /[\w$]/.test(src[i]!)) {
        word += src[i];
        emit(src[i++]!, true, false);
      }
      prevKind = 'word';
      prevWord = word;
      continue;
    }
    if (ch === '{') braceDepth++;
    if (ch === '}') braceDepth--;
    emit(ch, true, false);
    i++;
    if (!/\s/.test(ch)) {
      prevKind = 'punct';
      prevPunct = ch;
    }
  }
  return { code, bare };
}

interface Violation {
  readonly line: number;
  readonly what: string;
}

const IMPORT_PATTERNS: readonly RegExp[] = [
  /\b(?:import|export)\b[^;'"`]*?\bfrom\s*(['"`])([^'"`]*)\1/g, // import x from 'm', export * from 'm'
  /\bimport\s*(['"`])([^'"`]*)\1/g, // import 'm'
  /\bimport\s*\(\s*(['"`])([^'"`]*)\1/g, // import('m')
  /\brequire\s*\(\s*(['"`])([^'"`]*)\1/g, // require('m'), import x = require('m')
];

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Module specifiers a source imports (any form), with their lines. */
function importsOf(src: string): { specifier: string; line: number }[] {
  const { code, bare } = lex(src);
  const found = new Map<number, { specifier: string; line: number }>();
  for (const pattern of IMPORT_PATTERNS) {
    for (const m of code.matchAll(pattern)) {
      if (bare.charCodeAt(m.index) !== code.charCodeAt(m.index)) continue; // the keyword is inside a string
      const at = m.index + m[0].lastIndexOf(m[2]!);
      found.set(at, { specifier: m[2]!, line: lineOf(code, at) });
    }
  }
  return [...found.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

/**
 * Everything in `src` that breaks the boundary. `file` is the source's path relative to ROOT
 * (needed to resolve relative imports).
 */
function violations(src: string, file: string): Violation[] {
  const out: Violation[] = [];
  const { code, bare } = lex(src);
  for (const { specifier, line } of importsOf(src)) {
    const problem = checkSpecifier(specifier, file);
    if (problem !== null) out.push({ line, what: `imports '${specifier}': ${problem}` });
  }
  // A dynamic import or require whose argument is not a literal cannot be checked: refuse it.
  // (The two views have the same length, so an index into one is an index into the other.)
  for (const m of bare.matchAll(/\b(?:import|require)\s*\(/g)) {
    if (!/^\s*(['"`])[^'"`]*\1\s*\)/.test(code.slice(m.index + m[0].length))) {
      out.push({ line: lineOf(bare, m.index), what: 'non-literal dynamic import or require' });
    }
  }
  for (const [pattern, what] of FORBIDDEN_CODE) {
    const g = new RegExp(pattern.source, 'g');
    for (const m of bare.matchAll(g))
      out.push({ line: lineOf(bare, m.index), what: `${what} (${m[0].trim()})` });
  }
  return out;
}

function checkSpecifier(specifier: string, file: string): string | null {
  if (specifier.startsWith('.') || specifier.startsWith('/')) {
    const target = relative(ROOT, resolve(ROOT, dirname(file), specifier))
      .split(sep)
      .join('/');
    const inside = PURE_CORE.some(
      (p) => target === p || target.startsWith(`${p}/`) || target === p.replace(/\.ts$/, '.js'),
    );
    return inside ? null : `resolves to ${target}, outside the sans-I/O core`;
  }
  const name = specifier.replace(/^node:/, '');
  if (FORBIDDEN_MODULES.has(name)) return 'Node I/O, clock or scheduling module';
  if (specifier.startsWith('node:') || BUILTINS.has(name)) {
    return ALLOWED_BUILTINS.has(name) ? null : 'Node built-in not on the core allowlist';
  }
  return ALLOWED_PACKAGES.some((p) => name === p || name.startsWith(`${p}/`))
    ? null
    : 'package not allowed in the core';
}

function sourcesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir))) {
    const rel = `${dir}/${entry}`;
    if (statSync(join(ROOT, rel)).isDirectory()) out.push(...sourcesUnder(rel));
    else if (/\.(?:ts|mts|cts)$/.test(entry) && !entry.endsWith('.d.ts')) out.push(rel);
  }
  return out.sort();
}

test('src/protocol and src/routing import no I/O and read no clock', (t) => {
  const files = SCANNED_DIRS.flatMap((d) => sourcesUnder(d));
  const perDir = SCANNED_DIRS.map((d) => files.filter((f) => f.startsWith(`${d}/`)).length);
  t.diagnostic(
    `scanned ${files.length} files (${SCANNED_DIRS.map((d, i) => `${d}: ${perDir[i]}`).join(', ')})`,
  );
  // Not vacuous: the directories were found and hold the core.
  assert.ok(perDir[0]! >= 10, `expected at least 10 files in src/protocol, found ${perDir[0]}`);
  assert.ok(perDir[1]! >= 3, `expected at least 3 files in src/routing, found ${perDir[1]}`);
  assert.ok(files.includes('src/protocol/tunnel.ts'), 'src/protocol/tunnel.ts was scanned');

  let importCount = 0;
  const problems: string[] = [];
  for (const file of files) {
    const src = readFileSync(join(ROOT, file), 'utf8');
    importCount += importsOf(src).length;
    for (const v of violations(src, file)) problems.push(`${file}:${v.line}: ${v.what}`);
  }
  // Not vacuous either: the import scanner understood the files' real imports.
  assert.ok(importCount >= files.length, `only ${importCount} imports parsed from ${files.length} files`);
  t.diagnostic(`${importCount} import specifiers checked`);
  assert.deepEqual(problems, [], `the sans-I/O boundary is broken:\n${problems.join('\n')}`);
});

test('the scanner flags offending code and ignores comments and strings', () => {
  const file = 'src/protocol/example.ts';
  const flagged = (src: string): string[] => violations(src, file).map((v) => v.what);
  const offending = [
    "import { readFileSync } from 'node:fs';",
    "import * as fs from 'fs';",
    "import type { Socket } from 'node:net';",
    "import { createSocket } from 'dgram';",
    "export { spawn } from 'node:child_process';",
    "import 'node:worker_threads';",
    "const os = await import('node:os');",
    "const dns = require('dns');",
    "import cp = require('child_process');",
    "import { setTimeout as sleep } from 'node:timers/promises';",
    "import { performance as p } from 'node:perf_hooks';",
    "import { stdin } from 'node:process';",
    "import { Device } from '../device/device.js';",
    "import { Bind } from '../io/bind.js';",
    "import express from 'express';",
    'const m = await import(name);',
    'const t = Date.now();',
    'const d = new Date();',
    'const s = Date();',
    'const t = performance.now();',
    'const [s, ns] = process.hrtime();',
    'const big = process.hrtime.bigint();',
    'if (process.env.DEBUG) log();',
    'setTimeout(tick, 10);',
    'const h = setInterval(tick, 1000);',
    'setImmediate(() => {});',
    'queueMicrotask(run);',
    'globalThis.setTimeout(tick, 1);',
    "globalThis['process'].exit(1);",
    'const msg = `now=${Date.now()}`;',
    'const nested = `a${`b${setTimeout(f, 1)}`}`;',
    'const r = /x/; const t = Date.now();',
  ];
  for (const src of offending) assert.notDeepEqual(flagged(src), [], `should be flagged: ${src}`);

  const clean = [
    '// Date.now() and setTimeout are what the device uses; here time is `now`.',
    '/* import { readFileSync } from "node:fs"; performance.now() */ const x = 1;',
    "const reason = 'setTimeout is not used; Date.now is not read';",
    'const s = "process.hrtime() and new Date() are off limits";',
    'const t = `template mentioning Date.now and setInterval`;',
    'const re = /Date\\.now|setTimeout\\(/;',
    'const a = b / c; const d = e / f; // Date.now',
    "import { tai64nAfter } from '../crypto/tai64n.js';",
    "import { DEFAULT_MTU } from '../constants.js';",
    "import type { Keypair } from './keypairs.js';",
    "import { addressBits } from '../routing/ip.js';",
    "import { timingSafeEqual } from 'node:crypto';",
    "import { blake2s } from '@noble/hashes/blake2.js';",
    'this.timers.setPersistentKeepalive(seconds, now); kp.process(); obj.setTimeout = 1;',
    'const updated = lastDate; const processed = 1; const performanceNote = 2;',
    'const u = `${a}/${b}`; const v = /\\//.test(u);',
  ];
  for (const src of clean) assert.deepEqual(flagged(src), [], `should not be flagged: ${src}`);

  // Line numbers survive comment stripping.
  const lines = violations('/*\n * Date.now\n */\nconst x = 1;\nconst t = Date.now();\n', file);
  assert.deepEqual(
    lines.map((v) => v.line),
    [5],
  );
});
