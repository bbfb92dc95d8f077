/**
 * UapiBudget (src/uapi/budget.ts) on its own: the free floor per holder, draws from the shared
 * pool, waiting in arrival order, release granting the next, and the deadlock rule (every pool
 * holder waiting: the one holding most is refused, and its bytes go to the others).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UapiBudget, type BudgetHolder } from '../../src/uapi/budget.js';

class Holder implements BudgetHolder {
  readonly log: string[];
  readonly name: string;
  constructor(name: string, log: string[]) {
    this.name = name;
    this.log = log;
  }
  granted(): void {
    this.log.push(`${this.name} granted`);
  }
  refused(): void {
    this.log.push(`${this.name} refused`);
  }
}

test('the floor is free, beyond it the pool is drawn, release returns it', () => {
  const b = new UapiBudget(1000, 100);
  const a = new Holder('a', []);
  assert.equal(b.charge(a, 100), true);
  assert.equal(b.inUse, 0);
  assert.equal(b.charge(a, 300), true);
  assert.equal(b.inUse, 300);
  assert.equal(b.heldBy(a), 400);
  b.release(a);
  assert.equal(b.inUse, 0);
  assert.equal(b.heldBy(a), 0);
  assert.equal(b.peak, 300);
});

test('a holder over the pool waits while another is active, and is granted when it releases', async () => {
  const log: string[] = [];
  const b = new UapiBudget(1000, 0);
  const a = new Holder('a', log);
  const c = new Holder('c', log);
  const d = new Holder('d', log);
  assert.equal(b.charge(a, 800), true);
  assert.equal(b.charge(c, 300), false);
  // What the pool still covers is granted at once, even while c waits.
  assert.equal(b.charge(d, 100), true);
  assert.equal(b.charge(d, 200), false);
  assert.deepEqual(log, []);
  assert.throws(() => b.charge(c, 1), RangeError);
  b.release(a);
  assert.deepEqual(log, []); // told in a later microtask, never from inside a call
  await Promise.resolve();
  // In arrival order: c first, then d.
  assert.deepEqual(log, ['c granted', 'd granted']);
  assert.equal(b.inUse, 600);
});

test('when every pool holder waits, the largest is refused and the rest go on', async () => {
  const log: string[] = [];
  const b = new UapiBudget(1000, 0);
  const [x, y, z] = ['x', 'y', 'z'].map((n) => new Holder(n, log)) as [Holder, Holder, Holder];
  assert.equal(b.charge(x, 500), true);
  assert.equal(b.charge(y, 400), true);
  assert.equal(b.charge(x, 200), false); // y is active: x waits
  assert.deepEqual(log, []);
  assert.equal(b.charge(y, 200), false); // now both wait: x holds most (700 with its draw)
  await Promise.resolve();
  assert.deepEqual(log, ['x refused', 'y granted']);
  assert.equal(b.heldBy(x), 0);
  assert.equal(b.inUse, 600);
  b.release(x); // the refused connection's close: nothing left to return
  assert.equal(b.inUse, 600);
  b.release(y);
  assert.equal(b.inUse, 0);
  assert.equal(b.charge(z, 1000), true);
});

test('a draw larger than the whole pool is refused at once', async () => {
  const log: string[] = [];
  const b = new UapiBudget(1000, 10);
  const a = new Holder('a', log);
  assert.equal(b.charge(a, 2000), false);
  await Promise.resolve();
  assert.deepEqual(log, ['a refused']);
  assert.equal(b.inUse, 0);
});

test('sizes must be positive', () => {
  assert.throws(() => new UapiBudget(0), RangeError);
  assert.throws(() => new UapiBudget(10, -1), RangeError);
});
