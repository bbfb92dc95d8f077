/**
 * The whitepaper's KDF_n (section 5.4): HKDF (RFC 5869) with HMAC-BLAKE2s, returning n 32-byte
 * outputs. T0 = HMAC(C, input); T1 = HMAC(T0, 0x1); T_i = HMAC(T0, T_{i-1} ‖ i). The pseudo-random
 * key T0 is wiped once the outputs exist.
 */
import { hmac } from './blake2s.js';

const BYTE = [Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)] as const;

function kdf(n: 1 | 2 | 3, chainingKey: Uint8Array, input: Uint8Array): Uint8Array[] {
  const prk = hmac(chainingKey, input);
  const out: Uint8Array[] = [];
  let prev: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < n; i++) {
    prev = hmac(prk, prev, BYTE[i]!);
    out.push(prev);
  }
  prk.fill(0);
  return out;
}

export function kdf1(chainingKey: Uint8Array, input: Uint8Array): [Uint8Array] {
  return kdf(1, chainingKey, input) as [Uint8Array];
}

export function kdf2(chainingKey: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array] {
  return kdf(2, chainingKey, input) as [Uint8Array, Uint8Array];
}

export function kdf3(chainingKey: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] {
  return kdf(3, chainingKey, input) as [Uint8Array, Uint8Array, Uint8Array];
}
