/**
 * The batched inbound transport data path of the device's ordinary path (any TunDevice and Bind)
 * when the native AEAD is loaded; whitepaper section 5.4.6. Transport datagrams are copied into a
 * reused arena (the bind's views live only during its call, and decrypting in place must not
 * change bytes the caller still owns); a run of one keypair and one source is replay-checked per
 * datagram BEFORE decryption, opened with one native openBatch, marked in the replay window only
 * AFTER its tag verified, its inner packet and allowed source checked, and its side effects
 * (rotation, roaming, timers, keep-key-fresh) applied once by Tunnel.transportBatchReceived: the
 * same core calls, in the same order, as fast-path.ts (Tunnel.checkReceive decides the keypair or
 * the drop reason for both). Plaintext
 * reaches the TUN as views into the arena in one write per batch; the TUN's receivers
 * (UserspaceTun -> NetStack, LinuxTun, the test fakes) copy what they keep.
 */
import type { NativeAddon } from '../io/native.js';
import type { TunDevice } from '../io/tun.js';
import type { Keypair } from '../protocol/keypairs.js';
import type { Endpoint, Tunnel } from '../protocol/tunnel.js';
import { Arena, ARENA_SLOTS } from './batch-arena.js';
import type { DataPathHost } from './data-path.js';
import { DROP_INDEX } from './drops.js';
import { acceptRun } from './inner-rule.js';
import { threadGate } from './thread-gate.js';

const REPLAY = DROP_INDEX['replay'];

export class BatchReceive {
  readonly #device: DataPathHost;
  readonly #tun: TunDevice | null;
  readonly #native: NativeAddon;
  readonly #rx = new Arena();
  readonly #rxResults = new Int32Array(ARENA_SLOTS);
  readonly #rxCounters: bigint[] = new Array<bigint>(ARENA_SLOTS).fill(0n);
  // The receive run: its keypair, tunnel and source (one source per run: roaming is per run).
  #rxKeypair: Keypair | null = null;
  #rxTunnel: Tunnel | null = null;
  #rxSource: Endpoint | null = null;
  /** The arena slot the current run starts at (earlier runs' plaintext waits there for the TUN). */
  #runFirst = 0;

  constructor(device: DataPathHost, native: NativeAddon, tun: TunDevice | null) {
    this.#device = device;
    this.#tun = tun;
    this.#native = native;
  }

  /**
   * One transport datagram (type 4, at least TRANSPORT_MIN_SIZE bytes) from `from`; decrypted
   * packets are appended to `toTun` (views into the arena, valid until `endReceive`).
   */
  receiveTransport(d: Uint8Array, from: Endpoint, now: number, toTun: Uint8Array[]): void {
    const device = this.#device;
    const rx = this.#rx;
    if (!rx.fits(d.length)) {
      // The arena is full: open the run, hand what is decrypted to the TUN, start over.
      this.flushReceive(now, toTun);
      this.#writeTun(toTun);
    }
    const receiver = (d[4]! | (d[5]! << 8) | (d[6]! << 16) | (d[7]! << 24)) >>> 0;
    let kp = this.#rxKeypair;
    if (kp === null || kp.localIndex !== receiver || !sameSource(this.#rxSource, from)) {
      this.flushReceive(now, toTun);
      const tunnel = device.tunnelOf(receiver);
      if (tunnel === undefined) {
        device.drops.count('unknown-index');
        return;
      }
      const found = tunnel.checkReceive(receiver, now);
      if (typeof found === 'string') {
        device.drops.count(found); // the core's reason: not a keypair's index, or expired
        return;
      }
      kp = found;
      this.#rxKeypair = kp;
      this.#rxTunnel = tunnel;
      this.#rxSource = from;
    }
    const at = rx.cursor;
    rx.bytes.set(d, at);
    const counter = rx.view.getBigUint64(at + 8, true);
    if (!kp.replay.check(counter)) {
      device.drops.counts[REPLAY]++; // before any decryption
      return;
    }
    this.#rxCounters[rx.take(d.length, d.length)] = counter;
  }

  /** Opens the current run: tag, replay mark, inner checks, then the run's side effects once. */
  flushReceive(now: number, toTun: Uint8Array[]): void {
    const kp = this.#rxKeypair;
    const tunnel = this.#rxTunnel;
    const from = this.#rxSource;
    this.#rxKeypair = null;
    this.#rxSource = null;
    const rx = this.#rx;
    const first = this.#runFirst;
    const n = rx.count - first;
    this.#runFirst = rx.count;
    if (n === 0 || kp === null || tunnel === null) return;
    const b = rx.bytes;
    threadGate.tick(n); // how many workers the machine has CPU for (thread-gate.ts)
    this.#native.openBatch(kp.receiveKey, b, rx.offsets, rx.lengths, first, n, this.#rxResults);
    const run = {
      keypair: kp,
      tunnel,
      from: copyEndpoint(from!),
      buffer: b,
      offsets: rx.offsets,
      lengths: rx.lengths,
      counters: this.#rxCounters,
      results: this.#rxResults,
      first,
      count: n,
    };
    acceptRun(this.#device, run, now, (p, length) => toTun.push(b.subarray(p, p + length)));
  }

  /** Writes what was decrypted to the TUN and frees the arena for the next batch. */
  #writeTun(toTun: Uint8Array[]): void {
    if (toTun.length > 0) this.#tun?.write(toTun);
    toTun.length = 0;
    this.#rx.reset();
    this.#runFirst = 0;
  }

  /** Ends a receive batch: opens the last run and writes every decrypted packet. */
  endReceive(now: number, toTun: Uint8Array[]): void {
    this.flushReceive(now, toTun);
    this.#writeTun(toTun);
  }
}

/** Whether two sources are the same endpoint, sticky source included (a run has one). */
function sameSource(a: Endpoint | null, b: Endpoint): boolean {
  if (a === b) return true;
  if (a === null || a.port !== b.port || !equal(a.address, b.address)) return false;
  const x = a.source ?? null;
  const y = b.source ?? null;
  return x === null || y === null ? x === y : equal(x, y);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A source the tunnel may keep (the bind's endpoints live only during its call). */
export function copyEndpoint(e: Endpoint): Endpoint {
  const source = e.source;
  return {
    address: Uint8Array.from(e.address),
    port: e.port,
    source: source == null ? null : source.slice(),
    sourceIfindex: e.sourceIfindex ?? 0,
  };
}
