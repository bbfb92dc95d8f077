/**
 * BLAKE2s (RFC 7693) in the three forms WireGuard uses (whitepaper section 5.4): HASH is
 * unkeyed BLAKE2s-256, MAC is keyed BLAKE2s-128, and HMAC is RFC 2104 HMAC over BLAKE2s-256.
 * node:crypto has BLAKE2s-256 and its HMAC; it has no keyed BLAKE2s, so MAC comes from
 * @noble/hashes.
 */
import { createHash, createHmac } from 'node:crypto';
import { blake2s } from '@noble/hashes/blake2.js';
import { HASH_LENGTH, MAC_LENGTH } from '../constants.js';

/** HASH(parts[0] ‖ parts[1] ‖ …), BLAKE2s-256. */
export function hash(...parts: readonly (Uint8Array | string)[]): Uint8Array {
  const h = createHash('blake2s256');
  for (const p of parts) h.update(p);
  const out = h.digest();
  return new Uint8Array(out.buffer, out.byteOffset, HASH_LENGTH);
}

/** MAC(key, input): keyed BLAKE2s with a 16-byte output (mac1, mac2, cookies). */
export function mac(key: Uint8Array, ...parts: readonly Uint8Array[]): Uint8Array {
  if (key.length === 0 || key.length > 32) throw new RangeError('MAC key must be 1..32 bytes');
  const h = blake2s.create({ key, dkLen: MAC_LENGTH });
  for (const p of parts) h.update(p);
  return h.digest();
}

/** HMAC(key, input) over BLAKE2s-256, the building block of the KDF. */
export function hmac(key: Uint8Array, ...parts: readonly Uint8Array[]): Uint8Array {
  const h = createHmac('blake2s256', key);
  for (const p of parts) h.update(p);
  const out = h.digest();
  return new Uint8Array(out.buffer, out.byteOffset, HASH_LENGTH);
}
