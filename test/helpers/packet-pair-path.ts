/**
 * A rootless fixture of the production fast data path (src/device/fast-path.ts; DESIGN.md "One
 * transport rule set, two drivers"): two Devices X and Y, each driven by its FastPath, whose
 * TUNs are one end of a native packetPair() (AF_UNIX SOCK_SEQPACKET, the stand-in the JIT
 * warm-up uses) and whose binds are real UDP sockets on 127.0.0.1. The test owns the far end
 * of each pair: what it writes there is read by the device as from its TUN, and what the device
 * writes to its TUN is collected in `received` (vnet header removed).
 *
 * A third native bind, the injector, sends crafted datagrams to Y from its own port, as plain
 * sends or as one UDP GSO run (which Y's GRO socket reads as one slot of many segments). So the
 * receive rules of the fast path — and, by calling Y's Device.receiveDatagrams directly, the
 * ordinary batched and per-packet paths on the very same device and keypairs — run without root.
 *
 * `verdict(driver, datagrams)` feeds datagrams through one driver, then a valid sentinel packet,
 * and waits (with a deadline) until the sentinel came out of Y's TUN and the handshake queue is
 * empty: everything before it has then been decided. It returns what reached the TUN and the drop
 * counters that moved. Given Y's receiving keypair, it first resets its replay window, so the
 * same datagrams get the same chance on every driver.
 */
import { setImmediate as turn } from 'node:timers/promises';
import { generatePrivateKey, publicKeyOf } from '../../src/crypto/x25519.js';
import { Device } from '../../src/device/device.js';
import { DEVICE_DROP_REASONS } from '../../src/device/drops.js';
import { FastPath } from '../../src/device/fast-path.js';
import { createBind, type Endpoint, type LinuxBind } from '../../src/io/bind.js';
import { loadNative } from '../../src/io/native.js';
import { LinuxTun, VNET_HEADER_LENGTH } from '../../src/io/tun.js';
import type { Keypair } from '../../src/protocol/keypairs.js';
import { sealTransport } from '../../src/protocol/transport.js';
import type { DeviceSet } from '../../src/uapi/types.js';
import { waitFor } from './netns.js';

/** The TUN offload flags a daemon gets on this kernel (CSUM, TSO4/6, TSO_ECN, USO4/6). */
export const OFFLOADS = 0x67;
export const MTU = 1420;
const LOOPBACK = Uint8Array.of(127, 0, 0, 1);
const WAIT_MS = 5_000;

export const INNER4 = [Uint8Array.of(10, 251, 0, 1), Uint8Array.of(10, 251, 0, 2)] as const;
export const INNER6 = [
  Uint8Array.of(0xfd, 0, 2, 0x51, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
  Uint8Array.of(0xfd, 0, 2, 0x51, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2),
] as const;

export interface PathSide {
  readonly device: Device;
  readonly bind: LinuxBind;
  readonly near: LinuxTun;
  readonly far: LinuxTun;
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  /** Everything the device wrote to its TUN, in order, vnet header removed. */
  readonly received: Uint8Array[];
  /** The FastPath driving this device (set once started). */
  fastPath: FastPath | null;
  /** Copies of what the device sent with Bind.send (handshakes, cookie replies, staged data). */
  readonly sent: Uint8Array[];
}

/** How a datagram reaches Y: its FastPath (over UDP), or Device.receiveDatagrams batched or not. */
export type Driver = 'fast' | 'batched' | 'per-packet';

export interface Verdict {
  /** Inner packets written to Y's TUN (hex), in order. */
  readonly delivered: string[];
  /** Drop counters of Y that moved, by reason. */
  readonly drops: Record<string, number>;
}

export const hex = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

function makeSide(now: () => number, offloadFlags: number): PathSide {
  const native = loadNative();
  const [a, b] = native.packetPair();
  const near = new LinuxTun(native, a, 'sm-near', 0, MTU, 64, offloadFlags);
  const far = new LinuxTun(native, b, 'sm-far', 0, MTU, 64, 0);
  const bind = createBind({ gro: true, families: [4], socketBufferSize: 4 << 20 });
  const privateKey = generatePrivateKey();
  const side: PathSide = {
    device: null as unknown as Device,
    bind,
    near,
    far,
    privateKey,
    publicKey: publicKeyOf(privateKey),
    received: [],
    fastPath: null,
    sent: [],
  };
  const send = bind.send.bind(bind);
  bind.send = (datagrams, to) => {
    for (const d of datagrams) side.sent.push(d.slice());
    return send(datagrams, to);
  };
  const device = new Device({
    tun: near,
    bind,
    mtu: MTU,
    now,
    fastPath: (d: Device) => (side.fastPath = new FastPath(d, near, bind)),
  });
  (side as { device: Device }).device = device;
  return side;
}

function configure(self: PathSide, other: PathSide, index: 0 | 1, otherPort: number): DeviceSet {
  const them = (1 - index) as 0 | 1;
  return {
    privateKey: self.privateKey,
    replacePeers: true,
    peers: [
      {
        publicKey: other.publicKey,
        remove: false,
        updateOnly: false,
        endpoint: { address: LOOPBACK, port: otherPort },
        allowedIPs: [
          { kind: 'add', prefix: { family: 4, bytes: INNER4[them], cidr: 32 } },
          { kind: 'add', prefix: { family: 6, bytes: INNER6[them], cidr: 128 } },
        ],
      },
    ],
  };
}

function ipv4Checksum(h: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (h[i]! << 8) | h[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * An IPv4 UDP packet from `src` to the other side's inner address (X's unless `src` is X's);
 * `total` overrides the stated length.
 */
export function udp4(src: Uint8Array, dport: number, payload = 8, total?: number): Uint8Array {
  const dst = src.every((b, i) => b === INNER4[0][i]) ? INNER4[1] : INNER4[0];
  const p = new Uint8Array(28 + payload);
  const length = total ?? p.length;
  p.set([0x45, 0, length >> 8, length & 0xff, 0, 1, 0x40, 0, 64, 17, 0, 0]);
  p.set(src, 12);
  p.set(dst, 16);
  p.set([0x9c, 0x40, dport >> 8, dport & 0xff, (8 + payload) >> 8, (8 + payload) & 0xff, 0, 0], 20);
  for (let i = 0; i < payload; i++) p[28 + i] = (dport + i) & 0xff;
  const c = ipv4Checksum(p);
  p[10] = c >> 8;
  p[11] = c & 0xff;
  return p;
}

/** An IPv6 UDP packet from X's inner address to Y's; `payloadLength` overrides the stated one. */
export function udp6(dport: number, payload = 8, payloadLength?: number): Uint8Array {
  const p = new Uint8Array(48 + payload);
  const stated = payloadLength ?? 8 + payload;
  p.set([0x60, 0, 0, 0, stated >> 8, stated & 0xff, 17, 64]);
  p.set(INNER6[0], 8);
  p.set(INNER6[1], 24);
  p.set([0x9c, 0x40, dport >> 8, dport & 0xff, (8 + payload) >> 8, (8 + payload) & 0xff, 0, 0], 40);
  for (let i = 0; i < payload; i++) p[48 + i] = (dport + i) & 0xff;
  return p;
}

/** The UDP destination port of an IPv4 or IPv6 packet (for reading what reached a TUN). */
export function destinationPort(p: Uint8Array): number {
  const at = p[0]! >> 4 === 4 ? (p[0]! & 0x0f) * 4 : 40;
  return (p[at + 2]! << 8) | p[at + 3]!;
}

export class PacketPairPath {
  readonly x: PathSide;
  readonly y: PathSide;
  /** Sends crafted datagrams to Y from its own port on 127.0.0.1. */
  readonly injector: LinuxBind;
  /** Added to the monotonic clock of both devices (the scheduler still runs on real time). */
  skew = 0;
  #sentinels = 0;

  private constructor(x: PathSide, y: PathSide, injector: LinuxBind) {
    this.x = x;
    this.y = y;
    this.injector = injector;
  }

  /** Two started, configured devices; no handshake yet. */
  static async open(offloadFlags = OFFLOADS): Promise<PacketPairPath> {
    const now = (): number => performance.now() + path.skew;
    const x = makeSide(now, offloadFlags);
    const y = makeSide(now, offloadFlags);
    const injector = createBind({ families: [4], socketBufferSize: 4 << 20 });
    const path: PacketPairPath = new PacketPairPath(x, y, injector);
    try {
      await x.device.start(0);
      await y.device.start(0);
      await injector.open(0);
      if ((await x.device.apply(configure(x, y, 0, y.device.listenPort))) !== 0) throw new Error('config X');
      if ((await y.device.apply(configure(y, x, 1, x.device.listenPort))) !== 0) throw new Error('config Y');
      for (const s of [x, y]) {
        s.far.start(
          (packets) => {
            for (const p of packets) s.received.push(p.slice(VNET_HEADER_LENGTH));
          },
          () => undefined,
        );
      }
    } catch (err) {
      path.close();
      throw err;
    }
    return path;
  }

  close(): void {
    for (const s of [this.x, this.y]) {
      s.device.close();
      s.far.close();
    }
    this.injector.close();
  }

  /** Writes IP packets into a side's TUN (as the kernel would hand them over: vnet header first). */
  inject(side: PathSide, packets: readonly Uint8Array[]): void {
    side.far.write(
      packets.map((p) => {
        const v = new Uint8Array(VNET_HEADER_LENGTH + p.length);
        v.set(p, VNET_HEADER_LENGTH);
        return v;
      }),
    );
  }

  /** Waits until `side` has received at least `count` packets in all. */
  async waitReceived(side: PathSide, count: number, what = `${count} packets`): Promise<void> {
    await waitFor(() => side.received.length >= count, { timeoutMs: WAIT_MS, intervalMs: 5, what });
  }

  /** A handshake and one packet each way: both sides hold a confirmed session. */
  async establish(): Promise<void> {
    const x0 = this.x.received.length;
    const y0 = this.y.received.length;
    this.inject(this.x, [udp4(INNER4[0], 1, 8)]);
    await this.waitReceived(this.y, y0 + 1, 'the first packet X to Y');
    this.inject(this.y, [udp4(INNER4[1], 2, 8)]);
    await this.waitReceived(this.x, x0 + 1, 'the first packet Y to X');
  }

  /** X's current sending keypair towards Y. */
  sendKeypair(): Keypair {
    const kp = this.x.device.peerByKey(this.y.publicKey)!.tunnel.session.keypairs.current;
    if (kp === null) throw new Error('X has no session');
    return kp;
  }

  /** Y's keypair that opens what X seals on `send`. */
  receiveKeypair(send = this.sendKeypair()): Keypair {
    const tunnel = this.y.device.indices.get(send.remoteIndex);
    const kp = tunnel?.receivingKeypair(send.remoteIndex, this.y.device.now()) ?? null;
    if (kp === null) throw new Error('Y cannot receive on that keypair');
    return kp;
  }

  /** A transport message X seals for Y with `counter` (padding as sealTransport's). */
  seal(counter: number | bigint, plain: Uint8Array, kp = this.sendKeypair()): Uint8Array {
    const saved = kp.sendCounter;
    kp.sendCounter = BigInt(counter);
    const d = sealTransport(kp, plain, MTU);
    // X's own later sends stay ahead of every counter a test used.
    if (saved > kp.sendCounter) kp.sendCounter = saved;
    return d;
  }

  /** A transport message X seals for Y with its next counter (above any used so far). */
  sealNext(plain: Uint8Array): Uint8Array {
    return this.seal(this.sendKeypair().sendCounter, plain);
  }

  /** Where the injector's datagrams come from, as Y's bind reports it. */
  injectorEndpoint(): Endpoint {
    return { address: LOOPBACK, port: this.injector.port, source: LOOPBACK, sourceIfindex: 1 };
  }

  /** Y's listening endpoint. */
  yEndpoint(): Endpoint {
    return { address: LOOPBACK, port: this.y.device.listenPort };
  }

  /** Sends datagrams to Y from the injector, one sendmmsg (no GSO). */
  send(datagrams: readonly Uint8Array[]): void {
    const sent = this.injector.send(datagrams, this.yEndpoint());
    if (sent !== datagrams.length) throw new Error(`injector sent ${sent} of ${datagrams.length}`);
  }

  /** Sends equal-size datagrams to Y as one UDP GSO run (Y's GRO socket reads one slot). */
  sendRun(datagrams: readonly Uint8Array[]): void {
    let size = 0;
    for (const d of datagrams) size += (d.length + 15) & ~15;
    const buffer = new Uint8Array(size);
    const offsets = new Uint32Array(datagrams.length);
    const lengths = new Uint32Array(datagrams.length);
    let at = 0;
    datagrams.forEach((d, k) => {
      buffer.set(d, at);
      offsets[k] = at;
      lengths[k] = d.length;
      at += (d.length + 15) & ~15;
    });
    const sent = this.injector.sendSegments(buffer, offsets, lengths, 0, datagrams.length, this.yEndpoint());
    if (sent !== datagrams.length) throw new Error(`injector sent ${sent} of ${datagrams.length}`);
  }

  /** A drop counter snapshot of Y. */
  drops(): Float64Array {
    return Float64Array.from(this.y.device.drops.counts);
  }

  /** The drop counters of Y that moved since `before`. */
  dropsSince(before: Float64Array): Record<string, number> {
    const out: Record<string, number> = {};
    DEVICE_DROP_REASONS.forEach((r, i) => {
      const n = this.y.device.drops.counts[i]! - before[i]!;
      if (n !== 0) out[r] = n;
    });
    return out;
  }

  /**
   * Feeds `datagrams` to Y through `driver`, then a valid sentinel; waits until the sentinel is
   * out of Y's TUN and the handshake queue has drained; returns the verdict on `datagrams`.
   */
  async verdict(
    driver: Driver,
    datagrams: readonly Uint8Array[],
    fresh: Keypair | null = null,
  ): Promise<Verdict> {
    const y = this.y;
    // The same bytes through every driver: the window as it was before the first.
    fresh?.replay.reset();
    const port = 60_000 + (this.#sentinels++ % 5_000);
    const sentinelPacket = udp4(INNER4[0], port, 24);
    const sentinel = this.sealNext(sentinelPacket);
    const before = this.drops();
    const mark = y.received.length;
    if (driver === 'fast') {
      this.send([...datagrams, sentinel]);
    } else {
      y.device.batched = driver === 'batched';
      const from = this.injectorEndpoint();
      const all = [...datagrams, sentinel].map((d) => d.slice());
      y.device.receiveDatagrams(
        all,
        all.map(() => from),
      );
      y.device.batched = true;
    }
    const want = hex(sentinelPacket);
    await waitFor(
      async () => {
        if (y.device.queue.length > 0) return false;
        await turn();
        return y.received.slice(mark).some((p) => hex(p) === want) && y.device.queue.length === 0;
      },
      { timeoutMs: WAIT_MS, intervalMs: 2, what: `the sentinel through ${driver}` },
    );
    const out = y.received.slice(mark).map(hex);
    const at = out.indexOf(want);
    out.splice(at, 1);
    return { delivered: out, drops: this.dropsSince(before) };
  }
}
