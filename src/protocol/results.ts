/**
 * What the sans-I/O core hands back to its caller (boringtun's TunnResult, widened so one call
 * can both deliver a packet and ask for datagrams to be sent): the caller — the device, or a
 * library user — performs the I/O. Every refusal carries a reason so drops can be counted and
 * logged; none of them is an exception.
 */

/**
 * Every reason the core refuses input, in one list: the device counts drops by index into it
 * (src/device/drops.ts), so a new reason added here is counted and exported without other edits.
 */
export const DROP_REASONS = [
  'unknown-type',
  'bad-length',
  'bad-mac1',
  'rate-limited',
  'no-private-key',
  'unknown-peer',
  'handshake-failed',
  'stale-timestamp',
  'initiation-flood',
  'unexpected-response',
  'bad-cookie',
  'unknown-index',
  'expired-keypair',
  'replay',
  'bad-tag',
  'not-ip',
  'bad-ip-length',
  'disallowed-source',
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

export type TunnelResult =
  /** Nothing to do (a keepalive arrived, a cookie was stored, a timer had nothing due). */
  | { readonly kind: 'none' }
  /**
   * Datagrams to send to the peer's endpoint, in order. `refused` is set when the input itself
   * was refused for that reason although it released these datagrams (an authenticated transport
   * packet whose content is refused may have confirmed a session and flushed staged packets): a
   * drop all the same, which the caller counts.
   */
  | { readonly kind: 'toNetwork'; readonly datagrams: Uint8Array[]; readonly refused?: DropReason }
  /** A decrypted IP packet for the TUN, plus any datagrams that must also go out now. */
  | {
      readonly kind: 'toTunnel';
      readonly packet: Uint8Array;
      readonly family: 4 | 6;
      readonly datagrams: Uint8Array[];
    }
  /**
   * The input was refused. Unauthenticated input changes nothing; an authenticated transport
   * packet whose content is refused (not IP, wrong source) has still roamed and been counted, as
   * in the kernel.
   */
  | { readonly kind: 'drop'; readonly reason: DropReason };

export const NONE: TunnelResult = { kind: 'none' };

export function drop(reason: DropReason): TunnelResult {
  return { kind: 'drop', reason };
}

export function toNetwork(datagrams: Uint8Array[]): TunnelResult {
  return datagrams.length === 0 ? NONE : { kind: 'toNetwork', datagrams };
}
