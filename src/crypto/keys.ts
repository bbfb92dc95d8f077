/**
 * WireGuard key types: 32-byte Curve25519 private and public keys and pre-shared keys, with the
 * strict encodings wg(8) and the UAPI accept. Base64 must be exactly 44 characters with a
 * canonical last character (the two spare bits zero) and one `=`; hex must be 64 lowercase
 * digits. Node's own decoders accept garbage silently, so neither is used for validation. Keys
 * compare in constant time, can be wiped, and never print their bytes through inspect/toString.
 */
import { randomFillSync } from 'node:crypto';
import { KEY_LENGTH } from '../constants.js';
import {
  constantTimeEqual,
  decodeHexInto,
  isAllZero,
  secretBytes,
  secretCopy,
  toHex,
  wipe,
} from './bytes.js';
import { clampPrivateKey, generatePrivateKey, publicKeyOf } from './x25519.js';

// 42 free characters, then one whose low two bits are zero (index a multiple of 4), then '='.
const BASE64_KEY_RE = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * Decodes a key from wg's base64 form; null unless the text is canonical. Private and preshared
 * keys come through here, so the bytes go straight into a `secretBytes` array (Buffer.from would
 * leave a copy in Node's shared Buffer pool, and a small Uint8Array lives in the moving heap).
 */
export function parseKeyBase64(text: string): Uint8Array | null {
  if (!BASE64_KEY_RE.test(text)) return null;
  const out = secretBytes(KEY_LENGTH);
  Buffer.from(out.buffer, out.byteOffset, out.length).write(text, 'base64');
  return out;
}

/** Decodes a key from the UAPI's hex form; null unless exactly 64 lowercase hex digits. */
export function parseKeyHex(text: string): Uint8Array | null {
  if (text.length !== KEY_LENGTH * 2) return null;
  const out = secretBytes(KEY_LENGTH);
  return decodeHexInto(text, out) ? out : null;
}

export function keyToBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
}

export abstract class Key {
  readonly #bytes: Uint8Array;

  protected constructor(bytes: Uint8Array) {
    if (!(bytes instanceof Uint8Array) || bytes.length !== KEY_LENGTH) {
      throw new TypeError(
        `a key is ${KEY_LENGTH} bytes, got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`,
      );
    }
    // Outside the JavaScript heap, so that wipe() reaches the only copy (bytes.ts secretBytes).
    this.#bytes = secretCopy(bytes);
  }

  /** The raw bytes (a live view: do not keep it past the key's life). */
  get bytes(): Uint8Array {
    return this.#bytes;
  }
  toBase64(): string {
    return keyToBase64(this.#bytes);
  }
  toHex(): string {
    return toHex(this.#bytes);
  }
  equals(other: Key): boolean {
    return constantTimeEqual(this.#bytes, other.#bytes);
  }
  isZero(): boolean {
    return isAllZero(this.#bytes);
  }
  wipe(): void {
    wipe(this.#bytes);
  }
  toString(): string {
    return `${this.constructor.name}(redacted)`;
  }
  toJSON(): string {
    return this.toString();
  }
  [INSPECT](): string {
    return this.toString();
  }
}

export class PublicKey extends Key {
  constructor(bytes: Uint8Array) {
    super(bytes);
  }
  static fromBase64(text: string): PublicKey | null {
    const b = parseKeyBase64(text);
    return b ? new PublicKey(b) : null;
  }
  static fromHex(text: string): PublicKey | null {
    const b = parseKeyHex(text);
    return b ? new PublicKey(b) : null;
  }
  /** Public keys are not secret: printing them is allowed. */
  override toString(): string {
    return `PublicKey(${this.toBase64()})`;
  }
}

export class PrivateKey extends Key {
  constructor(bytes: Uint8Array) {
    super(bytes);
  }
  /** A fresh random key, clamped as `wg genkey` stores it. */
  static generate(): PrivateKey {
    const raw = generatePrivateKey();
    const key = new PrivateKey(raw);
    wipe(raw);
    return key;
  }
  static fromBase64(text: string): PrivateKey | null {
    const b = parseKeyBase64(text);
    return b ? new PrivateKey(b) : null;
  }
  static fromHex(text: string): PrivateKey | null {
    const b = parseKeyHex(text);
    return b ? new PrivateKey(b) : null;
  }
  publicKey(): PublicKey {
    return new PublicKey(publicKeyOf(this.bytes));
  }
  /** Returns a clamped copy (wg clamps a key it is given before deriving the public key). */
  clamped(): PrivateKey {
    const raw = clampPrivateKey(secretCopy(this.bytes));
    const key = new PrivateKey(raw);
    wipe(raw);
    return key;
  }
}

export class PresharedKey extends Key {
  constructor(bytes: Uint8Array) {
    super(bytes);
  }
  static generate(): PresharedKey {
    // A psk is 32 uniformly random bytes, not clamped.
    const raw = randomFillSync(secretBytes(KEY_LENGTH));
    const key = new PresharedKey(raw);
    wipe(raw);
    return key;
  }
  static fromBase64(text: string): PresharedKey | null {
    const b = parseKeyBase64(text);
    return b ? new PresharedKey(b) : null;
  }
  static fromHex(text: string): PresharedKey | null {
    const b = parseKeyHex(text);
    return b ? new PresharedKey(b) : null;
  }
}
