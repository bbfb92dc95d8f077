/**
 * X25519 (RFC 7748) for the Noise DH function, on node:crypto (OpenSSL).
 *
 * OpenSSL throws on a low-order peer point (the shared secret would be all zeros); the whitepaper
 * (section 5.4) requires that case to be a failed handshake, so `dh` returns null instead of
 * throwing, and also returns null for an all-zero result however it arises. Keys are raw 32-byte
 * strings, handed to node:crypto as JWK (see below for why not DER).
 */
import { createPrivateKey, createPublicKey, diffieHellman, randomBytes, type KeyObject } from 'node:crypto';
import { KEY_LENGTH } from '../constants.js';

// Keys go in as JWK, which node:crypto turns straight into an EVP_PKEY from the raw bytes. The DER
// (PKCS#8) route goes through OpenSSL 3's decoder machinery and costs ~900 µs a key here, against
// ~100 µs for JWK: it made every handshake DH six times slower. A private JWK must carry `x`, which
// node:crypto does not check against `d` (it derives the public half itself), so a fixed
// placeholder is passed instead of computing it.
const PLACEHOLDER_X = Buffer.alloc(KEY_LENGTH).toString('base64url');

function requireKey(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_LENGTH) {
    throw new TypeError(`${what} must be a ${KEY_LENGTH}-byte Uint8Array`);
  }
}

function b64url(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.length).toString('base64url');
}

function privateKeyObject(privateKey: Uint8Array): KeyObject {
  return createPrivateKey({
    key: { kty: 'OKP', crv: 'X25519', d: b64url(privateKey), x: PLACEHOLDER_X },
    format: 'jwk',
  });
}

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(publicKey) }, format: 'jwk' });
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
  const jwk = createPublicKey(privateKeyObject(privateKey)).export({ format: 'jwk' });
  return new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url'));
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
      publicKey: publicKeyObject(publicKey),
    });
  } catch {
    return null;
  }
  let acc = 0;
  for (let i = 0; i < shared.length; i++) acc |= shared[i]!;
  if (acc === 0) return null;
  return new Uint8Array(shared.buffer, shared.byteOffset, shared.length);
}
