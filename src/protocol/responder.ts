/**
 * The device-wide front door for handshake messages (whitepaper section 5.3, "Denial of Service
 * Mitigation & Cookies", with the kernel's decision table). Before any Diffie-Hellman:
 *
 *   mac1 wrong                                  -> drop (costs one BLAKE2s, no DH)
 *   not under load                              -> accept
 *   under load, no valid mac2                   -> answer with a cookie reply, nothing else
 *   under load, valid mac2, source over limit   -> drop
 *   under load, valid mac2                      -> accept
 *
 * Then `identify` runs the e/es/s tokens of an initiation to learn which peer sent it, since a
 * device has many peers and the initiation names none of them in clear.
 */
import type { StaticKeys } from './handshake.js';
import { identifyInitiation, type ResponderState } from './handshake.js';
import { CookieChecker, encodeSource, type RandomSource } from './cookie.js';
import type { LocalIdentity } from './identity.js';
import type { InitiationMessage, ResponseMessage } from './messages.js';
import { RateLimiter } from './ratelimiter.js';
import type { DropReason } from './results.js';

export type Admission =
  | { readonly kind: 'accept' }
  | { readonly kind: 'cookie'; readonly reply: Uint8Array }
  | { readonly kind: 'drop'; readonly reason: DropReason };

const ACCEPT: Admission = { kind: 'accept' };
const ZERO_KEY = new Uint8Array(32);
const NO_ADDRESS = new Uint8Array(4);

export class Responder {
  readonly cookies: CookieChecker;
  readonly rateLimiter = new RateLimiter();
  #identityVersion: number;

  constructor(
    readonly identity: LocalIdentity,
    random: RandomSource,
  ) {
    this.cookies = new CookieChecker(identity.keys?.publicKey ?? ZERO_KEY, random);
    this.#identityVersion = identity.version;
  }

  #refresh(): StaticKeys | null {
    if (this.#identityVersion !== this.identity.version) {
      this.cookies.setLocalPublic(this.identity.keys?.publicKey ?? ZERO_KEY);
      this.#identityVersion = this.identity.version;
    }
    return this.identity.keys;
  }

  /** The mac/cookie/rate-limit gate for an initiation or response from `address`:`port`. */
  admit(
    msg: InitiationMessage | ResponseMessage,
    address: Uint8Array,
    port: number,
    underLoad: boolean,
    now: number,
  ): Admission {
    if (this.#refresh() === null) return { kind: 'drop', reason: 'no-private-key' };
    const source = encodeSource(address, port);
    const state = this.cookies.validate(msg.bytes, source, underLoad, now);
    if (state === 'invalidMac') return { kind: 'drop', reason: 'bad-mac1' };
    if (!underLoad) return ACCEPT;
    if (state === 'validMacNoCookie') {
      return { kind: 'cookie', reply: this.cookies.createReply(msg.bytes, msg.sender, source, now) };
    }
    // A caller without a source address (a library user passing no endpoint) shares one bucket.
    const key = address.length === 4 || address.length === 16 ? address : NO_ADDRESS;
    return this.rateLimiter.allow(key, now) ? ACCEPT : { kind: 'drop', reason: 'rate-limited' };
  }

  /** Which static key sent this initiation; null when it does not decrypt under our key. */
  identify(msg: InitiationMessage): ResponderState | null {
    const keys = this.#refresh();
    return keys === null ? null : identifyInitiation(keys, msg);
  }
}
