/**
 * An in-memory stand-in for the userspace stack (src/netstack/types.ts's TcpApi, UdpApi and
 * IcmpApi) for the socket-layer tests, driven by a real StackDriver: datagrams and echo requests
 * to the fake's own addresses loop back on the next poll (UDP, RFC 768; ICMP echo, RFC 792 and
 * RFC 4443 section 4), datagrams to any other address are recorded in `outbound` as if they left
 * through the tunnel, and inject() delivers one as if it came in from a peer. Echo requests to
 * `silent` addresses are never answered.
 */
import { StackDriver } from '../../src/netstack/driver.js';
import { UserspaceNetwork } from '../../src/netstack/network.js';
import type { IcmpApi, IpFamily, SocketAddress, UdpApi, UdpBinding } from '../../src/netstack/types.js';
import { parseIP } from '../../src/routing/ip.js';
import { FakeTcp, type FakeTcpOptions } from './fake-tcp.js';

export function ip(text: string): Uint8Array {
  const parsed = parseIP(text);
  if (parsed === null) throw new TypeError(`not an IP: ${text}`);
  return parsed.bytes;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function coded(code: string): Error {
  return Object.assign(new Error(code), { code });
}

interface Bound {
  readonly family: IpFamily;
  readonly address: Uint8Array | null;
  readonly onMessage: (data: Uint8Array, from: SocketAddress, to: Uint8Array) => void;
}

interface Datagram {
  readonly data: Uint8Array;
  readonly from: SocketAddress;
  readonly to: SocketAddress;
}

export class FakeUdp implements UdpApi {
  readonly #bound = new Map<string, Bound>();
  readonly #queue: Datagram[] = [];
  readonly outbound: Datagram[] = [];
  #nextPort = 50000;

  constructor(
    private readonly addresses: readonly Uint8Array[],
    private readonly wake: () => void,
    private readonly mtu = 1420,
  ) {}

  bind(
    family: IpFamily,
    address: Uint8Array | null,
    port: number,
    onMessage: (data: Uint8Array, from: SocketAddress, to: Uint8Array) => void,
  ): UdpBinding {
    const chosen = port === 0 ? this.#nextPort++ : port;
    const key = `${family}:${chosen}`;
    if (this.#bound.has(key)) throw coded('EADDRINUSE');
    this.#bound.set(key, { family, address, onMessage });
    const source = address ?? this.addresses.find((a) => a.length === (family === 4 ? 4 : 16)) ?? null;
    return {
      local: { address: address ?? new Uint8Array(family === 4 ? 4 : 16), port: chosen },
      send: (data, remote) => {
        if (source === null || data.length > this.mtu - (family === 4 ? 28 : 48)) return false;
        const datagram = { data: Uint8Array.from(data), from: { address: source, port: chosen }, to: remote };
        if (this.addresses.some((a) => same(a, remote.address))) {
          this.#queue.push(datagram);
          this.wake();
        } else {
          this.outbound.push(datagram);
        }
        return true;
      },
      close: () => this.#bound.delete(key),
    };
  }

  /** A datagram from a peer beyond the tunnel, delivered on the next poll. */
  inject(from: SocketAddress, to: SocketAddress, data: Uint8Array): void {
    this.#queue.push({ data, from, to });
    this.wake();
  }

  nextDeadline(): number {
    return this.#queue.length > 0 ? 0 : Infinity;
  }

  poll(): void {
    for (const d of this.#queue.splice(0)) {
      const bound = this.#bound.get(`${d.to.address.length === 4 ? 4 : 6}:${d.to.port}`);
      if (bound === undefined || (bound.address !== null && !same(bound.address, d.to.address))) continue;
      bound.onMessage(d.data, d.from, d.to.address);
    }
  }
}

export class FakeIcmp implements IcmpApi {
  onEchoReply: ((from: Uint8Array, identifier: number, sequence: number, data: Uint8Array) => void) | null =
    null;
  readonly silent: Uint8Array[] = [];
  readonly #replies: [Uint8Array, number, number, Uint8Array][] = [];
  requests = 0;

  constructor(
    private readonly addresses: readonly Uint8Array[],
    private readonly wake: () => void,
  ) {}

  echoRequest(destination: Uint8Array, identifier: number, sequence: number, data: Uint8Array): boolean {
    if (!this.addresses.some((a) => a.length === destination.length)) return false;
    this.requests++;
    if (this.silent.some((a) => same(a, destination))) return true;
    this.#replies.push([Uint8Array.from(destination), identifier, sequence, Uint8Array.from(data)]);
    this.wake();
    return true;
  }

  /** A reply nobody asked for (or a duplicate), delivered on the next poll. */
  injectReply(from: Uint8Array, identifier: number, sequence: number, data: Uint8Array): void {
    this.#replies.push([from, identifier, sequence, data]);
    this.wake();
  }

  nextDeadline(): number {
    return this.#replies.length > 0 ? 0 : Infinity;
  }

  poll(): void {
    for (const [from, id, seq, data] of this.#replies.splice(0)) this.onEchoReply?.(from, id, seq, data);
  }
}

/** The three fakes behind one StackDriver, and a UserspaceNetwork over them. */
export class FakeStack {
  readonly addresses: readonly Uint8Array[];
  readonly tcp: FakeTcp;
  readonly udp: FakeUdp;
  readonly icmp: FakeIcmp;
  readonly driver: StackDriver;
  readonly network: UserspaceNetwork;
  /** Names the fake DNS knows. */
  readonly names = new Map<string, Uint8Array[]>();

  constructor(addresses: string[] = ['10.0.0.1', '10.0.0.2', 'fd00::1'], tcp: Partial<FakeTcpOptions> = {}) {
    this.addresses = addresses.map(ip);
    const wake = (): void => this.driver.wake();
    this.tcp = new FakeTcp({ ...tcp, addresses: this.addresses, wake });
    this.udp = new FakeUdp(this.addresses, wake);
    this.icmp = new FakeIcmp(this.addresses, wake);
    const parts = [this.tcp, this.udp, this.icmp];
    this.driver = new StackDriver({
      nextDeadline: () => Math.min(...parts.map((p) => p.nextDeadline())),
      poll: () => parts.forEach((p) => p.poll()),
    });
    this.network = new UserspaceNetwork({
      tcp: this.tcp,
      udp: this.udp,
      icmp: this.icmp,
      addresses: this.addresses,
      keeper: this.driver,
      resolve: async (name, family) =>
        (this.names.get(name) ?? [])
          .map((address) => ({ address, family: (address.length === 4 ? 4 : 6) as 4 | 6 }))
          .filter((a) => family === 0 || a.family === family),
    });
  }

  close(): void {
    this.driver.close();
  }
}
