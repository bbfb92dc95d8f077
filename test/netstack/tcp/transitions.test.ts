/**
 * RFC 9293 section 3.3.2's transitions, each driven by crafted segments against one TcpLayer
 * (table below), plus the replies section 3.10.7 requires: SYN-ACK options (RFC 7323, RFC 2018),
 * RST for no connection (3.10.7.1, never for a RST), RFC 5961 challenge ACKs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TcpStateName } from '../../../src/netstack/types.js';
import { Bench, F, type Established } from './craft.js';
import { datagram } from './wire.js';

interface Row {
  name: string;
  from: TcpStateName;
  /** Sets the layer up in `from`. */
  setup: (b: Bench) => Established;
  /** The event: crafted segments, user calls or time. */
  act: (b: Bench, e: Established) => void;
  to: TcpStateName;
  /** Extra checks on the replies and events. */
  check?: (b: Bench, e: Established, sent: ReturnType<Bench['take']>) => void;
}

const finOf = (e: Established): number => e.iss + 1;

function finWait1(b: Bench): Established {
  const e = b.passive();
  b.take();
  e.conn.shutdown();
  return e;
}

const TABLE: Row[] = [
  {
    name: 'passive open: SYN then ACK',
    from: 'LISTEN',
    setup: (b) => {
      const e = b.passive();
      return e;
    },
    act: () => {},
    to: 'ESTABLISHED',
    check: (_b, e) => {
      assert.equal(e.synAck.flags, F.SYN | F.ACK);
      assert.equal(e.synAck.ack, 1001);
      assert.equal(e.synAck.mss, 1460);
      assert.equal(e.synAck.windowShift, 7, 'a 4 MiB window needs shift 7');
      assert.ok(e.synAck.sackPermitted);
    },
  },
  {
    name: 'active open: SYN-SENT then SYN-ACK',
    from: 'SYN-SENT',
    setup: (b) => b.active(),
    act: () => {},
    to: 'ESTABLISHED',
    check: (_b, e) => {
      assert.equal(e.synAck.flags, F.SYN);
      assert.equal(e.synAck.windowShift, 7);
      assert.ok(e.synAck.sackPermitted);
      assert.ok(e.rec.established);
    },
  },
  {
    name: 'simultaneous open: SYN in SYN-SENT',
    from: 'SYN-SENT',
    setup: (b) => {
      const rec = new (class {
        onEstablished() {}
        onData() {}
        onEnd() {}
        onDrain() {}
        onClose() {}
      })();
      const conn = b.layer.connect({ address: b.peerAddress, port: b.peerPort }, rec);
      b.localPort = conn.local.port;
      const [syn] = b.take();
      return { conn, rec: null as never, iss: syn!.seq, peerNxt: 5001, synAck: syn! };
    },
    act: (b) => b.send({ flags: F.SYN, seq: 5000, mss: 1000 }),
    to: 'SYN-RECEIVED',
    check: (_b, e, sent) => {
      assert.equal(sent.length, 1);
      assert.equal(sent[0]!.flags, F.SYN | F.ACK);
      assert.equal(sent[0]!.seq, e.iss);
      assert.equal(sent[0]!.windowShift, -1, 'no window scale when the peer offered none');
    },
  },
  {
    name: 'FIN in ESTABLISHED',
    from: 'ESTABLISHED',
    setup: (b) => b.passive(),
    act: (b, e) => b.send({ flags: F.FIN | F.ACK, seq: 1001, ack: e.iss + 1 }),
    to: 'CLOSE-WAIT',
    check: (_b, e, sent) => {
      assert.ok(e.rec.ended);
      assert.equal(sent.at(-1)!.ack, 1002);
    },
  },
  {
    name: 'CLOSE in CLOSE-WAIT sends FIN',
    from: 'CLOSE-WAIT',
    setup: (b) => {
      const e = b.passive();
      b.send({ flags: F.FIN | F.ACK, seq: 1001, ack: e.iss + 1 });
      b.take();
      return e;
    },
    act: (_b, e) => e.conn.shutdown(),
    to: 'LAST-ACK',
    check: (_b, e, sent) => assert.equal(sent.at(-1)!.flags & F.FIN, F.FIN, String(e.iss)),
  },
  {
    name: 'ACK of FIN in LAST-ACK',
    from: 'LAST-ACK',
    setup: (b) => {
      const e = b.passive();
      b.send({ flags: F.FIN | F.ACK, seq: 1001, ack: e.iss + 1 });
      e.conn.shutdown();
      b.take();
      return e;
    },
    act: (b, e) => b.send({ flags: F.ACK, seq: 1002, ack: finOf(e) + 1 }),
    to: 'CLOSED',
    check: (b, e) => {
      assert.equal(e.rec.closed, null);
      assert.equal(b.layer.connections.size, 0);
    },
  },
  {
    name: 'CLOSE in ESTABLISHED',
    from: 'ESTABLISHED',
    setup: (b) => b.passive(),
    act: (_b, e) => e.conn.shutdown(),
    to: 'FIN-WAIT-1',
    check: (_b, e, sent) => {
      assert.equal(sent.length, 1);
      assert.equal(sent[0]!.flags, F.FIN | F.ACK);
      assert.equal(sent[0]!.seq, finOf(e));
    },
  },
  {
    name: 'ACK of FIN in FIN-WAIT-1',
    from: 'FIN-WAIT-1',
    setup: finWait1,
    act: (b, e) => b.send({ flags: F.ACK, seq: 1001, ack: finOf(e) + 1 }),
    to: 'FIN-WAIT-2',
  },
  {
    name: 'FIN in FIN-WAIT-1',
    from: 'FIN-WAIT-1',
    setup: finWait1,
    act: (b, e) => b.send({ flags: F.FIN | F.ACK, seq: 1001, ack: finOf(e) }),
    to: 'CLOSING',
  },
  {
    name: 'FIN and ACK of FIN in FIN-WAIT-1',
    from: 'FIN-WAIT-1',
    setup: finWait1,
    act: (b, e) => b.send({ flags: F.FIN | F.ACK, seq: 1001, ack: finOf(e) + 1 }),
    to: 'TIME-WAIT',
    check: (_b, e) => assert.equal(e.rec.closed, null),
  },
  {
    name: 'ACK of FIN in CLOSING',
    from: 'CLOSING',
    setup: (b) => {
      const e = finWait1(b);
      b.send({ flags: F.FIN | F.ACK, seq: 1001, ack: finOf(e) });
      return e;
    },
    act: (b, e) => b.send({ flags: F.ACK, seq: 1002, ack: finOf(e) + 1 }),
    to: 'TIME-WAIT',
  },
  {
    name: 'FIN in FIN-WAIT-2',
    from: 'FIN-WAIT-2',
    setup: (b) => {
      const e = finWait1(b);
      b.send({ flags: F.ACK, seq: 1001, ack: finOf(e) + 1 });
      return e;
    },
    act: (b, e) => b.send({ flags: F.FIN | F.ACK, seq: 1001, ack: finOf(e) + 1 }),
    to: 'TIME-WAIT',
    check: (_b, e, sent) => {
      assert.equal(sent.at(-1)!.ack, 1002);
      assert.ok(e.rec.ended);
    },
  },
  {
    name: 'TIME-WAIT expires after 2*MSL (60 s)',
    from: 'TIME-WAIT',
    setup: (b) => {
      const e = finWait1(b);
      b.send({ flags: F.FIN | F.ACK, seq: 1001, ack: finOf(e) + 1 });
      return e;
    },
    act: (b) => {
      b.advance(59_999);
      assert.equal(b.layer.timeWaitCount, 1);
      b.advance(1);
    },
    to: 'CLOSED',
    check: (b) => assert.equal(b.layer.connections.size, 0),
  },
  {
    name: 'retransmitted FIN in TIME-WAIT is acknowledged again',
    from: 'TIME-WAIT',
    setup: (b) => {
      const e = finWait1(b);
      b.send({ flags: F.FIN | F.ACK, seq: 1001, ack: finOf(e) + 1 });
      b.take();
      return e;
    },
    act: (b, e) => {
      b.advance(30_000);
      b.send({ flags: F.FIN | F.ACK, seq: 1001, ack: finOf(e) + 1 });
      b.advance(59_000); // Restarted: still there 89 s after the first FIN.
    },
    to: 'TIME-WAIT',
    check: (_b, _e, sent) => assert.equal(sent[0]!.ack, 1002),
  },
  {
    name: 'RST at RCV.NXT in ESTABLISHED: ECONNRESET',
    from: 'ESTABLISHED',
    setup: (b) => b.passive(),
    act: (b) => b.send({ flags: F.RST, seq: 1001 }),
    to: 'CLOSED',
    check: (b, e, sent) => {
      assert.equal(e.rec.closed, 'ECONNRESET');
      assert.equal(sent.length, 0, 'never a reply to a RST');
      assert.equal(b.layer.connections.size, 0);
    },
  },
  {
    name: 'RST in window but not at RCV.NXT: challenge ACK (RFC 5961)',
    from: 'ESTABLISHED',
    setup: (b) => b.passive(),
    act: (b) => b.send({ flags: F.RST, seq: 1500 }),
    to: 'ESTABLISHED',
    check: (_b, e, sent) => {
      assert.equal(sent.length, 1);
      assert.equal(sent[0]!.flags, F.ACK);
      assert.equal(sent[0]!.ack, 1001);
      assert.equal(e.rec.closed, undefined);
    },
  },
  {
    name: 'RST outside the window: silently dropped',
    from: 'ESTABLISHED',
    setup: (b) => b.passive(),
    act: (b) => b.send({ flags: F.RST, seq: 1001 + (64 << 20) }),
    to: 'ESTABLISHED',
    check: (_b, _e, sent) => assert.equal(sent.length, 0),
  },
  {
    name: 'SYN in ESTABLISHED: challenge ACK (RFC 5961 section 4)',
    from: 'ESTABLISHED',
    setup: (b) => b.passive(),
    act: (b) => b.send({ flags: F.SYN, seq: 1001 + 100 }),
    to: 'ESTABLISHED',
    check: (_b, _e, sent) => {
      assert.equal(sent.length, 1);
      assert.equal(sent[0]!.flags, F.ACK);
    },
  },
  {
    name: 'RST in SYN-RECEIVED (passive): forgotten, the listener stays',
    from: 'SYN-RECEIVED',
    setup: (b) => {
      b.layer.listen(null, b.localPort, 8, () => assert.fail('must not be accepted'));
      b.send({ flags: F.SYN, seq: 1000, mss: 1460 });
      const [synAck] = b.take();
      const conn = [...b.layer.connections.values()][0]!;
      return { conn, rec: null as never, iss: synAck!.seq, peerNxt: 1001, synAck: synAck! };
    },
    act: (b) => b.send({ flags: F.RST, seq: 1001 }),
    to: 'CLOSED',
    check: (b) => {
      assert.equal(b.layer.connections.size, 0);
      assert.equal(b.layer.listeners.get(b.localPort)![0]!.halfOpen, 0);
    },
  },
  {
    name: 'bad ACK in SYN-RECEIVED: RST <SEQ=SEG.ACK>',
    from: 'SYN-RECEIVED',
    setup: (b) => {
      b.layer.listen(null, b.localPort, 8, () => assert.fail('must not be accepted'));
      b.send({ flags: F.SYN, seq: 1000, mss: 1460 });
      const [synAck] = b.take();
      const conn = [...b.layer.connections.values()][0]!;
      return { conn, rec: null as never, iss: synAck!.seq, peerNxt: 1001, synAck: synAck! };
    },
    act: (b, e) => b.send({ flags: F.ACK, seq: 1001, ack: e.iss + 99 }),
    to: 'SYN-RECEIVED',
    check: (_b, e, sent) => {
      assert.equal(sent.length, 1);
      assert.equal(sent[0]!.flags, F.RST);
      assert.equal(sent[0]!.seq, (e.iss + 99) >>> 0);
    },
  },
];

for (const row of TABLE) {
  test(`${row.from} → ${row.to}: ${row.name}`, () => {
    const b = new Bench();
    const e = row.setup(b);
    // Rows that start in LISTEN or SYN-SENT complete the handshake in setup; the others must
    // have reached their starting state.
    if (row.from !== 'LISTEN' && row.from !== 'SYN-SENT') assert.equal(e.conn.state, row.from);
    b.take();
    row.act(b, e);
    const sent = b.take();
    assert.equal(e.conn.state, row.to);
    row.check?.(b, e, sent);
  });
}

test('SYN-SENT → CLOSED: RST/ACK to our SYN gives ECONNREFUSED', () => {
  const b = new Bench();
  const closed: (string | null)[] = [];
  const conn = b.layer.connect(
    { address: b.peerAddress, port: b.peerPort },
    { onEstablished() {}, onData() {}, onEnd() {}, onDrain() {}, onClose: (e) => closed.push(e) },
  );
  b.localPort = conn.local.port;
  const [syn] = b.take();
  // A RST whose ACK does not cover our SYN is ignored (RFC 9293 section 3.10.7.3).
  b.send({ flags: F.RST | F.ACK, seq: 0, ack: syn!.seq });
  assert.equal(conn.state, 'SYN-SENT');
  b.send({ flags: F.RST | F.ACK, seq: 0, ack: syn!.seq + 1 });
  assert.equal(conn.state, 'CLOSED');
  assert.deepEqual(closed, ['ECONNREFUSED']);
});

test('CLOSED: RST in answer to a segment for no connection, never to a RST', () => {
  const b = new Bench();
  b.send({ flags: F.ACK, seq: 7, ack: 12345 });
  b.send({ flags: F.SYN, seq: 99, data: new Uint8Array(10) });
  b.send({ flags: F.RST, seq: 1 });
  b.send({ flags: F.RST | F.ACK, seq: 1, ack: 1 });
  const sent = b.take();
  assert.equal(sent.length, 2);
  assert.deepEqual([sent[0]!.flags, sent[0]!.seq], [F.RST, 12345]);
  assert.deepEqual([sent[1]!.flags, sent[1]!.seq, sent[1]!.ack], [F.RST | F.ACK, 0, 99 + 11]);
  assert.equal(b.layer.drops['no-connection'], 4);
});

test('simultaneous open completes: SYN-RECEIVED → ESTABLISHED with onEstablished (no listener)', () => {
  const b = new Bench();
  let established = 0;
  const conn = b.layer.connect(
    { address: b.peerAddress, port: b.peerPort },
    { onEstablished: () => established++, onData() {}, onEnd() {}, onDrain() {}, onClose() {} },
  );
  b.localPort = conn.local.port;
  const [syn] = b.take();
  b.send({ flags: F.SYN, seq: 5000, mss: 1000, wscale: 2, sackPermitted: true });
  assert.equal(conn.state, 'SYN-RECEIVED');
  // The peer's SYN-ACK repeats its SYN (below RCV.NXT): answered with an ACK, then its ACK completes.
  b.send({ flags: F.SYN | F.ACK, seq: 5000, ack: syn!.seq + 1, mss: 1000 });
  assert.equal(conn.state, 'SYN-RECEIVED');
  assert.equal(b.take().at(-1)!.flags, F.ACK);
  b.send({ flags: F.ACK, seq: 5001, ack: syn!.seq + 1 });
  assert.equal(conn.state, 'ESTABLISHED');
  assert.equal(established, 1);
  conn.write(new Uint8Array(10));
  assert.equal(b.take().at(-1)!.data.length, 10);
});

test('a new SYN above the old sequence space reopens a TIME-WAIT pair (RFC 9293 3.6.1)', () => {
  const b = new Bench();
  const e = b.passive();
  e.conn.shutdown();
  b.send({ flags: F.FIN | F.ACK, seq: 1001, ack: e.iss + 2 });
  assert.equal(e.conn.state, 'TIME-WAIT');
  b.take();
  // An old duplicate SYN is answered as in TIME-WAIT (an ACK), not reopened.
  b.send({ flags: F.SYN, seq: 500 });
  assert.equal(b.layer.timeWaitCount, 1);
  assert.equal(b.take()[0]!.flags, F.ACK);
  b.send({ flags: F.SYN, seq: 900_000, mss: 1460 });
  assert.equal(b.layer.timeWaitCount, 0);
  const [synAck] = b.take();
  assert.equal(synAck!.flags, F.SYN | F.ACK);
  assert.equal(synAck!.ack, 900_001);
});

test('truncated and malformed headers are counted drops, with no reply', () => {
  const b = new Bench();
  b.layer.listen(null, 80, 8, () => {});
  const good = [0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, F.SYN, 0xff, 0xff, 0, 0, 0, 0];
  const cases: [number[], string][] = [
    [[], 'truncated'],
    [good.slice(0, 19), 'truncated'],
    [[...good.slice(0, 12), 0x40, ...good.slice(13)], 'bad-offset'],
    [[...good.slice(0, 12), 0x60, ...good.slice(13)], 'bad-offset'],
    [[...good.slice(0, 12), 0x60, ...good.slice(13), 2, 9, 0, 0], 'bad-option'],
    [[...good.slice(0, 12), 0x60, ...good.slice(13), 3, 0, 0, 0], 'bad-option'],
  ];
  for (const [bytes, reason] of cases) {
    const before = b.layer.drops[reason] ?? 0;
    b.layer.receive(
      datagram({ source: b.peerAddress, destination: b.ip.address, payload: new Uint8Array(bytes) }),
    );
    assert.equal(b.layer.drops[reason], before + 1, reason);
  }
  b.layer.flush();
  assert.equal(b.take().length, 0);
  assert.equal(b.layer.connections.size, 0);
});

test('LISTEN: an ACK draws a RST, a RST is ignored', () => {
  const b = new Bench();
  b.layer.listen(null, 80, 8, () => assert.fail('no accept'));
  b.send({ flags: F.ACK, seq: 7, ack: 4242 });
  b.send({ flags: F.RST, seq: 7 });
  const sent = b.take();
  assert.equal(sent.length, 1);
  assert.deepEqual([sent[0]!.flags, sent[0]!.seq], [F.RST, 4242]);
  assert.equal(b.layer.connections.size, 0);
});
