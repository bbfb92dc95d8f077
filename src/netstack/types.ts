/**
 * The seams of the userspace network stack (src/netstack), in one place. The stack is sans-I/O
 * like the protocol core: IP packets and time go in, IP packets and events come out. Layers:
 *
 *   device (decrypted IP packets) ──► NetStack.input ──► IP layer (RFC 791 / RFC 8200): header,
 *   length and checksum checks, once ──► TransportProtocol.receive (TCP RFC 9293, UDP RFC 768,
 *   ICMP RFC 792 / ICMPv6 RFC 4443) ──► the socket layer (Node shapes, src/netstack/socket*)
 *
 *   sockets ──► TcpApi / UdpApi / IcmpApi ──► IpSender.send (the IP layer adds the header and
 *   the transport checksum) ──► NetStack output ──► device (encrypt, send)
 *
 * Addresses are raw bytes (4 for IPv4, 16 for IPv6); the family is the length. Time is a
 * monotonic millisecond count from StackHost.now. No layer reads the clock or arms a timer of its
 * own: each reports its earliest deadline and does its timed work in poll(), and calls
 * StackHost.wake() when an API call may have moved a deadline earlier, so the driver re-arms.
 */

export type IpFamily = 4 | 6;

/** What every layer gets from whoever drives the stack (a fake in tests). */
export interface StackHost {
  /** Monotonic milliseconds. */
  now(): number;
  /** Cryptographically random bytes (initial sequence numbers, ephemeral ports, DNS ids). */
  random(n: number): Uint8Array;
  /** A deadline may have moved earlier (or work is pending): the driver should call poll soon. */
  wake(): void;
}

/** IANA protocol numbers used here. */
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;

/**
 * An inbound datagram after the IP layer checked it: version, header and total length, that the
 * destination is one of the stack's addresses (or a multicast group it must hear, for ICMPv6),
 * and the transport checksum (TCP, UDP, ICMPv6 with the pseudo-header; ICMPv4 plain). The views
 * are valid only during the call: copy what you keep.
 */
export interface IpDatagram {
  readonly family: IpFamily;
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
  /** The upper-layer protocol (for IPv6, after any extension headers). */
  readonly protocol: number;
  /** The transport header and data. */
  readonly payload: Uint8Array;
  readonly hopLimit: number;
}

/** The IP layer as the transports see it. */
export interface IpSender {
  /**
   * Sends `payload` (a transport header and data) from `source` to `destination`. The IP layer
   * writes the IP header, and the transport checksum at `checksumOffset` within the payload
   * (-1: none; the field must be zero on entry). Returns false when the datagram was dropped
   * (no such local address, larger than the MTU, or the output refused it).
   */
  send(
    source: Uint8Array,
    destination: Uint8Array,
    protocol: number,
    payload: Uint8Array,
    checksumOffset: number,
  ): boolean;
  /** The link MTU (IP header included): TCP's MSS is mtu - 40 (IPv4) or mtu - 60 (IPv6). */
  readonly mtu: number;
  /** The local address to use towards `destination` (same family), or null when there is none. */
  sourceFor(destination: Uint8Array): Uint8Array | null;
}

/** A transport protocol registered with the IP layer. */
export interface TransportProtocol {
  readonly protocol: number;
  receive(datagram: IpDatagram): void;
  /** The earliest monotonic ms at which poll() has work, or Infinity. */
  nextDeadline(): number;
  poll(): void;
  /**
   * The end of an input batch (NetStack.input takes the packets of one device batch): a transport
   * may hold work until here, as TCP holds acknowledgements so that one ACK covers a batch.
   */
  flush?(): void;
}

/** A transport endpoint: address bytes (4 or 16) and port. */
export interface SocketAddress {
  readonly address: Uint8Array;
  readonly port: number;
}

/** Errors a connection can end with, as Node names them. */
export type TcpErrorCode = 'ECONNREFUSED' | 'ECONNRESET' | 'ETIMEDOUT' | 'ECONNABORTED' | 'EPIPE';

/** RFC 9293 section 3.3.2's state names. */
export type TcpStateName =
  | 'CLOSED'
  | 'LISTEN'
  | 'SYN-SENT'
  | 'SYN-RECEIVED'
  | 'ESTABLISHED'
  | 'FIN-WAIT-1'
  | 'FIN-WAIT-2'
  | 'CLOSE-WAIT'
  | 'CLOSING'
  | 'LAST-ACK'
  | 'TIME-WAIT';

/** What a TCP connection tells its user. Every callback runs synchronously inside stack calls. */
export interface TcpConnectionEvents {
  /** The three-way handshake completed (active open). Passive opens arrive established. */
  onEstablished(): void;
  /**
   * In-order data. The view is valid only during the call (copy it). Delivered bytes occupy the
   * receive window until consume() releases them, so a user that stops consuming closes the
   * window (flow control, RFC 9293 section 3.8.6).
   */
  onData(data: Uint8Array): void;
  /** The peer's FIN was reached in sequence: no more data will arrive. */
  onEnd(): void;
  /** Send-buffer space was freed (acknowledged data): write() takes more again. */
  onDrain(): void;
  /** The connection is gone: null after an orderly close, else why. Called once, and last. */
  onClose(error: TcpErrorCode | null): void;
}

export interface TcpConnection {
  readonly local: SocketAddress;
  readonly remote: SocketAddress;
  readonly state: TcpStateName;
  /** Sets the callbacks (a passive open is handed over before any are set). */
  setEvents(events: TcpConnectionEvents): void;
  /** Copies as much of `data` as the send buffer has room for; returns the bytes taken. */
  write(data: Uint8Array): number;
  /** Free bytes in the send buffer. */
  readonly writable: number;
  /** The user finished with `n` bytes given to onData: they leave the receive window. */
  consume(n: number): void;
  /** Sends FIN after the buffered data (half close; data may still arrive). Idempotent. */
  shutdown(): void;
  /**
   * The user is gone but the close is orderly (close(2) with nothing unread): FIN after the
   * buffered data, no more events, arriving data discarded, FIN-WAIT-2 bounded in time.
   */
  release?(): void;
  /** Sends RST and forgets the connection; onClose(null) is not called after abort. */
  abort(): void;
  /** TCP keepalive (RFC 9293 section 3.8.4): probes after `idleMs` without traffic. */
  setKeepAlive(enable: boolean, idleMs: number): void;
  /** Nagle's algorithm off (true) or on. */
  setNoDelay(noDelay: boolean): void;
}

export interface TcpListener {
  readonly local: SocketAddress;
  close(): void;
}

export interface TcpApi {
  /**
   * Active open to `remote`; the local address is sourceFor(remote) unless given, the port an
   * ephemeral one unless given. Throws an Error with code 'EADDRNOTAVAIL' when there is no
   * local address of that family, 'EADDRINUSE' for a taken local port.
   */
  connect(remote: SocketAddress, events: TcpConnectionEvents, local?: Partial<SocketAddress>): TcpConnection;
  /**
   * Passive open on `port` (address null: every local address of either family). At most
   * `backlog` connections wait between SYN and onAccept being called (half-open ones included);
   * SYNs beyond that are dropped. Throws code 'EADDRINUSE' for a taken port.
   */
  listen(
    address: Uint8Array | null,
    port: number,
    backlog: number,
    onAccept: (connection: TcpConnection) => void,
  ): TcpListener;
}

export interface UdpBinding {
  readonly local: SocketAddress;
  /** Sends one datagram; false when it was dropped (too large, no route). */
  send(data: Uint8Array, remote: SocketAddress): boolean;
  close(): void;
}

export interface UdpApi {
  /**
   * Binds `port` (0: an ephemeral port) on `address` (null: any local address of `family`).
   * `onMessage`'s views are valid only during the call. Throws code 'EADDRINUSE'.
   */
  bind(
    family: IpFamily,
    address: Uint8Array | null,
    port: number,
    onMessage: (data: Uint8Array, from: SocketAddress, to: Uint8Array) => void,
  ): UdpBinding;
}

export interface IcmpApi {
  /** Sends an echo request (ICMP or ICMPv6 by the address length); false when dropped. */
  echoRequest(destination: Uint8Array, identifier: number, sequence: number, data: Uint8Array): boolean;
  /** Echo replies to our requests, as they arrive (one listener; the socket layer multiplexes). */
  onEchoReply: ((from: Uint8Array, identifier: number, sequence: number, data: Uint8Array) => void) | null;
}
