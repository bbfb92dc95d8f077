/**
 * The in-memory fakes of test/helpers/fake-io.ts behave like the real TUN and Bind where device
 * tests depend on it: batches, sources, port rules, views valid only during the callback.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Endpoint } from '../../src/io/bind.js';
import { FakeNetwork, FakeTun, ipBytes } from '../helpers/fake-io.js';

describe('FakeTun', () => {
  it('delivers injected packets as one batch of views that are poisoned after the callback', () => {
    const tun = new FakeTun({ name: 'wg9', mtu: 1400 });
    const seen: Uint8Array[][] = [];
    let copies: number[][] = [];
    tun.start(
      (packets) => {
        seen.push(packets);
        copies = packets.map((p) => [...p]);
      },
      () => {},
    );
    tun.inject(Uint8Array.of(0x45, 1, 2), Uint8Array.of(0x60, 3));
    assert.equal(seen.length, 1);
    assert.deepEqual(copies, [
      [0x45, 1, 2],
      [0x60, 3],
    ]);
    assert.deepEqual([...seen[0]![0]!], [0xdd, 0xdd, 0xdd], 'kept views are overwritten');
    assert.equal(tun.name, 'wg9');
    assert.equal(tun.mtu, 1400);
    tun.setMtu(1280);
    assert.equal(tun.mtu, 1280);
  });

  it('records copies of written packets and reports errors', () => {
    const tun = new FakeTun();
    const errors: string[] = [];
    tun.start(
      () => {},
      (e) => errors.push(e.message),
    );
    const p = Uint8Array.of(1, 2, 3);
    tun.write([p, Uint8Array.of(4)]);
    p[0] = 9;
    assert.deepEqual(
      tun.takeWritten().map((x) => [...x]),
      [[1, 2, 3], [4]],
    );
    assert.equal(tun.writeBatches, 1);
    tun.fail(new Error('EBADFD'));
    assert.deepEqual(errors, ['EBADFD']);
    tun.close();
    tun.inject(Uint8Array.of(1));
    tun.write([Uint8Array.of(1)]);
    assert.equal(tun.written.length, 0);
  });
});

describe('FakeNetwork and FakeBind', () => {
  it('joins binds by address:port with the right sources, in batches, v4 and v6', async () => {
    const net = new FakeNetwork({ manual: true });
    const a = net.bind('192.0.2.1', 'fd00::1');
    const b = net.bind('192.0.2.2', 'fd00::2');
    const pa = await a.open(0);
    const pb = await b.open(51820);
    assert.ok(pa > 0 && pa !== pb);
    assert.equal(pb, 51820);
    const got: { data: number[]; from: string }[] = [];
    const batches: number[] = [];
    b.start((datagrams, sources) => {
      batches.push(datagrams.length);
      datagrams.forEach((d, i) =>
        got.push({
          data: [...d],
          from: `${Buffer.from(sources[i]!.address).toString('hex')}:${sources[i]!.port}`,
        }),
      );
    });
    a.send([Uint8Array.of(1), Uint8Array.of(2)], b.endpoint(4));
    a.send([Uint8Array.of(3)], b.endpoint(6));
    assert.equal(net.pending, 3);
    assert.equal(net.flush(), 3);
    assert.deepEqual(batches, [3]);
    assert.deepEqual(got, [
      { data: [1], from: `c0000201:${pa}` },
      { data: [2], from: `c0000201:${pa}` },
      { data: [3], from: `fd000000000000000000000000000001:${pa}` },
    ]);
  });

  it('delivers on setImmediate by default, applies the filter, and logs everything', async () => {
    const net = new FakeNetwork();
    const a = net.bind('10.0.0.1');
    const b = net.bind('10.0.0.2');
    await a.open(1000);
    await b.open(2000);
    const got: number[] = [];
    b.start((datagrams) => datagrams.forEach((d) => got.push(d[0]!)));
    net.filter = (d) => d.data[0] !== 2;
    a.send([Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)], {
      address: ipBytes('10.0.0.2'),
      port: 2000,
    });
    assert.deepEqual(got, []);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(got, [1, 3]);
    assert.equal(net.log.length, 3);
  });

  it('follows the real port rules: EADDRINUSE, reopen moves, failed reopen keeps, close frees', async () => {
    const net = new FakeNetwork({ manual: true });
    const a = net.bind('10.0.0.1');
    const b = net.bind('10.0.0.1');
    await a.open(5000);
    await assert.rejects(
      b.open(5000),
      (e: NodeJS.ErrnoException) => e.code === 'EADDRINUSE' && e.errno === -98,
    );
    assert.equal(b.port, 0);
    await b.open(6000);
    await assert.rejects(b.open(5000), { code: 'EADDRINUSE' });
    assert.equal(b.port, 6000);
    await a.open(7000);
    assert.equal(await b.open(5000), 5000, 'a reopen released the old port');
    a.close();
    assert.equal(a.port, 0);
    assert.equal(await net.bind('10.0.0.1').open(7000), 7000);
  });

  it('maps ::ffff:a.b.c.d to IPv4, drops what has no route, keeps the mark', async () => {
    const net = new FakeNetwork({ manual: true });
    const a = net.bind('10.0.0.1');
    const b = net.bind('10.0.0.2');
    await a.open(1);
    await b.open(2);
    const got: Endpoint[] = [];
    b.start((_d, sources) =>
      got.push(...sources.map((s) => ({ address: Uint8Array.from(s.address), port: s.port }))),
    );
    a.send([Uint8Array.of(1)], { address: ipBytes('::ffff:10.0.0.2'), port: 2 });
    a.send([Uint8Array.of(1)], { address: ipBytes('fd00::2'), port: 2 });
    net.flush();
    assert.deepEqual(got, [{ address: ipBytes('10.0.0.1'), port: 1 }]);
    assert.equal(a.sent, 1);
    assert.equal(a.dropped, 1);
    a.setMark(0x2a);
    assert.equal(a.mark, 0x2a);
    assert.throws(() => a.setMark(-1), RangeError);
  });

  it('parses addresses', () => {
    assert.deepEqual([...ipBytes('1.2.3.4')], [1, 2, 3, 4]);
    assert.deepEqual([...ipBytes('::1')], [...new Array<number>(15).fill(0), 1]);
    assert.deepEqual([...ipBytes('fd00:1::2')].slice(0, 4), [0xfd, 0, 0, 1]);
    assert.deepEqual([...ipBytes('::ffff:1.2.3.4')].slice(10), [0xff, 0xff, 1, 2, 3, 4]);
    assert.throws(() => ipBytes('1.2.3'));
    assert.throws(() => ipBytes('1:2:3'));
  });
});
