/**
 * A UDP socket of the userspace stack (RFC 768) in dgram.Socket's shape: bind() reports through
 * 'listening' or 'error' on a later tick, send() binds an ephemeral port first when the socket
 * is not bound (as dgram does), each datagram arrives as 'message' with Node's rinfo
 * ({ address, family, port, size }), and close() emits 'close'. A bound, ref'd socket keeps the
 * program alive like a dgram socket's handle.
 *
 * send() errors: a datagram longer than UDP's 65507-byte payload limit is EMSGSIZE before it
 * reaches the stack (Node checks the same); one the stack drops (larger than the MTU, no route)
 * is reported as ENETUNREACH, since the seam's `false` does not say which. Without a callback the
 * error is emitted as 'error', as dgram does. Destinations must be IP literals unless the network
 * gave a resolver.
 */
import { LoopHold } from './loop-hold.js';
import { EventEmitter } from 'node:events';
import type { LoopKeeper } from './driver.js';
import type { TunnelRemoteInfo, TunnelUdpSocket } from './network-types.js';
import type { IpFamily, SocketAddress, UdpApi, UdpBinding } from './types.js';
import { familyName, formatIP, isUnspecified, parseHost } from './addresses.js';
import { systemError } from './socket-errors.js';

/** 65535 - 8 (UDP header) - 20 (IPv4 header): the largest payload Node lets through. */
const MAX_UDP_PAYLOAD = 65507;

export interface UdpSocketOptions {
  readonly udp: UdpApi;
  readonly type: 'udp4' | 'udp6';
  readonly keeper?: LoopKeeper;
  /** Resolves a destination name to address bytes of the socket's family. */
  readonly resolve?: (hostname: string, family: IpFamily) => Promise<Uint8Array>;
}

function codedError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

export class UdpSocket extends EventEmitter implements TunnelUdpSocket {
  readonly #options: UdpSocketOptions;
  readonly #family: IpFamily;
  #binding: UdpBinding | null = null;
  #closed = false;
  readonly #loop: LoopHold;

  constructor(options: UdpSocketOptions, onMessage?: (msg: Buffer, rinfo: TunnelRemoteInfo) => void) {
    super();
    this.#options = options;
    this.#loop = new LoopHold(options.keeper);
    this.#family = options.type === 'udp4' ? 4 : 6;
    if (onMessage !== undefined) this.on('message', onMessage);
  }

  bind(port?: number, address?: string, callback?: () => void): this;
  bind(port?: number, callback?: () => void): this;
  bind(callback?: () => void): this;
  bind(...args: unknown[]): this {
    const callback = typeof args[args.length - 1] === 'function' ? (args.pop() as () => void) : undefined;
    const [port = 0, address] = args as [number?, string?];
    if (this.#closed) throw codedError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
    if (this.#binding !== null) throw codedError('ERR_SOCKET_ALREADY_BOUND', 'Socket is already bound');
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`invalid port ${port}`);
    if (callback !== undefined) this.once('listening', callback);
    const error = this.#bindNow(port, address);
    process.nextTick(() => (error === null ? this.emit('listening') : this.emit('error', error)));
    return this;
  }

  /** Binds synchronously; returns the bind error instead of throwing it. */
  #bindNow(port: number, address: string | undefined): Error | null {
    const shown = address ?? (this.#family === 4 ? '0.0.0.0' : '::');
    const bytes = parseHost(shown);
    if (bytes === null || bytes.length !== (this.#family === 4 ? 4 : 16)) {
      return systemError('bind', 'EINVAL', shown, port);
    }
    try {
      this.#binding = this.#options.udp.bind(
        this.#family,
        isUnspecified(bytes) ? null : bytes,
        port,
        (d, f) => this.#deliver(d, f),
      );
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code !== 'string') throw error;
      return systemError('bind', code, shown, port);
    }
    this.#loop.hold();
    return null;
  }

  #deliver(data: Uint8Array, from: SocketAddress): void {
    if (this.#closed) return;
    const rinfo: TunnelRemoteInfo = {
      address: formatIP(from.address),
      family: familyName(from.address),
      port: from.port,
      size: data.length,
    };
    // The view is valid only during the call: hand the listener a copy.
    this.emit('message', Buffer.from(data), rinfo);
  }

  send(
    msg: Uint8Array | string,
    port: number,
    address: string,
    callback?: (err: Error | null, bytes: number) => void,
  ): void {
    if (this.#closed) throw codedError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
    if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new RangeError(`invalid port ${port}`);
    const data = typeof msg === 'string' ? Buffer.from(msg) : msg;
    const report = (error: Error | null): void => {
      if (callback !== undefined) process.nextTick(() => callback(error, error === null ? data.length : 0));
      else if (error !== null) process.nextTick(() => this.emit('error', error));
    };
    if (this.#binding === null) {
      const error = this.#bindNow(0, undefined);
      if (error !== null) return report(error);
      process.nextTick(() => this.emit('listening'));
    }
    if (data.length > MAX_UDP_PAYLOAD) return report(systemError('send', 'EMSGSIZE', address, port));
    const literal = parseHost(address);
    if (literal !== null) return report(this.#sendTo(data, literal, port, address));
    const resolve = this.#options.resolve;
    if (resolve === undefined) return report(systemError('send', 'EINVAL', address, port));
    resolve(address, this.#family).then(
      (bytes) => report(this.#sendTo(data, bytes, port, address)),
      (error: Error) => report(error),
    );
  }

  #sendTo(data: Uint8Array, destination: Uint8Array, port: number, shown: string): Error | null {
    const binding = this.#binding;
    if (binding === null || this.#closed) return codedError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
    if (destination.length !== (this.#family === 4 ? 4 : 16))
      return systemError('send', 'EINVAL', shown, port);
    return binding.send(data, { address: destination, port })
      ? null
      : systemError('send', 'ENETUNREACH', shown, port);
  }

  close(callback?: () => void): this {
    if (this.#closed) throw codedError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
    this.#closed = true;
    if (callback !== undefined) this.once('close', callback);
    this.#binding?.close();
    this.#loop.release();
    process.nextTick(() => this.emit('close'));
    return this;
  }

  address(): { address: string; family: 'IPv4' | 'IPv6'; port: number } {
    const binding = this.#binding;
    if (binding === null || this.#closed) throw codedError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
    return {
      address: formatIP(binding.local.address),
      family: familyName(binding.local.address),
      port: binding.local.port,
    };
  }

  ref(): this {
    this.#loop.ref(this.#binding !== null && !this.#closed);
    return this;
  }

  unref(): this {
    this.#loop.unref();
    return this;
  }
}
