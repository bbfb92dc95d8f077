/**
 * wgts: WireGuard in TypeScript. The package root exports the sans-I/O protocol core (per-peer
 * Tunnel, Responder, handshake functions), the crypto primitives and key types, cryptokey routing,
 * and every protocol constant (see README.md for a two-peer example), and the embeddable interface
 * (`WireGuard.open`, docs/embedding.md) that runs the whole device inside a Node program.
 */
export * as constants from './constants.js';
export * from './crypto/index.js';
export * from './protocol/index.js';
export { AllowedIPs, type AllowedIPEntry, type PrefixVisitor } from './routing/allowed-ips.js';
export {
  parseIP,
  parseIPv4,
  parseIPv6,
  parsePrefix,
  formatIP,
  formatPrefix,
  maskPrefix,
  type IPFamily,
  type IPAddress,
  type IPPrefix,
  type ParsePrefixOptions,
} from './routing/ip.js';

// The embeddable interface (docs/embedding.md): WireGuard.open, its configuration and events,
// the userspace backend's seams, and the Node-shaped network it offers.
export { WireGuard, type Backend, type WireGuardOptions } from './embed/wireguard.js';
export type { WireGuardConfig, WireGuardInterfaceConfig, WireGuardPeerConfig } from './embed/config.js';
export type {
  HandshakeEvent,
  PeerStateEvent,
  PeerDownReason,
  EndpointEvent,
  EndpointChangeReason,
  PeerEventMap,
} from './embed/peer-events.js';
export type { PeerInfo, InterfaceStats } from './embed/peer-info.js';
export { UserspaceTun, type UserspaceTunStats, type PacketReceiver } from './embed/userspace-tun.js';
export {
  defaultUserspaceStack,
  type UserspaceStack,
  type UserspaceStackFactory,
  type UserspaceStackOptions,
} from './embed/userspace-stack.js';
export { ConfigError } from './config/errors.js';
export { createLogger, type Logger, type LogLevel, type LogSink, type LogPriority } from './device/logger.js';
export type { TunDevice } from './io/tun.js';
export type {
  TunnelNetwork,
  TunnelSocket,
  TunnelServer,
  TunnelUdpSocket,
  TunnelConnectOptions,
  TunnelRemoteInfo,
  TunnelLookupResult,
} from './netstack/network-types.js';
