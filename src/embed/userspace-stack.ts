/**
 * Where the rootless backend gets its network stack: a factory that builds a userspace TCP/IP
 * stack (src/netstack: IP RFC 791/8200, ICMP RFC 792/4443, UDP RFC 768, TCP RFC 9293) on a
 * UserspaceTun and returns it as a TunnelNetwork (Node-shaped sockets). `WireGuard.open` uses the
 * factory given in its options, else `defaultUserspaceStack` below.
 *
 * The default is the integration point for src/netstack: until the stack is wired in here it
 * refuses with a clear error (code 'ERR_WGTS_NO_USERSPACE_STACK') before anything is opened.
 */
import type { TunnelNetwork } from '../netstack/network-types.js';
import type { IPPrefix } from '../routing/ip.js';
import type { UserspaceTun } from './userspace-tun.js';

export interface UserspaceStackOptions {
  /** The interface's addresses (wg-quick Address), host bits as written. */
  readonly addresses: readonly IPPrefix[];
  /** The link MTU: the largest IP packet the stack may send. */
  readonly mtu: number;
  /** DNS servers (wg-quick DNS), 4 or 16 bytes each, for TunnelNetwork.lookup. */
  readonly dns: readonly Uint8Array[];
  /** The packets' way in and out: attach() the stack's input, deliver() its output. */
  readonly tun: UserspaceTun;
}

/** A running stack: the network it offers, and how to stop it (timers, sockets). */
export interface UserspaceStack {
  readonly network: TunnelNetwork;
  /** Releases every timer and socket of the stack. Called once, by WireGuard.close. */
  close(): void;
}

export type UserspaceStackFactory = (options: UserspaceStackOptions) => UserspaceStack;

/** The factory used when WireGuard.open is given none. */
export const defaultUserspaceStack: UserspaceStackFactory = () => {
  throw Object.assign(
    new Error(
      'the userspace network stack is not available in this build: pass a `stack` factory to ' +
        "WireGuard.open, or use backend: 'tun' (needs CAP_NET_ADMIN)",
    ),
    { code: 'ERR_WGTS_NO_USERSPACE_STACK' },
  );
};
