/**
 * LinuxTun.readNow (native readerPoll) over a native packetPair (the TUN stand-in the warm-up
 * uses): it delivers what is queued at once, through the started callback, returns 0 when
 * nothing is queued, and refuses to nest inside the TUN's own callback, whose slots are still
 * being read.
 */
import assert from 'node:assert/strict';
import { writeSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadNative } from '../../src/io/native.js';
import { LinuxTun } from '../../src/io/tun.js';

const native = loadNative();

function pair(): { tun: LinuxTun; peer: number } {
  const [a, b] = native.packetPair();
  return { tun: new LinuxTun(native, a, 'readnow', 0, 1420, 4, 0), peer: b };
}

describe('LinuxTun.readNow over a packet pair', () => {
  it('packetPair keeps message boundaries and is non-blocking', () => {
    const { tun, peer } = pair();
    try {
      const got: number[] = [];
      tun.start(
        (packets) => got.push(...packets.map((p) => p.length)),
        (err) => assert.fail(err),
      );
      writeSync(peer, new Uint8Array(100));
      writeSync(peer, new Uint8Array(7));
      assert.equal(tun.readNow(), 2);
      assert.deepEqual(got, [100, 7], 'two messages, two packets');
      assert.equal(tun.readNow(), 0, 'nothing queued: no delivery, no blocking');
    } finally {
      tun.close();
      native.closeFd(peer);
    }
  });

  it('delivers synchronously what is queued, with the bytes written', () => {
    const { tun, peer } = pair();
    try {
      const seen: Uint8Array[] = [];
      tun.start(
        (packets) => seen.push(...packets.map((p) => p.slice())),
        (err) => assert.fail(err),
      );
      assert.equal(tun.readNow(), 0);
      writeSync(peer, Uint8Array.of(0x45, 1, 2, 3));
      assert.equal(seen.length, 0, 'not before readNow (no event-loop turn has passed)');
      assert.equal(tun.readNow(), 1);
      assert.deepEqual([...seen[0]!], [0x45, 1, 2, 3]);
    } finally {
      tun.close();
      native.closeFd(peer);
    }
  });

  it('returns 0 from inside its own callback, and the next packet still arrives by the poll', async () => {
    const { tun, peer } = pair();
    try {
      const nested: number[] = [];
      let calls = 0;
      const second = new Promise<void>((resolve) => {
        tun.start(
          () => {
            calls++;
            if (calls === 1) {
              writeSync(peer, new Uint8Array(5));
              nested.push(tun.readNow());
            } else resolve();
          },
          (err) => assert.fail(err),
        );
      });
      writeSync(peer, new Uint8Array(3));
      assert.equal(tun.readNow(), 1);
      assert.deepEqual(nested, [0], 'the nested call read nothing over the slots in use');
      await second;
      assert.equal(calls, 2);
    } finally {
      tun.close();
      native.closeFd(peer);
    }
  });

  it('is 0 before start and after close', () => {
    const { tun, peer } = pair();
    writeSync(peer, new Uint8Array(3));
    assert.equal(tun.readNow(), 0, 'not started');
    tun.close();
    assert.equal(tun.readNow(), 0, 'closed');
    native.closeFd(peer);
  });
});
