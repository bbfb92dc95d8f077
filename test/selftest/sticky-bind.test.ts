/**
 * Sticky source addresses at the bind (src/io/bind.ts over native/reader.c, udp.c, offload.c):
 * the local address each datagram arrived at is read from IP_PKTINFO / IPV6_PKTINFO, and a send
 * with that address as its source carries it back in the same control message, as the kernel's
 * socket.c (send4/send6 with a cached source) and wireguard-go's conn/sticky_linux.go do.
 *
 * - `stickySource`: which recorded local addresses are kept (no root needed);
 * - in a namespace of its own, through test/selftest/sticky-child.ts: the recorded source of
 *   per-datagram Endpoints, replies from it with sendmmsg and with UDP GSO, a source the namespace
 *   does not own (refused, sent from the kernel's choice, `sourceRefused` set, nothing dropped),
 *   and raw batches with UDP_GRO whose `locals` carry the address and interface of each slot.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { LOCAL_RECORD, stickySource } from '../../src/io/bind.js';
import {
  cleanup,
  createNamespace,
  deleteNamespace,
  exec,
  execOk,
  isRoot,
  uniqueName,
} from '../helpers/netns.js';
import { STICKY_ADDRESSES } from './sticky-child.js';

const CHILD = fileURLToPath(new URL('./sticky-child.js', import.meta.url));

describe('stickySource: which local addresses a reply may leave from', () => {
  const record = (bytes: readonly number[]): Uint8Array => {
    const r = new Uint8Array(LOCAL_RECORD * 2);
    r.set(bytes, LOCAL_RECORD);
    return r;
  };
  test('keeps unicast addresses, as a view of the record', () => {
    const r = record([10, 0, 0, 2]);
    const s = stickySource(r, LOCAL_RECORD, 4);
    assert.deepEqual(s, new Uint8Array([10, 0, 0, 2]));
    assert.equal(s!.buffer, r.buffer, 'a view: the caller decides when to copy');
    const v6 = [0xfd, 0, 0xaa, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    assert.deepEqual(stickySource(record(v6), LOCAL_RECORD, 16), new Uint8Array(v6));
    assert.deepEqual(stickySource(record([127, 0, 0, 1]), LOCAL_RECORD, 4), new Uint8Array([127, 0, 0, 1]));
  });
  test('drops what no reply can come from: none given, multicast, broadcast, IPv6 link-local', () => {
    assert.equal(stickySource(record([]), LOCAL_RECORD, 4), null, '0.0.0.0: the kernel gave no pktinfo');
    assert.equal(stickySource(record([]), LOCAL_RECORD, 16), null, '::');
    assert.equal(stickySource(record([224, 0, 0, 1]), LOCAL_RECORD, 4), null);
    assert.equal(stickySource(record([255, 255, 255, 255]), LOCAL_RECORD, 4), null);
    assert.equal(
      stickySource(record([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), LOCAL_RECORD, 16),
      null,
    );
    assert.equal(
      stickySource(record([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), LOCAL_RECORD, 16),
      null,
    );
    assert.equal(
      stickySource(record([0xfe, 0xbf, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), LOCAL_RECORD, 16),
      null,
    );
    // fec0::/10 (old site-local) is not link-local: kept.
    assert.notEqual(
      stickySource(record([0xfe, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), LOCAL_RECORD, 16),
      null,
    );
  });
});

const skip = isRoot() ? false : 'needs root (a network namespace)';

describe('sticky source at the UDP bind, in a namespace', { skip }, () => {
  let ns = '';
  const link = 'stka';
  before(async () => {
    ns = await createNamespace(uniqueName('stk'));
    // A veth with both ends in the namespace holds the addresses (no dummy module here).
    await execOk(ns, 'ip', ['link', 'add', link, 'type', 'veth', 'peer', 'name', 'stkb']);
    for (const a of STICKY_ADDRESSES.v4) await execOk(ns, 'ip', ['addr', 'add', `${a}/24`, 'dev', link]);
    for (const a of STICKY_ADDRESSES.v6)
      await execOk(ns, 'ip', ['addr', 'add', `${a}/64`, 'dev', link, 'nodad']);
    await execOk(ns, 'ip', ['link', 'set', link, 'up']);
    await execOk(ns, 'ip', ['link', 'set', 'stkb', 'up']);
  });
  after(async () => {
    if (ns !== '') await deleteNamespace(ns);
    await cleanup();
  });

  async function run<T>(scenario: string): Promise<T> {
    const r = await exec(ns, process.execPath, [CHILD, scenario, link], { timeoutMs: 30_000 });
    const m = /^@@result (.*)$/m.exec(r.stdout);
    assert.ok(r.code === 0 && m !== null, `${scenario} failed (${r.code}):\n${r.stdout}${r.stderr}`);
    return JSON.parse(m[1]!) as T;
  }

  interface FamilyResult {
    recordedSource: string | null;
    replyFrom: string[];
    refusedReplyFrom: string[];
    refusedFlag: boolean;
    flagAfterGoodSend: boolean;
    segmentsFrom: string[];
    refusedSegmentsFrom: string[];
    refusedSegmentsFlag: boolean;
    sendDropped: number;
  }

  test('records the address a datagram arrived at and replies from it; a source not ours falls back', async () => {
    const r = await run<Record<'v4' | 'v6', FamilyResult>>('round-trip');
    for (const family of ['v4', 'v6'] as const) {
      const [peer, ours] = STICKY_ADDRESSES[family];
      const f = r[family];
      assert.equal(f.recordedSource, ours, `${family}: the Endpoint records the address the peer sent to`);
      // Without the source the kernel would answer from the peer's own address (a local route).
      assert.deepEqual(f.replyFrom, [ours], `${family}: sendmmsg reply from the sticky source`);
      assert.deepEqual(f.segmentsFrom, [ours], `${family}: UDP GSO run from the sticky source`);
      assert.equal(f.flagAfterGoodSend, false);
      assert.deepEqual(f.refusedReplyFrom, [peer], `${family}: a source not ours: the kernel's choice`);
      assert.deepEqual(f.refusedSegmentsFrom, [peer], `${family}: the same for a GSO run`);
      assert.equal(f.refusedFlag, true, `${family}: sourceRefused after sendList`);
      assert.equal(f.refusedSegmentsFlag, true, `${family}: sourceRefused after sendSegments`);
      assert.equal(f.sendDropped, 0, `${family}: nothing dropped on the way`);
    }
  });

  test('raw batches with UDP_GRO carry the local address and interface of every slot', async () => {
    const r =
      await run<
        Record<'v4' | 'v6', { locals: string[]; ifindexes: number[]; linkIndex: number; datagrams: number }>
      >('raw-locals');
    for (const family of ['v4', 'v6'] as const) {
      const f = r[family];
      assert.equal(f.datagrams, 32);
      assert.deepEqual(f.locals, [STICKY_ADDRESSES[family][1]], `${family}: locals of every slot`);
      assert.deepEqual(f.ifindexes, [f.linkIndex], `${family}: the index of the link holding the address`);
    }
  });
});
