/**
 * X25519 (RFC 7748) for the Noise DH function (whitepaper section 5.4), on raw key bytes.
 *
 * Two implementations of the same raw-bytes interface: the native addon's (native/process.c,
 * OpenSSL's EVP_PKEY_new_raw_private_key, no copy of a key outside OpenSSL's own key object,
 * which it cleanses when freed), registered by io/native.ts when the addon loads; else
 * node:crypto through DER (x25519-der.ts), about ten times slower. Neither makes a string of a key
 * (the JWK route left a base64url copy of the static private key on the heap for every DH).
 *
 * A low-order peer point gives an all-zero shared secret; OpenSSL refuses it and the whitepaper
 * (section 5.4) requires a failed handshake, so `dh` returns null instead of throwing, and also
 * returns null for an all-zero result however it arises. Secrets produced here live outside the
 * JavaScript heap (bytes.ts secretBytes) so that wiping them wipes every copy.
 */
import { randomFillSync } from 'node:crypto';
import { KEY_LENGTH } from '../constants.js';
import { isAllZero, secretBytes, wipe } from './bytes.js';
import { derX25519, type RawX25519 } from './x25519-der.js';

export type { RawX25519 } from './x25519-der.js';

let native: RawX25519 | null = null;

/** Makes `impl` (the native addon) the X25519 of this process; null goes back to node:crypto. */
export function useRawX25519(impl: RawX25519 | null): void {
  native = impl;
}

/** Which implementation `dh` and `publicKeyOf` use now. */
export function x25519Backend(): 'native' | 'node:crypto' {
  return native === null ? 'node:crypto' : 'native';
}

function requireKey(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_LENGTH) {
    throw new TypeError(`${what} must be a ${KEY_LENGTH}-byte Uint8Array`);
  }
}

/** Clamps a scalar as RFC 7748 section 5 describes; `wg genkey` stores keys clamped. */
export function clampPrivateKey(key: Uint8Array): Uint8Array {
  requireKey(key, 'private key');
  key[0] = key[0]! & 248;
  key[31] = (key[31]! & 127) | 64;
  return key;
}

/** A fresh, clamped private key from the system CSPRNG (outside the heap: the caller wipes it). */
export function generatePrivateKey(): Uint8Array {
  return clampPrivateKey(randomFillSync(secretBytes(KEY_LENGTH)));
}

/** The public key X25519(priv, 9). */
export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  requireKey(privateKey, 'private key');
  const out = new Uint8Array(KEY_LENGTH);
  (native ?? derX25519).x25519Public(out, privateKey);
  return out;
}

/**
 * DH(priv, pub) = X25519(priv, pub). Returns null when the result is all zeros (a low-order or
 * otherwise degenerate public key), never throws for any 32-byte input. The caller wipes the result.
 */
export function dh(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null {
  requireKey(privateKey, 'private key');
  requireKey(publicKey, 'public key');
  const out = secretBytes(KEY_LENGTH);
  if (!(native ?? derX25519).x25519(out, privateKey, publicKey) || isAllZero(out)) {
    wipe(out);
    return null;
  }
  return out;
}
