/**
 * wgts: WireGuard in TypeScript. The package root exports the sans-I/O protocol core (per-peer
 * Tunnel, Responder, handshake functions), the crypto primitives and key types, cryptokey routing,
 * and every protocol constant. See README.md for a two-peer example.
 */
export * as constants from './constants.js';
export * from './crypto/index.js';
export * from './protocol/index.js';
