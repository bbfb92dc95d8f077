/**
 * StackDriver: one timer at the stack's next deadline, re-armed after each poll and on wake()
 * (coalesced per microtask), unref'd unless a socket holds a ref, and a keep-alive timer while
 * one does. Unit tests with a fake clock; then real child processes showing that a listening,
 * ref'd server keeps a program alive, and an unref'd one lets it exit, as with net.Server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  MAX_TIMER_DELAY,
  StackDriver,
  type DriverClock,
  type DriverTimer,
} from '../../src/netstack/driver.js';

class FakeTimer implements DriverTimer {
  refd = true;
  cleared = false;
  constructor(
    readonly callback: () => void,
    readonly delay: number,
    readonly at: number,
  ) {}
  ref(): this {
    this.refd = true;
    return this;
  }
  unref(): this {
    this.refd = false;
    return this;
  }
}

class FakeClock implements DriverClock {
  time = 0;
  readonly timers: FakeTimer[] = [];
  now(): number {
    return this.time;
  }
  setTimeout(callback: () => void, ms: number): FakeTimer {
    const timer = new FakeTimer(callback, ms, this.time);
    this.timers.push(timer);
    return timer;
  }
  clearTimeout(timer: DriverTimer): void {
    (timer as FakeTimer).cleared = true;
  }
  /** The live (armed, not cleared, not fired) timers. */
  get live(): FakeTimer[] {
    return this.timers.filter((t) => !t.cleared);
  }
  /** Moves time to `t` and fires the live timer if it is due. */
  advance(t: number): void {
    this.time = t;
    const due = this.live.filter((timer) => timer.at + timer.delay <= t);
    for (const timer of due) {
      timer.cleared = true;
      timer.callback();
    }
  }
}

class Target {
  deadline = Infinity;
  polls = 0;
  onPoll: () => void = () => undefined;
  nextDeadline(): number {
    return this.deadline;
  }
  poll(): void {
    this.polls++;
    this.onPoll();
  }
}

const microtasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test("arms one unref'd timer at the deadline, polls when it fires, re-arms for the next", () => {
  const clock = new FakeClock();
  const target = new Target();
  target.deadline = 100;
  const driver = new StackDriver(target, clock);
  assert.equal(clock.live.length, 1);
  assert.equal(clock.live[0]!.delay, 100);
  assert.equal(clock.live[0]!.refd, false, 'no socket holds the loop');
  target.onPoll = () => (target.deadline = 250);
  clock.advance(100);
  assert.equal(target.polls, 1);
  assert.equal(clock.live.length, 1);
  assert.equal(clock.live[0]!.delay, 150);
  target.onPoll = () => (target.deadline = Infinity);
  clock.advance(250);
  assert.equal(target.polls, 2);
  assert.equal(clock.live.length, 0, "nothing due and nothing ref'd: no timer at all");
  driver.close();
});

test('a timer that fires early does not poll; the deadline is re-armed', () => {
  const clock = new FakeClock();
  const target = new Target();
  target.deadline = 100;
  const driver = new StackDriver(target, clock);
  // Node timers may fire a millisecond early against performance.now(): no poll before the deadline.
  clock.time = 99;
  clock.live[0]!.cleared = true;
  clock.timers[0]!.callback();
  assert.equal(target.polls, 0);
  assert.equal(clock.live.length, 1);
  assert.equal(clock.live[0]!.delay, 1);
  driver.close();
});

test('wake() coalesces into one re-arm per microtask and polls work that is already due', async () => {
  const clock = new FakeClock();
  const target = new Target();
  const driver = new StackDriver(target, clock);
  assert.equal(clock.timers.length, 0);
  target.deadline = 500;
  for (let i = 0; i < 5; i++) driver.wake();
  assert.equal(clock.timers.length, 0, 'nothing before the microtask');
  await microtasks();
  assert.equal(clock.timers.length, 1, 'five wakes, one timer');
  assert.equal(clock.live[0]!.delay, 500);
  // A deadline that moved earlier replaces the armed timer.
  target.deadline = 50;
  driver.wake();
  await microtasks();
  assert.equal(clock.live.length, 1);
  assert.equal(clock.live[0]!.delay, 50);
  // Work due now runs in the wake's microtask rather than a timer turn later.
  target.deadline = 0;
  target.onPoll = () => (target.deadline = Infinity);
  driver.wake();
  await microtasks();
  assert.equal(target.polls, 1);
  assert.equal(clock.live.length, 0);
  driver.close();
});

test("ref() keeps a ref'd timer armed even with no deadline; unref() lets it go", () => {
  const clock = new FakeClock();
  const target = new Target();
  const driver = new StackDriver(target, clock);
  driver.ref();
  assert.equal(clock.live.length, 1);
  assert.equal(clock.live[0]!.refd, true);
  assert.equal(clock.live[0]!.delay, MAX_TIMER_DELAY);
  driver.ref();
  assert.equal(clock.live.length, 1, 'counted, not re-armed');
  driver.unref();
  assert.equal(clock.live[0]!.refd, true, 'one socket still holds the loop');
  driver.unref();
  assert.equal(clock.live.length, 0);
  assert.throws(() => driver.unref(), RangeError);
  // With a real deadline, the same timer only changes its ref state.
  target.deadline = 1000;
  driver.ref();
  const timer = clock.live[0]!;
  assert.equal(timer.refd, true);
  assert.equal(timer.delay, 1000);
  driver.unref();
  assert.equal(clock.live[0], timer);
  assert.equal(timer.refd, false);
  driver.close();
  assert.equal(clock.live.length, 0);
  driver.wake();
  driver.ref();
  assert.equal(clock.live.length, 0, 'a closed driver arms nothing');
});

test("deadlines beyond setTimeout's range are reached in steps", () => {
  const clock = new FakeClock();
  const target = new Target();
  target.deadline = MAX_TIMER_DELAY * 2 + 10;
  const driver = new StackDriver(target, clock);
  assert.equal(clock.live[0]!.delay, MAX_TIMER_DELAY);
  clock.advance(MAX_TIMER_DELAY);
  assert.equal(target.polls, 0);
  assert.equal(clock.live[0]!.delay, MAX_TIMER_DELAY);
  driver.close();
});

const fakeStackUrl = new URL('../helpers/fake-stack.js', import.meta.url).href;

function runChild(body: string): string {
  const script = `import { FakeStack } from ${JSON.stringify(fakeStackUrl)};\n${body}`;
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 20_000,
    cwd: fileURLToPath(new URL('.', import.meta.url)),
  });
}

test("a listening, ref'd server keeps the program alive; unref'd it exits", () => {
  const held = runChild(`
    const stack = new FakeStack();
    const server = stack.network.createServer();
    server.listen(80, () => {
      setTimeout(() => { console.log('still alive'); server.close(); }, 50).unref();
    });
  `);
  assert.equal(held.trim(), 'still alive');
  const released = runChild(`
    const stack = new FakeStack();
    const server = stack.network.createServer();
    server.listen(80, () => {
      server.unref();
      setTimeout(() => console.log('still alive'), 50).unref();
    });
  `);
  assert.equal(released.trim(), '');
});

test('an open connection keeps the program alive until it is closed', () => {
  const out = runChild(`
    const stack = new FakeStack();
    const server = stack.network.createServer((s) => s.resume().on('end', () => s.end()));
    server.listen(80, async () => {
      server.unref();
      const socket = await stack.network.connect({ host: '10.0.0.2', port: 80 });
      setTimeout(() => { console.log('connected and waiting'); socket.end(); }, 50).unref();
      socket.resume().on('close', () => console.log('closed'));
    });
  `);
  assert.deepEqual(out.trim().split('\n'), ['connected and waiting', 'closed']);
});
