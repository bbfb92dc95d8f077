/**
 * The Noise_IKpsk2 handshake (whitepaper section 5.4.2–5.4.4) as pure functions:
 *
 *   <- s
 *   ...
 *   -> e, es, s, ss, {payload}        (WireGuard: payload = TAI64N timestamp)
 *   <- e, ee, se, psk, {payload}      (WireGuard: payload = empty)
 *
 * Each step is labelled with its Noise token. The token functions take the prologue and payloads
 * as arguments so the same code reproduces the generic Noise test vectors; the message functions
 * below them fix WireGuard's prologue (IDENTIFIER) and payloads. Nothing here mutates its inputs
 * on failure: a forged message leaves the caller's state exactly as it was. Any DH result of all
 * zeros (a low-order point) fails the handshake.
 */
import { IDENTIFIER, KEY_LENGTH, TIMESTAMP_LENGTH } from '../constants.js';
import { secretCopy, wipe } from '../crypto/bytes.js';
import { dh, publicKeyOf } from '../crypto/x25519.js';
import { writeInitiation, writeResponse, type InitiationMessage, type ResponseMessage } from './messages.js';
import {
  decryptAndHash,
  encryptAndHash,
  initializeSymmetric,
  mixChain,
  mixHash,
  mixKey,
  mixKeyAndHash,
  split,
  type SymmetricState,
} from './noise.js';

const EMPTY = new Uint8Array(0);
const ZERO_PSK = new Uint8Array(KEY_LENGTH);

function clone(s: SymmetricState): SymmetricState {
  return { chainingKey: secretCopy(s.chainingKey), hash: Uint8Array.from(s.hash) };
}

/**
 * Wipes what a handshake state holds secret once it is consumed or abandoned (whitepaper 5.4.2-
 * 5.4.4 zeroes the chaining key and ephemeral keys): the chaining key, and an initiator's
 * ephemeral private key. The hash is public input digested and stays.
 */
export function wipeHandshakeState(state: InitiatorState | ResponderState | null | undefined): void {
  if (state == null) return;
  wipe(state.symmetric.chainingKey);
  if ('ephemeralPrivate' in state) wipe(state.ephemeralPrivate);
}

/** A static key pair: S_priv, S_pub. */
export interface StaticKeys {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** What the initiator keeps between sending message 1 and receiving message 2. */
export interface InitiatorState {
  readonly symmetric: SymmetricState;
  readonly ephemeralPrivate: Uint8Array;
}

/** What the responder learns from message 1. */
export interface ResponderState {
  readonly symmetric: SymmetricState;
  readonly remoteEphemeral: Uint8Array;
  readonly remoteStatic: Uint8Array;
}

// ---- Generic IKpsk2 tokens ---------------------------------------------------------------------

/** Message 1, initiator side. `staticStatic` is DH(S_priv_i, S_pub_r), precomputed per peer. */
export function writeMessage1(
  prologue: Uint8Array | string,
  local: StaticKeys,
  remoteStatic: Uint8Array,
  staticStatic: Uint8Array,
  ephemeralPrivate: Uint8Array,
  payload: Uint8Array,
): {
  state: InitiatorState;
  ephemeral: Uint8Array;
  encryptedStatic: Uint8Array;
  encryptedPayload: Uint8Array;
} | null {
  const s = initializeSymmetric(prologue, remoteStatic);
  /* e */
  const ephemeral = publicKeyOf(ephemeralPrivate);
  mixHash(s, ephemeral);
  mixChain(s, ephemeral);
  /* es */
  const es = dh(ephemeralPrivate, remoteStatic);
  if (es === null) {
    wipe(s.chainingKey);
    return null;
  }
  const kEs = mixKey(s, es);
  wipe(es);
  /* s */
  const encryptedStatic = encryptAndHash(s, kEs, local.publicKey);
  /* ss */
  const kSs = mixKey(s, staticStatic);
  /* {payload} */
  const encryptedPayload = encryptAndHash(s, kSs, payload);
  return {
    // A copy the session wipes when the handshake completes or is abandoned; the caller wipes its own.
    state: { symmetric: s, ephemeralPrivate: secretCopy(ephemeralPrivate) },
    ephemeral,
    encryptedStatic,
    encryptedPayload,
  };
}

/**
 * Message 1, responder side, first half: the e, es and s tokens, which reveal the initiator's
 * static key. The caller looks the peer up by that key before the ss token (readMessage1Payload).
 */
export function readMessage1Static(
  prologue: Uint8Array | string,
  local: StaticKeys,
  ephemeral: Uint8Array,
  encryptedStatic: Uint8Array,
): ResponderState | null {
  const s = initializeSymmetric(prologue, local.publicKey);
  /* e */
  mixHash(s, ephemeral);
  mixChain(s, ephemeral);
  /* es */
  const es = dh(local.privateKey, ephemeral);
  if (es === null) {
    wipe(s.chainingKey);
    return null;
  }
  const kEs = mixKey(s, es);
  wipe(es);
  /* s */
  const remoteStatic = decryptAndHash(s, kEs, encryptedStatic);
  if (remoteStatic === null) {
    wipe(s.chainingKey);
    return null;
  }
  return { symmetric: s, remoteEphemeral: Uint8Array.from(ephemeral), remoteStatic };
}

/** Message 1, responder side, second half: ss and the payload. Returns a new state on success. */
export function readMessage1Payload(
  partial: ResponderState,
  staticStatic: Uint8Array,
  encryptedPayload: Uint8Array,
): { state: ResponderState; payload: Uint8Array } | null {
  const s = clone(partial.symmetric);
  /* ss */
  const kSs = mixKey(s, staticStatic);
  /* {payload} */
  const payload = decryptAndHash(s, kSs, encryptedPayload);
  if (payload === null) {
    wipe(s.chainingKey);
    return null;
  }
  return { state: { ...partial, symmetric: s }, payload };
}

/** Message 2, responder side. */
export function writeMessage2(
  state: ResponderState,
  ephemeralPrivate: Uint8Array,
  psk: Uint8Array,
  payload: Uint8Array,
): { symmetric: SymmetricState; ephemeral: Uint8Array; encryptedPayload: Uint8Array } | null {
  const s = clone(state.symmetric);
  /* e */
  const ephemeral = publicKeyOf(ephemeralPrivate);
  mixHash(s, ephemeral);
  mixChain(s, ephemeral);
  /* ee */
  const ee = dh(ephemeralPrivate, state.remoteEphemeral);
  /* se */
  const se = dh(ephemeralPrivate, state.remoteStatic);
  if (ee === null || se === null) {
    wipe(ee, se, s.chainingKey);
    return null;
  }
  mixChain(s, ee);
  mixChain(s, se);
  wipe(ee, se);
  /* psk */
  const k = mixKeyAndHash(s, psk);
  /* {payload} */
  const encryptedPayload = encryptAndHash(s, k, payload);
  return { symmetric: s, ephemeral, encryptedPayload };
}

/** Message 2, initiator side. */
export function readMessage2(
  state: InitiatorState,
  localPrivate: Uint8Array,
  ephemeral: Uint8Array,
  psk: Uint8Array,
  encryptedPayload: Uint8Array,
): { symmetric: SymmetricState; payload: Uint8Array } | null {
  const s = clone(state.symmetric);
  /* e */
  mixHash(s, ephemeral);
  mixChain(s, ephemeral);
  /* ee */
  const ee = dh(state.ephemeralPrivate, ephemeral);
  /* se */
  const se = dh(localPrivate, ephemeral);
  if (ee === null || se === null) {
    wipe(ee, se, s.chainingKey);
    return null;
  }
  mixChain(s, ee);
  mixChain(s, se);
  wipe(ee, se);
  /* psk */
  const k = mixKeyAndHash(s, psk);
  /* {payload} */
  const payload = decryptAndHash(s, k, encryptedPayload);
  if (payload === null) {
    wipe(s.chainingKey);
    return null;
  }
  return { symmetric: s, payload };
}

/** Split into transport keys: the initiator sends with the first, the responder with the second. */
export function transportKeys(
  s: SymmetricState,
  isInitiator: boolean,
): { sendKey: Uint8Array; receiveKey: Uint8Array } {
  const [t1, t2] = split(s);
  return isInitiator ? { sendKey: t1, receiveKey: t2 } : { sendKey: t2, receiveKey: t1 };
}

// ---- WireGuard messages ------------------------------------------------------------------------

/** Builds a handshake initiation (macs still zero) for `sender`, carrying `timestamp`. */
export function createInitiation(
  local: StaticKeys,
  remoteStatic: Uint8Array,
  staticStatic: Uint8Array,
  sender: number,
  ephemeralPrivate: Uint8Array,
  timestamp: Uint8Array,
): { message: Uint8Array; state: InitiatorState } | null {
  const m1 = writeMessage1(IDENTIFIER, local, remoteStatic, staticStatic, ephemeralPrivate, timestamp);
  if (m1 === null) return null;
  return {
    message: writeInitiation(sender, m1.ephemeral, m1.encryptedStatic, m1.encryptedPayload),
    state: m1.state,
  };
}

/** First half of consuming an initiation: who sent it. Null for anything that does not decrypt. */
export function identifyInitiation(local: StaticKeys, msg: InitiationMessage): ResponderState | null {
  return readMessage1Static(IDENTIFIER, local, msg.ephemeral, msg.encryptedStatic);
}

/** Second half: the ss token and the timestamp, once the peer (and so DH(S_priv, S_pub_i)) is known. */
export function finishInitiation(
  partial: ResponderState,
  staticStatic: Uint8Array,
  msg: InitiationMessage,
): { state: ResponderState; timestamp: Uint8Array } | null {
  const r = readMessage1Payload(partial, staticStatic, msg.encryptedTimestamp);
  if (r === null) return null;
  if (r.payload.length !== TIMESTAMP_LENGTH) {
    wipe(r.state.symmetric.chainingKey);
    return null;
  }
  return { state: r.state, timestamp: r.payload };
}

/** Builds a handshake response (macs still zero). */
export function createResponse(
  state: ResponderState,
  sender: number,
  receiver: number,
  ephemeralPrivate: Uint8Array,
  psk: Uint8Array | null,
): { message: Uint8Array; symmetric: SymmetricState } | null {
  const m2 = writeMessage2(state, ephemeralPrivate, psk ?? ZERO_PSK, EMPTY);
  if (m2 === null) return null;
  return {
    message: writeResponse(sender, receiver, m2.ephemeral, m2.encryptedPayload),
    symmetric: m2.symmetric,
  };
}

/** Consumes a handshake response to our initiation. */
export function consumeResponse(
  state: InitiatorState,
  localPrivate: Uint8Array,
  psk: Uint8Array | null,
  msg: ResponseMessage,
): SymmetricState | null {
  const r = readMessage2(state, localPrivate, msg.ephemeral, psk ?? ZERO_PSK, msg.encryptedNothing);
  if (r === null) return null;
  if (r.payload.length !== 0) {
    wipe(r.symmetric.chainingKey);
    return null;
  }
  return r.symmetric;
}
