/**
 * Mutation fuzzing of the wg(8) config parser (parseWgConfig + configToDeviceSet), bounded to ~8 s:
 * see text-targets.ts for the invariants and engine.ts for the feature guidance.
 */
import { test } from 'node:test';
import { ciFuzz } from './run-ci.js';
import { configTarget } from './text-targets.js';

test('fuzz: parseWgConfig throws only ConfigError FILE:LINE with the line inside the file', async (t) => {
  await ciFuzz(t, configTarget(), {
    seed: 0xc0f1,
    ms: 8_000,
    maxCases: 400_000,
    minCases: 2_000,
    minFeatures: 30,
  });
});
