/**
 * NetStack: the userspace stack's IP layer (RFC 791, RFC 8200; host requirements of RFC 1122
 * section 3.2 and RFC 8504) and its composition with ICMP, UDP and whatever transports are
 * registered (TCP). Sans-I/O: decrypted IP packets go in through input(), finished IP packets
 * leave through the output callback, time comes from StackHost.
 *
 * Every inbound datagram is checked once, here: version, lengths, header checksum, fragments
 * (refused, see ipv4.ts), a sane source, a destination that is ours (or, for ICMPv6 only, the
 * all-nodes or one of our solicited-node groups), and the transport checksum with the
 * pseudo-header (TCP, UDP, ICMPv6; ICMPv4 plain; a zero UDP checksum is accepted on IPv4 only).
 * Anything refused is counted in `drops` by reason; nothing here throws on network input.
 */
import { checksumVerifies, pseudoHeaderSum } from './checksum.js';
import { newDropCounts, type NetstackDropReason } from './drops.js';
import { Icmp } from './icmp.js';
import { buildDatagram, datagramLength } from './ip-output.js';
import { isBadIpv4Source, parseIpv4 } from './ipv4.js';
import { isBadIpv6Source, isGroupWeHear, parseIpv6 } from './ipv6.js';
import type { IpDatagram, IpSender, StackHost, TransportProtocol } from './types.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP } from './types.js';
import { Udp } from './udp.js';

export interface NetStackOptions {
  /** The interface's addresses (4 or 16 bytes each). */
  readonly addresses: readonly Uint8Array[];
  /** Link MTU including the IP header (e.g. 1420). */
  readonly mtu: number;
  readonly host: StackHost;
  /** One finished IP packet; the receiver owns the buffer. */
  readonly output: (packet: Uint8Array) => void;
}

/** The smallest MTU IPv4 allows (RFC 791: 68); IPv6 needs 1280 but a v4-only link may be smaller. */
export const MIN_MTU = 68;

function checkMtu(mtu: number): void {
  if (!Number.isInteger(mtu) || mtu < MIN_MTU || mtu > 65535) {
    throw new RangeError(`MTU must be an integer ${MIN_MTU}..65535, got ${mtu}`);
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class NetStack {
  readonly ip: IpSender;
  readonly udp: Udp;
  readonly icmp: Icmp;
  readonly #drops = newDropCounts();
  readonly #host: StackHost;
  readonly #output: (packet: Uint8Array) => void;
  readonly #transports = new Map<number, TransportProtocol>();
  #addresses: Uint8Array[] = [];
  #mtu: number;
  #identification: number;

  constructor(options: NetStackOptions) {
    checkMtu(options.mtu);
    this.#mtu = options.mtu;
    this.#host = options.host;
    this.#output = options.output;
    this.setAddresses(options.addresses);
    const r = options.host.random(2);
    this.#identification = (r[0]! << 8) | r[1]!;
    const countDrop = (reason: NetstackDropReason): void => {
      this.#drops[reason] += 1;
    };
    const isLocal = (address: Uint8Array): boolean => this.#isLocal(address);
    const currentMtu = (): number => this.#mtu;
    this.ip = {
      send: (source, destination, protocol, payload, checksumOffset) =>
        this.#send(source, destination, protocol, payload, checksumOffset),
      get mtu() {
        return currentMtu();
      },
      sourceFor: (destination) => this.#sourceFor(destination),
    };
    this.udp = new Udp(this.ip, options.host, countDrop, isLocal);
    this.icmp = new Icmp(this.ip, options.host, countDrop, isLocal);
  }

  /** Counted drops by reason. */
  get drops(): Readonly<Record<NetstackDropReason, number>> {
    return this.#drops;
  }

  get mtu(): number {
    return this.#mtu;
  }

  get addresses(): readonly Uint8Array[] {
    return this.#addresses;
  }

  /** Registers a transport (TCP) for its protocol number; UDP and ICMP are built in. */
  register(transport: TransportProtocol): void {
    const p = transport.protocol;
    if (p === IPPROTO_UDP || p === IPPROTO_ICMP || p === IPPROTO_ICMPV6 || this.#transports.has(p)) {
      throw new Error(`protocol ${p} is already handled`);
    }
    this.#transports.set(p, transport);
  }

  setAddresses(addresses: readonly Uint8Array[]): void {
    for (const a of addresses) {
      if (a.length !== 4 && a.length !== 16)
        throw new RangeError(`address must be 4 or 16 bytes, got ${a.length}`);
    }
    this.#addresses = addresses.map((a) => Uint8Array.from(a));
  }

  setMtu(mtu: number): void {
    checkMtu(mtu);
    this.#mtu = mtu;
    this.#host.wake();
  }

  /** A batch of decrypted IP packets (views valid only during the call); transports flush at the end. */
  input(packets: readonly Uint8Array[]): void {
    for (const packet of packets) this.#receive(packet);
    for (const transport of this.#transports.values()) transport.flush?.();
  }

  nextDeadline(): number {
    let deadline = Infinity;
    for (const transport of this.#transports.values())
      deadline = Math.min(deadline, transport.nextDeadline());
    return deadline;
  }

  poll(): void {
    const now = this.#host.now();
    for (const transport of this.#transports.values()) {
      if (transport.nextDeadline() <= now) transport.poll();
    }
  }

  #isLocal(address: Uint8Array): boolean {
    for (const a of this.#addresses) if (equalBytes(a, address)) return true;
    return false;
  }

  #sourceFor(destination: Uint8Array): Uint8Array | null {
    for (const a of this.#addresses) if (a.length === destination.length) return a;
    return null;
  }

  #receive(packet: Uint8Array): void {
    const version = packet.length > 0 ? packet[0]! >> 4 : 0;
    let datagram: IpDatagram;
    if (version === 4) {
      const p = parseIpv4(packet);
      if (typeof p === 'string') return this.#drop(p);
      if (isBadIpv4Source(p.source)) return this.#drop('bad-source');
      if (!this.#isLocal(p.destination)) return this.#drop('not-our-address');
      datagram = {
        family: 4,
        source: p.source,
        destination: p.destination,
        protocol: p.protocol,
        payload: p.payload,
        hopLimit: p.ttl,
      };
    } else if (version === 6) {
      const p = parseIpv6(packet);
      if (typeof p === 'string') return this.#drop(p);
      if (isBadIpv6Source(p.source)) return this.#drop('bad-source');
      if (!this.#isLocal(p.destination)) {
        if (p.protocol !== IPPROTO_ICMPV6 || !isGroupWeHear(p.destination, this.#addresses)) {
          return this.#drop('not-our-address');
        }
      }
      datagram = {
        family: 6,
        source: p.source,
        destination: p.destination,
        protocol: p.protocol,
        payload: p.payload,
        hopLimit: p.hopLimit,
      };
    } else {
      return this.#drop('bad-version');
    }
    this.#deliver(datagram);
  }

  #deliver(d: IpDatagram): void {
    let payload = d.payload;
    const protocol = d.protocol;
    if (protocol === IPPROTO_UDP) {
      if (payload.length < 8) return this.#drop('short-transport');
      const length = (payload[4]! << 8) | payload[5]!;
      if (length < 8 || length > payload.length) return this.#drop('bad-udp-length');
      payload = payload.subarray(0, length);
      const zero = payload[6] === 0 && payload[7] === 0;
      if (zero && d.family === 6) return this.#drop('bad-transport-checksum');
      if (!zero && !this.#pseudoVerifies(d, payload)) return this.#drop('bad-transport-checksum');
      this.udp.receive(payload === d.payload ? d : { ...d, payload });
      return;
    }
    if (protocol === IPPROTO_ICMP || protocol === IPPROTO_ICMPV6) {
      if ((protocol === IPPROTO_ICMP) !== (d.family === 4)) return this.#drop('unknown-protocol');
      const ok = protocol === IPPROTO_ICMP ? checksumVerifies(payload) : this.#pseudoVerifies(d, payload);
      if (!ok) return this.#drop('bad-transport-checksum');
      this.icmp.receive(d);
      return;
    }
    const transport = this.#transports.get(protocol);
    if (transport === undefined) return this.#drop('unknown-protocol');
    if (protocol === IPPROTO_TCP && payload.length < 20) return this.#drop('short-transport');
    if (!this.#pseudoVerifies(d, payload)) return this.#drop('bad-transport-checksum');
    transport.receive(d);
  }

  #pseudoVerifies(d: IpDatagram, payload: Uint8Array): boolean {
    return checksumVerifies(payload, pseudoHeaderSum(d.source, d.destination, d.protocol, payload.length));
  }

  #drop(reason: NetstackDropReason): void {
    this.#drops[reason] += 1;
  }

  #send(
    source: Uint8Array,
    destination: Uint8Array,
    protocol: number,
    payload: Uint8Array,
    checksumOffset: number,
  ): boolean {
    if (source.length !== destination.length || !this.#isLocal(source)) {
      this.#drop('no-source-address');
      return false;
    }
    // IPv6's payload length is 16 bits as well: no jumbograms (RFC 2675) over a tunnel.
    if (datagramLength(source, payload.length) > this.#mtu || payload.length > 65535) {
      this.#drop('too-big');
      return false;
    }
    const packet = buildDatagram(
      source,
      destination,
      protocol,
      payload,
      checksumOffset,
      this.#identification,
    );
    if (source.length === 4) this.#identification = (this.#identification + 1) & 0xffff;
    this.#output(packet);
    return true;
  }
}
