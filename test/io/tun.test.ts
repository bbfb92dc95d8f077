/**
 * The Linux TUN device (src/io/tun.ts over native/tun.c and native/reader.c), exercised in a
 * network namespace of its own (test/io/harness.ts). Needs root; skipped otherwise.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestNetns, netnsUnavailable } from './harness.js';

const skip = netnsUnavailable();

interface Stats {
  packetsRead: number;
  readBatches: number;
  packetsWritten: number;
  writeDropped: number;
  lastWriteError: string | null;
}

describe('TUN in a network namespace', { skip }, () => {
  let ns: TestNetns | null = null;
  before(() => {
    ns = TestNetns.create('tun');
  });
  after(() => ns?.destroy());

  it('opens a named TUN with MTU 1420, sets and reads back the MTU, adopts an fd, deletes on close', async () => {
    const r = await ns!.run<{
      name: string;
      defaultMtu: number;
      propertyMtu: number;
      ifindex: number;
      sysIfindex: number;
      isDown: boolean;
      setMtu: number;
      mtuAfterIpLink: number;
      autoName: string;
      optionMtu: number;
      numberMtu: number;
      attachedName: string;
      attachedMtu: number;
      duplicateCode: string | null;
      longNameCode: string | null;
      goneAfterClose: boolean;
    }>('tun-open');
    assert.equal(r.name, 'wgtsio0');
    assert.equal(r.defaultMtu, 1420, 'ip link show: wireguard-go sets 1420 on creation');
    assert.equal(r.propertyMtu, 1420);
    assert.ok(r.ifindex > 0);
    assert.equal(r.ifindex, r.sysIfindex, 'ifindex matches /sys/class/net/IF/ifindex');
    assert.equal(r.isDown, true, 'the link is left down, as wireguard-go leaves it');
    assert.equal(r.setMtu, 1380, 'setMtu(1380) shows in ip link');
    assert.equal(r.mtuAfterIpLink, 1300, 'tun.mtu follows `ip link set mtu`');
    assert.match(r.autoName, /^tun\d+$/, 'an empty name lets the kernel choose');
    assert.equal(r.optionMtu, 1280);
    assert.equal(r.numberMtu, 1400);
    assert.equal(r.attachedName, 'wgtsio3', 'an adopted fd (WG_TUN_FD) keeps its link name');
    assert.equal(r.attachedMtu, 1360);
    assert.equal(r.duplicateCode, 'EBUSY', 'a name already open elsewhere');
    assert.equal(r.longNameCode, 'RangeError', 'names longer than 15 bytes');
    assert.equal(r.goneAfterClose, true, 'closing the fd removes the link');
  });

  for (const family of [4, 6] as const) {
    it(`carries IPv${family} packets both ways: echo requests written, kernel replies read back in batches`, async () => {
      const r = await ns!.run<{
        replies: { seq: number; src: string; dst: string; payloadOk: boolean }[];
        batches: number[];
        errors: string[];
        afterList: Stats;
        afterBatch: Stats;
      }>(`tun-ping${family}`);
      const [local, peer] = family === 4 ? ['10.77.0.1', '10.77.0.2'] : ['fd77::1', 'fd77::2'];
      assert.deepEqual(
        r.replies.map((x) => x.seq),
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
      );
      for (const x of r.replies) {
        assert.equal(x.src, local);
        assert.equal(x.dst, peer);
        assert.ok(x.payloadOk, `payload of reply ${x.seq}`);
      }
      assert.ok(
        Math.max(...r.batches) > 1,
        `several packets per read batch (batches: ${r.batches.join(',')})`,
      );
      assert.deepEqual(r.errors, []);
      assert.equal(r.afterList.packetsWritten, 8);
      assert.equal(r.afterList.writeDropped, 1, 'the malformed packet is dropped, the rest still written');
      assert.equal(r.afterList.lastWriteError, 'EINVAL');
      assert.equal(r.afterBatch.packetsWritten, 12, 'writeBatch wrote its 4 packets');
      assert.equal(r.afterBatch.writeDropped, 1);
      assert.ok(r.afterBatch.packetsRead >= 12);
      assert.ok(r.afterBatch.readBatches < r.afterBatch.packetsRead);
    });
  }

  it('reports EBADFD to onError once the link is deleted, and stops reading', async () => {
    const r = await ns!.run<{
      errors: { code: string; errno: number | null }[];
      ifindex: number;
      linkGone: boolean;
      stats: Stats;
      mtuAfterDelete: number;
    }>('tun-deleted');
    assert.equal(r.linkGone, true);
    assert.deepEqual(r.errors, [{ code: 'EBADFD', errno: -77 }], 'one error, then the reader stops');
    assert.equal(r.stats.writeDropped, 1, 'writes after deletion are dropped and counted');
    assert.equal(r.mtuAfterDelete, 1420, 'the last known MTU');
  });
});
