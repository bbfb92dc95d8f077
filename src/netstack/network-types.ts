/**
 * The network a WireGuard interface gives a Node program, in Node's own shapes (net.Socket,
 * net.Server, dgram.Socket, dns.lookup). The userspace stack implements it (src/netstack/
 * socket*.ts); the proxy mode (src/proxy) and library users consume only this interface, so the
 * proxy's own tests can run it over the host's network too.
 *
 * Addresses are strings here, as in Node ('10.0.0.2', 'fd00::2'); hostnames go through lookup().
 */
import type { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';

/** A TCP connection through the tunnel: a net.Socket-compatible Duplex. */
export interface TunnelSocket extends Duplex {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly remoteFamily: 'IPv4' | 'IPv6' | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  readonly connecting: boolean;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  setKeepAlive(enable?: boolean, initialDelay?: number): this;
  setNoDelay(noDelay?: boolean): this;
  setTimeout(timeout: number, callback?: () => void): this;
  /** net.Socket's ref/unref: an unref'd socket does not keep the event loop alive. */
  ref(): this;
  unref(): this;
}

export interface TunnelConnectOptions {
  /** An IP address or a hostname (resolved through the tunnel's DNS servers). */
  readonly host: string;
  readonly port: number;
  readonly localAddress?: string;
  readonly localPort?: number;
  /** 4 or 6 to pick a family when the host name has both; default: the first answer. */
  readonly family?: 0 | 4 | 6;
  /** Give up connecting after this many ms (error code 'ETIMEDOUT'). */
  readonly timeout?: number;
}

/** A listening TCP server through the tunnel: net.Server's events and methods. */
export interface TunnelServer extends EventEmitter {
  listen(port?: number, host?: string, backlog?: number, callback?: () => void): this;
  listen(port?: number, callback?: () => void): this;
  close(callback?: (err?: Error) => void): this;
  address(): { address: string; family: 'IPv4' | 'IPv6'; port: number } | null;
  readonly listening: boolean;
}

export interface TunnelRemoteInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
  size: number;
}

/** A UDP socket through the tunnel: dgram.Socket's events ('message', 'listening', 'close', 'error'). */
export interface TunnelUdpSocket extends EventEmitter {
  bind(port?: number, address?: string, callback?: () => void): this;
  send(
    msg: Uint8Array | string,
    port: number,
    address: string,
    callback?: (err: Error | null, bytes: number) => void,
  ): void;
  close(callback?: () => void): this;
  address(): { address: string; family: 'IPv4' | 'IPv6'; port: number };
}

export interface TunnelLookupResult {
  readonly address: string;
  readonly family: 4 | 6;
}

export interface TunnelNetwork {
  /** Opens a TCP connection; resolves once established, rejects with Node's codes. */
  connect(options: TunnelConnectOptions): Promise<TunnelSocket>;
  /** net.createConnection's shape, for http.request({ createConnection }) and friends. */
  createConnection(options: TunnelConnectOptions, onConnect?: () => void): TunnelSocket;
  /**
   * `options.allowHalfOpen` (net.Server's, default false): keep our side writable after the peer's
   * FIN, as a proxy forwarding a half-close needs. Optional second argument (a compatible extension).
   */
  createServer(
    onConnection?: (socket: TunnelSocket) => void,
    options?: { readonly allowHalfOpen?: boolean },
  ): TunnelServer;
  createSocket(
    type: 'udp4' | 'udp6',
    onMessage?: (msg: Buffer, rinfo: TunnelRemoteInfo) => void,
  ): TunnelUdpSocket;
  /** Resolves a name through the interface's DNS servers (an IP literal resolves to itself). */
  lookup(hostname: string, family?: 0 | 4 | 6): Promise<TunnelLookupResult[]>;
  /** Sends an ICMP/ICMPv6 echo request; resolves with the round-trip time in ms. */
  ping(address: string, timeoutMs?: number): Promise<number>;
}
