/**
 * Two TcpLayers back to back through the fake wire (RFC 9293 end to end): data both ways intact
 * under loss, reordering and duplication, FIN in both orders, simultaneous close, RST, half close.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prng } from '../../helpers/fuzz.js';
import { openPair, pumpWrite, Recorder, Wire } from './wire.js';

function payload(seed: number, n: number): Uint8Array {
  return new Prng(seed).bytes(n);
}

for (const [name, impair] of [
  ['clean', {}],
  ['2% loss', { loss: 0.02 }],
  ['5% loss, reorder, duplicate', { loss: 0.05, reorder: 0.05, duplicate: 0.02 }],
] as const) {
  test(`data both ways intact (${name})`, () => {
    const w = new Wire(7, impair);
    const { client, server, cr, sr } = openPair(w);
    const up = payload(1, 3 << 20);
    const down = payload(2, 2 << 20);
    let offUp = 0;
    let offDown = 0;
    const ok = w.run(() => {
      while (offUp < up.length) {
        const n = client.write(up.subarray(offUp, offUp + 65536));
        if (n === 0) break;
        offUp += n;
      }
      while (offDown < down.length) {
        const n = server.write(down.subarray(offDown, offDown + 65536));
        if (n === 0) break;
        offDown += n;
      }
      return sr.bytes === up.length && cr.bytes === down.length;
    });
    assert.ok(ok, `transfer stalled: up ${sr.bytes}/${up.length} down ${cr.bytes}/${down.length}`);
    assert.deepEqual(sr.data(), up);
    assert.deepEqual(cr.data(), down);
    client.shutdown();
    server.shutdown();
    assert.ok(w.run(() => cr.closed !== undefined && sr.closed !== undefined));
    assert.equal(cr.closed, null);
    assert.equal(sr.closed, null);
  });
}

test('SACK pays under 5% loss: fewer timeouts and less time than without', () => {
  const result = (sack: boolean): { ms: number; timeouts: number } => {
    const w = new Wire(21, { loss: 0.05, reorder: 0.02 }, { sack });
    const { client, sr } = openPair(w);
    const data = payload(6, 4 << 20);
    const t0 = w.clock.t;
    assert.ok(pumpWrite(w, client, data, () => sr.bytes === data.length));
    assert.deepEqual(sr.data(), data);
    return { ms: w.clock.t - t0, timeouts: w.a.counters.timeouts };
  };
  const withSack = result(true);
  const without = result(false);
  assert.ok(withSack.timeouts < without.timeouts, JSON.stringify({ withSack, without }));
  assert.ok(withSack.ms < without.ms, JSON.stringify({ withSack, without }));
});

test('window scaling (RFC 7323): a 4 MiB window, over 2 MiB in flight', () => {
  const w = new Wire(22, {}, { sendBufferSize: 8 << 20 });
  const { client, server, sr } = openPair(w);
  const c = client as unknown as { sndWnd: number; rcvShift: number; sndShift: number };
  assert.equal((server as unknown as { sndWnd: number }).sndWnd, 4 << 20);
  assert.deepEqual([c.rcvShift, c.sndShift], [7, 7]);
  let peak = 0;
  const data = payload(7, 8 << 20);
  assert.ok(
    pumpWrite(w, client, data, () => {
      peak = Math.max(peak, (client as unknown as { flight: number }).flight);
      return sr.bytes === data.length;
    }),
  );
  assert.equal(c.sndWnd, 4 << 20);
  assert.ok(peak > 2 << 20, `peak flight ${peak}`);
});

test('write and shutdown before the handshake completes: data then FIN follow it', () => {
  const w = new Wire(23);
  const sr = new Recorder();
  w.b.listen(null, 80, 4, (c) => {
    sr.conn = c;
    c.setEvents(sr);
  });
  const cr = new Recorder();
  const client = w.a.connect({ address: w.ipB.address, port: 80 }, cr);
  cr.conn = client;
  assert.equal(client.state, 'SYN-SENT');
  assert.equal(client.write(new Uint8Array(5000).fill(9)), 5000);
  client.shutdown();
  assert.ok(w.run(() => sr.ended));
  assert.equal(sr.bytes, 5000);
  assert.ok(sr.data().every((x) => x === 9));
});

test('a closed listener takes no new connections: the SYN draws a RST', () => {
  const w = new Wire(24);
  const l = w.b.listen(null, 80, 4, () => assert.fail('closed'));
  l.close();
  const cr = new Recorder();
  w.a.connect({ address: w.ipB.address, port: 80 }, cr);
  assert.ok(w.run(() => cr.closed !== undefined));
  assert.equal(cr.closed, 'ECONNREFUSED');
});

test('client closes first: client ends in TIME-WAIT, server in CLOSED', () => {
  const w = new Wire(11);
  const { client, server, cr, sr } = openPair(w);
  assert.ok(pumpWrite(w, client, payload(3, 100_000), () => sr.bytes === 100_000));
  client.shutdown();
  assert.ok(w.run(() => sr.ended && client.state === 'FIN-WAIT-2'));
  assert.equal(server.state, 'CLOSE-WAIT');
  assert.equal(client.state, 'FIN-WAIT-2');
  // Half close: the server can still send.
  assert.ok(pumpWrite(w, server, payload(4, 50_000), () => cr.bytes === 50_000));
  server.shutdown();
  assert.ok(w.run(() => sr.closed !== undefined && cr.closed !== undefined));
  assert.equal(client.state, 'TIME-WAIT');
  assert.equal(w.a.timeWaitCount, 1);
  assert.equal(server.state, 'CLOSED');
  // 2*MSL later the TIME-WAIT entry is gone.
  assert.ok(w.run(() => w.a.connections.size === 0));
  assert.equal(w.a.timeWaitCount, 0);
});

test('server closes first', () => {
  const w = new Wire(12);
  const { client, server, cr, sr } = openPair(w);
  server.shutdown();
  assert.ok(w.run(() => cr.ended));
  client.shutdown();
  assert.ok(w.run(() => sr.closed !== undefined && cr.closed !== undefined));
  assert.equal(server.state, 'TIME-WAIT');
  assert.equal(client.state, 'CLOSED');
});

test('simultaneous close goes through CLOSING to TIME-WAIT on both sides', () => {
  const w = new Wire(13);
  const { client, server, cr, sr } = openPair(w);
  client.shutdown();
  server.shutdown();
  assert.equal(client.state, 'FIN-WAIT-1');
  assert.equal(server.state, 'FIN-WAIT-1');
  w.step();
  assert.equal(client.state, 'CLOSING');
  assert.equal(server.state, 'CLOSING');
  assert.ok(w.run(() => cr.closed !== undefined && sr.closed !== undefined));
  assert.equal(client.state, 'TIME-WAIT');
  assert.equal(server.state, 'TIME-WAIT');
});

test('abort sends RST: the peer closes with ECONNRESET', () => {
  const w = new Wire(14);
  const { client, sr, cr } = openPair(w);
  client.abort();
  assert.ok(w.run(() => sr.closed !== undefined));
  assert.equal(sr.closed, 'ECONNRESET');
  assert.equal(cr.closed, undefined, 'abort does not call onClose');
  assert.equal(w.a.connections.size, 0);
  assert.equal(w.b.connections.size, 0);
});

test('connect to a closed port: ECONNREFUSED', () => {
  const w = new Wire(15);
  const cr = new (class {
    err: string | null | undefined;
    onEstablished() {}
    onData() {}
    onEnd() {}
    onDrain() {}
    onClose(e: string | null) {
      this.err = e;
    }
  })();
  w.a.connect({ address: w.ipB.address, port: 81 }, cr);
  assert.ok(w.run(() => cr.err !== undefined));
  assert.equal(cr.err, 'ECONNREFUSED');
});

test('IPv6 with a 1280 MTU', () => {
  const a6 = new Uint8Array(16);
  a6[0] = 0xfd;
  a6[15] = 1;
  const b6 = a6.slice();
  b6[15] = 2;
  const w = new Wire(16, { loss: 0.01 }, {}, a6, b6, 1280);
  const { client, sr } = openPair(w);
  const data = payload(5, 500_000);
  assert.ok(pumpWrite(w, client, data, () => sr.bytes === data.length));
  assert.deepEqual(sr.data(), data);
  assert.ok(sr.chunks.every((c) => c.length <= 1280 - 60));
});
