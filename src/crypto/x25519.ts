/**
 * X25519 (RFC 7748) for the Noise DH function, on node:crypto (OpenSSL).
 *
 * OpenSSL throws on a low-order peer point (the shared secret would be all zeros); the whitepaper
 * (section 5.4) requires that case to be a failed handshake, so `dh` returns null instead of
 * throwing, and also returns null for an all-zero result however it arises. Keys are raw 32-byte
 * strings; node:crypto only takes DER, so the fixed RFC 8410 prefixes are prepended here.
 */
import { createPrivateKey, createPublicKey, diffieHellman, randomBytes, type KeyObject } from 'node:crypto';
import { KEY_LENGTH } from '../constants.js';

// RFC 8410 DER headers for an X25519 PKCS#8 private key and SPKI public key.
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00]);

function requireKey(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_LENGTH) {
    throw new TypeError(`${what} must be a ${KEY_LENGTH}-byte Uint8Array`);
  }
}

function derConcat(prefix: Uint8Array, key: Uint8Array): Buffer {
  const der = Buffer.allocUnsafe(prefix.length + key.length);
  der.set(prefix, 0);
  der.set(key, prefix.length);
  return der;
}

function privateKeyObject(privateKey: Uint8Array): KeyObject {
  const der = derConcat(PKCS8_PREFIX, privateKey);
  const obj = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  der.fill(0);
  return obj;
}

/** Clamps a scalar as RFC 7748 section 5 describes; `wg genkey` stores keys clamped. */
export function clampPrivateKey(key: Uint8Array): Uint8Array {
  requireKey(key, 'private key');
  key[0] = key[0]! & 248;
  key[31] = (key[31]! & 127) | 64;
  return key;
}

/** A fresh, clamped private key from the system CSPRNG. */
export function generatePrivateKey(): Uint8Array {
  return clampPrivateKey(new Uint8Array(randomBytes(KEY_LENGTH)));
}

/** The public key X25519(priv, 9). */
export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  requireKey(privateKey, 'private key');
  const spki = createPublicKey(privateKeyObject(privateKey)).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(spki.length - KEY_LENGTH));
}

/**
 * DH(priv, pub) = X25519(priv, pub). Returns null when the result is all zeros (a low-order or
 * otherwise degenerate public key), never throws for any 32-byte input.
 */
export function dh(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null {
  requireKey(privateKey, 'private key');
  requireKey(publicKey, 'public key');
  let shared: Buffer;
  try {
    shared = diffieHellman({
      privateKey: privateKeyObject(privateKey),
      publicKey: createPublicKey({ key: derConcat(SPKI_PREFIX, publicKey), format: 'der', type: 'spki' }),
    });
  } catch {
    return null;
  }
  let acc = 0;
  for (let i = 0; i < shared.length; i++) acc |= shared[i]!;
  if (acc === 0) return null;
  return new Uint8Array(shared.buffer, shared.byteOffset, shared.length);
}
