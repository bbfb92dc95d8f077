/**
 * AEAD and XAEAD of the whitepaper (section 5.4): ChaCha20-Poly1305 (RFC 8439) with the 96-bit
 * nonce 32 zero bits ‖ 64-bit little-endian counter, and XChaCha20-Poly1305 with a 24-byte random
 * nonce for cookie replies. ChaCha20-Poly1305 runs on node:crypto; node:crypto has no XChaCha, so
 * that comes from @noble/ciphers. A failed tag is a null result, never an exception (a forged
 * packet must not reach an uncaught throw).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { AEAD_TAG_LENGTH, KEY_LENGTH, XNONCE_LENGTH } from '../constants.js';

const EMPTY = new Uint8Array(0);
const MAX_COUNTER = (1n << 64n) - 1n;
/** RFC 8439's 96-bit nonce. */
const NONCE_LENGTH = 12;

function requireKey(key: Uint8Array): void {
  if (key.length !== KEY_LENGTH) throw new TypeError(`AEAD key must be ${KEY_LENGTH} bytes`);
}

/** The RFC 8439 nonce WireGuard builds from a 64-bit message counter. */
export function counterNonce(counter: bigint): Buffer {
  if (counter < 0n || counter > MAX_COUNTER) throw new RangeError('AEAD counter out of 64-bit range');
  const nonce = Buffer.alloc(NONCE_LENGTH);
  nonce.writeBigUInt64LE(counter, 4);
  return nonce;
}

function requireNonce(nonce: Uint8Array): void {
  if (nonce.length !== NONCE_LENGTH) throw new TypeError(`AEAD nonce must be ${NONCE_LENGTH} bytes`);
}

/**
 * AEAD_CHACHA20_POLY1305 (RFC 8439 section 2.8) with an explicit 12-byte nonce: ciphertext ‖
 * 16-byte tag. WireGuard only uses counter nonces (`seal`); this form exists so the RFC's
 * vectors, whose nonces are not all 0⁴ ‖ LE64, test the same code path.
 */
export function sealWithNonce(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array = EMPTY,
): Uint8Array {
  requireKey(key);
  requireNonce(nonce);
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: AEAD_TAG_LENGTH });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  const out = new Uint8Array(plaintext.length + AEAD_TAG_LENGTH);
  out.set(cipher.update(plaintext), 0);
  cipher.final();
  out.set(cipher.getAuthTag(), plaintext.length);
  return out;
}

/** The inverse of `sealWithNonce`; null if the input is shorter than a tag or the tag does not verify. */
export function openWithNonce(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  aad: Uint8Array = EMPTY,
): Uint8Array | null {
  requireKey(key);
  requireNonce(nonce);
  if (ciphertext.length < AEAD_TAG_LENGTH) return null;
  const bodyLength = ciphertext.length - AEAD_TAG_LENGTH;
  try {
    const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: AEAD_TAG_LENGTH });
    decipher.setAAD(aad, { plaintextLength: bodyLength });
    decipher.setAuthTag(ciphertext.subarray(bodyLength));
    const plain = decipher.update(ciphertext.subarray(0, bodyLength));
    decipher.final();
    return new Uint8Array(plain.buffer, plain.byteOffset, plain.length);
  } catch {
    return null;
  }
}

/** AEAD(key, counter, plaintext, aad): ciphertext ‖ 16-byte tag. */
export function seal(
  key: Uint8Array,
  counter: bigint,
  plaintext: Uint8Array,
  aad: Uint8Array = EMPTY,
): Uint8Array {
  return sealWithNonce(key, counterNonce(counter), plaintext, aad);
}

/** The inverse of `seal`; null if the input is shorter than a tag or the tag does not verify. */
export function open(
  key: Uint8Array,
  counter: bigint,
  ciphertext: Uint8Array,
  aad: Uint8Array = EMPTY,
): Uint8Array | null {
  return openWithNonce(key, counterNonce(counter), ciphertext, aad);
}

/** XAEAD(key, nonce, plaintext, aad) with a 24-byte nonce. */
export function xseal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array = EMPTY,
): Uint8Array {
  requireKey(key);
  if (nonce.length !== XNONCE_LENGTH) throw new TypeError(`XAEAD nonce must be ${XNONCE_LENGTH} bytes`);
  return xchacha20poly1305(key, nonce, aad).encrypt(plaintext);
}

/** The inverse of `xseal`; null when the tag does not verify. */
export function xopen(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  aad: Uint8Array = EMPTY,
): Uint8Array | null {
  requireKey(key);
  if (nonce.length !== XNONCE_LENGTH) throw new TypeError(`XAEAD nonce must be ${XNONCE_LENGTH} bytes`);
  if (ciphertext.length < AEAD_TAG_LENGTH) return null;
  try {
    return xchacha20poly1305(key, nonce, aad).decrypt(ciphertext);
  } catch {
    return null;
  }
}
