/**
 * The interface's static identity (S_priv, S_pub) as a mutable holder shared by every peer of a
 * device. Changing the private key bumps `version`, which tells each tunnel to drop its sessions
 * and recompute DH(S_priv, S_pub_peer) (the whitepaper's precomputable static-static value).
 */
import { secretCopy, wipe } from '../crypto/bytes.js';
import { publicKeyOf } from '../crypto/x25519.js';
import type { StaticKeys } from './handshake.js';

export class LocalIdentity {
  #keys: StaticKeys | null = null;
  #version = 0;

  constructor(privateKey?: Uint8Array) {
    if (privateKey) this.setPrivateKey(privateKey);
  }

  /** The key pair, or null when no private key is configured (no handshakes are possible). */
  get keys(): StaticKeys | null {
    return this.#keys;
  }

  get version(): number {
    return this.#version;
  }

  /** Sets (or with null, removes) the private key. Returns false when the key is unchanged. */
  setPrivateKey(privateKey: Uint8Array | null): boolean {
    if (privateKey !== null && privateKey.length !== 32) throw new TypeError('private key must be 32 bytes');
    const old = this.#keys;
    if (old === null && privateKey === null) return false;
    if (old !== null && privateKey !== null && Buffer.compare(old.privateKey, privateKey) === 0) return false;
    if (old) wipe(old.privateKey);
    this.#keys =
      privateKey === null ? null : { privateKey: secretCopy(privateKey), publicKey: publicKeyOf(privateKey) };
    this.#version++;
    return true;
  }
}
