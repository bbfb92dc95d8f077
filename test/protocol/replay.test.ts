/**
 * Tests for the RFC 6479 replay window (whitepaper section 5.4.6). The first two tests port the
 * Linux kernel's selftest verbatim (drivers/net/wireguard/selftest/counter.c): its 34-step table
 * and its six bulk loops, with the kernel's one-step `counter_validate` expressed as our two-step
 * check-then-mark. The kernel's table is written relative to the window size and
 * REJECT_AFTER_MESSAGES, so it is ported against our constants (the kernel's own
 * REJECT_AFTER_MESSAGES is 2^64 - 8130; ours is the whitepaper's 2^64 - 2^13 - 1).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { REJECT_AFTER_MESSAGES, REPLAY_WINDOW_SIZE } from '../../src/constants.js';
import { ReplayWindow } from '../../src/protocol/replay.js';

const WINDOW = BigInt(REPLAY_WINDOW_SIZE);

/** The kernel's counter_validate, as the receive path uses our API: check, decrypt, then mark. */
function validate(w: ReplayWindow, n: bigint): boolean {
  return w.check(n) && w.mark(n);
}

test('kernel selftest: 34-step sequence', () => {
  const T_LIM = WINDOW + 1n;
  const R = REJECT_AFTER_MESSAGES;
  // [counter, expected] in the kernel's order; the comment number is its step number.
  const steps: readonly (readonly [bigint, boolean])[] = [
    /*  1 */ [0n, true],
    /*  2 */ [1n, true],
    /*  3 */ [1n, false],
    /*  4 */ [9n, true],
    /*  5 */ [8n, true],
    /*  6 */ [7n, true],
    /*  7 */ [7n, false],
    /*  8 */ [T_LIM, true],
    /*  9 */ [T_LIM - 1n, true],
    /* 10 */ [T_LIM - 1n, false],
    /* 11 */ [T_LIM - 2n, true],
    /* 12 */ [2n, true],
    /* 13 */ [2n, false],
    /* 14 */ [T_LIM + 16n, true],
    /* 15 */ [3n, false],
    /* 16 */ [T_LIM + 16n, false],
    /* 17 */ [T_LIM * 4n, true],
    /* 18 */ [T_LIM * 4n - (T_LIM - 1n), true],
    /* 19 */ [10n, false],
    /* 20 */ [T_LIM * 4n - T_LIM, false],
    /* 21 */ [T_LIM * 4n - (T_LIM + 1n), false],
    /* 22 */ [T_LIM * 4n - (T_LIM - 2n), true],
    /* 23 */ [T_LIM * 4n + 1n - T_LIM, false],
    /* 24 */ [0n, false],
    /* 25 */ [R, false],
    /* 26 */ [R - 1n, true],
    /* 27 */ [R, false],
    /* 28 */ [R - 1n, false],
    /* 29 */ [R - 2n, true],
    /* 30 */ [R + 1n, false],
    /* 31 */ [R + 2n, false],
    /* 32 */ [R - 2n, false],
    /* 33 */ [R - 3n, true],
    /* 34 */ [0n, false],
  ];
  assert.equal(steps.length, 34);
  const w = new ReplayWindow();
  steps.forEach(([n, expected], i) => {
    assert.equal(validate(w, n), expected, `step ${i + 1}: counter ${n}`);
  });
});

test('kernel selftest: bulk cases over the whole window', async (t) => {
  const W = REPLAY_WINDOW_SIZE;

  await t.test('1: 1..W forward, then 0 fits exactly once', () => {
    const w = new ReplayWindow();
    for (let i = 1; i <= W; i++) assert.equal(validate(w, BigInt(i)), true, `counter ${i}`);
    assert.equal(validate(w, 0n), true);
    assert.equal(validate(w, 0n), false);
  });

  await t.test('2: 2..W+1 forward, then 1 fits and 0 is too old', () => {
    const w = new ReplayWindow();
    for (let i = 2; i <= W + 1; i++) assert.equal(validate(w, BigInt(i)), true, `counter ${i}`);
    assert.equal(validate(w, 1n), true);
    assert.equal(validate(w, 0n), false);
  });

  await t.test('3: W..0 backward', () => {
    const w = new ReplayWindow();
    for (let i = W + 1; i-- > 0;) assert.equal(validate(w, BigInt(i)), true, `counter ${i}`);
  });

  await t.test('4: W+1..1 backward, then 0 is too old', () => {
    const w = new ReplayWindow();
    for (let i = W + 2; i-- > 1;) assert.equal(validate(w, BigInt(i)), true, `counter ${i}`);
    assert.equal(validate(w, 0n), false);
  });

  await t.test('5: W..1 backward, then W+1 advances and 0 is too old', () => {
    const w = new ReplayWindow();
    for (let i = W + 1; i-- > 1;) assert.equal(validate(w, BigInt(i)), true, `counter ${i}`);
    assert.equal(validate(w, BigInt(W + 1)), true);
    assert.equal(validate(w, 0n), false);
  });

  await t.test('6: W..1 backward, then 0, then W+1 advances', () => {
    const w = new ReplayWindow();
    for (let i = W + 1; i-- > 1;) assert.equal(validate(w, BigInt(i)), true, `counter ${i}`);
    assert.equal(validate(w, 0n), true);
    assert.equal(validate(w, BigInt(W + 1)), true);
  });
});

test('a counter that fails check leaves the window unchanged', () => {
  const w = new ReplayWindow();
  for (const n of [100n, 50n, 20_000n, 19_999n]) assert.equal(validate(w, n), true);
  const before = w.greatest;
  // Replayed, too old, at and past the limit: none may change anything.
  for (const n of [20_000n, 19_999n, 100n, 0n, REJECT_AFTER_MESSAGES, (1n << 64n) - 1n, -1n]) {
    assert.equal(w.check(n), false, `check ${n}`);
  }
  assert.equal(w.greatest, before);
  // The fresh ones around them are still fresh, the seen ones still seen.
  assert.equal(w.check(19_998n), true);
  assert.equal(w.check(20_001n), true);
  assert.equal(w.check(20_000n - WINDOW), true);
  assert.equal(w.check(20_000n - WINDOW - 1n), false);
});

test('check is pure: passing it twice marks nothing', () => {
  const w = new ReplayWindow();
  assert.equal(w.check(5n), true);
  assert.equal(w.check(5n), true);
  assert.equal(w.greatest, undefined);
  // Two packets with counter 5 decrypted concurrently: only the first mark wins.
  assert.equal(w.mark(5n), true);
  assert.equal(w.mark(5n), false);
  assert.equal(w.check(5n), false);
});

test('forged huge counters never advance the window', () => {
  const w = new ReplayWindow();
  assert.equal(validate(w, 1000n), true);
  for (const n of [REJECT_AFTER_MESSAGES, REJECT_AFTER_MESSAGES + 1n, (1n << 64n) - 1n, 1n << 80n]) {
    assert.equal(w.check(n), false, `check ${n}`);
    assert.equal(w.mark(n), false, `mark ${n}`);
  }
  assert.equal(w.greatest, 1000n);
  // Genuine traffic is unaffected: everything the old window allowed is still allowed.
  assert.equal(validate(w, 1n), true);
  assert.equal(validate(w, 999n), true);
  assert.equal(validate(w, 1001n), true);
});

test('mark works without a check, including below the greatest counter', () => {
  const w = new ReplayWindow();
  assert.equal(w.mark(10n), true);
  assert.equal(w.mark(3n), true);
  assert.equal(w.mark(3n), false);
  assert.equal(w.check(3n), false);
  assert.equal(w.check(4n), true);
  assert.equal(w.greatest, 10n);
});

test('a checked counter that falls out of the window before its mark is refused', () => {
  const w = new ReplayWindow();
  assert.equal(w.check(1n), true);
  assert.equal(w.mark(1n + WINDOW + 1n), true);
  assert.equal(w.mark(1n), false);
});

test('huge jumps clear the ring with bounded work', () => {
  const w = new ReplayWindow();
  for (let i = 0n; i < 9000n; i++) assert.equal(validate(w, i), true);
  // Jump far past the ring; every old slot must read as clear for the new counters.
  const far = REJECT_AFTER_MESSAGES - 1n - 20_000n;
  assert.equal(validate(w, far), true);
  assert.equal(w.greatest, far);
  for (let i = far - WINDOW; i < far; i++) assert.equal(w.check(i), true, `counter ${i}`);
  assert.equal(w.check(far - WINDOW - 1n), false);
  assert.equal(w.check(8999n), false);
});

test('counters crossing 2^53 stay exact (no lossy number conversion)', () => {
  const w = new ReplayWindow();
  const safe = BigInt(Number.MAX_SAFE_INTEGER); // 2^53 - 1
  assert.equal(validate(w, safe), true);
  // 2^53 + 1 is not representable as a number: it must not be confused with 2^53 or 2^53 + 2.
  assert.equal(validate(w, safe + 2n), true);
  assert.equal(w.greatest, safe + 2n);
  assert.equal(w.check(safe + 2n), false);
  assert.equal(w.check(safe + 1n), true);
  assert.equal(w.check(safe + 3n), true);
  assert.equal(w.check(safe), false);
  assert.equal(validate(w, safe + 3n), true);
  assert.equal(validate(w, safe + 1n), true);
  assert.equal(validate(w, safe + 1n), false);
  assert.equal(w.check(safe + 4n), true);
  assert.equal(w.check(safe + 3n - WINDOW - 1n), false);
  assert.equal(w.check(safe + 3n - WINDOW), true);
});

test('reset forgets everything', () => {
  const w = new ReplayWindow();
  assert.equal(validate(w, 50_000n), true);
  w.reset();
  assert.equal(w.greatest, undefined);
  assert.equal(validate(w, 0n), true);
  assert.equal(validate(w, 50_000n), true);
});

/** A deliberately naive window: the set of every counter marked, and the definition applied literally. */
class NaiveWindow {
  readonly seen = new Set<bigint>();
  greatest: bigint | undefined;
  check(n: bigint): boolean {
    if (n < 0n || n >= REJECT_AFTER_MESSAGES) return false;
    if (this.greatest === undefined || n > this.greatest) return true;
    return this.greatest - n <= WINDOW && !this.seen.has(n);
  }
  mark(n: bigint): boolean {
    if (!this.check(n)) return false;
    this.seen.add(n);
    if (this.greatest === undefined || n > this.greatest) this.greatest = n;
    return true;
  }
}

/** Small deterministic PRNG (xorshift32) so failures reproduce. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

test('agrees with a naive reference on random traffic (number and bigint paths)', () => {
  // Bases exercise the all-number fast path, the crossing of 2^53 and the bigint-only range.
  const bases = [0n, (1n << 53n) - 3000n, 1n << 60n, REJECT_AFTER_MESSAGES - 40_000n];
  for (const [b, base] of bases.entries()) {
    const rand = prng(0x9e3779b9 + b);
    const fast = new ReplayWindow();
    const naive = new NaiveWindow();
    let head = base;
    for (let step = 0; step < 20_000; step++) {
      const r = rand() % 100;
      let n: bigint;
      if (r < 55)
        n = head + BigInt(rand() % 40); // in-order-ish, some reordering ahead
      else if (r < 85)
        n = head - BigInt(rand() % (REPLAY_WINDOW_SIZE + 200)); // behind, near the edge
      else if (r < 97)
        n = head + BigInt(rand() % 20_000); // jumps of up to a few rings
      else n = head - BigInt(rand() % 3); // likely replays
      if (n < 0n) n = 0n;
      const expected = naive.check(n);
      assert.equal(fast.check(n), expected, `base ${b} step ${step}: check ${n}`);
      // Mark about 90% of checked packets, and sometimes mark without checking.
      if (rand() % 10 !== 0) {
        assert.equal(fast.mark(n), naive.mark(n), `base ${b} step ${step}: mark ${n}`);
      }
      assert.equal(fast.greatest, naive.greatest);
      if (naive.greatest !== undefined && naive.greatest > head) head = naive.greatest;
    }
  }
});
