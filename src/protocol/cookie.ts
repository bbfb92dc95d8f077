/**
 * mac1, mac2 and cookie replies (whitepaper section 5.4.4 and 5.4.7, "Cookie MACs" and "Under
 * Load: Cookie Reply Message").
 *
 *   mac1   = MAC(HASH(LABEL_MAC1 ‖ S_pub_receiver), msg up to mac1)
 *   cookie = MAC(R_m, source address ‖ port)        R_m: a random secret renewed every 120 s
 *   mac2   = MAC(cookie, msg up to mac2)
 *   reply  = XAEAD(HASH(LABEL_COOKIE ‖ S_pub_sender_of_reply), nonce, cookie, aad = mac1 of msg)
 *
 * The responder side (CookieChecker) answers with a MacState union, not booleans, so the caller's
 * decision table stays explicit. The initiator side (CookieGenerator, one per peer) stamps macs on
 * outgoing handshake messages and accepts a cookie only as the answer to the mac1 it last sent.
 */
import {
  COOKIE_LENGTH,
  COOKIE_SECRET_LATENCY_MS,
  COOKIE_SECRET_MAX_AGE_MS,
  KEY_LENGTH,
  LABEL_COOKIE,
  LABEL_MAC1,
  MAC_LENGTH,
  XNONCE_LENGTH,
} from '../constants.js';
import { xopen, xseal } from '../crypto/aead.js';
import { hash, mac } from '../crypto/blake2s.js';
import { constantTimeEqual, wipe } from '../crypto/bytes.js';
import { writeCookieReply, type CookieReplyMessage } from './messages.js';

export type RandomSource = (length: number) => Uint8Array;

/** The result of checking a handshake message's macs. */
export type MacState = 'invalidMac' | 'validMacNoCookie' | 'validMacWithCookie';

export function mac1Key(publicKey: Uint8Array): Uint8Array {
  return hash(LABEL_MAC1, publicKey);
}

export function cookieKey(publicKey: Uint8Array): Uint8Array {
  return hash(LABEL_COOKIE, publicKey);
}

/** The cookie's input: address bytes then the port big-endian (the kernel's encoding). */
export function encodeSource(address: Uint8Array, port: number): Uint8Array {
  const out = new Uint8Array(address.length + 2);
  out.set(address, 0);
  out[address.length] = port >>> 8;
  out[address.length + 1] = port & 0xff;
  return out;
}

function mac1Region(msg: Uint8Array): Uint8Array {
  return msg.subarray(0, msg.length - 2 * MAC_LENGTH);
}
function mac2Region(msg: Uint8Array): Uint8Array {
  return msg.subarray(0, msg.length - MAC_LENGTH);
}
function mac1Field(msg: Uint8Array): Uint8Array {
  return msg.subarray(msg.length - 2 * MAC_LENGTH, msg.length - MAC_LENGTH);
}
function mac2Field(msg: Uint8Array): Uint8Array {
  return msg.subarray(msg.length - MAC_LENGTH);
}

/** Responder side: checks macs on incoming handshake messages and makes cookie replies. */
export class CookieChecker {
  #mac1Key: Uint8Array;
  #cookieKey: Uint8Array;
  readonly #secret = new Uint8Array(KEY_LENGTH);
  #secretBorn = -Infinity;
  readonly #random: RandomSource;

  constructor(localPublic: Uint8Array, random: RandomSource) {
    this.#mac1Key = mac1Key(localPublic);
    this.#cookieKey = cookieKey(localPublic);
    this.#random = random;
  }

  /** Called when the interface's private key changes. */
  setLocalPublic(localPublic: Uint8Array): void {
    wipe(this.#mac1Key, this.#cookieKey);
    this.#mac1Key = mac1Key(localPublic);
    this.#cookieKey = cookieKey(localPublic);
  }

  /** Replaces the secret R_m (tests use this to reproduce a vector). */
  setSecret(secret: Uint8Array, now: number): void {
    this.#secret.set(secret);
    this.#secretBorn = now;
  }

  #cookieFor(source: Uint8Array, now: number): Uint8Array {
    if (now - this.#secretBorn >= COOKIE_SECRET_MAX_AGE_MS) {
      this.#secret.set(this.#random(KEY_LENGTH));
      this.#secretBorn = now;
    }
    return mac(this.#secret, source);
  }

  /**
   * mac1 always; mac2 only when `checkCookie` (the device is under load). A valid mac1 with no or
   * a wrong mac2 under load is `validMacNoCookie`: the caller answers it with a cookie reply.
   */
  validate(msg: Uint8Array, source: Uint8Array, checkCookie: boolean, now: number): MacState {
    const expected1 = mac(this.#mac1Key, mac1Region(msg));
    if (!constantTimeEqual(expected1, mac1Field(msg))) return 'invalidMac';
    if (!checkCookie) return 'validMacNoCookie';
    const cookie = this.#cookieFor(source, now);
    const expected2 = mac(cookie, mac2Region(msg));
    wipe(cookie);
    return constantTimeEqual(expected2, mac2Field(msg)) ? 'validMacWithCookie' : 'validMacNoCookie';
  }

  /** A cookie reply to `msg` (an initiation or response whose sender index is `receiver`). */
  createReply(
    msg: Uint8Array,
    receiver: number,
    source: Uint8Array,
    now: number,
    nonce?: Uint8Array,
  ): Uint8Array {
    const n = nonce ?? this.#random(XNONCE_LENGTH);
    const cookie = this.#cookieFor(source, now);
    const sealed = xseal(this.#cookieKey, n, cookie, mac1Field(msg));
    wipe(cookie);
    return writeCookieReply(receiver, n, sealed);
  }
}

/** Initiator side, one per peer: stamps mac1/mac2 and keeps the cookie a reply gave us. */
export class CookieGenerator {
  #mac1Key: Uint8Array;
  #cookieKey: Uint8Array;
  readonly #lastMac1 = new Uint8Array(MAC_LENGTH);
  #haveSentMac1 = false;
  readonly #cookie = new Uint8Array(COOKIE_LENGTH);
  #cookieBorn = -Infinity;

  constructor(remotePublic: Uint8Array) {
    this.#mac1Key = mac1Key(remotePublic);
    this.#cookieKey = cookieKey(remotePublic);
  }

  /** Writes mac1, and mac2 while a cookie is younger than 120 − 5 s, into the message in place. */
  addMacs(msg: Uint8Array, now: number): void {
    const m1 = mac(this.#mac1Key, mac1Region(msg));
    mac1Field(msg).set(m1);
    this.#lastMac1.set(m1);
    this.#haveSentMac1 = true;
    if (now - this.#cookieBorn < COOKIE_SECRET_MAX_AGE_MS - COOKIE_SECRET_LATENCY_MS) {
      mac2Field(msg).set(mac(this.#cookie, mac2Region(msg)));
    } else {
      mac2Field(msg).fill(0);
    }
  }

  /** Accepts a cookie reply answering our last mac1; false (state unchanged) otherwise. */
  consumeReply(reply: CookieReplyMessage, now: number): boolean {
    if (!this.#haveSentMac1) return false;
    const cookie = xopen(this.#cookieKey, reply.nonce, reply.encryptedCookie, this.#lastMac1);
    if (cookie === null) return false;
    this.#cookie.set(cookie);
    wipe(cookie);
    this.#cookieBorn = now;
    this.#haveSentMac1 = false;
    return true;
  }

  wipe(): void {
    wipe(this.#cookie, this.#lastMac1);
    this.#cookieBorn = -Infinity;
    this.#haveSentMac1 = false;
  }
}
