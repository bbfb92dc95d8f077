/**
 * The CI form of a fuzz run (test/fuzz/*.test.ts): a fixed default seed, bounded by time (and a
 * case cap), the counts and features reported through t.diagnostic, and a finding turned into an
 * assertion failure that carries the reproducer. WGTS_FUZZ_SEED and WGTS_FUZZ_MS override the seed
 * and the time budget; scripts/fuzz.mjs is the long-run driver.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { featureList, fuzz, summary, type FuzzTarget } from './engine.js';

function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  const n = v === undefined || v === '' ? NaN : Number(v);
  return Number.isSafeInteger(n) ? n : fallback;
}

export async function ciFuzz<I>(
  t: TestContext,
  target: FuzzTarget<I>,
  o: {
    seed: number;
    ms: number;
    maxCases: number;
    minCases: number;
    minFeatures: number;
    checkEvery?: number;
  },
): Promise<void> {
  const seed = envInt('WGTS_FUZZ_SEED', o.seed);
  const ms = envInt('WGTS_FUZZ_MS', o.ms);
  try {
    const report = await fuzz(target, {
      seed,
      maxMs: ms,
      maxCases: o.maxCases,
      ...(o.checkEvery === undefined ? {} : { checkEvery: o.checkEvery }),
    });
    t.diagnostic(summary(report));
    t.diagnostic(`features: ${featureList(report, 80).join('; ')}`);
    if (report.finding !== null) {
      assert.fail(
        `${target.name} finding (seed ${seed}, case ${report.finding.case}): ${report.finding.message}\n` +
          `reproducer: ${report.finding.input}`,
      );
    }
    assert.ok(report.cases >= o.minCases, `only ${report.cases} cases ran (want ≥ ${o.minCases})`);
    assert.ok(
      report.features.size >= o.minFeatures,
      `only ${report.features.size} distinct features (want ≥ ${o.minFeatures}): the mutators reach too little`,
    );
  } finally {
    target.close?.();
  }
}
