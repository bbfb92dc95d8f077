/**
 * One peer's cryptographic session state: the handshake slot (our pending initiation, if any),
 * the previous/current/next keypairs, and the receiver indices they own in the device's index
 * table. It also caches DH(S_priv, S_pub_peer), the whitepaper's precomputed static-static value,
 * recomputed when the interface key changes. A low-order peer key makes that value all zero: the
 * cache holds null and no handshake is ever attempted with that peer.
 */
import { constantTimeEqual, wipe } from '../crypto/bytes.js';
import { dh } from '../crypto/x25519.js';
import {
  consumeResponse,
  createResponse,
  finishInitiation,
  transportKeys,
  wipeHandshakeState,
  type InitiatorState,
  type ResponderState,
} from './handshake.js';
import type { LocalIdentity } from './identity.js';
import type { IndexTable } from './indices.js';
import { Keypair, Keypairs } from './keypairs.js';
import type { InitiationMessage, ResponseMessage } from './messages.js';

interface PendingHandshake {
  readonly localIndex: number;
  initiator: InitiatorState | null;
}

export class Session<Owner = unknown> {
  /** Made on first use: most peers of a large configuration never get a keypair. */
  #keypairs: Keypairs | null = null;
  #handshake: PendingHandshake | null = null;
  #staticStatic: Uint8Array | null = null;
  #staticStaticVersion = -1;

  constructor(
    private readonly identity: LocalIdentity,
    private readonly remotePublic: Uint8Array,
    private readonly indices: IndexTable<Owner>,
    private readonly owner: Owner,
  ) {}

  /** The previous/current/next keypairs. */
  get keypairs(): Keypairs {
    return (this.#keypairs ??= new Keypairs());
  }

  /** DH(S_priv, S_pub_peer), or null when there is no key, the peer is us, or the DH is degenerate. */
  staticStatic(): Uint8Array | null {
    if (this.#staticStaticVersion !== this.identity.version) {
      wipe(this.#staticStatic);
      const keys = this.identity.keys;
      this.#staticStatic =
        keys === null || constantTimeEqual(keys.publicKey, this.remotePublic)
          ? null
          : dh(keys.privateKey, this.remotePublic);
      this.#staticStaticVersion = this.identity.version;
    }
    return this.#staticStatic;
  }

  /** Reserves a fresh index for a new initiation, replacing any pending one. */
  beginInitiation(): number {
    this.abandonHandshake();
    const localIndex = this.indices.allocate(this.owner);
    this.#handshake = { localIndex, initiator: null };
    return localIndex;
  }

  initiationSent(state: InitiatorState): void {
    if (this.#handshake) this.#handshake.initiator = state;
  }

  abandonHandshake(): void {
    if (this.#handshake === null) return;
    this.indices.release(this.#handshake.localIndex);
    wipeHandshakeState(this.#handshake.initiator);
    this.#handshake = null;
  }

  /** The ss token and timestamp of an initiation from this peer; null if it does not verify. */
  finishInitiation(
    partial: ResponderState,
    msg: InitiationMessage,
  ): { state: ResponderState; timestamp: Uint8Array } | null {
    const ss = this.staticStatic();
    return ss === null ? null : finishInitiation(partial, ss, msg);
  }

  /**
   * Creates the response and installs the responder's keypair (in `next`). Any initiation of our
   * own still pending is superseded, as in the kernel. Returns the response (macs unset) or null.
   */
  respond(
    state: ResponderState,
    remoteIndex: number,
    ephemeralPrivate: Uint8Array,
    psk: Uint8Array | null,
    now: number,
  ): Uint8Array | null {
    const localIndex = this.indices.allocate(this.owner);
    const created = createResponse(state, localIndex, remoteIndex, ephemeralPrivate, psk);
    wipe(ephemeralPrivate);
    if (created === null) {
      this.indices.release(localIndex);
      return null;
    }
    this.abandonHandshake();
    const keys = transportKeys(created.symmetric, false);
    wipe(created.symmetric.chainingKey);
    this.#install(new Keypair(keys.sendKey, keys.receiveKey, localIndex, remoteIndex, false, now));
    return created.message;
  }

  /** Consumes a response to our pending initiation and installs the initiator's keypair (current). */
  finishResponse(msg: ResponseMessage, psk: Uint8Array | null, now: number): 'ok' | 'unexpected' | 'failed' {
    const keys = this.identity.keys;
    const hs = this.#handshake;
    if (keys === null || hs === null || hs.initiator === null || hs.localIndex !== msg.receiver)
      return 'unexpected';
    const symmetric = consumeResponse(hs.initiator, keys.privateKey, psk, msg);
    if (symmetric === null) return 'failed';
    const tk = transportKeys(symmetric, true);
    wipe(symmetric.chainingKey);
    wipeHandshakeState(hs.initiator);
    // The handshake's index now names the keypair: move it, do not free it.
    this.#handshake = null;
    this.#install(new Keypair(tk.sendKey, tk.receiveKey, hs.localIndex, msg.sender, true, now));
    return 'ok';
  }

  #install(kp: Keypair): void {
    for (const d of this.keypairs.install(kp)) this.indices.release(d.localIndex);
  }

  /** A transport message authenticated under `kp`; true when that confirmed a waiting keypair. */
  receivedWith(kp: Keypair): boolean {
    const r = this.keypairs.receivedWith(kp);
    for (const d of r.dropped) this.indices.release(d.localIndex);
    return r.confirmed;
  }

  /** Whether `index` is the pending handshake's or one of the keypairs'. */
  ownsIndex(index: number): boolean {
    return this.#handshake?.localIndex === index || this.keypairs.byIndex(index) !== null;
  }

  /** Stops sending on the current sessions (receiving continues) and drops any pending handshake. */
  expire(): void {
    this.abandonHandshake();
    const keypairs = this.#keypairs;
    if (keypairs === null) return;
    if (keypairs.current) keypairs.current.sendingValid = false;
    if (keypairs.next) keypairs.next.sendingValid = false;
  }

  /** Forgets everything: key zeroing after 3 × REJECT_AFTER_TIME, or peer removal. */
  clear(): void {
    this.abandonHandshake();
    // DH(S_priv, S_pub_peer) is as secret as a key; recomputed if the peer handshakes again.
    wipe(this.#staticStatic);
    this.#staticStatic = null;
    this.#staticStaticVersion = -1;
    if (this.#keypairs === null) return;
    for (const d of this.#keypairs.clear()) this.indices.release(d.localIndex);
  }

  /** Whether a handshake of ours is waiting for its response. */
  get handshakePending(): boolean {
    return this.#handshake !== null;
  }
}
