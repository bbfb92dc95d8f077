/**
 * The Linux UDP bind (src/io/bind.ts over native/udp.c and native/reader.c), exercised in a
 * network namespace of its own (test/io/harness.ts): loopback v4 and v6, ports, SO_MARK. Needs
 * root; skipped otherwise.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestNetns, netnsUnavailable } from './harness.js';

const skip = netnsUnavailable();

interface Stats {
  datagramsReceived: number;
  receiveBatches: number;
  datagramsSent: number;
  sendDropped: number;
  lastSendError: string | null;
}

type Failure = { code: string; errno: number | null } | null;

describe('UDP bind in a network namespace', { skip }, () => {
  let ns: TestNetns | null = null;
  before(() => {
    ns = TestNetns.create('udp');
  });
  after(() => ns?.destroy());

  it('exchanges batches over v4 and v6 loopback with correct sources, on one shared random port', async () => {
    const r = await ns!.run<{
      pa: number;
      pb: number;
      sockets: string[];
      bufferSizes: [number, number];
      batchesA: number[];
      batchesB: number[];
      sharedSources: number;
      statsA: Stats;
      statsB: Stats;
    }>('udp-exchange');
    assert.ok(r.pa > 0 && r.pb > 0 && r.pa !== r.pb, 'port 0 gives distinct random ports');
    assert.equal(r.sockets.length, 2, `a v4 and a v6 socket on port ${r.pa}: ${r.sockets.join(' | ')}`);
    assert.ok(r.sockets.some((l) => l.includes(`0.0.0.0:${r.pa} `)));
    assert.ok(r.sockets.some((l) => l.includes(`[::]:${r.pa} `) && l.includes('v6only:1')));
    assert.ok(
      r.bufferSizes[0] >= 7 << 20 && r.bufferSizes[1] >= 7 << 20,
      `forced 7 MiB buffers: ${r.bufferSizes}`,
    );
    // Contents and sources were checked in the child; here, the batching.
    assert.equal(r.statsA.datagramsSent, 20 + 2 + 300);
    assert.equal(r.statsB.datagramsReceived, 322);
    assert.equal(r.statsA.datagramsReceived, 20);
    assert.ok(Math.max(...r.batchesB) <= 64, 'at most batchSize datagrams per call');
    assert.ok(r.batchesB.length < 322 / 4, `datagrams arrive in batches (${r.batchesB.length} calls)`);
    assert.ok(r.sharedSources > 0, 'consecutive datagrams from one source share one Endpoint');
    assert.equal(r.statsA.sendDropped, 0);
  });

  it('reports EADDRINUSE (-98), keeps a bind whole when only v6 is taken, and changes port while reading', async () => {
    const r = await ns!.run<{
      pa: number;
      taken: Failure;
      portAfterFailure: number;
      v6Taken: Failure;
      v4FreeAfter: boolean;
      again: number;
      pc: number;
      received: number;
      oldPortReusable: boolean;
      failedChange: Failure;
      portAfterFailedChange: number;
      same: number;
      badPort: Failure;
    }>('udp-ports');
    assert.deepEqual(r.taken, { code: 'EADDRINUSE', errno: -98 });
    assert.equal(r.portAfterFailure, 0);
    assert.deepEqual(r.v6Taken, { code: 'EADDRINUSE', errno: -98 });
    assert.equal(r.v4FreeAfter, true, 'the v4 socket of a failed open is closed');
    assert.equal(r.again, r.pa, 'a fixed port binds once free');
    assert.notEqual(r.pc, r.pa);
    assert.ok(r.received >= 3);
    assert.equal(r.oldPortReusable, true, 'a port change releases the old port');
    assert.deepEqual(r.failedChange, { code: 'EADDRINUSE', errno: -98 });
    assert.equal(r.portAfterFailedChange, r.pc, 'a failed port change keeps the old sockets');
    assert.equal(r.same, r.pc);
    assert.equal(r.badPort?.code, 'RangeError');
  });

  it('sets SO_MARK on both sockets (getsockopt, ss -e, an nftables counter) and clears it with 0', async () => {
    const r = await ns!.run<{
      marks: { v4: number | null; v6: number | null };
      ssMarked: string[];
      countedMarked: number | null;
      marksAfterReopen: { v4: number | null; v6: number | null };
      cleared: { v4: number | null; v6: number | null };
      ssCleared: string[];
      countedAfterClear: number | null;
      badMark: string | null;
    }>('udp-mark');
    assert.deepEqual(r.marks, { v4: 0x2a, v6: 0x2a }, 'a mark set before open applies at open');
    assert.equal(r.ssMarked.length, 2);
    assert.ok(
      r.ssMarked.every((l) => l.includes('fwmark:0x2a')),
      r.ssMarked.join(' | '),
    );
    assert.deepEqual(r.marksAfterReopen, { v4: 0x2a, v6: 0x2a });
    assert.deepEqual(r.cleared, { v4: 0, v6: 0 });
    assert.ok(
      r.ssCleared.every((l) => !l.includes('fwmark')),
      r.ssCleared.join(' | '),
    );
    if (r.countedMarked !== null) {
      assert.equal(r.countedMarked, 5, 'nftables saw 5 marked packets');
      assert.equal(r.countedAfterClear, 5, 'no marked packets after clearing');
    }
    assert.equal(r.badMark, 'RangeError');
  });

  it('works with one family only (v4-only; no IPv6 in the kernel)', async () => {
    const r = await ns!.run<{
      p: number;
      fds: { v4: number | null; v6: number | null };
      afterV6Send: Stats;
      afterClose: Stats;
      noV6: { v4: boolean; v6: boolean; port: number };
    }>('udp-families');
    assert.ok(r.p > 0);
    assert.equal(r.fds.v6, null);
    assert.ok(r.fds.v4 !== null);
    assert.equal(r.afterV6Send.sendDropped, 1);
    assert.equal(r.afterV6Send.lastSendError, 'EAFNOSUPPORT');
    assert.equal(r.afterClose.datagramsSent, 1);
    assert.equal(r.afterClose.sendDropped, 2, 'sending on a closed bind drops and counts');
    assert.deepEqual({ v4: r.noV6.v4, v6: r.noV6.v6 }, { v4: true, v6: false });
    assert.ok(r.noV6.port > 0);
  });
});
