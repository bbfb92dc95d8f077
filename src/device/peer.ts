/**
 * A configured peer of a device: its public key and the per-peer protocol state (the Tunnel), with
 * the configuration the UAPI reports back. Allowed IPs live in the device's shared trie (both
 * directions of cryptokey routing look them up there), not here.
 */
import { toHex } from '../crypto/bytes.js';
import type { Tunnel } from '../protocol/tunnel.js';

export class Peer {
  /** Hex of the public key: the key of the device's peer map. */
  readonly id: string;
  /** Bytes of datagrams the kernel accepted for sending to this peer (the UAPI's tx_bytes). */
  txBytes = 0;

  constructor(
    readonly publicKey: Uint8Array,
    readonly tunnel: Tunnel,
  ) {
    this.id = toHex(publicKey);
  }

  get persistentKeepalive(): number {
    return this.tunnel.timers.persistentKeepaliveInterval;
  }
}
