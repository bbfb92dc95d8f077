/**
 * Crafted segments against one TcpLayer (RFC 9293 section 3.1's header, RFC 7323 / RFC 2018
 * options): a scripted peer at 10.0.0.1 that sends exactly the segments a test names and reads
 * back, parsed, what the layer answered.
 */
import { TcpLayer } from '../../../src/netstack/tcp/index.js';
import type { TcpOptions } from '../../../src/netstack/tcp/index.js';
import { parseSegment, Segment } from '../../../src/netstack/tcp/segment.js';
import type { TcpConnection } from '../../../src/netstack/types.js';
import { Prng } from '../../helpers/fuzz.js';
import { ADDR_A, ADDR_B, datagram, FakeClock, FakeHost, FakeIp, Recorder } from './wire.js';

export const F = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

export interface Craft {
  flags: number;
  seq: number;
  ack?: number;
  window?: number;
  data?: Uint8Array;
  mss?: number;
  wscale?: number;
  sackPermitted?: boolean;
  sack?: readonly (readonly [number, number])[];
  sport?: number;
  dport?: number;
}

/** A parsed copy of what the layer sent. */
export interface Out {
  seq: number;
  ack: number;
  flags: number;
  window: number;
  data: Uint8Array;
  mss: number;
  windowShift: number;
  sackPermitted: boolean;
  sack: [number, number][];
  dport: number;
}

export function build(c: Craft, defaultPorts: [number, number]): Uint8Array {
  const opts: number[] = [];
  if (c.mss !== undefined) opts.push(2, 4, c.mss >> 8, c.mss & 0xff);
  if (c.wscale !== undefined) opts.push(1, 3, 3, c.wscale);
  if (c.sackPermitted) opts.push(1, 1, 4, 2);
  if (c.sack !== undefined && c.sack.length > 0) {
    opts.push(1, 1, 5, 2 + 8 * c.sack.length);
    for (const [l, r] of c.sack)
      for (const v of [l, r]) opts.push(v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
  }
  while (opts.length % 4 !== 0) opts.push(0);
  const data = c.data ?? new Uint8Array(0);
  const out = new Uint8Array(20 + opts.length + data.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, c.sport ?? defaultPorts[0]);
  v.setUint16(2, c.dport ?? defaultPorts[1]);
  v.setUint32(4, c.seq >>> 0);
  v.setUint32(8, (c.ack ?? 0) >>> 0);
  out[12] = ((20 + opts.length) / 4) << 4;
  out[13] = c.flags;
  v.setUint16(14, c.window ?? 65535);
  out.set(opts, 20);
  out.set(data, 20 + opts.length);
  return out;
}

export class Bench {
  readonly clock = new FakeClock();
  readonly ip = new FakeIp(ADDR_B);
  readonly layer: TcpLayer;
  readonly peerAddress = ADDR_A;
  peerPort = 40000;
  localPort = 80;

  constructor(options: TcpOptions = {}, seed = 1) {
    this.layer = new TcpLayer(this.ip, new FakeHost(this.clock, new Prng(seed)), options);
  }

  /** Delivers one crafted segment as one batch. */
  send(c: Craft): void {
    const payload = build(c, [this.peerPort, this.localPort]);
    this.layer.receive(datagram({ source: this.peerAddress, destination: this.ip.address, payload }));
    this.layer.flush();
  }

  /** Everything the layer sent since the last call, parsed. */
  take(): Out[] {
    return this.ip.out.splice(0).map((s) => {
      const seg = new Segment();
      if (parseSegment(s.payload, seg) !== null) throw new Error('layer sent a malformed segment');
      const sack: [number, number][] = [];
      for (let k = 0; k < seg.sackCount; k++) sack.push([seg.sack[k * 2]!, seg.sack[k * 2 + 1]!]);
      return {
        seq: seg.seq,
        ack: seg.ack,
        flags: seg.flags,
        window: seg.window,
        data: seg.payload.slice(),
        mss: seg.mss,
        windowShift: seg.windowShift,
        sackPermitted: seg.sackPermitted,
        sack,
        dport: seg.destinationPort,
      };
    });
  }

  /** Advances the fake clock to `t` (absolute), polling at each deadline on the way. */
  advanceTo(t: number): void {
    for (;;) {
      const d = this.layer.nextDeadline();
      if (d > t) break;
      this.clock.t = Math.max(this.clock.t, d);
      this.layer.poll();
    }
    this.clock.t = t;
  }

  advance(ms: number): void {
    this.advanceTo(this.clock.t + ms);
  }

  /** A passive open completed by the scripted peer (ISS 1000, window shift 7, SACK). */
  passive(opts: { wscale?: number; sack?: boolean; window?: number } = {}): Established {
    this.take();
    const rec = new Recorder();
    let conn: TcpConnection | null = null;
    this.layer.listen(null, this.localPort, 8, (c) => {
      conn = c;
      rec.conn = c;
      c.setEvents(rec);
    });
    this.send({
      flags: F.SYN,
      seq: 1000,
      mss: 1460,
      ...(opts.wscale !== undefined ? { wscale: opts.wscale } : { wscale: 7 }),
      sackPermitted: opts.sack ?? true,
    });
    const [synAck] = this.take();
    if (synAck === undefined) throw new Error('no SYN-ACK');
    this.send({ flags: F.ACK, seq: 1001, ack: synAck.seq + 1, window: opts.window ?? 1024 });
    if (conn === null) throw new Error('not accepted');
    return { conn, rec, iss: synAck.seq, peerNxt: 1001, synAck };
  }

  /** An active open completed by the scripted peer (ISS 5000). */
  active(): Established {
    const rec = new Recorder();
    const conn = this.layer.connect({ address: this.peerAddress, port: this.peerPort }, rec);
    rec.conn = conn;
    this.localPort = conn.local.port;
    const [syn] = this.take();
    if (syn === undefined) throw new Error('no SYN');
    this.send({
      flags: F.SYN | F.ACK,
      seq: 5000,
      ack: syn.seq + 1,
      mss: 1460,
      wscale: 7,
      sackPermitted: true,
    });
    return { conn, rec, iss: syn.seq, peerNxt: 5001, synAck: syn };
  }
}

export interface Established {
  conn: TcpConnection;
  rec: Recorder;
  /** The layer's ISS. */
  iss: number;
  /** The peer's next sequence number. */
  peerNxt: number;
  /** The layer's SYN or SYN-ACK. */
  synAck: Out;
}
