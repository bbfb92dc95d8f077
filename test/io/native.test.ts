/**
 * The native addon's surface without privileges: loading, argument checks (TypeError /
 * RangeError, never a crash), errno naming, and the reader's lifetime rules on a loopback UDP
 * socket of the root namespace (port 0; needs no root): closing from inside the callback, pausing,
 * and an exception thrown by the callback reaching `uncaughtException`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { createBind } from '../../src/io/bind.js';
import { errnoName, loadNative, systemError } from '../../src/io/native.js';
import { waitFor } from '../helpers/netns.js';

const LOOP4 = Uint8Array.of(127, 0, 0, 1);
const skip = process.platform === 'linux' ? false : 'Linux only';

/** Waits for `cond` (polled every 5 ms, at most 3 s): a reader's callback has run. */
function until(cond: () => boolean): Promise<boolean> {
  return waitFor(cond, { timeoutMs: 3000, intervalMs: 5, what: 'the reader callback' });
}

describe('native addon', { skip }, () => {
  it('loads, once, with the TUN constants', () => {
    const native = loadNative();
    assert.equal(loadNative(), native);
    assert.equal(native.constants.IFF_TUN, 0x0001);
    assert.equal(native.constants.IFF_NO_PI, 0x1000);
    assert.equal(native.constants.IFF_VNET_HDR, 0x4000);
    assert.equal(native.constants.IFNAMSIZ, 16);
  });

  it('rejects bad arguments with TypeError/RangeError', () => {
    const native = loadNative();
    const status = new Int32Array(3);
    assert.throws(() => native.tunOpen('x'.repeat(16), 0), RangeError);
    assert.throws(() => native.udpOpen(5 as 4, 0, 0), RangeError);
    assert.throws(() => native.udpOpen(4, 70000, 0), RangeError);
    assert.throws(() => native.writeList(-1, ['no' as unknown as Uint8Array], 1, status), TypeError);
    assert.throws(() => native.writeList(-1, [], 1, status), RangeError);
    assert.throws(() => native.writeList(-1, [], 0, new Int32Array(2)), RangeError);
    assert.throws(
      () => native.writeBatch(-1, new Uint8Array(10), Uint32Array.of(8), Uint32Array.of(4), 1, status),
      RangeError,
    );
    assert.throws(
      () =>
        native.readerCreate(0, 0, new Uint8Array(100), 2, 64, 0, 64, new Int32Array(2), null, null, () => {}),
      RangeError,
    );
    assert.throws(
      () =>
        native.readerCreate(0, 4, new Uint8Array(128), 2, 64, 0, 64, new Int32Array(2), null, null, () => {}),
      TypeError,
    );
    assert.throws(() => native.readerStart({} as never), TypeError);
    assert.throws(
      () => native.sendList(-1, 4, [], 0, new Uint8Array(16), 1, status),
      RangeError,
      'a 16-byte address for family 4',
    );
  });

  it('reports system errors with code, negated errno and syscall', () => {
    const native = loadNative();
    assert.throws(() => native.closeFd(-1), { code: 'EBADF', errno: -9, syscall: 'close' });
    assert.throws(() => native.getMark(-1), { code: 'EBADF', syscall: 'getsockopt SO_MARK' });
    const status = new Int32Array(3);
    native.writeList(-1, [new Uint8Array(1), new Uint8Array(1)], 2, status);
    assert.deepEqual([...status], [0, 2, -9], 'EBADF drops the rest of the batch');
    assert.equal(errnoName(-98), 'EADDRINUSE');
    assert.equal(errnoName(77), 'EBADFD');
    const e = systemError(-77, 'read');
    assert.deepEqual([e.code, e.errno, e.syscall], ['EBADFD', -77, 'read']);
  });
});

describe('native reader lifetime (loopback UDP, no root needed)', { skip }, () => {
  it('survives close() from inside its own callback and delivers nothing after', async () => {
    const a = createBind({ families: [4] });
    const b = createBind({ families: [4] });
    const pb = await b.open(0);
    await a.open(0);
    let calls = 0;
    b.start(() => {
      calls++;
      b.close();
    });
    a.send([Uint8Array.of(1)], { address: LOOP4, port: pb });
    await until(() => calls > 0);
    a.send([Uint8Array.of(2)], { address: LOOP4, port: pb });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(calls, 1);
    assert.equal(b.port, 0);
    a.close();
  });

  it('can be restarted by start() after a close and a new open', async () => {
    const a = createBind({ families: [4] });
    const b = createBind({ families: [4] });
    await a.open(0);
    await b.open(0);
    b.close();
    const pb = await b.open(0);
    const got: number[] = [];
    b.start((d) => d.forEach((x) => got.push(x[0]!)));
    a.send([Uint8Array.of(7), Uint8Array.of(8)], { address: LOOP4, port: pb });
    await until(() => got.length === 2);
    assert.deepEqual(got, [7, 8]);
    a.close();
    b.close();
  });

  it('turns an exception thrown by the callback into an uncaught exception', () => {
    const bindUrl = new URL('../../src/io/bind.js', import.meta.url).href;
    const script = `
      import { createBind } from ${JSON.stringify(bindUrl)};
      const b = createBind({ families: [4] });
      const port = await b.open(0);
      process.on('uncaughtException', (e) => { console.log('uncaught:' + e.message); b.close(); });
      b.start(() => { throw new Error('boom'); });
      b.send([new Uint8Array(4)], { address: Uint8Array.of(127, 0, 0, 1), port });
      setTimeout(() => { console.log('timeout'); process.exit(1); }, 3000).unref();
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.match(out, /uncaught:boom/);
  });
});
