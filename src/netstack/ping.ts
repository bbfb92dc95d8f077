/**
 * Ping over the userspace stack: ICMP Echo (RFC 792) and ICMPv6 Echo (RFC 4443 section 4.1) via
 * IcmpApi. The stack has one echo-reply listener, so this multiplexes: each Pinger uses one
 * random identifier and a sequence number per outstanding request, and a reply is matched by
 * identifier, sequence, source address and echoed data (a stale or forged reply matches nothing
 * and is counted, not thrown). A request with no reply within its timeout fails with code
 * ETIMEDOUT; one the stack refuses to send fails with EHOSTUNREACH.
 */
import type { IcmpApi } from './types.js';
import { formatIP, sameAddress } from './addresses.js';
import { systemError } from './socket-errors.js';

export interface PingerOptions {
  /** Monotonic ms for round-trip times (default performance.now). */
  readonly now?: () => number;
  /** Random bytes for the identifier and the payload tag. */
  readonly random: (n: number) => Uint8Array;
}

interface Outstanding {
  readonly destination: Uint8Array;
  readonly data: Uint8Array;
  readonly sentAt: number;
  readonly resolve: (rtt: number) => void;
  readonly timer: NodeJS.Timeout;
}

/** 16 bytes of payload: enough to tell our replies from anyone else's. */
const PAYLOAD_BYTES = 16;

export class Pinger {
  readonly #icmp: IcmpApi;
  readonly #now: () => number;
  readonly #random: (n: number) => Uint8Array;
  readonly #identifier: number;
  #sequence = 0;
  readonly #outstanding = new Map<number, Outstanding>();
  /** Echo replies that matched no outstanding request (late, duplicated or foreign). */
  unmatchedReplies = 0;

  constructor(icmp: IcmpApi, options: PingerOptions) {
    this.#icmp = icmp;
    this.#now = options.now ?? (() => performance.now());
    this.#random = options.random;
    const id = this.#random(2);
    this.#identifier = ((id[0] ?? 0) << 8) | (id[1] ?? 0);
    icmp.onEchoReply = (from, identifier, sequence, data) => this.#onReply(from, identifier, sequence, data);
  }

  get identifier(): number {
    return this.#identifier;
  }

  /** Requests still waiting for a reply. */
  get outstanding(): number {
    return this.#outstanding.size;
  }

  /** Sends one echo request; resolves with the round-trip time in ms. */
  ping(destination: Uint8Array, timeoutMs: number): Promise<number> {
    if (!(timeoutMs > 0)) throw new RangeError(`invalid ping timeout ${timeoutMs}`);
    const shown = formatIP(destination);
    if (this.#outstanding.size >= 0x10000) {
      return Promise.reject(systemError('ping', 'ENOBUFS', shown));
    }
    let sequence = this.#sequence;
    while (this.#outstanding.has(sequence)) sequence = (sequence + 1) & 0xffff;
    this.#sequence = (sequence + 1) & 0xffff;
    const data = this.#random(PAYLOAD_BYTES);
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#outstanding.delete(sequence);
        reject(systemError('ping', 'ETIMEDOUT', shown));
      }, timeoutMs);
      this.#outstanding.set(sequence, {
        destination: Uint8Array.from(destination),
        data,
        sentAt: this.#now(),
        resolve,
        timer,
      });
      if (!this.#icmp.echoRequest(destination, this.#identifier, sequence, data)) {
        clearTimeout(timer);
        this.#outstanding.delete(sequence);
        reject(systemError('ping', 'EHOSTUNREACH', shown));
      }
    });
  }

  #onReply(from: Uint8Array, identifier: number, sequence: number, data: Uint8Array): void {
    const entry = this.#outstanding.get(sequence);
    if (
      identifier !== this.#identifier ||
      entry === undefined ||
      !sameAddress(from, entry.destination) ||
      !sameAddress(data, entry.data)
    ) {
      this.unmatchedReplies++;
      return;
    }
    this.#outstanding.delete(sequence);
    clearTimeout(entry.timer);
    entry.resolve(Math.max(0, this.#now() - entry.sentAt));
  }
}
