/**
 * ICMP (RFC 792) and ICMPv6 (RFC 4443) for the userspace stack: echo only. Echo requests to one
 * of our unicast addresses are answered (type 8 → 0, 128 → 129, RFC 792 "Echo", RFC 4443 section
 * 4.2) within a token bucket (ECHO_RATE per second, ECHO_BURST at once; beyond it a counted drop);
 * echo replies go to `onEchoReply`; everything else is counted and dropped.
 *
 * No ICMP error is ever generated (no port unreachable, no time exceeded, no parameter problem):
 * the peer on the other side of the tunnel may be hostile, and a stack that answers malformed or
 * unwanted input gives it a reflector and an oracle for free. TCP answers with RST, as it must;
 * UDP to a closed port is silently dropped. Inbound ICMP errors are ignored too: TCP does not act
 * on them (RFC 5927 describes the attacks), and we never send packets large enough to need them.
 */
import type { CountDrop } from './drops.js';
import type { IcmpApi, IpDatagram, IpSender, StackHost } from './types.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6 } from './types.js';

export const ICMP_ECHO_REPLY = 0;
export const ICMP_ECHO_REQUEST = 8;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const ECHO_RATE = 1000;
export const ECHO_BURST = 200;

const ECHO_HEADER_LENGTH = 8;

export class Icmp implements IcmpApi {
  onEchoReply: ((from: Uint8Array, identifier: number, sequence: number, data: Uint8Array) => void) | null =
    null;
  readonly #ip: IpSender;
  readonly #host: StackHost;
  readonly #countDrop: CountDrop;
  readonly #isLocal: (address: Uint8Array) => boolean;
  #tokens = ECHO_BURST;
  #refilledAt: number;

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
    this.#refilledAt = host.now();
  }

  /** An inbound ICMP or ICMPv6 message whose checksum the IP layer verified. */
  receive(datagram: IpDatagram): void {
    const message = datagram.payload;
    if (message.length < ECHO_HEADER_LENGTH) {
      this.#countDrop('short-transport');
      return;
    }
    const v6 = datagram.family === 6;
    const type = message[0]!;
    const code = message[1]!;
    const request = v6 ? ICMPV6_ECHO_REQUEST : ICMP_ECHO_REQUEST;
    const reply = v6 ? ICMPV6_ECHO_REPLY : ICMP_ECHO_REPLY;
    if (code !== 0 || (type !== request && type !== reply)) {
      this.#countDrop('icmp-ignored');
      return;
    }
    const identifier = (message[4]! << 8) | message[5]!;
    const sequence = (message[6]! << 8) | message[7]!;
    const data = message.subarray(ECHO_HEADER_LENGTH);
    if (type === reply) {
      if (this.onEchoReply === null) this.#countDrop('icmp-ignored');
      // Copies: the seam does not limit these to the call, so a listener may keep them.
      else this.onEchoReply(datagram.source.slice(), identifier, sequence, data.slice());
      return;
    }
    // Multicast echo (ff02::1) is not answered: one request must not draw a reply per host.
    if (!this.#isLocal(datagram.destination)) {
      this.#countDrop('icmp-ignored');
      return;
    }
    if (!this.#takeToken()) {
      this.#countDrop('icmp-rate-limited');
      return;
    }
    this.#sendEcho(datagram.destination, datagram.source, reply, identifier, sequence, data);
  }

  echoRequest(destination: Uint8Array, identifier: number, sequence: number, data: Uint8Array): boolean {
    if (destination.length !== 4 && destination.length !== 16) {
      throw new RangeError(`address must be 4 or 16 bytes, got ${destination.length}`);
    }
    const source = this.#ip.sourceFor(destination);
    if (source === null) {
      this.#countDrop('no-source-address');
      return false;
    }
    const type = destination.length === 4 ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST;
    return this.#sendEcho(source, destination, type, identifier, sequence, data);
  }

  #sendEcho(
    source: Uint8Array,
    destination: Uint8Array,
    type: number,
    identifier: number,
    sequence: number,
    data: Uint8Array,
  ): boolean {
    const message = new Uint8Array(ECHO_HEADER_LENGTH + data.length);
    message[0] = type;
    message[4] = (identifier >>> 8) & 0xff;
    message[5] = identifier & 0xff;
    message[6] = (sequence >>> 8) & 0xff;
    message[7] = sequence & 0xff;
    message.set(data, ECHO_HEADER_LENGTH);
    const protocol = destination.length === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
    return this.#ip.send(source, destination, protocol, message, 2);
  }

  #takeToken(): boolean {
    const now = this.#host.now();
    const elapsed = now - this.#refilledAt;
    if (elapsed > 0) {
      this.#tokens = Math.min(ECHO_BURST, this.#tokens + (elapsed * ECHO_RATE) / 1000);
      this.#refilledAt = now;
    }
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
