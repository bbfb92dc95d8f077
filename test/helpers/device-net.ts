/**
 * Devices (src/device/device.ts) on the in-memory fakes, for test/device: each node is a Device on
 * a FakeTun and a FakeBind of one shared FakeNetwork (manual delivery), with a fake monotonic and
 * wall clock shared by all nodes (the scheduler never runs by itself: tests call `tick()`), a
 * fresh X25519 key, outer addresses 192.0.2.N / 2001:db8::N and inner 10.0.0.N / fd10::N.
 * `settle()` delivers datagrams and lets the handshake queues drain until nothing moves.
 * Configuration goes through `device.apply(DeviceSet)`, built with the small helpers here.
 */
import { randomBytes } from 'node:crypto';
import { clampPrivateKey, publicKeyOf } from '../../src/crypto/x25519.js';
import { Device, type DeviceOptions } from '../../src/device/device.js';
import type { Logger } from '../../src/device/logger.js';
import type { Endpoint } from '../../src/io/bind.js';
import { parseMessage } from '../../src/protocol/messages.js';
import { maskPrefix, parsePrefix } from '../../src/routing/ip.js';
import type { DeviceSet, IpPrefix, PeerSet } from '../../src/uapi/types.js';
import { FakeNetwork, FakeTun, ipBytes, type FakeBind, type FakeDatagram } from './fake-io.js';

export const WALL_BASE_MS = 1_700_000_000_123;
export const MONO_BASE_MS = 5_000_000;

/** One clock for every node: monotonic and wall time advance together. */
export class FakeClock {
  mono = MONO_BASE_MS;
  get wall(): number {
    return WALL_BASE_MS + (this.mono - MONO_BASE_MS);
  }
  advance(ms: number): void {
    this.mono += ms;
  }
}

export function newPrivateKey(): Uint8Array {
  return clampPrivateKey(new Uint8Array(randomBytes(32)));
}

export interface DeviceNode {
  readonly n: number;
  readonly device: Device;
  readonly tun: FakeTun;
  readonly bind: FakeBind;
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  readonly outer4: string;
  readonly outer6: string;
  readonly inner4: string;
  readonly inner6: string;
  /** Where others reach this node (after start). */
  endpoint(family?: 4 | 6): Endpoint;
}

export interface DeviceNetOptions {
  /**
   * Randomness for every node's private key and Device (indices, jitter, cookie secrets): a
   * seeded source makes a whole run reproducible (test/fuzz). Default: node:crypto.
   */
  readonly random?: (n: number) => Uint8Array;
  /** Passed to every node's Device: a fake hostname lookup, the re-resolution interval, timer options. */
  readonly device?: Pick<DeviceOptions, 'lookupHost' | 'resolveIntervalMs' | 'tickMs' | 'linkEvents'>;
  /** The logger of node N (default none). */
  readonly logger?: (n: number) => Logger;
}

export class DeviceNet {
  readonly net = new FakeNetwork({ manual: true });
  readonly clock = new FakeClock();
  readonly nodes: DeviceNode[] = [];
  readonly #random: ((n: number) => Uint8Array) | undefined;
  readonly #deviceOptions: DeviceNetOptions['device'];
  readonly #logger: ((n: number) => Logger) | undefined;

  constructor(options: DeviceNetOptions = {}) {
    this.#random = options.random;
    this.#deviceOptions = options.device;
    this.#logger = options.logger;
  }

  /** Node N (1..250): a started Device with its private key set and listening on `port`. */
  async node(n: number, port = 51820 + n): Promise<DeviceNode> {
    const tun = new FakeTun({ name: `wgfake${n}`, mtu: 1420 });
    const bind = this.net.bind(`192.0.2.${n}`, `2001:db8::${n.toString(16)}`);
    const device = new Device({
      tun,
      bind,
      now: () => this.clock.mono,
      wallNow: () => this.clock.wall,
      tickMs: 3_600_000, // the tests tick by hand
      ...this.#deviceOptions,
      ...(this.#random === undefined ? {} : { random: this.#random }),
      ...(this.#logger === undefined ? {} : { logger: this.#logger(n) }),
    });
    await device.start(0);
    const privateKey = this.#random === undefined ? newPrivateKey() : clampPrivateKey(this.#random(32));
    const node: DeviceNode = {
      n,
      device,
      tun,
      bind,
      privateKey,
      publicKey: publicKeyOf(privateKey),
      outer4: `192.0.2.${n}`,
      outer6: `2001:db8::${n.toString(16)}`,
      inner4: `10.0.0.${n}`,
      inner6: `fd10::${n.toString(16)}`,
      endpoint: (family) => bind.endpoint(family),
    };
    const errno = await device.apply({ privateKey, listenPort: port, replacePeers: false, peers: [] });
    if (errno !== 0) throw new Error(`node ${n}: apply failed ${errno}`);
    this.nodes.push(node);
    return node;
  }

  /** Makes `a` and `b` peers of each other (each with the other's inner /32 and /128). */
  async link(a: DeviceNode, b: DeviceNode, family: 4 | 6 = 4): Promise<void> {
    assertOk(await a.device.apply(deviceSet({ peers: [peerOf(b, { family })] })));
    assertOk(await b.device.apply(deviceSet({ peers: [peerOf(a, { family })] })));
  }

  /**
   * Delivers everything in flight and lets every handshake queue drain, until nothing moves for
   * two rounds. Bounded: throws after `maxRounds`.
   */
  async settle(maxRounds = 2_000): Promise<void> {
    let quiet = 0;
    for (let round = 0; round < maxRounds; round++) {
      this.net.flush();
      await new Promise<void>((resolve) => setImmediate(resolve));
      const busy = this.net.pending > 0 || this.nodes.some((x) => x.device.queue.length > 0);
      quiet = busy ? 0 : quiet + 1;
      if (quiet >= 2) return;
    }
    throw new Error('DeviceNet.settle: traffic never settles');
  }

  /** Advances the clock and runs every device's scheduler once. */
  tick(ms: number): void {
    this.clock.advance(ms);
    for (const x of this.nodes) x.device.tick();
  }

  /** Datagrams logged by the network since `mark` (an index into net.log), from `from` if given. */
  sentSince(mark: number, from?: DeviceNode): FakeDatagram[] {
    const all = this.net.log.slice(mark);
    return from === undefined ? all : all.filter((d) => sameEndpointHost(d.from, from));
  }

  close(): void {
    for (const x of this.nodes) x.device.close();
  }
}

function sameEndpointHost(e: Endpoint, node: DeviceNode): boolean {
  const hex = Buffer.from(e.address).toString('hex');
  return (
    hex === Buffer.from(ipBytes(node.outer4)).toString('hex') ||
    hex === Buffer.from(ipBytes(node.outer6)).toString('hex')
  );
}

export function assertOk(errno: number): void {
  if (errno !== 0) throw new Error(`apply returned errno ${errno}`);
}

/** `10.0.0.0/8` → an IpPrefix with host bits cleared. */
export function prefix(text: string): IpPrefix {
  const p = parsePrefix(text);
  if (p === null) throw new TypeError(`bad prefix ${text}`);
  return { family: p.family, bytes: maskPrefix(p.bytes, p.cidr), cidr: p.cidr };
}

export function deviceSet(o: Partial<DeviceSet> = {}): DeviceSet {
  return { replacePeers: false, peers: [], ...o };
}

export interface PeerOptions {
  /** Endpoint family (default 4); null for none. */
  readonly family?: 4 | 6 | null;
  /** Allowed IPs to add (default the node's inner /32 and /128). */
  readonly allowed?: readonly string[];
  readonly extra?: Partial<PeerSet>;
}

/** A peer section for `node` as seen by others. */
export function peerOf(node: DeviceNode, o: PeerOptions = {}): PeerSet {
  const family = o.family === undefined ? 4 : o.family;
  const allowed = o.allowed ?? [`${node.inner4}/32`, `${node.inner6}/128`];
  return {
    publicKey: node.publicKey,
    remove: false,
    updateOnly: false,
    ...(family === null ? {} : { endpoint: node.endpoint(family) }),
    allowedIPs: allowed.map((text) => ({ kind: 'add' as const, prefix: prefix(text) })),
    ...o.extra,
  };
}

/** A peer section that changes only what `extra` says (no allowed IPs, no endpoint). */
export function peerUpdate(publicKey: Uint8Array, extra: Partial<PeerSet> = {}): PeerSet {
  return { publicKey, remove: false, updateOnly: false, allowedIPs: [], ...extra };
}

export type Kind = 'initiation' | 'response' | 'cookieReply' | 'transport' | 'invalid';

export function kindOf(d: Uint8Array): Kind {
  return parseMessage(d).type;
}

export function kinds(ds: readonly FakeDatagram[]): Kind[] {
  return ds.map((d) => kindOf(d.data));
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
