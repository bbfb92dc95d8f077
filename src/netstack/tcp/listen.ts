/**
 * LISTEN (RFC 9293 section 3.10.7.2) and the RST replies of section 3.10.7.1. A SYN for a
 * listener creates a SYN-RECEIVED connection and answers SYN-ACK, within two bounds: the
 * listener's backlog of half-open connections and the layer's connection limit; SYNs beyond
 * either are dropped and counted (a SYN flood leaves state bounded; no SYN cookies).
 */
import type { IpDatagram, SocketAddress, TcpConnection, TcpListener } from '../types.js';
import { IPPROTO_TCP } from '../types.js';
import { negotiate } from './arrival.js';
import type { TcpLayer } from './layer.js';
import { connectionKey } from './keys.js';
import { sendSyn } from './output.js';
import { ACK, CHECKSUM_OFFSET, RST, SYN, TCP_HEADER_LENGTH, writeHeader, type Segment } from './segment.js';
import { seqAdd } from './seq.js';

export interface Listener extends TcpListener {
  readonly address: Uint8Array | null;
  readonly backlog: number;
  halfOpen: number;
  closed: boolean;
  readonly onAccept: (connection: TcpConnection) => void;
}

/** <SEQ=seq><CTL=RST> or, when `withAck`, <SEQ=seq><ACK=ack><CTL=RST,ACK>. */
export function replyReset(
  layer: TcpLayer,
  local: SocketAddress,
  remote: SocketAddress,
  seq: number,
  ack: number,
  withAck: boolean,
): void {
  const out = new Uint8Array(TCP_HEADER_LENGTH);
  writeHeader(
    out,
    {
      sourcePort: local.port,
      destinationPort: remote.port,
      seq,
      ack: withAck ? ack : 0,
      flags: withAck ? RST | ACK : RST,
      window: 0,
    },
    0,
  );
  if (!layer.ip.send(local.address, remote.address, IPPROTO_TCP, out, CHECKSUM_OFFSET))
    layer.drop('ip-refused');
}

export function listenArrives(layer: TcpLayer, l: Listener, d: IpDatagram, seg: Segment): void {
  const local = { address: d.destination, port: seg.destinationPort };
  const remote = { address: d.source, port: seg.sourcePort };
  if (seg.flags & RST) {
    layer.drop('rst-to-listener');
    return;
  }
  if (seg.flags & ACK) {
    layer.drop('ack-to-listener');
    replyReset(layer, local, remote, seg.ack, 0, false);
    return;
  }
  if (!(seg.flags & SYN)) {
    layer.drop('no-syn');
    return;
  }
  if (l.halfOpen >= l.backlog) {
    layer.drop('backlog-full');
    return;
  }
  if (layer.activeCount >= layer.options.maxConnections) {
    layer.drop('too-many-connections');
    return;
  }
  const key = connectionKey(d.destination, seg.destinationPort, d.source, seg.sourcePort);
  const c = layer.newTcb(
    { address: d.destination.slice(), port: seg.destinationPort },
    { address: d.source.slice(), port: seg.sourcePort },
    key,
  );
  c.irs = seg.seq;
  c.rcvNxt = seqAdd(seg.seq, 1);
  c.rcvAdv = c.rcvNxt;
  negotiate(c, seg);
  c.state = 'LISTEN';
  c.transition('rcv-syn');
  c.passiveOf = l;
  c.passive = true;
  l.halfOpen++;
  layer.register(c);
  sendSyn(c, true);
  c.rttStart = layer.now();
  c.rtoAt = c.rttStart + c.rto.rto;
  if (seg.payload.length > 0) layer.drop('syn-data');
}
