/**
 * The TunnelNetwork facade (src/netstack/network-types.ts) over the userspace stack's seams
 * (TcpApi, UdpApi, IcmpApi in src/netstack/types.ts): what a Node program or the proxy mode uses
 * to open connections, listen, send datagrams, resolve names and ping through a WireGuard
 * interface without root. IP literals go straight to the stack; names go through `resolve` (the
 * interface's DNS servers, RFC 1035), and a name with no usable answer fails like getaddrinfo
 * ('getaddrinfo ENOTFOUND name'). Connection errors carry net.Socket's codes and messages.
 */
import { randomBytes } from 'node:crypto';
import type { LoopKeeper } from './driver.js';
import type {
  TunnelConnectOptions,
  TunnelLookupResult,
  TunnelNetwork,
  TunnelRemoteInfo,
  TunnelServer,
  TunnelSocket,
  TunnelUdpSocket,
} from './network-types.js';
import type { IcmpApi, IpFamily, SocketAddress, TcpApi, UdpApi } from './types.js';
import { familyOf, formatIP, parseHost } from './addresses.js';
import { Pinger } from './ping.js';
import { lookupError, systemError } from './socket-errors.js';
import { TcpServer } from './socket-server.js';
import { TcpSocket } from './socket.js';
import { UdpSocket } from './udp-socket.js';

export interface UserspaceNetworkOptions {
  readonly tcp: TcpApi;
  readonly udp: UdpApi;
  readonly icmp: IcmpApi;
  /** The interface's own addresses (4 or 16 bytes each). */
  readonly addresses: readonly Uint8Array[];
  /** Name resolution through the tunnel's DNS servers (family 0: any). */
  readonly resolve: (name: string, family: 0 | 4 | 6) => Promise<{ address: Uint8Array; family: 4 | 6 }[]>;
  /** Open ref'd sockets count here (the StackDriver) so the program stays up while they are. */
  readonly keeper?: LoopKeeper;
  /** Random bytes for ping identifiers (default node:crypto). */
  readonly random?: (n: number) => Uint8Array;
  /** Monotonic ms for ping round-trip times (default performance.now). */
  readonly now?: () => number;
}

/** How long ping() waits for a reply unless told. */
export const DEFAULT_PING_TIMEOUT_MS = 5000;

export class UserspaceNetwork implements TunnelNetwork {
  readonly #options: UserspaceNetworkOptions;
  #pinger: Pinger | null = null;

  constructor(options: UserspaceNetworkOptions) {
    this.#options = options;
  }

  get #keeper(): { keeper?: LoopKeeper } {
    return this.#options.keeper !== undefined ? { keeper: this.#options.keeper } : {};
  }

  async lookup(hostname: string, family: 0 | 4 | 6 = 0): Promise<TunnelLookupResult[]> {
    const literal = parseHost(hostname);
    if (literal !== null) return [{ address: formatIP(literal), family: familyOf(literal) }];
    const answers = await this.#options.resolve(hostname, family);
    const usable = answers.filter((a) => family === 0 || a.family === family);
    if (usable.length === 0) throw lookupError(hostname);
    return usable.map((a) => ({ address: formatIP(a.address), family: a.family }));
  }

  /** The first address for `host`: the literal itself, else the first answer of `family`. */
  async #resolveOne(host: string, family: 0 | 4 | 6): Promise<Uint8Array> {
    const literal = parseHost(host);
    if (literal !== null) return literal;
    const [first] = await this.lookup(host, family);
    const bytes = first === undefined ? null : parseHost(first.address);
    if (bytes === null) throw lookupError(host);
    return bytes;
  }

  createConnection(options: TunnelConnectOptions, onConnect?: () => void): TunnelSocket {
    const { host, port } = options;
    if (!Number.isInteger(port) || port <= 0 || port > 65535) {
      throw Object.assign(new RangeError(`Port should be > 0 and < 65536. Received ${port}.`), {
        code: 'ERR_SOCKET_BAD_PORT',
      });
    }
    const socket = new TcpSocket(this.#keeper);
    if (onConnect !== undefined) socket.once('connect', onConnect);
    socket.beginConnect(host, port, options.timeout);
    let local: Partial<SocketAddress> = {};
    if (options.localAddress !== undefined) {
      const bytes = parseHost(options.localAddress);
      if (bytes === null) {
        socket.destroy(systemError('connect', 'EADDRNOTAVAIL', options.localAddress, options.localPort));
        return socket;
      }
      local = { address: bytes };
    }
    if (options.localPort !== undefined) local = { ...local, port: options.localPort };
    const open = (address: Uint8Array): void =>
      socket.openConnection((events) => this.#options.tcp.connect({ address, port }, events, local));
    const literal = parseHost(host);
    if (literal !== null) {
      open(literal);
    } else {
      this.#resolveOne(host, options.family ?? 0).then(open, (error: Error) => socket.destroy(error));
    }
    return socket;
  }

  connect(options: TunnelConnectOptions): Promise<TunnelSocket> {
    return new Promise((resolve, reject) => {
      const socket = this.createConnection(options);
      const onError = (error: Error): void => reject(error);
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.removeListener('error', onError);
        resolve(socket);
      });
    });
  }

  createServer(
    onConnection?: (socket: TunnelSocket) => void,
    options?: { readonly allowHalfOpen?: boolean },
  ): TunnelServer {
    return new TcpServer(
      {
        tcp: this.#options.tcp,
        addresses: this.#options.addresses,
        ...this.#keeper,
        ...(options?.allowHalfOpen === undefined ? {} : { allowHalfOpen: options.allowHalfOpen }),
      },
      onConnection,
    );
  }

  createSocket(
    type: 'udp4' | 'udp6',
    onMessage?: (msg: Buffer, rinfo: TunnelRemoteInfo) => void,
  ): TunnelUdpSocket {
    const resolve = (name: string, family: IpFamily): Promise<Uint8Array> => this.#resolveOne(name, family);
    return new UdpSocket({ udp: this.#options.udp, type, resolve, ...this.#keeper }, onMessage);
  }

  async ping(address: string, timeoutMs = DEFAULT_PING_TIMEOUT_MS): Promise<number> {
    const destination = await this.#resolveOne(address, 0);
    this.#pinger ??= new Pinger(this.#options.icmp, {
      random: this.#options.random ?? ((n) => randomBytes(n)),
      ...(this.#options.now !== undefined ? { now: this.#options.now } : {}),
    });
    return this.#pinger.ping(destination, timeoutMs);
  }
}
