#!/usr/bin/env node
// Long fuzz runs (TEST-PLAN "Load"; the CI versions are test/fuzz/*.test.ts, ~10 s each). Runs the
// compiled engine (dist/test/fuzz, so `npm run build` first) against one target for a bounded
// time, printing progress and, at the end, the case count, the corpus size and the features seen
// (output features: drop reasons, result kinds, errnos, normalised error messages; see
// test/fuzz/engine.ts). On a finding it writes the reproducer to a JSON file and exits 1.
//
//   node scripts/fuzz.mjs datagram|uapi|config [--seconds N] [--seed S] [--cases N] [--out DIR]
//   node scripts/fuzz.mjs TARGET --replay FILE      (runs one reproducer's input again, fresh state)
//
// Every run is deterministic from its seed (the datagram target's keys and device randomness too),
// so a finding file also carries `rerun`: the command that replays the whole case sequence.
//
// Exit: 0 no finding, 1 finding, 2 bad usage.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { featureList, fuzz, replay, summary } from '../dist/test/fuzz/engine.js';
import { datagramTarget } from '../dist/test/fuzz/datagram-target.js';
import { configTarget, uapiTarget } from '../dist/test/fuzz/text-targets.js';

const TARGETS = {
  datagram: (seed) => datagramTarget(seed),
  uapi: async () => uapiTarget(),
  config: async () => configTarget(),
};

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const name = process.argv[2];
if (!(name in TARGETS)) {
  console.error(
    `usage: fuzz.mjs ${Object.keys(TARGETS).join('|')} [--seconds N] [--seed S] [--cases N] [--out DIR]`,
  );
  process.exit(2);
}
const seconds = Number(arg('seconds', '60'));
const seed = Number(arg('seed', String(Date.now() % 0x7fffffff)));
const cases = arg('cases', undefined);
const out = arg('out', '.');
const replayFile = arg('replay', undefined);
if (!(seconds > 0 && seconds <= 7 * 86_400) || !Number.isSafeInteger(seed)) {
  console.error('fuzz.mjs: --seconds must be in (0, 604800] and --seed an integer');
  process.exit(2);
}

const finding = replayFile === undefined ? null : JSON.parse(readFileSync(replayFile, 'utf8'));
// The datagram target's keys come from the seed: a replay must rebuild it with the finding's.
const target = await TARGETS[name](finding?.seed ?? seed);
try {
  if (finding !== null) {
    try {
      const features = await replay(target, finding.input, finding.seed);
      console.log(`replay ${replayFile}: no failure; features: ${features.join(', ')}`);
      process.exitCode = 0;
    } catch (err) {
      console.log(`replay ${replayFile}: FAILS: ${err instanceof Error ? err.stack : String(err)}`);
      process.exitCode = 1;
    }
  } else {
    console.log(
      `fuzz ${name}: seed ${seed}, ${seconds} s${cases === undefined ? '' : `, at most ${cases} cases`}`,
    );
    const report = await fuzz(target, {
      seed,
      maxMs: seconds * 1000,
      ...(cases === undefined ? {} : { maxCases: Number(cases) }),
      progress: (r) => console.log(`  ${summary(r)}`),
      progressMs: 10_000,
    });
    console.log(summary(report));
    console.log(`features (${report.features.size}):\n  ${featureList(report, 500).join('\n  ')}`);
    if (report.finding !== null) {
      const file = join(out, `fuzz-finding-${name}-${seed}.json`);
      // The input alone may need the state the earlier cases built: the rerun line replays them all.
      const rerun = `node scripts/fuzz.mjs ${name} --seed ${seed} --cases ${report.finding.case} --seconds ${seconds * 10}`;
      writeFileSync(file, `${JSON.stringify({ ...report.finding, rerun }, null, 1)}\n`);
      console.log(`FINDING at case ${report.finding.case}: ${report.finding.message}`);
      console.log(`reproducer written to ${file} (replay: node scripts/fuzz.mjs ${name} --replay ${file})`);
      process.exitCode = 1;
    }
  }
} finally {
  target.close?.();
}
