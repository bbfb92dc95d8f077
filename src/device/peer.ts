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
  /** The peer's static public key (the Tunnel's own copy: one array per peer, not two). */
  readonly publicKey: Uint8Array;
  /** Bytes of datagrams the kernel accepted for sending to this peer (the UAPI's tx_bytes). */
  txBytes = 0;

  /** `publicKey` must be the key `tunnel` was made for; the peer keeps the tunnel's copy. */
  constructor(
    publicKey: Uint8Array,
    readonly tunnel: Tunnel,
  ) {
    if (Buffer.compare(publicKey, tunnel.remotePublic) !== 0) {
      throw new TypeError('a Peer must be given the key its Tunnel was made for');
    }
    this.publicKey = tunnel.remotePublic;
    this.id = toHex(this.publicKey);
  }

  get persistentKeepalive(): number {
    return this.tunnel.timers.persistentKeepaliveInterval;
  }
}
