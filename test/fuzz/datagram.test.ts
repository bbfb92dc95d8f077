/**
 * Mutation fuzzing of the device's datagram handler on the fakes, bounded to ~10 s: see
 * datagram-target.ts for the setup, the mutators and the invariants. Complements
 * test/protocol/mutation.test.ts (the sans-I/O Tunnel with an exact classifier) with the device
 * layer: the receive loop, the handshake queue and under-load switch, the index table, TUN writes.
 */
import { test } from 'node:test';
import { datagramTarget } from './datagram-target.js';
import { ciFuzz } from './run-ci.js';

test('fuzz: mutated datagrams of all four types never throw, reach the TUN, or get more than cookie replies', async (t) => {
  const target = await datagramTarget(0xda7a);
  t.diagnostic(`captured: ${JSON.stringify(target.captured)}`);
  await ciFuzz(t, target, {
    seed: 0xda7a,
    ms: 9_000,
    maxCases: 200_000,
    minCases: 500,
    minFeatures: 25,
    checkEvery: 500,
  });
});
