/**
 * Test fixture for the TCP layer (RFC 9293): a fake clock, a seeded host, a fake IP layer that
 * queues segments, and a wire between two TcpLayers that delivers queued segments in batches
 * (each batch ends with flush(), as NetStack.input does) with seeded loss, reordering and
 * duplication. When the wire is quiet the clock jumps to the earliest deadline and poll() runs.
 */
import type {
  IpDatagram,
  IpSender,
  SocketAddress,
  StackHost,
  TcpConnection,
  TcpConnectionEvents,
  TcpErrorCode,
} from '../../../src/netstack/types.js';
import { TcpLayer } from '../../../src/netstack/tcp/index.js';
import type { TcpOptions } from '../../../src/netstack/tcp/index.js';
import { Prng } from '../../helpers/fuzz.js';

export class FakeClock {
  t = 1_000_000;
}

export class FakeHost implements StackHost {
  wakes = 0;
  constructor(
    readonly clock: FakeClock,
    readonly prng: Prng,
  ) {}
  now(): number {
    return this.clock.t;
  }
  random(n: number): Uint8Array {
    return this.prng.bytes(n);
  }
  wake(): void {
    this.wakes++;
  }
}

export interface Sent {
  source: Uint8Array;
  destination: Uint8Array;
  payload: Uint8Array;
}

/** Records what the layer sends; the test takes it from `out`. */
export class FakeIp implements IpSender {
  readonly out: Sent[] = [];
  constructor(
    readonly address: Uint8Array,
    readonly mtu = 1500,
  ) {}
  send(
    source: Uint8Array,
    destination: Uint8Array,
    protocol: number,
    payload: Uint8Array,
    off: number,
  ): boolean {
    if (protocol !== 6 || off !== 16 || payload[16] !== 0 || payload[17] !== 0) throw new Error('bad send');
    this.out.push({ source, destination, payload });
    return true;
  }
  sourceFor(destination: Uint8Array): Uint8Array | null {
    return destination.length === this.address.length ? this.address : null;
  }
}

export function datagram(s: Sent): IpDatagram {
  return {
    family: s.source.length === 4 ? 4 : 6,
    source: s.source,
    destination: s.destination,
    protocol: 6,
    payload: s.payload,
    hopLimit: 64,
  };
}

export interface Impairment {
  loss?: number;
  reorder?: number;
  duplicate?: number;
}

export const ADDR_A = new Uint8Array([10, 0, 0, 1]);
export const ADDR_B = new Uint8Array([10, 0, 0, 2]);

export class Wire {
  readonly clock = new FakeClock();
  readonly prng: Prng;
  readonly ipA: FakeIp;
  readonly ipB: FakeIp;
  readonly a: TcpLayer;
  readonly b: TcpLayer;
  delivered = 0;

  constructor(
    seed: number,
    readonly impair: Impairment = {},
    options: TcpOptions = {},
    addrA = ADDR_A,
    addrB = ADDR_B,
    mtu = 1500,
  ) {
    this.prng = new Prng(seed);
    this.ipA = new FakeIp(addrA, mtu);
    this.ipB = new FakeIp(addrB, mtu);
    this.a = new TcpLayer(this.ipA, new FakeHost(this.clock, new Prng(seed + 1)), options);
    this.b = new TcpLayer(this.ipB, new FakeHost(this.clock, new Prng(seed + 2)), options);
  }

  /** Moves one batch each way; returns the segments moved. */
  step(): number {
    // Both directions' batches are taken before either is delivered: segments cross on the wire.
    const ab = this.ipA.out.splice(0);
    const ba = this.ipB.out.splice(0);
    return this.move(ab, this.b) + this.move(ba, this.a);
  }

  private move(batch: Sent[], to: TcpLayer): number {
    const { loss = 0, reorder = 0, duplicate = 0 } = this.impair;
    for (let i = 0; i < batch.length; i++) {
      if (reorder > 0 && i + 1 < batch.length && this.prng.chance(reorder)) {
        const j = i + 1 + this.prng.below(Math.min(8, batch.length - i - 1));
        [batch[i], batch[j]] = [batch[j]!, batch[i]!];
      }
    }
    for (const s of batch) {
      if (loss > 0 && this.prng.chance(loss)) continue;
      to.receive(datagram(s));
      if (duplicate > 0 && this.prng.chance(duplicate)) to.receive(datagram(s));
      this.delivered++;
    }
    to.flush();
    return batch.length;
  }

  /** Runs until `done()` or the step budget is spent; time jumps forward when the wire is idle. */
  run(done: () => boolean, maxSteps = 1_000_000, maxTimeMs = 3_600_000): boolean {
    const end = this.clock.t + maxTimeMs;
    for (let i = 0; i < maxSteps; i++) {
      if (done()) return true;
      if (this.step() > 0) continue;
      const t = Math.min(this.a.nextDeadline(), this.b.nextDeadline());
      if (t === Infinity || t > end) return done();
      if (t > this.clock.t) this.clock.t = t;
      this.a.poll();
      this.b.poll();
    }
    return done();
  }
}

/** A recording TcpConnectionEvents that consumes as it receives. */
export class Recorder implements TcpConnectionEvents {
  established = false;
  ended = false;
  closed: TcpErrorCode | null | undefined = undefined;
  drains = 0;
  chunks: Uint8Array[] = [];
  bytes = 0;
  conn: TcpConnection | null = null;
  autoConsume = true;
  onEstablished(): void {
    this.established = true;
  }
  onData(data: Uint8Array): void {
    this.chunks.push(data.slice());
    this.bytes += data.length;
    if (this.autoConsume) this.conn?.consume(data.length);
  }
  onEnd(): void {
    this.ended = true;
  }
  onDrain(): void {
    this.drains++;
  }
  onClose(error: TcpErrorCode | null): void {
    if (this.closed !== undefined) throw new Error('onClose twice');
    this.closed = error;
  }
  data(): Uint8Array {
    const out = new Uint8Array(this.bytes);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

/** Connects A to a listener on B; returns both ends once established. */
export function openPair(
  w: Wire,
  port = 80,
): { client: TcpConnection; server: TcpConnection; cr: Recorder; sr: Recorder } {
  const cr = new Recorder();
  const sr = new Recorder();
  let server: TcpConnection | null = null;
  w.b.listen(null, port, 16, (c) => {
    server = c;
    sr.conn = c;
    c.setEvents(sr);
  });
  const remote: SocketAddress = { address: w.ipB.address, port };
  const client = w.a.connect(remote, cr);
  cr.conn = client;
  if (!w.run(() => cr.established && server !== null, 100_000)) throw new Error('handshake did not finish');
  return { client, server: server!, cr, sr };
}

/** Writes `data` through `conn` as the send buffer allows, running the wire; true when all went. */
export function pumpWrite(w: Wire, conn: TcpConnection, data: Uint8Array, until: () => boolean): boolean {
  let off = 0;
  return w.run(() => {
    while (off < data.length) {
      const n = conn.write(data.subarray(off, Math.min(data.length, off + 65536)));
      if (n === 0) break;
      off += n;
    }
    return off === data.length && until();
  });
}
