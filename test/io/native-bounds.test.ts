/**
 * The native addon's entry points under adversarial lengths, offsets, counts and buffers (issue
 * 11, "Wild writes in the native code"; DESIGN.md "Bounds"): integers that used to wrap (2^32 + 1
 * read as 1, -1 as 4294967295), offset + length sums near 2^31 and 2^32, counts beyond the arrays,
 * zero, packets above 65,535 bytes of IP payload, detached buffers, and getters that detach a
 * buffer half-way through a call. Each must be a clear TypeError / RangeError (or a counted drop
 * for bytes that came from the network), and nothing may be written outside the buffers: every
 * buffer here sits between guard bytes that are checked afterwards. No root needed: the fds are a
 * packetPair() and loopback UDP sockets. scripts/asan.sh runs this file under ASan and UBSan.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadNative, type NativeAddon } from '../../src/io/native.js';
import { waitFor } from '../helpers/netns.js';

const skip = process.platform === 'linux' ? false : 'Linux only';
const LOOP4 = Uint8Array.of(127, 0, 0, 1);
const GUARD = 64;
const GUARD_BYTE = 0xa5;
const EFAULT = 14;

/** A typed array in the middle of an ArrayBuffer whose first and last GUARD bytes are a pattern. */
class Guarded {
  readonly ab: ArrayBuffer;
  readonly bytes: number;

  constructor(bytes: number) {
    this.bytes = bytes;
    this.ab = new ArrayBuffer(bytes + 2 * GUARD);
    new Uint8Array(this.ab).fill(GUARD_BYTE);
    new Uint8Array(this.ab, GUARD, bytes).fill(0);
  }

  u8(): Uint8Array {
    return new Uint8Array(this.ab, GUARD, this.bytes);
  }

  u32(): Uint32Array {
    return new Uint32Array(this.ab, GUARD, this.bytes / 4);
  }

  i32(): Int32Array {
    return new Int32Array(this.ab, GUARD, this.bytes / 4);
  }

  /** Whether both guard areas still hold the pattern. */
  intact(): boolean {
    const all = new Uint8Array(this.ab);
    for (let i = 0; i < GUARD; i++) {
      if (all[i] !== GUARD_BYTE || all[GUARD + this.bytes + i] !== GUARD_BYTE) return false;
    }
    return true;
  }
}

setFlagsFromString('--expose-gc');
/** A full garbage collection (so a detached buffer's memory is really freed: a native pointer
 * still aimed at it would then be a use-after-free that ASan reports). */
const collect = runInNewContext('gc') as () => void;

/** Detaches a typed array's buffer, as a transfer to another realm or worker does; the new owner
 * is dropped at once and collected, so the bytes are freed. */
function detach(view: ArrayBufferView): void {
  structuredClone(view.buffer, { transfer: [view.buffer as ArrayBuffer] });
  collect();
}

/** Waits for `cond` (polled every 5 ms, at most 3 s): a reader's callback has run. */
function until(cond: () => boolean): Promise<boolean> {
  return waitFor(cond, { timeoutMs: 3000, intervalMs: 5, what: 'the reader callback' });
}

const DETACHED = /detached/;

describe('native entry points with adversarial arguments', { skip }, () => {
  const native: NativeAddon | null = skip === false ? loadNative() : null;
  const n = (): NativeAddon => native!;
  const opened: number[] = [];
  after(() => {
    for (const fd of opened) n().closeFd(fd);
  });
  const pair = (): [number, number] => {
    const p = n().packetPair() as [number, number];
    opened.push(...p);
    return p;
  };

  it('refuses integers that do not fit instead of wrapping them', () => {
    const [fd] = pair();
    const buf = new Uint8Array(16);
    const offs = Uint32Array.of(0);
    const lens = Uint32Array.of(4);
    const status = new Int32Array(3);
    for (const count of [2 ** 32 + 1, 2 ** 32, -1, 1.5, NaN, Infinity, 2 ** 53]) {
      assert.throws(() => n().writeBatch(fd, buf, offs, lens, count, status), RangeError, `count ${count}`);
    }
    for (const count of ['1', 1n, null, {}]) {
      assert.throws(() => n().writeBatch(fd, buf, offs, lens, count as number, status), TypeError);
    }
    assert.throws(() => n().writeBatch(2 ** 31, buf, offs, lens, 1, status), RangeError, 'fd past int32');
    assert.throws(() => n().setMark(-1, 2 ** 32), RangeError, 'a mark past u32');
    assert.throws(
      () => n().txSplit(buf, 2 ** 32, 0, 1420, buf, new Uint32Array(1), offs, lens, 0, 1),
      RangeError,
    );
    assert.deepEqual([...status], [0, 0, 0], 'nothing written before the check');
  });

  it('checks offset + length sums in 64 bits (near 2^31 and 2^32)', () => {
    const [fd] = pair();
    const g = new Guarded(256);
    const status = new Int32Array(4);
    const cases: [number, number][] = [
      [2 ** 32 - 1, 2],
      [2 ** 32 - 16, 32],
      [2 ** 31, 2 ** 31],
      [2 ** 31 - 1, 2 ** 31 + 2],
      [16, 2 ** 32 - 1],
      [257, 0],
    ];
    for (const [off, len] of cases) {
      const offs = Uint32Array.of(off);
      const lens = Uint32Array.of(len);
      const what = `offset ${off} length ${len}`;
      assert.throws(() => n().writeBatch(fd, g.u8(), offs, lens, 1, status), RangeError, what);
      assert.throws(() => n().tunWriteCoalesced(fd, g.u8(), offs, lens, 1, status), RangeError, what);
      assert.throws(
        () => n().sendBatch(fd, 4, g.u8(), offs, lens, 1, new Uint8Array(16), Uint16Array.of(9), status),
        RangeError,
        what,
      );
      assert.throws(
        () => n().sendSegments(fd, 4, g.u8(), offs, lens, 0, 1, LOOP4, 9, status),
        RangeError,
        what,
      );
      assert.throws(
        () => n().sealBatch(new Uint8Array(32), 1, 0n, g.u8(), offs, lens, 0, 1),
        RangeError,
        what,
      );
      assert.throws(
        () => n().openBatch(new Uint8Array(32), g.u8(), offs, lens, 0, 1, new Int32Array(1)),
        RangeError,
        what,
      );
      assert.throws(
        () =>
          n().txSplit(
            g.u8(),
            off,
            len,
            1420,
            g.u8(),
            new Uint32Array(1),
            new Uint32Array(1),
            new Uint32Array(1),
            0,
            1,
          ),
        RangeError,
        what,
      );
    }
    // first + count past 2^32 on the calls that take a window of the arrays.
    const offs = new Uint32Array(4);
    const lens = Uint32Array.of(1, 1, 1, 1);
    assert.throws(
      () => n().sendSegments(fd, 4, g.u8(), offs, lens, 2 ** 32 - 1, 2, LOOP4, 9, status),
      RangeError,
    );
    assert.throws(
      () => n().sealBatch(new Uint8Array(32), 1, 0n, g.u8(), offs, lens, 2 ** 32 - 1, 2),
      RangeError,
    );
    assert.throws(
      () => n().txSplit(g.u8(), 0, 40, 1420, g.u8(), new Uint32Array(1), offs, lens, 2 ** 32 - 1, 2),
      RangeError,
    );
    assert.ok(g.intact(), 'guard bytes unchanged');
  });

  it('refuses counts beyond the arrays, and takes zero as nothing to do', () => {
    const [fd] = pair();
    const g = new Guarded(64);
    const status = Int32Array.of(7, 7, 7);
    const one = Uint32Array.of(0);
    const len = Uint32Array.of(8);
    assert.throws(() => n().writeBatch(fd, g.u8(), one, len, 2, status), RangeError);
    assert.throws(() => n().writeList(fd, [g.u8()], 2, status), RangeError);
    assert.throws(() => n().sendList(fd, 4, [g.u8()], 2, LOOP4, 9, status), RangeError);
    assert.throws(
      () => n().sendBatch(fd, 4, g.u8(), one, len, 2, new Uint8Array(16), Uint16Array.of(1), status),
      RangeError,
    );
    assert.throws(() => n().sendSegments(fd, 4, g.u8(), one, len, 1, 1, LOOP4, 9, status), RangeError);
    assert.throws(
      () => n().openBatch(new Uint8Array(32), g.u8(), one, len, 0, 2, new Int32Array(2)),
      RangeError,
    );
    assert.throws(
      () => n().writeBatch(fd, g.u8(), one, len, 1, new Int32Array(2)),
      RangeError,
      'short status',
    );
    n().writeBatch(fd, g.u8(), one, len, 0, status);
    assert.deepEqual([...status], [0, 0, 0]);
    n().writeList(fd, [], 0, status);
    assert.deepEqual([...status], [0, 0, 0]);
    assert.throws(
      () => n().sendSegments(fd, 4, g.u8(), one, Uint32Array.of(0), 0, 1, LOOP4, 9, status),
      RangeError,
    );
    const lengths = new Int32Array(8);
    const cb = (): void => {};
    assert.throws(
      () => n().readerCreate(fd, 0, g.u8(), 0, 8, 0, 8, lengths, null, null, cb),
      RangeError,
      'no slots',
    );
    assert.throws(
      () => n().readerCreate(fd, 0, g.u8(), 9, 8, 0, 8, lengths, null, null, cb),
      RangeError,
      '> lengths',
    );
    assert.throws(
      () => n().readerCreate(fd, 0, g.u8(), 4, 2 ** 31, 0, 8, lengths, null, null, cb),
      RangeError,
    );
    assert.throws(
      () => n().readerCreate(fd, 0, g.u8(), 4, 16, 2 ** 32 - 8, 16, lengths, null, null, cb),
      RangeError,
    );
    assert.throws(
      () => n().readerCreate(fd, 0, g.u8(), 5000, 0, 0, 1, new Int32Array(5000), null, null, cb),
      RangeError,
    );
    assert.throws(
      () => n().readerCreate(fd, 0, new Uint8Array(70000), 1, 70000, 0, 70000, lengths, null, null, cb),
      RangeError,
      'capacity past an IPv6 packet and a vnet header',
    );
    assert.ok(g.intact());
  });

  it('refuses more than 65,535 bytes of IP payload', () => {
    const [fd] = pair();
    const big = new Uint8Array(70000);
    const status = new Int32Array(3);
    const at0 = Uint32Array.of(0);
    assert.throws(() => n().sendList(fd, 4, [new Uint8Array(65536)], 1, LOOP4, 9, status), RangeError);
    assert.throws(
      () =>
        n().sendBatch(
          fd,
          4,
          big,
          at0,
          Uint32Array.of(65536),
          1,
          new Uint8Array(16),
          Uint16Array.of(9),
          status,
        ),
      RangeError,
    );
    assert.throws(
      () => n().sendSegments(fd, 4, big, at0, Uint32Array.of(65536), 0, 1, LOOP4, 9, status),
      RangeError,
    );
    assert.throws(() => n().writeBatch(fd, big, at0, Uint32Array.of(65586), 1, status), RangeError);
    assert.throws(() => n().writeList(fd, [big], 1, status), RangeError);
    assert.throws(
      () => n().tunWriteCoalesced(fd, big, Uint32Array.of(10), Uint32Array.of(65576), 1, status),
      RangeError,
    );
    const dst = new Guarded(4096);
    assert.throws(
      () =>
        n().txSplit(
          big,
          0,
          100,
          65536,
          dst.u8(),
          new Uint32Array(1),
          new Uint32Array(4),
          new Uint32Array(4),
          0,
          4,
        ),
      RangeError,
      'an MTU past 65535',
    );
    // A TUN read that long came from the kernel: a drop (-1), and dst untouched.
    const read = new Uint8Array(70000);
    read[10] = 0x60; // IPv6
    const cursor = new Uint32Array(1);
    const offs = new Uint32Array(4);
    assert.equal(
      n().txSplit(read, 0, read.length, 1420, dst.u8(), cursor, offs, new Uint32Array(4), 0, 4),
      -1,
    );
    read[10] = 0x45; // IPv4 past its 16-bit total length
    assert.equal(
      n().txSplit(read, 0, 10 + 65536, 1420, dst.u8(), cursor, offs, new Uint32Array(4), 0, 4),
      -1,
    );
    assert.equal(cursor[0], 0);
    assert.ok(dst.intact());
    assert.ok(
      dst.u8().every((b) => b === 0),
      'nothing written into dst',
    );
  });

  it('txSplit never writes past dst, whatever the cursor', () => {
    const packet = new Uint8Array(10 + 60);
    packet[10] = 0x45;
    packet[12] = 0;
    packet[13] = 60;
    const dst = new Guarded(512);
    const offs = new Guarded(16);
    const lens = new Guarded(16);
    for (const start of [0, 400, 448, 480, 496, 511, 512, 2 ** 31, 2 ** 32 - 16, 2 ** 32 - 1]) {
      const cursor = Uint32Array.of(start);
      const r = n().txSplit(packet, 0, packet.length, 1420, dst.u8(), cursor, offs.u32(), lens.u32(), 0, 4);
      if (start + 16 + 64 + 16 <= 512) assert.equal(r, 1, `cursor ${start}`);
      else {
        assert.equal(r, -2, `cursor ${start}: no room`);
        assert.equal(cursor[0], start, 'cursor unchanged');
      }
    }
    assert.ok(dst.intact() && offs.intact() && lens.intact());
  });

  it('refuses detached buffers with a TypeError that says so', () => {
    const [fd] = pair();
    const status = new Int32Array(3);
    const gone = (): Uint8Array => {
      const b = new Uint8Array(64);
      detach(b);
      return b;
    };
    const goneU32 = (): Uint32Array => {
      const b = new Uint32Array(4);
      detach(b);
      return b;
    };
    const at0 = Uint32Array.of(0);
    const len4 = Uint32Array.of(4);
    assert.throws(() => n().writeBatch(fd, gone(), at0, len4, 1, status), DETACHED);
    assert.throws(() => n().writeBatch(fd, new Uint8Array(8), goneU32(), len4, 1, status), DETACHED);
    const deadStatus = new Int32Array(3);
    detach(deadStatus);
    assert.throws(() => n().writeBatch(fd, new Uint8Array(8), at0, len4, 1, deadStatus), DETACHED);
    assert.throws(() => n().writeList(fd, [gone()], 1, status), DETACHED);
    assert.throws(() => n().sendList(fd, 4, [gone()], 1, LOOP4, 9, status), DETACHED);
    assert.throws(
      () => n().sendList(fd, 4, [new Uint8Array(4)], 1, gone().subarray(0, 0), 9, status),
      TypeError,
    );
    assert.throws(() => n().sealBatch(gone(), 1, 0n, new Uint8Array(64), at0, len4, 0, 1), DETACHED);
    assert.throws(
      () => n().txSplit(gone(), 0, 0, 1420, new Uint8Array(64), new Uint32Array(1), at0, len4, 0, 1),
      DETACHED,
    );
    assert.throws(() => n().routeMtu(4, gone(), 0), DETACHED);
    assert.throws(
      () => n().readerCreate(fd, 0, gone(), 1, 64, 0, 64, new Int32Array(1), null, null, () => {}),
      DETACHED,
    );
    assert.deepEqual([...status], [0, 0, 0]);
  });

  it('writeList and sendList keep no pointer across a getter that detaches', () => {
    const [fd, peer] = pair();
    const first = new Uint8Array(8).fill(1);
    const status = new Int32Array(3);
    const packets: Uint8Array[] = [first, first];
    Object.defineProperty(packets, 1, {
      get: () => {
        detach(first);
        detach(status);
        return new Uint8Array(8).fill(2);
      },
    });
    // Packet 0 was written before the getter ran; the status array went away under the call.
    assert.throws(() => n().writeList(fd, packets, 2, status), DETACHED);
    const datagrams: Uint8Array[] = [];
    const victim = new Uint8Array(8);
    datagrams[0] = victim;
    Object.defineProperty(datagrams, 1, {
      get: () => {
        detach(victim);
        return new Uint8Array(8);
      },
    });
    const s2 = new Int32Array(3);
    assert.throws(() => n().sendList(peer, 4, datagrams, 2, LOOP4, 9, s2), DETACHED);
    assert.deepEqual([...s2], [0, 0, 0], 'nothing sent: the chunk is checked before sendmmsg');
    assert.throws(() => n().writeList(fd, new Proxy([first], {}) as Uint8Array[], 1, status), TypeError);
  });

  it('a UDP reader whose buffer was detached by its callback stops with -EFAULT', async () => {
    const rx = n().udpOpen(4, 0, 0);
    const tx = n().udpOpen(4, 0, 0);
    opened.push(rx.fd, tx.fd);
    const slots = 4;
    const stride = 256;
    const buf = new Guarded(slots * stride);
    const lengths = new Int32Array(slots);
    const addresses = new Uint8Array(slots * 16);
    const ports = new Uint16Array(slots);
    const calls: [number, number][] = [];
    const view = buf.u8();
    let truncatedCleanly = false;
    const h = n().readerCreate(
      rx.fd,
      4,
      view,
      slots,
      stride,
      0,
      128,
      lengths,
      addresses,
      ports,
      (count, err) => {
        calls.push([count, err]);
        if (calls.length > 1) return;
        // Before detaching: the 200-byte datagram was cut at the capacity, nothing past it written.
        truncatedCleanly =
          lengths[0] === 128 && view.subarray(128, stride).every((x) => x === 0) && buf.intact();
        detach(view);
      },
    );
    n().readerStart(h);
    const status = new Int32Array(3);
    // Longer than the capacity: truncated to 128 bytes, the rest of the slot and the guards untouched.
    n().sendList(tx.fd, 4, [new Uint8Array(200).fill(0xee)], 1, LOOP4, rx.port, status);
    await until(() => calls.length === 1);
    assert.deepEqual(calls[0], [1, 0]);
    n().sendList(tx.fd, 4, [new Uint8Array(20)], 1, LOOP4, rx.port, status);
    await until(() => calls.length === 2);
    assert.deepEqual(calls[1], [0, -EFAULT]);
    n().sendList(tx.fd, 4, [new Uint8Array(20)], 1, LOOP4, rx.port, status);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(calls.length, 2, 'stopped polling');
    n().readerClose(h);
    assert.ok(truncatedCleanly, 'slot and guards intact after a datagram longer than the capacity');
  });

  it('a TUN-kind reader whose lengths array was detached stops with -EFAULT', async () => {
    const [a, b] = pair();
    const buf = new Guarded(4 * 128);
    const lengths = new Int32Array(4);
    const calls: [number, number][] = [];
    const h = n().readerCreate(b, 0, buf.u8(), 4, 128, 16, 100, lengths, null, null, (count, err) => {
      calls.push([count, err]);
      if (calls.length === 1) detach(lengths);
    });
    n().readerStart(h);
    const status = new Int32Array(3);
    n().writeList(a, [new Uint8Array(300).fill(0xcc)], 1, status);
    await until(() => calls.length === 1);
    assert.deepEqual(calls[0], [1, 0]);
    assert.ok(
      buf
        .u8()
        .subarray(16 + 100, 128)
        .every((x) => x === 0),
      'bytes past the capacity untouched',
    );
    n().writeList(a, [new Uint8Array(10)], 1, status);
    await until(() => calls.length === 2);
    assert.deepEqual(calls[1], [0, -EFAULT]);
    n().readerClose(h);
    assert.ok(buf.intact());
  });

  it('refuses wrong types everywhere', () => {
    const status = new Int32Array(3);
    assert.throws(
      () => n().writeBatch(-1, new Int8Array(8) as never, new Uint32Array(1), new Uint32Array(1), 0, status),
      TypeError,
    );
    assert.throws(
      () => n().writeBatch(-1, new Uint8Array(8), new Int32Array(1) as never, new Uint32Array(1), 0, status),
      TypeError,
    );
    assert.throws(() => n().writeList(-1, 'abc' as never, 0, status), TypeError);
    assert.throws(
      () => n().writeList(-1, { length: 1, 0: new Uint8Array(1) } as never, 1, status),
      TypeError,
    );
    assert.throws(
      () => n().sendList(-1, 4, [new Uint8Array(1)], 1, LOOP4, 9, new Uint32Array(3) as never),
      TypeError,
    );
    assert.throws(() => n().readerStart(new Uint8Array(8) as never), TypeError);
    assert.throws(() => n().tunOpen(42 as never, 0), TypeError);
    assert.throws(() => n().routeMtu(4, new Uint8Array(4), 1), RangeError, 'address past the end');
    assert.throws(() => n().routeMtu(4, new Uint8Array(4), 2 ** 32), RangeError);
  });
});
