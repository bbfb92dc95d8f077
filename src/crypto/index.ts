/** The crypto layer's public surface: the whitepaper's primitives (section 5.4) and key types. */
export { dh, publicKeyOf, generatePrivateKey, clampPrivateKey } from './x25519.js';
export { hash, mac, hmac } from './blake2s.js';
export { kdf1, kdf2, kdf3 } from './hkdf.js';
export { seal, open, xseal, xopen } from './aead.js';
export { tai64n, tai64nFromMillis, tai64nAfter, decodeTai64n } from './tai64n.js';
export { constantTimeEqual, isAllZero, wipe, parseHex, toHex, concatBytes } from './bytes.js';
export {
  Key,
  PrivateKey,
  PublicKey,
  PresharedKey,
  parseKeyBase64,
  parseKeyHex,
  keyToBase64,
} from './keys.js';
