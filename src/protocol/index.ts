/** The sans-I/O protocol core's public surface (whitepaper sections 5 and 6). */
export * from './messages.js';
export * from './handshake.js';
export {
  CookieChecker,
  CookieGenerator,
  encodeSource,
  mac1Key,
  cookieKey,
  type MacState,
  type RandomSource,
} from './cookie.js';
export { ReplayWindow } from './replay.js';
export { RateLimiter } from './ratelimiter.js';
export { Timers, type TimerAction } from './timers.js';
export { Keypair, Keypairs } from './keypairs.js';
export { IndexTable } from './indices.js';
export { LocalIdentity } from './identity.js';
export { Responder, type Admission } from './responder.js';
export { Session } from './session.js';
export { Tunnel, type TunnelOptions, type Endpoint, type SendReservation } from './tunnel.js';
export { type TunnelResult, type DropReason, DROP_REASONS } from './results.js';
export { paddedLength, innerPacket, type InnerPacket } from './transport.js';
export type { SymmetricState } from './noise.js';
export type { TunnelObserver, TunnelEvent, TunnelEventKind } from './events.js';
