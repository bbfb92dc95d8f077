/**
 * wgts: WireGuard in TypeScript. The package root exports the sans-I/O protocol core (per-peer
 * Tunnel, Responder, handshake functions), the crypto primitives and key types, cryptokey routing,
 * and every protocol constant. See README.md for a two-peer example.
 */
export * as constants from './constants.js';
export * from './crypto/index.js';
export * from './protocol/index.js';
export { AllowedIPs, type AllowedIPEntry } from './routing/allowed-ips.js';
export {
  parseIP,
  parseIPv4,
  parseIPv6,
  parsePrefix,
  formatIP,
  formatPrefix,
  maskPrefix,
} from './routing/ip.js';
