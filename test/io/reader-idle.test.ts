/**
 * The TUN reader's idle hand-over (native/reader.c, on_poll_tun): on an idle link the first packet
 * goes to the callback before the reader reads on, so the empty read that ends a batch comes
 * after the packet's send, not before it (the latency of a ping, bench/hops.mjs); under load it
 * still reads whole batches. Driven on a packetPair() (the TUN stand-in: read() per packet, no
 * root needed). The oracle for "within the same wake" is a setImmediate queued by the callback:
 * libuv runs it only once the poll phase is over, so a callback that runs before it was made by
 * the same readable event.
 */
import assert from 'node:assert/strict';
import { writeSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { loadNative } from '../../src/io/native.js';

const skip = process.platform === 'linux' ? false : 'Linux only';
const SLOTS = 8;
const STRIDE = 64;

interface Call {
  count: number;
  /** The first byte of each packet delivered. */
  firsts: number[];
  /** Whether a setImmediate queued by the previous callback had run before this call. */
  afterImmediate: boolean;
}

describe('TUN reader on an idle link', { skip }, () => {
  const native = loadNative();
  const fds: number[] = [];
  after(() => fds.forEach((fd) => native.closeFd(fd)));

  /** A reader on one end of a packet pair; returns the writer end and the calls seen. */
  function reader(onCall?: (firsts: number[], send: (b: number) => void) => void): {
    send: (...firsts: number[]) => void;
    calls: Call[];
    close: () => void;
  } {
    const [readEnd, writeEnd] = native.packetPair();
    fds.push(readEnd, writeEnd);
    const buffer = new Uint8Array(SLOTS * STRIDE);
    const lengths = new Int32Array(SLOTS);
    const calls: Call[] = [];
    const send = (b: number): void => void writeSync(writeEnd, Uint8Array.of(b, 0, 0, 0));
    let immediateRan = true;
    const handle = native.readerCreate(
      readEnd,
      0, // the TUN kind: read() per packet
      buffer,
      SLOTS,
      STRIDE,
      0,
      STRIDE,
      lengths,
      null,
      null,
      (count, err) => {
        assert.equal(err, 0);
        const firsts = Array.from({ length: count }, (_, i) => buffer[i * STRIDE]!);
        calls.push({ count, firsts, afterImmediate: immediateRan });
        immediateRan = false;
        setImmediate(() => {
          immediateRan = true;
        });
        onCall?.(firsts, send);
      },
    );
    native.readerStart(handle);
    return {
      send: (...firsts) => firsts.forEach(send),
      calls,
      close: () => native.readerClose(handle),
    };
  }

  /** Resolves once `calls` has `n` entries and the loop has gone round once more (no more come). */
  async function settle(calls: Call[], n: number): Promise<void> {
    const deadline = Date.now() + 5000;
    while (calls.length < n) {
      if (Date.now() > deadline) throw new Error(`${calls.length} of ${n} callbacks after 5 s`);
      await new Promise((r) => setTimeout(r, 2));
    }
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 2));
  }

  it('batches a backlog, then hands a lone packet over before reading on', async () => {
    const r = reader();
    try {
      r.send(1, 2, 3, 4, 5); // queued before the first wake: one batch
      await settle(r.calls, 1);
      assert.deepEqual(r.calls[0]!.firsts, [1, 2, 3, 4, 5]);

      r.send(6); // a batch of one: the link is idle from here
      await settle(r.calls, 2);
      assert.deepEqual(r.calls[1]!.firsts, [6]);

      // Idle: the first packet alone, then, in the same wake, what waited behind it.
      r.send(7, 8, 9);
      await settle(r.calls, 4);
      assert.deepEqual(
        r.calls.slice(2).map((c) => c.firsts),
        [[7], [8, 9]],
      );
      assert.equal(r.calls[3]!.afterImmediate, false, 'the rest is read in the same wake');

      // That was load: the next wake batches from the start again.
      r.send(10, 11, 12);
      await settle(r.calls, 5);
      assert.deepEqual(r.calls[4]!.firsts, [10, 11, 12]);
      assert.equal(r.calls.length, 5);
    } finally {
      r.close();
    }
  });

  it('reads on after the callback: a packet the callback caused comes in the same wake', async () => {
    // The reply a callback provokes (a ping answered by the local stack: its write to the TUN
    // queues the echo reply before it returns) is already there when the reader reads on.
    const r = reader((firsts, send) => {
      if (firsts[0] === 2) send(3);
    });
    try {
      r.send(1); // a batch of one makes the link idle
      await settle(r.calls, 1);
      r.send(2);
      await settle(r.calls, 3);
      assert.deepEqual(
        r.calls.map((c) => c.firsts),
        [[1], [2], [3]],
      );
      assert.equal(r.calls[2]!.afterImmediate, false, 'delivered by the wake that delivered 2');
    } finally {
      r.close();
    }
  });
});
