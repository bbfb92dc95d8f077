/**
 * The thread gate (src/device/thread-gate.ts; issue 11 "Multi-core"): how many crypto workers a
 * batch may wake is the CPU the machine left idle plus the CPU the workers used, less what one
 * worker needs to pay. The policy's table; /proc/stat's first line parsed (the real file on
 * Linux, and made-up and broken lines); WGTS_THREAD_GATE; and the gate steering the real native
 * pool from a scripted clock and idle counter: no spare CPU, no worker woken by a batch big enough
 * to be sliced; a CPU idle, one worker woken; re-decided at most every SAMPLE_MS. Needs the native
 * addon for the pool cases (skipped without it), not root.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { applyThreads } from '../../src/device/threads.js';
import {
  MIN_SPREAD_PACKETS,
  parseGate,
  parseProcStat,
  SAMPLE_MS,
  spareThreads,
  ThreadGate,
  threadGate,
  WORKER_MIN_CPU,
} from '../../src/device/thread-gate.js';
import { noPool, poolNative, sealBigBatch } from '../helpers/crypto-pool.js';

const native = poolNative;

describe('spareThreads: idle CPU plus the workers own, less what a worker needs', () => {
  const cases: [idle: number, workers: number, threads: number, spare: number][] = [
    [0, 0, 2, 0], // a saturated machine
    [0.2, 0.08, 2, 0], // measured: one TCP stream through two daemons on 2 CPUs, 2 threads each
    [WORKER_MIN_CPU, 0, 2, 1], // just enough idle for one worker
    [WORKER_MIN_CPU - 0.01, 0, 2, 0],
    [0.1, 0.85, 2, 1], // measured: bench:datapath, its worker busy and keeping its CPU
    [1.69, 0, 4, 1],
    [1.7, 0, 4, 2],
    [14, 0, 8, 7], // a 16-CPU server with one busy tunnel: capped by the pool
    [5, 0, 1, 0], // one thread: nothing to wake
    [-3, -1, 4, 0], // counters that went backwards count as nothing
  ];
  for (const [idle, workers, threads, spare] of cases)
    test(`idle ${idle}, workers ${workers}, ${threads} threads -> ${spare}`, () =>
      assert.equal(spareThreads(idle, workers, threads), spare));
});

describe('parseProcStat', () => {
  test('the first line: idle + iowait, and the sum of the first 8 fields', () => {
    assert.deepEqual(parseProcStat('cpu  10 1 5 100 7 2 3 4 9 0\ncpu0 5 0 2 50 3 1 1 2 4 0\n'), {
      idle: 107,
      total: 132,
    });
    assert.deepEqual(parseProcStat('cpu 1 2 3 4\n'), { idle: 4, total: 10 }); // old kernels: 4 fields
  });

  test('anything else is null', () => {
    for (const bad of ['', 'cpu0 1 2 3 4 5\n', 'intr 1 2 3 4\n', 'cpu  1 2 x 4 5\n', 'cpu 1 2 3\n'])
      assert.equal(parseProcStat(bad), null, JSON.stringify(bad));
  });

  test(
    'this machine: idle never above total, and both only grow',
    { skip: process.platform !== 'linux' },
    () => {
      const a = parseProcStat(readFileSync('/proc/stat', 'latin1'));
      assert.ok(a !== null && a.idle <= a.total && a.total > 0, JSON.stringify(a));
      const b = parseProcStat(readFileSync('/proc/stat', 'latin1'));
      assert.ok(b !== null && b.idle >= a.idle && b.total >= a.total);
    },
  );
});

describe('WGTS_THREAD_GATE', () => {
  test('on by default; "off" turns it off; anything else is an error', () => {
    assert.equal(parseGate(undefined), true);
    assert.equal(parseGate(''), true);
    assert.equal(parseGate(' on '), true);
    assert.equal(parseGate('off'), false);
    assert.ok(parseGate('0') instanceof Error);
    assert.ok(parseGate('OFF') instanceof Error);
  });

  test('a bad value is logged and the gate stays on', { skip: noPool }, () => {
    const errors: string[] = [];
    const log = { verboseEnabled: false, verbose: () => {}, error: (m: string) => errors.push(m) };
    try {
      assert.equal(applyThreads(log, { WGTS_THREADS: '2', WGTS_THREAD_GATE: 'sometimes' }, native), 2);
      assert.equal(errors.length, 1);
      assert.match(errors[0]!, /WGTS_THREAD_GATE=sometimes is neither on nor off; using on/);
    } finally {
      threadGate.configure(native, false);
      native!.setThreads!(1);
    }
  });
});

describe('the gate steering the native pool', { skip: noPool }, () => {
  const n = native!;
  after(() => {
    n.setThreads!(1);
    n.setSpareThreads!(63);
  });

  const wakesOfBigBatch = (): number => sealBigBatch(n);

  /** A gate on a scripted clock and idle counter, steering the pool at `threads`; counts reads. */
  function scripted(
    threads: number,
    clock: () => number,
    idle: () => number | null,
  ): { gate: ThreadGate; reads: () => number } {
    let reads = 0;
    const gate = new ThreadGate({
      now: clock,
      idleTicks: () => {
        reads++;
        return idle();
      },
    });
    n.setThreads!(threads);
    gate.configure(n, true);
    return { gate, reads: () => reads };
  }

  test('no idle CPU: no worker; a CPU idle: one; re-decided only every SAMPLE_MS', () => {
    let now = 1000;
    let idle = 5000;
    const { gate, reads: readCount } = scripted(
      2,
      () => now,
      () => idle,
    );
    assert.equal(n.poolStats!().spare, 63, 'configuring sets no cap before a measurement');
    gate.tick(800); // first sample: a baseline, no decision
    assert.equal(readCount(), 1);
    assert.equal(wakesOfBigBatch(), 1, 'without a cap the big batch wakes the worker');

    now += SAMPLE_MS; // nothing idle in that time; the worker's one batch is all it gives back
    gate.tick(800);
    assert.equal(readCount(), 2);
    assert.equal(n.poolStats!().spare, 0, 'the worker used far less than WORKER_MIN_CPU');
    assert.equal(wakesOfBigBatch(), 0, 'no spare CPU: the batch stays on the calling thread');

    now += SAMPLE_MS / 2;
    idle += 100; // a whole CPU idle (100 ticks a second) from here on
    gate.tick(800);
    assert.equal(readCount(), 2, 'within SAMPLE_MS the gate neither reads nor re-decides');
    assert.equal(wakesOfBigBatch(), 0);

    now += SAMPLE_MS / 2;
    gate.tick(800); // 100 ticks over 0.2 s: 5 idle CPUs' worth, capped by the pool
    assert.equal(readCount(), 3);
    assert.equal(n.poolStats!().spare, 1);
    assert.equal(wakesOfBigBatch(), 1, 'a CPU to spare: the worker is woken');
  });

  test('an unreadable /proc/stat decides nothing; off lifts the cap', () => {
    let now = 0;
    let idle: number | null = 10;
    const { gate } = scripted(
      2,
      () => now,
      () => idle,
    );
    gate.tick(800);
    now += SAMPLE_MS;
    gate.tick(800);
    assert.equal(n.poolStats!().spare, 0, 'no idle ticks in the interval');
    idle = null;
    now += SAMPLE_MS;
    gate.tick(800);
    assert.equal(n.poolStats!().spare, 0, 'no reading: the last decision stands');
    gate.configure(n, false);
    assert.equal(n.poolStats!().spare, 63);
    now += SAMPLE_MS;
    idle = 10;
    gate.tick(800);
    now += SAMPLE_MS;
    gate.tick(800);
    assert.equal(n.poolStats!().spare, 63, 'off: ticks change nothing');
    assert.equal(wakesOfBigBatch(), 1);
  });

  test('a batch too small to be spread never samples (an idle ping pays nothing)', () => {
    let now = 0;
    const { gate, reads } = scripted(
      2,
      () => now,
      () => 0,
    );
    for (let k = 0; k < 5; k++) {
      now += SAMPLE_MS;
      gate.tick(1);
      gate.tick(MIN_SPREAD_PACKETS - 1);
    }
    assert.equal(reads(), 0);
    gate.tick(MIN_SPREAD_PACKETS);
    assert.equal(reads(), 1);
  });

  test('MIN_SPREAD_PACKETS is the native threshold: one datagram fewer is never spread', () => {
    n.setThreads!(2);
    n.setSpareThreads!(63);
    const wakes = (count: number): number => {
      const stride = 16 + 65_535 + 16;
      const buffer = new Uint8Array(count * stride);
      const offsets = new Uint32Array(count).map((_, k) => k * stride);
      const lengths = new Uint32Array(count).fill(65_535);
      const before = n.poolStats!().wakes;
      n.sealBatch(new Uint8Array(32).fill(5), 1, 0n, buffer, offsets, lengths, 0, count);
      return n.poolStats!().wakes - before;
    };
    assert.equal(wakes(MIN_SPREAD_PACKETS - 1), 0, 'the largest datagrams, one fewer: one thread');
    assert.equal(wakes(MIN_SPREAD_PACKETS), 1, 'MIN_SPREAD_PACKETS of them: shared with a worker');
  });

  test('one thread: nothing to gate, nothing read', () => {
    const { gate, reads } = scripted(
      1,
      () => 0,
      () => 0,
    );
    gate.tick(800);
    assert.equal(reads(), 0);
    assert.equal(wakesOfBigBatch(), 0);
  });
});
