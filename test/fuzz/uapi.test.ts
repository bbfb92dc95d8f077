/**
 * Mutation fuzzing of the UAPI request path (RequestReader framing + parseSet), bounded to ~8 s:
 * see text-targets.ts for the invariants and engine.ts for the feature guidance.
 */
import { test } from 'node:test';
import { ciFuzz } from './run-ci.js';
import { uapiTarget } from './text-targets.js';

test('fuzz: UAPI reader + parseSet never throw but UapiError(EINVAL|EPROTO), never yield a bad DeviceSet', async (t) => {
  await ciFuzz(t, uapiTarget(), {
    seed: 0x0a91,
    ms: 8_000,
    maxCases: 400_000,
    minCases: 2_000,
    minFeatures: 40,
  });
});
