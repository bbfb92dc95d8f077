/**
 * What the ports of the reference selftests share (wireguard-go's tests/netns.sh and the kernel's
 * tools/testing/selftests/wireguard/netns.sh): the implementation a test file runs them against,
 * and the tunnel addresses both scripts give their two peers.
 */
import type { Impl } from '../helpers/wg-peer.js';

/** One implementation under test; each test file passes its own. */
export interface SelftestVariant {
  /** Shown in test names, e.g. "wgtsd, offload on". */
  readonly title: string;
  /**
   * One lowercase letter, different in every file that may run at once: it goes into every
   * namespace and interface name, and interface names must be unique host-wide (the UAPI socket
   * directory is shared by all namespaces).
   */
  readonly letter: string;
  readonly impl: Impl;
  /** Added to the daemon's environment (e.g. WGTS_OFFLOAD). */
  readonly env?: Readonly<Record<string, string>>;
}

// The scripts' tunnel addresses: peer 1 and peer 2.
export const IN1_V4 = '192.168.241.1';
export const IN2_V4 = '192.168.241.2';
export const IN1_V6 = 'fd00::1';
export const IN2_V6 = 'fd00::2';
