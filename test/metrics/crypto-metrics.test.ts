/**
 * The crypto pool's families (src/metrics/crypto-metrics.ts), read back with the real text-format
 * parser: threads and the thread gate's spare count as the native pool holds them, a big batch
 * sliced over two threads counted as one worker wake-up, busy seconds that never go down, and no
 * family at all without the addon. Needs the native addon (skipped without it), not root.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { NativeAddon } from '../../src/io/native.js';
import { writeCryptoMetrics } from '../../src/metrics/crypto-metrics.js';
import { Exposition } from '../../src/metrics/text-format.js';
import { parseScrape, valueOf, type ParsedFamily } from './parse.js';
import { noPool, poolNative, sealBigBatch } from '../helpers/crypto-pool.js';

const native = poolNative;
const skip = noPool;

function scrape(n: NativeAddon | null): Map<string, ParsedFamily> {
  const out = new Exposition();
  writeCryptoMetrics(out, n);
  return parseScrape(out.text());
}

after(() => {
  native?.setThreads?.(1);
  native?.setSpareThreads?.(63);
});

test('threads, spare, wake-ups and busy seconds follow the native pool', { skip }, () => {
  const n = native!;
  n.setThreads!(2);
  n.setSpareThreads!(63);
  const before = scrape(n);
  assert.equal(before.get('wgts_crypto_threads')!.type, 'GAUGE');
  assert.equal(before.get('wgts_crypto_worker_wakes_total')!.type, 'COUNTER');
  assert.equal(valueOf(before, 'wgts_crypto_threads'), 2);
  assert.equal(valueOf(before, 'wgts_crypto_spare_threads'), 1, 'no cap: every worker of the pool');
  sealBigBatch(n);
  const afterBatch = scrape(n);
  assert.equal(
    valueOf(afterBatch, 'wgts_crypto_worker_wakes_total') - valueOf(before, 'wgts_crypto_worker_wakes_total'),
    1,
  );
  assert.ok(
    valueOf(afterBatch, 'wgts_crypto_worker_seconds_total') >=
      valueOf(before, 'wgts_crypto_worker_seconds_total'),
  );
  n.setSpareThreads!(0);
  sealBigBatch(n);
  const gated = scrape(n);
  assert.equal(valueOf(gated, 'wgts_crypto_spare_threads'), 0);
  assert.equal(
    valueOf(gated, 'wgts_crypto_worker_wakes_total'),
    valueOf(afterBatch, 'wgts_crypto_worker_wakes_total'),
    'the gate at 0: the batch woke no worker',
  );
});

test('no addon: no crypto family', () => {
  assert.equal(scrape(null).size, 0);
});
