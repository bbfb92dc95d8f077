/**
 * The parsed form of a wireproxy configuration: the WireGuard interface and peers (what the glue in
 * open-device.ts turns into a device, via wgQuickText()) and the list of routines to start, in file
 * order. Keys stay base64 and prefixes stay text, as wg-quick writes them.
 */
import type { HostPort } from './config-values.js';

export interface ProxyInterface {
  readonly privateKey: string;
  /** The tunnel's own addresses as /32 or /128 prefixes ('10.0.0.2/32'). */
  readonly addresses: readonly string[];
  readonly dns: readonly string[];
  readonly mtu: number;
  readonly listenPort: number | null;
  /** Addresses pinged through the tunnel for /readyz. */
  readonly checkAlive: readonly string[];
  /** Seconds between pings (default 5). */
  readonly checkAliveInterval: number;
}

export interface ProxyPeer {
  readonly publicKey: string;
  readonly presharedKey: string | null;
  /** `host:port` as written (a host name is resolved by the device). */
  readonly endpoint: string | null;
  readonly persistentKeepalive: number;
  readonly allowedIPs: readonly string[];
}

interface Where {
  /** The line of the section header, for messages at run time. */
  readonly line: number;
}

export interface Socks5Routine extends Where {
  readonly kind: 'socks5';
  readonly bind: HostPort;
  readonly username: string;
  readonly password: string;
}

export interface HttpRoutine extends Where {
  readonly kind: 'http';
  readonly bind: HostPort;
  readonly username: string;
  readonly password: string;
  readonly certFile: string | null;
  readonly keyFile: string | null;
}

export interface TcpClientRoutine extends Where {
  readonly kind: 'tcp-client';
  readonly bind: HostPort;
  readonly target: HostPort;
}

export interface TcpServerRoutine extends Where {
  readonly kind: 'tcp-server';
  readonly listenPort: number;
  readonly target: HostPort;
}

export interface StdioRoutine extends Where {
  readonly kind: 'stdio';
  readonly target: HostPort;
}

export interface UdpClientRoutine extends Where {
  readonly kind: 'udp-client';
  readonly bind: HostPort;
  readonly target: HostPort;
  /** Seconds a session lives without traffic. */
  readonly inactivityTimeout: number;
}

export interface UdpServerRoutine extends Where {
  readonly kind: 'udp-server';
  readonly listenPort: number;
  readonly target: HostPort;
  readonly inactivityTimeout: number;
}

export type ProxyRoutine =
  | Socks5Routine
  | HttpRoutine
  | TcpClientRoutine
  | TcpServerRoutine
  | StdioRoutine
  | UdpClientRoutine
  | UdpServerRoutine;

export interface ProxyConfig {
  /** The file the routines came from. */
  readonly file: string;
  /** The file [Interface] and [Peer] came from (WGConfig's, or `file`). */
  readonly wgFile: string;
  readonly interface: ProxyInterface;
  readonly peers: readonly ProxyPeer[];
  readonly routines: readonly ProxyRoutine[];
  /** Things accepted but ignored (unknown keys and sections), to print unless silent. */
  readonly warnings: readonly string[];
}
