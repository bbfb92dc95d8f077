/**
 * What the proxy needs from the outside: a WireGuard device seen only through its TunnelNetwork
 * (src/netstack/network-types.ts) and its UAPI `get` dump, opened from the parsed configuration by
 * an injected opener (the real one is open-device.ts; tests pass a host-backed network), and a
 * place to log. Every routine the proxy starts is a RunningRoutine it can close at shutdown.
 */
import type { TunnelNetwork } from '../netstack/network-types.js';
import type { ProxyConfig } from './config-types.js';

export interface ProxyDevice {
  readonly network: TunnelNetwork;
  /** The UAPI `get=1` answer (key=value lines), for /metrics. */
  uapiGet(): string;
  close(): Promise<void>;
}

export type OpenDevice = (config: ProxyConfig) => Promise<ProxyDevice>;

export interface ProxyLogger {
  info(message: string): void;
  error(message: string): void;
}

export interface RunningRoutine {
  /** What it is, for logs: "SOCKS5 on 127.0.0.1:1080". */
  readonly name: string;
  /** The bound local address, when the routine listens locally. */
  address(): { address: string; port: number } | null;
  close(): Promise<void>;
}

export const quietLogger: ProxyLogger = { info: () => {}, error: () => {} };
