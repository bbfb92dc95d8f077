/**
 * The TUN side of a rootless interface (the `TunDevice` of src/io/tun.ts, without a kernel link):
 * what wireguard-go's tun/netstack does with a channel endpoint. Decrypted IP packets the device
 * writes go to the userspace network stack (`attach`); packets the stack sends out come back in
 * through `deliver` and reach the device in batches, one batch per microtask, so a stack that
 * emits a burst (a TCP window's worth of segments) is encrypted and sent in one device call, as
 * a kernel TUN read of several packets would be.
 *
 * Ownership: `write` hands the device's packets to the receiver for the duration of the call only
 * (the same contract as TunDevice.start's batches: copy what you keep). `deliver` takes the packet
 * over: the stack must not modify its bytes afterwards (the device reads them in the microtask).
 * Packets that arrive with nobody to take them (before start or attach, after close) are dropped
 * and counted in `stats`, never thrown.
 */
import type { TunDevice } from '../io/tun.js';

/** Largest MTU accepted: the largest IP packet (as for a kernel TUN). */
const MAX_MTU = 65535;
/** Smallest: IPv4's minimum datagram every link must carry (RFC 791). */
const MIN_MTU = 68;

export interface UserspaceTunStats {
  /** Packets the stack handed to deliver() that reached the device. */
  delivered: number;
  /** Decrypted packets the device wrote that reached the receiver. */
  written: number;
  /** Packets dropped for want of a taker (not started, not attached, or closed). */
  dropped: number;
}

/** Takes the device's decrypted packets (the views are valid only during the call). */
export type PacketReceiver = (packets: readonly Uint8Array[]) => void;

export class UserspaceTun implements TunDevice {
  readonly name = 'userspace';
  readonly ifindex = 0;
  readonly stats: UserspaceTunStats = { delivered: 0, written: 0, dropped: 0 };
  #mtu: number;
  #onPackets: ((packets: Uint8Array[]) => void) | null = null;
  #receiver: PacketReceiver | null = null;
  #pending: Uint8Array[] = [];
  #scheduled = false;
  #closed = false;

  constructor(mtu = 1420) {
    checkMtu(mtu);
    this.#mtu = mtu;
  }

  get mtu(): number {
    return this.#mtu;
  }

  get closed(): boolean {
    return this.#closed;
  }

  setMtu(mtu: number): void {
    checkMtu(mtu);
    this.#mtu = mtu;
  }

  /** The device starts reading: delivered packets go to `onPackets` from now on. */
  start(onPackets: (packets: Uint8Array[]) => void, _onError: (err: Error) => void): void {
    if (this.#closed) throw new Error('the userspace TUN is closed');
    this.#onPackets = onPackets;
  }

  /** Sets who receives the device's decrypted packets (the stack's input); one receiver. */
  attach(receiver: PacketReceiver): void {
    if (this.#closed) throw new Error('the userspace TUN is closed');
    this.#receiver = receiver;
  }

  /** The device's decrypted packets, handed on to the receiver in the same batch. */
  write(packets: readonly Uint8Array[]): void {
    if (packets.length === 0) return;
    const receiver = this.#receiver;
    if (receiver === null || this.#closed) {
      this.stats.dropped += packets.length;
      return;
    }
    this.stats.written += packets.length;
    receiver(packets);
  }

  /**
   * A packet the stack sends (its output): queued for the device, which gets every packet
   * delivered in this turn as one batch in a microtask. Returns false when it was dropped (closed).
   */
  deliver(packet: Uint8Array): boolean {
    if (this.#closed) {
      this.stats.dropped++;
      return false;
    }
    this.#pending.push(packet);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.#flush());
    }
    return true;
  }

  #flush(): void {
    this.#scheduled = false;
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    const onPackets = this.#onPackets;
    if (onPackets === null || this.#closed) {
      this.stats.dropped += batch.length;
      return;
    }
    this.stats.delivered += batch.length;
    onPackets(batch);
  }

  /** Drops anything queued and lets go of the device and the receiver. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.stats.dropped += this.#pending.length;
    this.#pending = [];
    this.#onPackets = null;
    this.#receiver = null;
  }
}

function checkMtu(mtu: number): void {
  if (!Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU) {
    throw new RangeError(`MTU must be an integer ${MIN_MTU}..${MAX_MTU}, got ${mtu}`);
  }
}
