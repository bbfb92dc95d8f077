/**
 * X25519 (RFC 7748) on node:crypto, for a process without the native addon (x25519.ts prefers
 * native/process.c). node:crypto takes keys only as JWK strings, PEM/DER, or KeyObjects made from
 * them; a JWK would put a base64url copy of the private key on the JavaScript heap, where no wipe
 * reaches it. So the raw bytes go in as DER (RFC 8410 PKCS#8 for the private key, SPKI for the
 * public one) built in a buffer outside the heap and zeroed as soon as OpenSSL has read it. The
 * price: OpenSSL 3's PKCS#8 decoder costs about 0.6 ms a key here, against 0.03 ms for JWK.
 */
import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import { KEY_LENGTH } from '../constants.js';
import { secretBytes, wipe } from './bytes.js';

/** The interface both X25519 implementations offer: raw 32-byte keys in, results written to `out`. */
export interface RawX25519 {
  /** out := X25519(privateKey, publicKey); false (out zero) when the peer point is refused. */
  x25519(out: Uint8Array, privateKey: Uint8Array, publicKey: Uint8Array): boolean;
  /** out := X25519(privateKey, 9). */
  x25519Public(out: Uint8Array, privateKey: Uint8Array): void;
}

// RFC 8410 section 7 and 4: the fixed DER prefixes of an X25519 (OID 1.3.101.110) key.
const PKCS8_PREFIX = Uint8Array.of(
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x6e,
  0x04,
  0x22,
  0x04,
  0x20,
);
const SPKI_PREFIX = Uint8Array.of(0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00);

function derKey(prefix: Uint8Array, key: Uint8Array): Buffer {
  // secretBytes: a small Buffer.alloc would live in the JavaScript heap, and node:crypto's first
  // look at its `.buffer` would copy it out, leaving the heap copy unwiped.
  const der = secretBytes(prefix.length + KEY_LENGTH);
  der.set(prefix, 0);
  der.set(key, prefix.length);
  return Buffer.from(der.buffer, der.byteOffset, der.length);
}

function privateKeyObject(privateKey: Uint8Array): KeyObject {
  const der = derKey(PKCS8_PREFIX, privateKey);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    wipe(der);
  }
}

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: derKey(SPKI_PREFIX, publicKey), format: 'der', type: 'spki' });
}

export const derX25519: RawX25519 = {
  x25519(out, privateKey, publicKey) {
    let shared: Buffer;
    try {
      shared = diffieHellman({
        privateKey: privateKeyObject(privateKey),
        publicKey: publicKeyObject(publicKey),
      });
    } catch {
      // OpenSSL refuses a low-order point (its result would be all zeros).
      wipe(out);
      return false;
    }
    out.set(shared);
    wipe(shared);
    return true;
  },
  x25519Public(out, privateKey) {
    const spki = createPublicKey(privateKeyObject(privateKey)).export({ format: 'der', type: 'spki' });
    out.set(spki.subarray(spki.length - KEY_LENGTH));
  },
};
