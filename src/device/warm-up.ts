/**
 * JIT warm-up of the batched data path: before the daemon builds its device and opens its UAPI
 * socket, two private in-process devices exchange traffic through the very code the real device
 * runs, so V8 has compiled it, with type feedback from real use, before anyone can configure the
 * daemon or ping through it.
 *
 * Why: a fresh Node process interprets JavaScript until a function has used up its tier-up
 * budget (hundreds of calls for the data path's functions), and an idle ping crosses four such
 * legs per round trip. Measured with bench/run.mjs on a fresh wgtsd pair, the first pings' median
 * was 0.79-0.87 ms against wireguard-go's 0.50-0.57 without this, 0.56-0.66 against 0.52-0.71
 * with it. The same daemons after a TCP load answer in 0.47-0.53 ms; more (or bulkier) warm-up
 * traffic did not close that last gap, so it is not the compiler's state.
 *
 * How: two Devices of the daemon's own classes (Device, FastPath, LinuxBind, LinuxTun, Tunnel),
 * each with a fresh key, one peer (the other) and a UDP port of its own, talking over the
 * loopback. Each TUN is one end of an AF_UNIX SOCK_SEQPACKET pair (a packet-preserving stand-in
 * for a TUN fd) whose other end this module drives: an ICMP echo request written into X comes
 * out of Y, the reply written into Y comes out of X; IPv4 and IPv6 alternately; every
 * BULK_EVERY-th step is instead a burst of TSO superpackets from X that must come out of Y
 * coalesced. Handshakes, rekeys and staged packets are made to happen along the way (CYCLE).
 * Nothing is shared with the real device but code: no state, key, index, socket or counter, and
 * all of it is closed at the end. Bounded in steps and in time; a failure (no loopback, say) ends
 * it quietly, as it only ever costs the speed of the first packets. WGTS_WARMUP=0 turns it off.
 */
import { Device } from './device.js';
import { nativeRouteMtuSource, RouteMtus } from './route-mtu.js';
import { FastPath } from './fast-path.js';
import { generatePrivateKey, publicKeyOf } from '../crypto/x25519.js';
import { REKEY_AFTER_TIME_MS, REKEY_TIMEOUT_MS } from '../constants.js';
import { createBind } from '../io/bind.js';
import { loadNative, type NativeAddon } from '../io/native.js';
import { LinuxTun, VNET_HEADER_LENGTH } from '../io/tun.js';
import type { DeviceSet } from '../uapi/types.js';

/** Round trips: enough for V8 to optimize every function a round trip crosses (~4 calls each). */
export const WARMUP_ROUND_TRIPS = 2_000;
/** Wall time at most (~0.3 s here): on a loaded machine it stops early rather than delay the start. */
export const WARMUP_MAX_MS = 1_500;
/**
 * Every CYCLE round trips the two devices' private clock jumps: alternately past
 * REKEY_AFTER_TIME (X rekeys while its traffic flows on the old keypair) and past REKEY_TIMEOUT
 * with X's link taken down and up (its sessions forgotten: the next packet is staged and waits
 * for a new handshake). The handshake paths then run, and leave type feedback, after V8 has
 * started recording it, so a real handshake does not deoptimize a data path compiled without it.
 */
const CYCLE = 250;
const JUMPS_MS = [REKEY_AFTER_TIME_MS + 1_000, REKEY_TIMEOUT_MS + 1_000] as const;
/** Every BULK_EVERY-th round trip is a burst of TCP superpackets (BULK_PACKETS of ~60 KB). */
const BULK_EVERY = 20;
const BULK_PACKETS = 8;
/** Segments per superpacket: 44 MTU-sized segments stay under 64 KB. */
const BULK_SEGMENTS = 44;
/**
 * A step not back in this long is sent again (a packet lost, or a handshake slow, on a loaded
 * machine); after MAX_STALLS of them the warm-up ends (no loopback, a broken path). Ending at the
 * first one left a daemon started on a busy machine cold: in 6 runs under a load average of 16
 * here, 2 ended after 0 and 19 round trips.
 */
const STALL_MS = 500;
const MAX_STALLS = 3;
/** Read batch of the stand-in TUNs: the warm-up has one packet in flight. */
const BATCH = 4;
const MTU = 1420;

const INNER = {
  4: [Uint8Array.of(10, 255, 255, 1), Uint8Array.of(10, 255, 255, 2)],
  6: [
    Uint8Array.of(0xfd, 0x77, 0x61, 0x72, 0x6d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
    Uint8Array.of(0xfd, 0x77, 0x61, 0x72, 0x6d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2),
  ],
} as const;
const LOOPBACK = Uint8Array.of(127, 0, 0, 1);

export interface WarmUpResult {
  /** Echo round trips and bulk bursts completed, both counted. */
  readonly roundTrips: number;
  /** Of those, bulk bursts (every byte of their TCP payload came out of Y's TUN). */
  readonly bursts: number;
  readonly ms: number;
  /** Why it ended before WARMUP_ROUND_TRIPS, or null. */
  readonly stopped: string | null;
}

/** One side: a device whose TUN is `near`, and the `far` end this module reads and writes. */
interface Side {
  readonly device: Device;
  readonly near: LinuxTun;
  readonly far: LinuxTun;
  readonly key: Uint8Array;
}

function makeSide(native: NativeAddon, name: string, offloadFlags: number, now: () => number): Side {
  const [a, b] = native.packetPair();
  // The near end carries vnet headers like the daemon's TUN (same offload flags: same branches).
  const near = new LinuxTun(native, a, name, 0, MTU, BATCH, offloadFlags);
  const far = new LinuxTun(native, b, `${name}-far`, 0, MTU, BATCH, 0);
  // IPv4 only (it talks over 127.0.0.1) and smaller buffers: its sockets live for a few hundred
  // milliseconds, and only a packet sealed with the other private key gets anywhere with them.
  const bind = createBind({ gro: true, families: [4], socketBufferSize: 2 << 20 });
  const device = new Device({
    tun: near,
    bind,
    mtu: MTU,
    now,
    // As the daemon's device has it: padding capped at route MTUs (the same calls per packet).
    routeMtus: new RouteMtus(nativeRouteMtuSource()),
    fastPath: (d: Device) => new FastPath(d, near, bind),
  });
  return { device, near, far, key: generatePrivateKey() };
}

function configure(self: Side, other: Side, index: 0 | 1, otherPort: number): DeviceSet {
  const them = (1 - index) as 0 | 1;
  return {
    privateKey: self.key,
    replacePeers: true,
    peers: [
      {
        publicKey: publicKeyOf(other.key),
        remove: false,
        updateOnly: false,
        endpoint: { address: LOOPBACK, port: otherPort },
        allowedIPs: [
          { kind: 'add', prefix: { family: 4, bytes: INNER[4][them], cidr: 32 } },
          { kind: 'add', prefix: { family: 6, bytes: INNER[6][them], cidr: 128 } },
        ],
      },
    ],
  };
}

/** An ICMP / ICMPv6 echo (request or reply) from INNER[f][from] to the other, vnet header first. */
function echo(family: 4 | 6, from: 0 | 1, reply: boolean): Uint8Array {
  const src = INNER[family][from];
  const dst = INNER[family][1 - from]!;
  const payload = 56;
  if (family === 4) {
    const p = new Uint8Array(VNET_HEADER_LENGTH + 28 + payload);
    const ip = p.subarray(VNET_HEADER_LENGTH);
    ip.set([0x45, 0, ip.length >> 8, ip.length & 0xff, 0, 0, 0x40, 0, 64, 1], 0);
    ip.set(src, 12);
    ip.set(dst, 16);
    store16(ip, 10, checksum(ip.subarray(0, 20), 0));
    ip[20] = reply ? 0 : 8;
    store16(ip, 22, checksum(ip.subarray(20), 0));
    return p;
  }
  const p = new Uint8Array(VNET_HEADER_LENGTH + 48 + payload);
  const ip = p.subarray(VNET_HEADER_LENGTH);
  const body = 8 + payload;
  ip.set([0x60, 0, 0, 0, body >> 8, body & 0xff, 58, 64], 0);
  ip.set(src, 8);
  ip.set(dst, 24);
  ip[40] = reply ? 129 : 128;
  let pseudo = body + 58;
  for (let i = 8; i < 40; i += 2) pseudo += (ip[i]! << 8) | ip[i + 1]!;
  store16(ip, 42, checksum(ip.subarray(40), pseudo));
  return p;
}

/**
 * BULK_PACKETS TSO superpackets of one TCP flow from X to Y (consecutive sequence numbers), as a
 * TUN with offloads hands them over: a vnet header asking for segmentation and checksums.
 */
function bulkBurst(family: 4 | 6): { packets: Uint8Array[]; payload: number } {
  const ipHeader = family === 4 ? 20 : 40;
  const mss = MTU - ipHeader - 20;
  const payload = mss * BULK_SEGMENTS;
  const packets: Uint8Array[] = [];
  for (let k = 0; k < BULK_PACKETS; k++) {
    const p = new Uint8Array(VNET_HEADER_LENGTH + ipHeader + 20 + payload);
    // struct virtio_net_hdr: NEEDS_CSUM, GSO TCPV4 (1) / TCPV6 (4); little-endian fields.
    p[0] = 1;
    p[1] = family === 4 ? 1 : 4;
    storeLe16(p, 2, ipHeader + 20);
    storeLe16(p, 4, mss);
    storeLe16(p, 6, ipHeader);
    storeLe16(p, 8, 16);
    const ip = p.subarray(VNET_HEADER_LENGTH);
    if (family === 4) {
      ip.set([0x45, 0, ip.length >> 8, ip.length & 0xff, 0, 0, 0x40, 0, 64, 6], 0);
      ip.set(INNER[4][0], 12);
      ip.set(INNER[4][1], 16);
      store16(ip, 10, checksum(ip.subarray(0, 20), 0));
    } else {
      const body = 20 + payload;
      ip.set([0x60, 0, 0, 0, body >> 8, body & 0xff, 6, 64], 0);
      ip.set(INNER[6][0], 8);
      ip.set(INNER[6][1], 24);
    }
    const tcp = ip.subarray(ipHeader);
    store16(tcp, 0, 40_000);
    store16(tcp, 2, 5_201);
    const seq = 1 + k * payload;
    store16(tcp, 4, seq >>> 16);
    store16(tcp, 6, seq & 0xffff);
    store16(tcp, 10, 1); // ack 1
    tcp[12] = 0x50; // data offset 5
    tcp[13] = 0x10; // ACK
    store16(tcp, 14, 0xffff);
    packets.push(p);
  }
  return { packets, payload: payload * BULK_PACKETS };
}

/** The TCP payload bytes of a packet read from a vnet-header TUN (0 if it is not TCP). */
function tcpPayloadLength(p: Uint8Array): number {
  const ip = VNET_HEADER_LENGTH;
  if (p.length < ip + 40) return 0;
  const version = p[ip]! >> 4;
  const v4 = version === 4;
  const ipHeader = v4 ? (p[ip]! & 0x0f) * 4 : 40;
  if (p[ip + (v4 ? 9 : 6)] !== 6 || p.length < ip + ipHeader + 20) return 0;
  const total = v4 ? (p[ip + 2]! << 8) | p[ip + 3]! : 40 + ((p[ip + 4]! << 8) | p[ip + 5]!);
  return total - ipHeader - (p[ip + ipHeader + 12]! >> 4) * 4;
}

function storeLe16(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = v >> 8;
}

function store16(b: Uint8Array, at: number, v: number): void {
  b[at] = v >> 8;
  b[at + 1] = v & 0xff;
}

/** The Internet checksum (RFC 1071) of b, starting from a partial sum. */
function checksum(b: Uint8Array, start: number): number {
  let sum = start;
  for (let i = 0; i + 1 < b.length; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (b.length % 2 === 1) sum += b[b.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * Runs the warm-up with TUN stand-ins that have the daemon's TUN offload flags; resolves when it
 * is done, stopped or failed (it never rejects).
 */
export async function warmUp(offloadFlags: number): Promise<WarmUpResult> {
  const started = performance.now();
  const sides: Side[] = [];
  let stopped: string | null = null;
  let roundTrips = 0;
  let bursts = 0;
  try {
    const native = loadNative();
    let skew = 0;
    const now = (): number => performance.now() + skew;
    sides.push(
      makeSide(native, 'wgts-warm-x', offloadFlags, now),
      makeSide(native, 'wgts-warm-y', offloadFlags, now),
    );
    const [x, y] = sides as [Side, Side];
    await x.device.start(0);
    await y.device.start(0);
    if ((await x.device.apply(configure(x, y, 0, y.device.listenPort))) !== 0) throw new Error('config');
    if ((await y.device.apply(configure(y, x, 1, x.device.listenPort))) !== 0) throw new Error('config');
    const packets = {
      4: [echo(4, 0, false), echo(4, 1, true)],
      6: [echo(6, 0, false), echo(6, 1, true)],
    } as const;
    const bulk = { 4: bulkBurst(4), 6: bulkBurst(6) } as const;
    roundTrips = await new Promise<number>((resolve) => {
      let done = 0;
      let family: 4 | 6 = 4;
      let stall: NodeJS.Timeout | null = null;
      let finished = false;
      // A bulk burst in flight: the TCP payload bytes still to come out of Y's TUN.
      let bulkLeft = 0;
      let stalls = 0;
      const finish = (why: string | null): void => {
        if (stall !== null) clearTimeout(stall);
        stall = null;
        if (finished) return;
        finished = true;
        stopped = why;
        resolve(done);
      };
      const next = (): void => {
        if (finished) return;
        if (stall !== null) clearTimeout(stall);
        if (done >= WARMUP_ROUND_TRIPS) return finish(null);
        if (performance.now() - started > WARMUP_MAX_MS) return finish('time limit');
        const burst = done % BULK_EVERY === BULK_EVERY - 1 && bulkLeft === 0;
        // Echoes alternate families step by step; bursts (always odd steps) burst by burst.
        family = (burst ? Math.floor(done / BULK_EVERY) : done) % 2 === 0 ? 4 : 6;
        if (done > 0 && done % CYCLE === 0) {
          const cycle = done / CYCLE;
          skew += JUMPS_MS[cycle % 2]!;
          if (cycle % 2 === 1) {
            x.device.setUp(false);
            x.device.setUp(true);
          }
        }
        stall = setTimeout(() => {
          stall = null;
          if (++stalls >= MAX_STALLS) return finish(`${stalls} round trips did not come back`);
          // The same step again (`done` has not moved); a late answer to the lost one only puts
          // a second step in flight, which the next burst (unanswered echoes) takes back out.
          bulkLeft = 0;
          next();
        }, STALL_MS).unref();
        if (burst) {
          // A burst of TSO superpackets instead of an echo: split, sealed and sent in GSO runs,
          // received in GRO batches, opened and coalesced again (the paths a TCP stream takes).
          const b = bulk[family];
          bulkLeft = b.payload;
          x.far.write(b.packets);
          return;
        }
        x.far.write([packets[family][0]]);
      };
      const failed = (err: Error): void => finish(err.message);
      // The request leaves Y's TUN: answer it. The reply leaves X's TUN: one round trip done. A
      // burst is done when all its payload has left Y's TUN.
      y.far.start((out) => {
        if (finished) return;
        if (bulkLeft === 0) {
          y.far.write([packets[family][1]]);
          return;
        }
        for (const p of out) bulkLeft -= tcpPayloadLength(p);
        if (bulkLeft <= 0) {
          bulkLeft = 0;
          bursts++;
          done++;
          next();
        }
      }, failed);
      x.far.start(() => {
        done++;
        next();
      }, failed);
      next();
    });
  } catch (err) {
    stopped = `failed: ${(err as Error).message}`;
  } finally {
    for (const s of sides) {
      s.device.close();
      s.far.close();
    }
  }
  return { roundTrips, bursts, ms: performance.now() - started, stopped };
}

/** Whether the environment leaves the warm-up on (WGTS_WARMUP=0 turns it off). */
export function warmUpEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.WGTS_WARMUP !== '0';
}
