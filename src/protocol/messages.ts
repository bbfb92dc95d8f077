/**
 * The four WireGuard message formats (whitepaper section 5.4, wireguard.com/protocol): sizes,
 * field offsets, a parser that classifies a datagram once by (type, length) into typed views, and
 * writers. The first four bytes are a little-endian 32-bit type, so a message whose three
 * reserved bytes are not zero is an unknown type (the kernel and wireguard-go both read it that
 * way). Views are subarrays of the datagram: nothing is copied while parsing.
 */
import {
  AEAD_TAG_LENGTH,
  COOKIE_LENGTH,
  COOKIE_REPLY_SIZE,
  INITIATION_SIZE,
  KEY_LENGTH,
  MAC_LENGTH,
  MESSAGE_TYPE_COOKIE_REPLY,
  MESSAGE_TYPE_INITIATION,
  MESSAGE_TYPE_RESPONSE,
  MESSAGE_TYPE_TRANSPORT,
  RESPONSE_SIZE,
  TIMESTAMP_LENGTH,
  TRANSPORT_HEADER_SIZE,
  TRANSPORT_MIN_SIZE,
  XNONCE_LENGTH,
} from '../constants.js';

// Offsets inside each message.
export const INITIATION = {
  sender: 4,
  ephemeral: 8,
  static: 8 + KEY_LENGTH,
  timestamp: 8 + KEY_LENGTH + KEY_LENGTH + AEAD_TAG_LENGTH,
  mac1: INITIATION_SIZE - 2 * MAC_LENGTH,
  mac2: INITIATION_SIZE - MAC_LENGTH,
} as const;
export const RESPONSE = {
  sender: 4,
  receiver: 8,
  ephemeral: 12,
  empty: 12 + KEY_LENGTH,
  mac1: RESPONSE_SIZE - 2 * MAC_LENGTH,
  mac2: RESPONSE_SIZE - MAC_LENGTH,
} as const;
export const COOKIE_REPLY = { receiver: 4, nonce: 8, cookie: 8 + XNONCE_LENGTH } as const;
export const TRANSPORT = { receiver: 4, counter: 8, payload: TRANSPORT_HEADER_SIZE } as const;

export interface InitiationMessage {
  readonly type: 'initiation';
  readonly bytes: Uint8Array;
  readonly sender: number;
  readonly ephemeral: Uint8Array;
  readonly encryptedStatic: Uint8Array;
  readonly encryptedTimestamp: Uint8Array;
  readonly mac1: Uint8Array;
  readonly mac2: Uint8Array;
}
export interface ResponseMessage {
  readonly type: 'response';
  readonly bytes: Uint8Array;
  readonly sender: number;
  readonly receiver: number;
  readonly ephemeral: Uint8Array;
  readonly encryptedNothing: Uint8Array;
  readonly mac1: Uint8Array;
  readonly mac2: Uint8Array;
}
export interface CookieReplyMessage {
  readonly type: 'cookieReply';
  readonly bytes: Uint8Array;
  readonly receiver: number;
  readonly nonce: Uint8Array;
  readonly encryptedCookie: Uint8Array;
}
export interface TransportMessage {
  readonly type: 'transport';
  readonly bytes: Uint8Array;
  readonly receiver: number;
  readonly counter: bigint;
  /** Ciphertext and tag. */
  readonly encrypted: Uint8Array;
}
export type Message = InitiationMessage | ResponseMessage | CookieReplyMessage | TransportMessage;
export type ParseFailure = { readonly type: 'invalid'; readonly reason: 'unknown-type' | 'bad-length' };

function u32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

function putU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}

function u64(b: Uint8Array, off: number): bigint {
  return (BigInt(u32(b, off + 4)) << 32n) | BigInt(u32(b, off));
}

/** The little-endian 32-bit type word, or -1 when the datagram is too short to hold one. */
export function messageType(datagram: Uint8Array): number {
  return datagram.length < 4 ? -1 : u32(datagram, 0);
}

/** Classifies and slices a datagram; never throws. */
export function parseMessage(d: Uint8Array): Message | ParseFailure {
  switch (messageType(d)) {
    case MESSAGE_TYPE_INITIATION:
      if (d.length !== INITIATION_SIZE) return { type: 'invalid', reason: 'bad-length' };
      return {
        type: 'initiation',
        bytes: d,
        sender: u32(d, INITIATION.sender),
        ephemeral: d.subarray(INITIATION.ephemeral, INITIATION.static),
        encryptedStatic: d.subarray(INITIATION.static, INITIATION.timestamp),
        encryptedTimestamp: d.subarray(INITIATION.timestamp, INITIATION.mac1),
        mac1: d.subarray(INITIATION.mac1, INITIATION.mac2),
        mac2: d.subarray(INITIATION.mac2),
      };
    case MESSAGE_TYPE_RESPONSE:
      if (d.length !== RESPONSE_SIZE) return { type: 'invalid', reason: 'bad-length' };
      return {
        type: 'response',
        bytes: d,
        sender: u32(d, RESPONSE.sender),
        receiver: u32(d, RESPONSE.receiver),
        ephemeral: d.subarray(RESPONSE.ephemeral, RESPONSE.empty),
        encryptedNothing: d.subarray(RESPONSE.empty, RESPONSE.mac1),
        mac1: d.subarray(RESPONSE.mac1, RESPONSE.mac2),
        mac2: d.subarray(RESPONSE.mac2),
      };
    case MESSAGE_TYPE_COOKIE_REPLY:
      if (d.length !== COOKIE_REPLY_SIZE) return { type: 'invalid', reason: 'bad-length' };
      return {
        type: 'cookieReply',
        bytes: d,
        receiver: u32(d, COOKIE_REPLY.receiver),
        nonce: d.subarray(COOKIE_REPLY.nonce, COOKIE_REPLY.cookie),
        encryptedCookie: d.subarray(COOKIE_REPLY.cookie),
      };
    case MESSAGE_TYPE_TRANSPORT:
      if (d.length < TRANSPORT_MIN_SIZE) return { type: 'invalid', reason: 'bad-length' };
      return {
        type: 'transport',
        bytes: d,
        receiver: u32(d, TRANSPORT.receiver),
        counter: u64(d, TRANSPORT.counter),
        encrypted: d.subarray(TRANSPORT.payload),
      };
    default:
      return { type: 'invalid', reason: 'unknown-type' };
  }
}

/** Writes an initiation without macs (they are added by the cookie layer over the final bytes). */
export function writeInitiation(
  sender: number,
  ephemeral: Uint8Array,
  encryptedStatic: Uint8Array,
  encryptedTimestamp: Uint8Array,
): Uint8Array {
  const m = new Uint8Array(INITIATION_SIZE);
  putU32(m, 0, MESSAGE_TYPE_INITIATION);
  putU32(m, INITIATION.sender, sender);
  m.set(ephemeral, INITIATION.ephemeral);
  m.set(encryptedStatic, INITIATION.static);
  m.set(encryptedTimestamp, INITIATION.timestamp);
  return m;
}

export function writeResponse(
  sender: number,
  receiver: number,
  ephemeral: Uint8Array,
  encryptedNothing: Uint8Array,
): Uint8Array {
  const m = new Uint8Array(RESPONSE_SIZE);
  putU32(m, 0, MESSAGE_TYPE_RESPONSE);
  putU32(m, RESPONSE.sender, sender);
  putU32(m, RESPONSE.receiver, receiver);
  m.set(ephemeral, RESPONSE.ephemeral);
  m.set(encryptedNothing, RESPONSE.empty);
  return m;
}

export function writeCookieReply(
  receiver: number,
  nonce: Uint8Array,
  encryptedCookie: Uint8Array,
): Uint8Array {
  const m = new Uint8Array(COOKIE_REPLY_SIZE);
  putU32(m, 0, MESSAGE_TYPE_COOKIE_REPLY);
  putU32(m, COOKIE_REPLY.receiver, receiver);
  m.set(nonce, COOKIE_REPLY.nonce);
  m.set(encryptedCookie, COOKIE_REPLY.cookie);
  return m;
}

/** Writes a transport header into `m` (which already holds, or will hold, the ciphertext after it). */
export function writeTransportHeader(m: Uint8Array, receiver: number, counter: bigint): void {
  putU32(m, 0, MESSAGE_TYPE_TRANSPORT);
  putU32(m, TRANSPORT.receiver, receiver);
  putU32(m, TRANSPORT.counter, Number(counter & 0xffffffffn));
  putU32(m, TRANSPORT.counter + 4, Number(counter >> 32n));
}

/** Sizes of the encrypted fields, for callers that build messages piecewise. */
export const ENCRYPTED_STATIC_SIZE = KEY_LENGTH + AEAD_TAG_LENGTH;
export const ENCRYPTED_TIMESTAMP_SIZE = TIMESTAMP_LENGTH + AEAD_TAG_LENGTH;
export const ENCRYPTED_COOKIE_SIZE = COOKIE_LENGTH + AEAD_TAG_LENGTH;
