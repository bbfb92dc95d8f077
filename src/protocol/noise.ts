/**
 * The Noise symmetric state (Noise spec section 5.2) as WireGuard uses it: a chaining key C and a
 * hash H, with MixHash, MixKey (the whitepaper's KDF1/KDF2 over C), MixKeyAndHash for the psk
 * token (KDF3), and EncryptAndHash/DecryptAndHash with nonce 0 (each key is used once during the
 * handshake). Every intermediate key is wiped after use.
 */
import { CONSTRUCTION } from '../constants.js';
import { open, seal } from '../crypto/aead.js';
import { hash } from '../crypto/blake2s.js';
import { wipe } from '../crypto/bytes.js';
import { kdf1, kdf2, kdf3 } from '../crypto/hkdf.js';

export interface SymmetricState {
  /** The chaining key C. */
  chainingKey: Uint8Array;
  /** The handshake hash H. */
  hash: Uint8Array;
}

/** C := HASH(CONSTRUCTION) is the same for every handshake, so compute it once. */
const INITIAL_CHAINING_KEY = hash(CONSTRUCTION);

/**
 * InitializeSymmetric + MixHash(prologue) + MixHash(responder static public): the state both sides
 * start from, since the responder's static key is known in advance in the IK pattern.
 */
export function initializeSymmetric(
  prologue: Uint8Array | string,
  responderStatic: Uint8Array,
): SymmetricState {
  const chainingKey = Uint8Array.from(INITIAL_CHAINING_KEY);
  return { chainingKey, hash: hash(hash(chainingKey, prologue), responderStatic) };
}

/** H := HASH(H ‖ data) */
export function mixHash(s: SymmetricState, data: Uint8Array): void {
  s.hash = hash(s.hash, data);
}

/** C := KDF1(C, input): used for the `e` token, where no key is produced. */
export function mixChain(s: SymmetricState, input: Uint8Array): void {
  const [c] = kdf1(s.chainingKey, input);
  wipe(s.chainingKey);
  s.chainingKey = c;
}

/** (C, k) := KDF2(C, input); returns k for one EncryptAndHash/DecryptAndHash. */
export function mixKey(s: SymmetricState, input: Uint8Array): Uint8Array {
  const [c, k] = kdf2(s.chainingKey, input);
  wipe(s.chainingKey);
  s.chainingKey = c;
  return k;
}

/** The psk token: (C, τ, k) := KDF3(C, Q); H := HASH(H ‖ τ); returns k. */
export function mixKeyAndHash(s: SymmetricState, psk: Uint8Array): Uint8Array {
  const [c, tau, k] = kdf3(s.chainingKey, psk);
  wipe(s.chainingKey);
  s.chainingKey = c;
  mixHash(s, tau);
  wipe(tau);
  return k;
}

/** msg := AEAD(k, 0, plaintext, H); H := HASH(H ‖ msg). Wipes k. */
export function encryptAndHash(s: SymmetricState, key: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const out = seal(key, 0n, plaintext, s.hash);
  wipe(key);
  mixHash(s, out);
  return out;
}

/** The inverse of encryptAndHash; null (and H unchanged) when the tag does not verify. Wipes k. */
export function decryptAndHash(
  s: SymmetricState,
  key: Uint8Array,
  ciphertext: Uint8Array,
): Uint8Array | null {
  const plain = open(key, 0n, ciphertext, s.hash);
  wipe(key);
  if (plain === null) return null;
  mixHash(s, ciphertext);
  return plain;
}

/** Split(): (T_first, T_second) := KDF2(C, ε). The initiator sends with the first. */
export function split(s: SymmetricState): [Uint8Array, Uint8Array] {
  return kdf2(s.chainingKey, new Uint8Array(0));
}
