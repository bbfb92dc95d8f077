/**
 * DeadlineQueue (src/device/deadline-queue.ts), the heap behind the device's one timer: checked
 * against a naive reference (a map of key -> earliest deadline, scanned) on random operations,
 * and the lazy-deletion cases by hand.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeadlineQueue } from '../../src/device/deadline-queue.js';

/** A tiny deterministic PRNG (xorshift32), so a failure replays. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

test('random adds, deletes and takes agree with a naive reference', () => {
  for (const seed of [1, 7, 42, 1234, 99_999]) {
    const r = rng(seed);
    const q = new DeadlineQueue<number>();
    const ref = new Map<number, number>();
    let now = 0;
    for (let step = 0; step < 5_000; step++) {
      const op = r();
      const key = Math.floor(r() * 20);
      if (op < 0.55) {
        const at = now + Math.floor(r() * 1_000);
        const was = ref.get(key) ?? Infinity;
        const added = q.add(key, at);
        assert.equal(added, at < was, `seed ${seed} step ${step}: add reports whether it queued`);
        if (at < was) ref.set(key, at);
      } else if (op < 0.65) {
        q.delete(key);
        ref.delete(key);
      } else {
        now += Math.floor(r() * 300);
        const got: number[] = [];
        q.takeDue(now, got);
        const want = [...ref].filter(([, at]) => at <= now);
        want.sort((a, b) => a[1] - b[1]);
        assert.deepEqual(
          [...got].sort((a, b) => a - b),
          want.map(([k]) => k).sort((a, b) => a - b),
          `seed ${seed} step ${step}: the due keys, each once`,
        );
        // Earliest first.
        const times = got.map((k) => want.find(([w]) => w === k)![1]);
        assert.deepEqual(
          times,
          [...times].sort((a, b) => a - b),
          'earliest first',
        );
        for (const [k] of want) ref.delete(k);
      }
      const earliest = Math.min(...ref.values());
      assert.equal(q.earliest(), earliest, `seed ${seed} step ${step}: earliest`);
      assert.equal(q.size, ref.size);
    }
  }
});

test('a later deadline is not queued; an earlier one replaces the queued one', () => {
  const q = new DeadlineQueue<string>();
  assert.equal(q.add('p', 100), true);
  assert.equal(q.add('p', 150), false, 'later: the entry at 100 stays');
  assert.equal(q.queuedAt('p'), 100);
  assert.equal(q.add('p', 50), true);
  assert.equal(q.earliest(), 50);
  const due: string[] = [];
  q.takeDue(100, due);
  assert.deepEqual(due, ['p'], 'the stale entry at 100 does not run the key twice');
  assert.equal(q.earliest(), Infinity);
  assert.equal(q.add('p', Infinity), false, 'Infinity is never queued');
});

test('a key moved earlier a million times (stale entries compacted) runs once, at its last deadline', () => {
  const q = new DeadlineQueue<number>();
  // One key whose deadline keeps moving earlier pushes an entry each time.
  for (let at = 1_000_000; at > 0; at--) q.add(1, at);
  assert.equal(q.size, 1);
  const due: number[] = [];
  q.takeDue(0.5, due);
  assert.deepEqual(due, []);
  q.takeDue(1, due);
  assert.deepEqual(due, [1]);
  assert.equal(q.earliest(), Infinity);
});
