/**
 * Per-peer order with the native AEAD on threads (issue 11 "Multi-core"): two in-process devices
 * (DeviceNet, the batched data path of batch-send.ts / batch-receive.ts) exchange bursts of
 * numbered packets with WGTS_THREADS=1 and =2 (and 4); every transport datagram on the wire
 * carries the next counter of its keypair (consecutive, in send order), and the receiver's TUN
 * gets exactly the packets sent, in order. The bursts are big enough that the native call cuts
 * them into slices (aead.c THREAD_MIN_BYTES), and the thread gate is off (WGTS_THREAD_GATE=off), so
 * a busy machine cannot keep the workers asleep: with 2 or more threads the pool must have woken
 * workers (poolStats). Needs the native addon (skipped without it), not root.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { Endpoint } from '../../src/io/bind.js';
import { loadNative, type NativeAddon } from '../../src/io/native.js';
import { applyThreads, defaultThreads, parseThreads } from '../../src/device/threads.js';
import { ipv4 } from '../helpers/pair.js';
import { readU32, readU64 } from '../helpers/fuzz.js';
import { DeviceNet, type DeviceNode } from '../helpers/device-net.js';

const native = ((): NativeAddon | null => {
  try {
    return loadNative();
  } catch {
    return null;
  }
})();
const skip = native === null ? 'native addon missing' : false;
const saved = { threads: process.env['WGTS_THREADS'], gate: process.env['WGTS_THREAD_GATE'] };
let dn: DeviceNet | null = null;

function restore(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

afterEach(() => {
  dn?.close();
  dn = null;
  restore('WGTS_THREADS', saved.threads);
  restore('WGTS_THREAD_GATE', saved.gate);
  native?.setThreads?.(1);
});

/** Packet k of a burst: 10.0.0.x -> 10.0.0.y with k in its first payload bytes and a size of its own. */
function numbered(from: DeviceNode, to: DeviceNode, k: number, size: number): Uint8Array {
  const body = new Uint8Array(size);
  body.fill(k & 0xff);
  new DataView(body.buffer).setUint32(0, k);
  return ipv4(from.inner4, to.inner4, body);
}

/** Every datagram `node` sends, copied, in send order. */
function tap(node: DeviceNode): Uint8Array[] {
  const seen: Uint8Array[] = [];
  const send = node.bind.send.bind(node.bind);
  node.bind.send = (datagrams: readonly Uint8Array[], to: Endpoint): number => {
    for (const d of datagrams) seen.push(d.slice());
    return send(datagrams, to);
  };
  return seen;
}

/** Transport counters on the wire are consecutive per receiver index, in send order. */
function assertCountersInOrder(wire: readonly Uint8Array[]): number {
  const last = new Map<number, bigint>();
  let n = 0;
  for (const d of wire) {
    if (readU32(d, 0) !== 4) continue;
    const receiver = readU32(d, 4);
    const counter = readU64(d, 8);
    const before = last.get(receiver);
    if (before !== undefined && counter !== before + 1n)
      assert.fail(`datagram ${n} to ${receiver}: counter ${counter} after ${before}`);
    last.set(receiver, counter);
    n++;
  }
  return n;
}

async function burst(threads: number): Promise<void> {
  process.env['WGTS_THREADS'] = String(threads);
  process.env['WGTS_THREAD_GATE'] = 'off';
  dn = new DeviceNet();
  const a = await dn.node(1);
  const b = await dn.node(2);
  assert.equal(native!.getThreads!(), threads, 'the device applied WGTS_THREADS');
  await dn.link(a, b);
  a.tun.inject(ipv4(a.inner4, b.inner4));
  await dn.settle();
  b.tun.inject(ipv4(b.inner4, a.inner4));
  await dn.settle();
  b.tun.takeWritten();
  a.tun.takeWritten();
  const wireA = tap(a);
  const wireB = tap(b);
  const wakes0 = native!.poolStats!().wakes;
  for (let round = 0; round < 3; round++) {
    // a -> b: 1,500 full-size packets in one read (two arenas); b -> a: 1,000 of mixed sizes
    // (~690 KB: still more than two threads' THREAD_MIN_BYTES).
    const ab = Array.from({ length: 1500 }, (_, k) => numbered(a, b, round * 10_000 + k, 1380));
    const ba = Array.from({ length: 1000 }, (_, k) =>
      numbered(b, a, round * 10_000 + k, 8 + ((k * 37) % 1372)),
    );
    a.tun.inject(...ab);
    b.tun.inject(...ba);
    await dn.settle();
    const gotB = b.tun.takeWritten();
    const gotA = a.tun.takeWritten();
    assert.equal(gotB.length, ab.length, `${threads} threads, round ${round}: a -> b delivered`);
    assert.equal(gotA.length, ba.length, `${threads} threads, round ${round}: b -> a delivered`);
    for (let k = 0; k < ab.length; k++)
      if (!Buffer.from(gotB[k]!).equals(ab[k]!))
        assert.fail(`${threads} threads: a -> b packet ${k} differs`);
    for (let k = 0; k < ba.length; k++)
      if (!Buffer.from(gotA[k]!).equals(ba[k]!))
        assert.fail(`${threads} threads: b -> a packet ${k} differs`);
  }
  assert.ok(assertCountersInOrder(wireA) >= 4500);
  assert.ok(assertCountersInOrder(wireB) >= 3000);
  const wakes = native!.poolStats!().wakes - wakes0;
  if (threads === 1) assert.equal(wakes, 0, 'one thread wakes no worker');
  else assert.ok(wakes > 0, `${threads} threads: the bursts were sliced (worker wake-ups ${wakes})`);
}

describe('per-peer order with the AEAD on threads', { skip }, () => {
  test('WGTS_THREADS=1', () => burst(1));
  test('WGTS_THREADS=2', () => burst(2));
  test('WGTS_THREADS=4 (more threads than cores)', () => burst(4));
});

describe('WGTS_THREADS parsing', () => {
  test('numbers 1..64 are taken, empty means the default, anything else is an error', () => {
    assert.equal(parseThreads(undefined), null);
    assert.equal(parseThreads(' '), null);
    assert.equal(parseThreads('1'), 1);
    assert.equal(parseThreads(' 8 '), 8);
    assert.equal(parseThreads('64'), 64);
    for (const bad of ['0', '65', '-1', '2.5', 'two', '0x2', '1e1'])
      assert.ok(parseThreads(bad) instanceof Error, bad);
  });

  test('the default is one thread per CPU, at most 8', () => {
    assert.equal(defaultThreads(0), 1);
    assert.equal(defaultThreads(1), 1);
    assert.equal(defaultThreads(2), 2);
    assert.equal(defaultThreads(3), 3);
    assert.equal(defaultThreads(4), 4);
    assert.equal(defaultThreads(16), 8);
  });

  test('applyThreads sets the addon, logs a bad value and falls back to the default', { skip }, () => {
    const errors: string[] = [];
    const log = { verboseEnabled: false, verbose: () => {}, error: (m: string) => errors.push(m) };
    assert.equal(applyThreads(log, { WGTS_THREADS: '3' }), 3);
    assert.equal(native!.getThreads!(), 3);
    assert.equal(applyThreads(log, { WGTS_THREADS: 'lots' }), defaultThreads());
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /WGTS_THREADS=lots/);
    assert.equal(applyThreads(log, {}, null), 1, 'no addon: one thread');
  });
});
