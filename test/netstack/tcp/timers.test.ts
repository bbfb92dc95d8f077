/**
 * TCP's timed behaviour with a fake clock (RFC 6298 retransmission timing and backoff, RFC 9293
 * section 3.8.6.1 zero-window probing, 3.8.4 keepalive, SYN retries and ETIMEDOUT) and its
 * bounds (listen backlog under a SYN flood, TIME-WAIT entries, the receive window).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Bench, build, F } from './craft.js';
import { datagram } from './wire.js';

test('SYN-SENT: SYN retransmitted at 1, 2, 4 ... s, then ETIMEDOUT', () => {
  const b = new Bench();
  const closed: (string | null)[] = [];
  const t0 = b.clock.t;
  b.layer.connect(
    { address: b.peerAddress, port: 9 },
    { onEstablished() {}, onData() {}, onEnd() {}, onDrain() {}, onClose: (e) => closed.push(e) },
  );
  b.take();
  const times: number[] = [];
  while (closed.length === 0 && b.clock.t < t0 + 600_000) {
    b.advanceTo(b.layer.nextDeadline());
    for (const s of b.take()) {
      assert.equal(s.flags, F.SYN);
      times.push(b.clock.t - t0);
    }
  }
  assert.deepEqual(times, [1000, 3000, 7000, 15000, 31000, 63000]);
  assert.deepEqual(closed, ['ETIMEDOUT']);
  assert.equal(b.clock.t - t0, 127_000);
  assert.equal(b.layer.connections.size, 0);
});

test('RFC 6298: RTO from the handshake sample, doubling on each expiry, ETIMEDOUT after 15', () => {
  const b = new Bench({ tailLossProbe: false });
  const e = b.passive({ window: 65535 });
  b.take();
  const t0 = b.clock.t;
  e.conn.write(new Uint8Array(100));
  const [first] = b.take();
  assert.equal(first!.data.length, 100);
  const gaps: number[] = [];
  let last = t0;
  while (e.rec.closed === undefined && b.clock.t < t0 + 3_600_000) {
    b.advanceTo(b.layer.nextDeadline());
    for (const s of b.take()) {
      assert.equal(s.seq, e.iss + 1, 'the retransmission repeats the first unacknowledged byte');
      gaps.push(b.clock.t - last);
      last = b.clock.t;
    }
  }
  // SRTT 0 from the handshake: RTO = max(200 ms minimum, 0 + 4*0) = 200 ms, then doubling to 120 s.
  assert.deepEqual(gaps.slice(0, 6), [200, 400, 800, 1600, 3200, 6400]);
  assert.ok(gaps.every((g) => g <= 120_000));
  assert.equal(gaps.length, 15);
  assert.equal(e.rec.closed, 'ETIMEDOUT');
});

test('an ACK ends the backoff and the timer restarts from the new RTO', () => {
  const b = new Bench({ tailLossProbe: false });
  const e = b.passive({ window: 65535 });
  b.take();
  e.conn.write(new Uint8Array(100));
  b.take();
  b.advance(200); // First expiry.
  b.advance(400); // Second.
  assert.equal(b.take().length, 2);
  b.send({ flags: F.ACK, seq: 1001, ack: e.iss + 101, window: 65535 });
  e.conn.write(new Uint8Array(10));
  assert.equal(b.take().length, 1);
  assert.equal(b.layer.nextDeadline() - b.clock.t, 800, 'backed-off RTO kept until a new sample (Karn)');
  b.advance(10);
  b.send({ flags: F.ACK, seq: 1001, ack: e.iss + 111, window: 65535 });
  e.conn.write(new Uint8Array(10));
  b.take();
  assert.equal(b.layer.nextDeadline() - b.clock.t, 200, 'a fresh 10 ms sample: back to the 200 ms floor');
});

test('tail loss probe (RFC 8985): the last segment again after max(2*SRTT, 10 ms), then the RTO', () => {
  const b = new Bench();
  const e = b.passive({ window: 65535 });
  b.take();
  e.conn.setNoDelay(true);
  e.conn.write(new Uint8Array(3000));
  const sent = b.take();
  assert.equal(sent.length, 3);
  const t0 = b.clock.t;
  b.advanceTo(b.layer.nextDeadline());
  assert.equal(b.clock.t - t0, 10, 'SRTT 0: the 10 ms floor');
  const [probe] = b.take();
  assert.equal(probe!.seq + probe!.data.length, sent[2]!.seq + sent[2]!.data.length, 'the last MSS of data');
  assert.equal(probe!.data.length, 1460);
  assert.equal(b.layer.counters.probes, 1);
  // The peer SACKs the probe: the hole before it is retransmitted at once (fast recovery).
  const base = e.iss + 1;
  b.send({ flags: F.ACK, seq: 1001, ack: base, window: 65535, sack: [[probe!.seq, base + 3000]] });
  const rexmit = b.take();
  assert.equal(rexmit[0]!.seq, base);
  assert.equal(b.layer.counters.fastRecoveries, 1);
  assert.equal(b.layer.counters.timeouts, 0);
});

test('zero window: probes with backoff, data flows when the window opens', () => {
  const b = new Bench();
  const e = b.passive({ window: 0 });
  b.take();
  e.conn.setNoDelay(true);
  assert.equal(e.conn.write(new Uint8Array(5000)), 5000);
  assert.equal(b.take().length, 0, 'nothing sent into a zero window');
  const t0 = b.clock.t;
  const probes: number[] = [];
  for (let i = 0; i < 4; i++) {
    b.advanceTo(b.layer.nextDeadline());
    for (const s of b.take()) {
      assert.equal(s.data.length, 0);
      assert.equal(s.seq, e.iss, 'probe at SND.UNA - 1');
      probes.push(b.clock.t - t0);
      // The peer answers with its (still zero) window.
      b.send({ flags: F.ACK, seq: 1001, ack: e.iss + 1, window: 0 });
    }
  }
  assert.deepEqual(probes, [200, 600, 1400, 3000]);
  assert.equal(e.conn.state, 'ESTABLISHED');
  b.send({ flags: F.ACK, seq: 1001, ack: e.iss + 1, window: 100 }); // Shift 7: 12800 bytes.
  const sent = b.take();
  assert.equal(
    sent.reduce((n, s) => n + s.data.length, 0),
    5000,
  );
});

test('a 1-byte probe into our zero window draws an ACK with the window', () => {
  const b = new Bench({ receiveBufferSize: 4096 });
  const e = b.passive();
  e.rec.autoConsume = false;
  b.take();
  b.send({ flags: F.ACK, seq: 1001, ack: e.iss + 1, data: new Uint8Array(4096) });
  assert.equal(b.take().at(-1)!.window, 0);
  b.send({ flags: F.ACK, seq: 1001 + 4096, ack: e.iss + 1, data: new Uint8Array(1) });
  const [ack] = b.take();
  assert.deepEqual([ack!.ack, ack!.window], [1001 + 4096, 0]);
  assert.equal(e.rec.bytes, 4096);
});

test('our window closes when the user does not consume, and a window update follows consume', () => {
  const b = new Bench({ receiveBufferSize: 64 * 1024 });
  const e = b.passive();
  e.rec.autoConsume = false;
  b.take();
  let seq = 1001;
  const seg = new Uint8Array(1000);
  for (let i = 0; i < 64; i++) {
    b.send({ flags: F.ACK, seq, ack: e.iss + 1, data: seg });
    seq += 1000;
  }
  const acks = b.take();
  const last = acks.at(-1)!;
  assert.equal(last.ack, seq);
  assert.ok(last.window << 0 <= 1536, `window ${last.window}`);
  // Data beyond the window is not accepted.
  b.send({ flags: F.ACK, seq, ack: e.iss + 1, data: new Uint8Array(4000) });
  assert.equal(e.rec.bytes, 64 * 1024, 'only what fits the advertised window');
  assert.equal(b.layer.drops['beyond-window'], 1);
  const before = e.rec.bytes;
  b.take();
  e.conn.consume(before);
  const update = b.take();
  assert.equal(update.length, 1, 'one window update');
  assert.ok(update[0]!.window > 200);
});

test('ACKs are held to the end of the input batch: one ACK for ten in-order segments', () => {
  const b = new Bench();
  const e = b.passive();
  b.take();
  let seq = 1001;
  for (let i = 0; i < 10; i++) {
    const payload = build({ flags: F.ACK, seq, ack: e.iss + 1, data: new Uint8Array(1000) }, [40000, 80]);
    b.layer.receive(datagram({ source: b.peerAddress, destination: b.ip.address, payload }));
    seq += 1000;
  }
  assert.equal(b.take().length, 0, 'nothing before flush');
  b.layer.flush();
  const acks = b.take();
  assert.equal(acks.length, 1);
  assert.equal(acks[0]!.ack, seq);
  assert.equal(e.rec.bytes, 10_000);
});

test('out-of-order data: SACK blocks in the ACKs, delivery in order when the hole fills', () => {
  const b = new Bench();
  const e = b.passive();
  b.take();
  const d = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v);
  b.send({ flags: F.ACK, seq: 2001, ack: e.iss + 1, data: d(1000, 2) });
  b.send({ flags: F.ACK, seq: 4001, ack: e.iss + 1, data: d(1000, 4) });
  const dup = b.take();
  assert.equal(dup.length, 2, 'an immediate ACK for each out-of-order segment');
  assert.equal(dup[1]!.ack, 1001);
  assert.deepEqual(dup[1]!.sack, [
    [4001, 5001],
    [2001, 3001],
  ]);
  b.send({ flags: F.ACK, seq: 1001, ack: e.iss + 1, data: d(1000, 1) });
  assert.equal(b.take().at(-1)!.ack, 3001);
  b.send({ flags: F.ACK, seq: 3001, ack: e.iss + 1, data: d(1000, 3) });
  assert.equal(b.take().at(-1)!.ack, 5001);
  const got = e.rec.data();
  assert.equal(got.length, 4000);
  for (let i = 0; i < 4; i++) assert.equal(got[i * 1000], i + 1);
});

test('SACK from the peer: only the holes are retransmitted', () => {
  const b = new Bench();
  const e = b.passive({ window: 65535 });
  b.take();
  e.conn.setNoDelay(true);
  e.conn.write(new Uint8Array(10 * 1460));
  const sent = b.take();
  assert.equal(sent.length, 10);
  const base = e.iss + 1;
  // Segments 0 and 2 lost; the peer SACKs 1 and 3..9.
  b.send({ flags: F.ACK, seq: 1001, ack: base, window: 65535, sack: [[base + 1460, base + 2920]] });
  b.send({
    flags: F.ACK,
    seq: 1001,
    ack: base,
    window: 65535,
    sack: [
      [base + 3 * 1460, base + 10 * 1460],
      [base + 1460, base + 2920],
    ],
  });
  const rexmit = b.take();
  assert.deepEqual(
    rexmit.map((s) => (s.seq - base) / 1460),
    [0, 2],
  );
});

test('keepalive: probes after idle, reset by an answer, ETIMEDOUT after 9 unanswered', () => {
  const b = new Bench();
  const e = b.passive();
  b.take();
  e.conn.setKeepAlive(true, 10_000);
  b.advance(10_000);
  const [probe] = b.take();
  assert.equal(probe!.seq, e.iss, 'SND.UNA - 1');
  b.send({ flags: F.ACK, seq: 1001, ack: e.iss + 1 });
  b.advance(9_999);
  assert.equal(b.take().length, 0, 'the answer restarted the idle time');
  b.advance(1);
  assert.equal(b.take().length, 1);
  const t0 = b.clock.t;
  b.advance(9 * 75_000);
  assert.equal(b.take().length, 8);
  assert.equal(e.rec.closed, 'ETIMEDOUT');
  assert.equal(b.clock.t - t0, 9 * 75_000);
});

test('SYN flood: half-open connections stay within the backlog', () => {
  const b = new Bench();
  const accepted: unknown[] = [];
  b.layer.listen(null, 80, 4, (c) => accepted.push(c));
  for (let i = 0; i < 1000; i++) {
    b.peerPort = 10000 + i;
    b.send({ flags: F.SYN, seq: i * 7919 });
  }
  assert.equal(b.layer.connections.size, 4);
  assert.equal(b.layer.drops['backlog-full'], 996);
  assert.equal(b.take().length, 4);
  // The half-open ones time out (SYN-ACK retries) and the slots come back.
  b.advance(200_000);
  assert.equal(b.layer.connections.size, 0);
  assert.equal(b.layer.drops['syn-ack-timeout'], 4);
  assert.equal(accepted.length, 0);
});

test('TIME-WAIT entries are bounded (oldest forgotten first)', () => {
  const b = new Bench({ maxTimeWait: 2 });
  for (let i = 0; i < 3; i++) {
    b.peerPort = 20000 + i;
    b.localPort = 80 + i;
    const e = b.passive();
    e.conn.shutdown();
    b.send({ flags: F.FIN | F.ACK, seq: 1001, ack: e.iss + 2 });
    assert.equal(e.conn.state, 'TIME-WAIT');
  }
  assert.equal(b.layer.timeWaitCount, 2);
  assert.equal(b.layer.drops['time-wait-overflow'], 1);
});

test('connection limit: SYNs beyond maxConnections are dropped', () => {
  const b = new Bench({ maxConnections: 3 });
  b.layer.listen(null, 80, 100, () => {});
  for (let i = 0; i < 10; i++) {
    b.peerPort = 30000 + i;
    b.send({ flags: F.SYN, seq: 1 });
  }
  assert.equal(b.layer.connections.size, 3);
  assert.equal(b.layer.drops['too-many-connections'], 7);
});

test('FIN-WAIT-2: an orphaned connection (release) is reaped after 60 s; a half-closed one is kept', () => {
  for (const orphan of [true, false]) {
    const b = new Bench();
    const e = b.passive({ window: 65535 });
    b.take();
    if (orphan) e.conn.release!();
    else e.conn.shutdown();
    const [fin] = b.take();
    assert.equal(fin!.flags & F.FIN, F.FIN);
    // The peer acknowledges our FIN but never sends its own: FIN-WAIT-2.
    b.send({ flags: F.ACK, seq: 1001, ack: e.iss + 2, window: 65535 });
    assert.equal(e.conn.state, 'FIN-WAIT-2');
    // Data after release is acknowledged and discarded; the user hears nothing.
    const heard = e.rec.bytes;
    b.send({ flags: F.ACK | F.PSH, seq: 1001, ack: e.iss + 2, window: 65535, data: new Uint8Array(10) });
    assert.equal(e.rec.bytes > heard, !orphan);
    const t0 = b.clock.t;
    b.advanceTo(t0 + 120_000);
    if (orphan) {
      assert.equal(e.conn.state, 'CLOSED');
      assert.equal(b.layer.connections.size, 0);
      assert.equal(b.layer.drops['fin-wait-2-timeout'], 1);
    } else {
      assert.equal(e.conn.state, 'FIN-WAIT-2', 'a half-closed connection the user still reads is kept');
    }
  }
});
