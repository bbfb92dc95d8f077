/**
 * Property test for the TCP layer (RFC 9293 section 3.10.7 under hostile input): seeded random
 * segment sequences (flags, sequence and acknowledgement numbers near and far from the real ones,
 * bogus and truncated options, bad data offsets, oversized and overlapping data) mixed with user
 * calls and time never throw, and every table and buffer stays within its bound.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Tcb } from '../../../src/netstack/tcp/connection.js';
import { Prng } from '../../helpers/fuzz.js';
import { Bench, build, F } from './craft.js';
import { datagram } from './wire.js';

const OPTIONS = {
  receiveBufferSize: 256 * 1024,
  sendBufferSize: 128 * 1024,
  maxConnections: 50,
  maxTimeWait: 10,
};

function near(p: Prng, base: number): number {
  switch (p.below(4)) {
    case 0:
      return base >>> 0;
    case 1:
      return (base + p.between(-3000, 3000)) >>> 0;
    case 2:
      return (base + p.between(-(1 << 20), 1 << 20)) >>> 0;
    default:
      return p.u32();
  }
}

function randomOptions(p: Prng): number[] {
  const o: number[] = [];
  const n = p.below(6);
  for (let i = 0; i < n; i++) {
    const kind = p.pick([0, 1, 2, 3, 4, 5, 8, 99]);
    if (kind <= 1) o.push(kind);
    else {
      const len = p.chance(0.2)
        ? p.below(12)
        : { 2: 4, 3: 3, 4: 2, 5: 10 + 8 * p.below(4), 8: 10, 99: 6 }[kind]!;
      o.push(kind, len);
      for (let k = 2; k < len; k++) o.push(p.below(256));
    }
  }
  return o;
}

function hostile(p: Prng, b: Bench, c: Tcb | undefined): Uint8Array {
  const flags = p.chance(0.7) ? F.ACK | (p.chance(0.1) ? F.FIN : 0) : p.below(64);
  const seq = near(p, c?.rcvNxt ?? p.u32());
  const ack = near(p, c === undefined ? p.u32() : p.chance(0.5) ? c.sndUna : c.sndNxt);
  const dataLen = p.chance(0.5) ? 0 : p.chance(0.9) ? p.below(1460) : p.below(70000);
  const sack: [number, number][] = [];
  if (c !== undefined && p.chance(0.2)) {
    for (let i = 0; i < 1 + p.below(4); i++) {
      const l = near(p, c.sndUna);
      sack.push([l, (l + p.below(20000)) >>> 0]);
    }
  }
  const seg = build(
    {
      flags,
      seq,
      ack,
      window: p.below(65536),
      data: p.bytes(dataLen),
      sack,
      sport: b.peerPort,
      dport: b.localPort,
    },
    [b.peerPort, b.localPort],
  );
  if (p.chance(0.15)) {
    // Splice in random option bytes and set a data offset that may or may not fit.
    const opts = randomOptions(p);
    const out = new Uint8Array(seg.length + opts.length);
    out.set(seg.subarray(0, 20));
    out.set(opts, 20);
    out.set(seg.subarray(20), 20 + opts.length);
    out[12] = p.below(16) << 4;
    return out;
  }
  if (p.chance(0.05)) return seg.subarray(0, p.below(20));
  return seg;
}

for (const seed of [1, 2, 3, 4, 5, 6]) {
  test(`random segments and calls never throw, state stays bounded (seed ${seed})`, () => {
    const p = new Prng(seed * 7777);
    const b = new Bench(OPTIONS, seed);
    b.layer.listen(null, 80, 5, (c) => {
      c.setEvents({
        onEstablished() {},
        onData: (d) => {
          if (p.chance(0.5)) c.consume(d.length);
        },
        onEnd() {},
        onDrain() {},
        onClose() {},
      });
    });
    b.localPort = 81;
    const established = b.passive();
    let checks = 0;
    for (let i = 0; i < 6000; i++) {
      const conns = [...b.layer.connections.values()];
      const c = conns.length > 0 ? p.pick(conns) : undefined;
      if (c !== undefined) {
        b.localPort = c.local.port;
        b.peerPort = c.remote.port;
      } else if (p.chance(0.5)) {
        b.localPort = 80;
      }
      if (p.chance(0.05)) b.peerPort = 40000 + p.below(100);
      const r = p.below(100);
      if (r < 80 && c?.state === 'SYN-RECEIVED' && p.chance(0.5)) {
        b.send({ flags: F.ACK, seq: c.rcvNxt, ack: c.sndNxt, window: p.below(65536) });
      } else if (r < 80 && conns.length < 4 && p.chance(0.1)) {
        b.peerPort = 41000 + p.below(1000);
        b.localPort = 80;
        b.send({
          flags: F.SYN,
          seq: p.u32(),
          mss: p.below(2000),
          wscale: p.below(20),
          sackPermitted: p.chance(0.5),
        });
      } else if (r < 80) {
        const payload = hostile(p, b, c);
        b.layer.receive(datagram({ source: b.peerAddress, destination: b.ip.address, payload }));
        if (p.chance(0.5)) b.layer.flush();
      } else if (r < 88 && c !== undefined) {
        c.write(p.bytes(p.below(50000)));
      } else if (r < 91 && c !== undefined) {
        c.consume(p.below(100000));
      } else if (r < 93 && c !== undefined) {
        c.shutdown();
      } else if (r < 94 && c !== undefined) {
        c.abort();
      } else if (r < 95 && c !== undefined) {
        c.setKeepAlive(p.chance(0.5), p.below(100000));
      } else {
        b.layer.flush();
        b.advance(p.below(5) === 0 ? p.below(200_000) : p.below(2000));
      }
      b.take();
      for (const t of b.layer.connections.values()) {
        assert.ok(t.buffer.length <= OPTIONS.sendBufferSize);
        assert.ok(t.ooo.bytes <= OPTIONS.receiveBufferSize, `ooo ${t.ooo.bytes}`);
        assert.ok(t.unconsumed <= OPTIONS.receiveBufferSize, `unconsumed ${t.unconsumed}`);
        checks++;
      }
      assert.ok(b.layer.activeCount <= OPTIONS.maxConnections);
      assert.ok(b.layer.timeWaitCount <= OPTIONS.maxTimeWait);
    }
    assert.ok(checks > 0);
    assert.ok(established.iss >= 0);
    const dropped = Object.values(b.layer.drops).reduce((a, n) => a + n, 0);
    assert.ok(dropped > 100, `drops counted: ${JSON.stringify(b.layer.drops)}`);
  });
}
