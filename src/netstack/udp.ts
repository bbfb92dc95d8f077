/**
 * UDP (RFC 768) for the userspace stack: bindings by family and port, sending, and synchronous
 * delivery to the binding's callback. The IP layer has already checked the length field and the
 * checksum (zero allowed on IPv4 only, RFC 8200 section 8.1), and cut the payload to the UDP length.
 *
 * A datagram to a port nobody bound is dropped silently (counted as 'udp-no-listener'): no ICMP
 * port unreachable goes back, so a hostile peer can neither scan our ports nor draw traffic (see
 * icmp.ts). Nothing is queued per binding: delivery happens inside NetStack.input.
 *
 * Ephemeral ports (port 0) are drawn at random from 49152–65535 (RFC 6335 section 6, RFC 6056
 * algorithm 1), retrying on collision, then a scan; IPv4 and IPv6 have separate port spaces.
 */
import type { CountDrop } from './drops.js';
import type {
  IpDatagram,
  IpFamily,
  IpSender,
  SocketAddress,
  StackHost,
  UdpApi,
  UdpBinding,
} from './types.js';
import { IPPROTO_UDP } from './types.js';

export const UDP_HEADER_LENGTH = 8;
export const EPHEMERAL_FIRST = 49152;
export const EPHEMERAL_LAST = 65535;
const RANDOM_TRIES = 32;

type OnMessage = (data: Uint8Array, from: SocketAddress, to: Uint8Array) => void;

function sameAddress(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function codedError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

class Binding implements UdpBinding {
  readonly local: SocketAddress;
  closed = false;
  constructor(
    readonly owner: Udp,
    readonly family: IpFamily,
    /** null: every local address of the family. */
    readonly address: Uint8Array | null,
    port: number,
    readonly onMessage: OnMessage,
  ) {
    const any = new Uint8Array(family === 4 ? 4 : 16);
    this.local = { address: address ?? any, port };
  }

  send(data: Uint8Array, remote: SocketAddress): boolean {
    return this.owner.sendFrom(this, data, remote);
  }

  close(): void {
    this.owner.unbind(this);
  }
}

export class Udp implements UdpApi {
  readonly #ip: IpSender;
  readonly #host: StackHost;
  readonly #countDrop: CountDrop;
  readonly #isLocal: (address: Uint8Array) => boolean;
  /** Bindings by family * 65536 + port; a handful per port at most (one per local address). */
  readonly #bindings = new Map<number, Binding[]>();

  /** Live bindings (sockets bound), for leak checks. */
  get bindingCount(): number {
    let n = 0;
    for (const list of this.#bindings.values()) n += list.length;
    return n;
  }

  constructor(
    ip: IpSender,
    host: StackHost,
    countDrop: CountDrop,
    isLocal: (address: Uint8Array) => boolean,
  ) {
    this.#ip = ip;
    this.#host = host;
    this.#countDrop = countDrop;
    this.#isLocal = isLocal;
  }

  /** How many bindings are open (for tests that check nothing leaks). */
  get size(): number {
    let n = 0;
    for (const list of this.#bindings.values()) n += list.length;
    return n;
  }

  bind(family: IpFamily, address: Uint8Array | null, port: number, onMessage: OnMessage): UdpBinding {
    if (family !== 4 && family !== 6) throw new RangeError(`family must be 4 or 6, got ${String(family)}`);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`bad port ${port}`);
    if (address !== null) {
      if (address.length !== (family === 4 ? 4 : 16))
        throw new RangeError('address length does not match family');
      if (!this.#isLocal(address)) throw codedError('EADDRNOTAVAIL', 'not a local address');
      address = Uint8Array.from(address);
    }
    if (port === 0) port = this.#ephemeral(family, address);
    else if (this.#conflicts(family, address, port)) throw codedError('EADDRINUSE', `port ${port} in use`);
    const binding = new Binding(this, family, address, port, onMessage);
    const key = family * 65536 + port;
    const list = this.#bindings.get(key);
    if (list === undefined) this.#bindings.set(key, [binding]);
    else list.push(binding);
    return binding;
  }

  #conflicts(family: IpFamily, address: Uint8Array | null, port: number): boolean {
    const list = this.#bindings.get(family * 65536 + port);
    if (list === undefined) return false;
    if (address === null) return list.length > 0;
    return list.some((b) => b.address === null || sameAddress(b.address, address));
  }

  #ephemeral(family: IpFamily, address: Uint8Array | null): number {
    const span = EPHEMERAL_LAST - EPHEMERAL_FIRST + 1;
    for (let i = 0; i < RANDOM_TRIES; i++) {
      const r = this.#host.random(2);
      const port = EPHEMERAL_FIRST + (((r[0]! << 8) | r[1]!) % span);
      if (!this.#conflicts(family, address, port)) return port;
    }
    for (let port = EPHEMERAL_FIRST; port <= EPHEMERAL_LAST; port++) {
      if (!this.#conflicts(family, address, port)) return port;
    }
    throw codedError('EADDRINUSE', 'no free ephemeral port');
  }

  /** @internal Binding.close. Idempotent. */
  unbind(binding: Binding): void {
    if (binding.closed) return;
    binding.closed = true;
    const key = binding.family * 65536 + binding.local.port;
    const list = this.#bindings.get(key);
    if (list === undefined) return;
    const i = list.indexOf(binding);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#bindings.delete(key);
  }

  /** @internal Binding.send. */
  sendFrom(binding: Binding, data: Uint8Array, remote: SocketAddress): boolean {
    if (binding.closed) return false;
    const family = remote.address.length === 4 ? 4 : remote.address.length === 16 ? 6 : 0;
    if (family !== binding.family) return false;
    if (!Number.isInteger(remote.port) || remote.port < 1 || remote.port > 65535) return false;
    const length = UDP_HEADER_LENGTH + data.length;
    if (length > 65535) {
      this.#countDrop('too-big');
      return false;
    }
    const source = binding.address ?? this.#ip.sourceFor(remote.address);
    if (source === null) {
      this.#countDrop('no-source-address');
      return false;
    }
    const payload = new Uint8Array(length);
    payload[0] = binding.local.port >>> 8;
    payload[1] = binding.local.port & 0xff;
    payload[2] = remote.port >>> 8;
    payload[3] = remote.port & 0xff;
    payload[4] = length >>> 8;
    payload[5] = length & 0xff;
    payload.set(data, UDP_HEADER_LENGTH);
    return this.#ip.send(source, remote.address, IPPROTO_UDP, payload, 6);
  }

  /** An inbound datagram, checked and cut to the UDP length by the IP layer. */
  receive(datagram: IpDatagram): void {
    const p = datagram.payload;
    const port = (p[2]! << 8) | p[3]!;
    const list = this.#bindings.get(datagram.family * 65536 + port);
    let target: Binding | undefined;
    if (list !== undefined) {
      target = list.find((b) => b.address !== null && sameAddress(b.address, datagram.destination));
      target ??= list.find((b) => b.address === null);
    }
    if (target === undefined) {
      this.#countDrop('udp-no-listener');
      return;
    }
    const from: SocketAddress = { address: datagram.source, port: (p[0]! << 8) | p[1]! };
    target.onMessage(p.subarray(UDP_HEADER_LENGTH), from, datagram.destination);
  }
}
