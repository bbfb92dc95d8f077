/**
 * Connection churn through the userspace stack against a real peer (RFC 9293 open and close: the
 * three-way handshake, FIN exchange, TIME-WAIT): up to 10,000 short connections in sequence to the
 * fixture's TCP echo (bounded by a time budget; the count reached is logged), then 500 at once.
 * Afterwards the stack holds no leaked state: no connection outside TIME-WAIT, no UDP binding, and
 * the driver holds no reference on the event loop. The stack is built by a factory that exposes
 * its insides (observableStack in test/helpers/userspace-peer.ts).
 *
 * Needs root and wireguard-go; skips otherwise.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, waitFor } from '../helpers/netns.js';
import {
  observableStack,
  openUserspace,
  tcpEcho,
  userspaceSkipReason,
  type StackInsides,
  type UserspaceSide,
} from '../helpers/userspace-peer.js';

const skip = userspaceSkipReason();
const SEQUENTIAL_TARGET = 10_000;
/** Time budget for the sequential run on a busy 2-core machine. */
const SEQUENTIAL_BUDGET_MS = 25_000;

describe('userspace connection churn against wireguard-go', { skip, timeout: 120_000 }, () => {
  let side: UserspaceSide;
  let insides: () => StackInsides;
  before(async () => {
    const obs = observableStack();
    insides = obs.insides;
    side = await openUserspace({}, obs.factory);
  });
  after(async () => {
    await side?.close();
    await cleanup();
  });

  const noLeaks = async (what: string): Promise<void> => {
    const s = insides();
    await waitFor(() => s.tcp.activeCount === 0, {
      timeoutMs: 20_000,
      what: `${what}: active connections to drain (${s.tcp.activeCount} left)`,
    });
    assert.equal(s.udp.bindingCount, 0, 'no UDP binding left');
    await waitFor(() => s.driver.refs === 0, { timeoutMs: 5_000, what: `driver refs 0 (${s.driver.refs})` });
  };

  test('short connections in sequence', { timeout: 60_000 }, async () => {
    const start = performance.now();
    let done = 0;
    while (done < SEQUENTIAL_TARGET && performance.now() - start < SEQUENTIAL_BUDGET_MS) {
      const msg = Buffer.from(`c${done}`);
      const back = await tcpEcho(side.net, side.peer.innerV4, side.peer.ports.echo, msg, 10_000);
      assert.ok(back.equals(msg), `connection ${done}`);
      done++;
    }
    const s = (performance.now() - start) / 1000;
    console.log(`# ${done} sequential connections in ${s.toFixed(1)} s (${(done / s).toFixed(0)}/s)`);
    assert.ok(done >= 500, `only ${done} connections in the budget`);
    await noLeaks('sequential');
    assert.ok(insides().tcp.timeWaitCount <= done);
  });

  test('500 connections at once', { timeout: 60_000 }, async () => {
    const results = await Promise.all(
      Array.from({ length: 500 }, async (_, i) => {
        const msg = Buffer.from(`p${i}-${'x'.repeat(i % 50)}`);
        const back = await tcpEcho(
          side.net,
          i % 2 === 0 ? side.peer.innerV4 : side.peer.innerV6,
          7,
          msg,
          40_000,
        );
        return back.equals(msg);
      }),
    );
    assert.equal(results.filter(Boolean).length, 500);
    await noLeaks('parallel');
  });
});
