/**
 * Transport data messages (whitepaper section 5.4.6): the plaintext IP packet is zero-padded to a
 * multiple of 16 bytes (never past the MTU) and sealed as AEAD(T_send, counter, P, ε) behind a
 * 16-byte header (type 4, receiver index, 64-bit little-endian counter). On receipt, the inner
 * packet is trimmed back to the length its own IP header states; anything that is not a whole IPv4
 * or IPv6 packet is refused so it never reaches the TUN.
 */
import { PADDING_MULTIPLE, TRANSPORT_HEADER_SIZE } from '../constants.js';
import { open, seal } from '../crypto/aead.js';
import type { Keypair } from './keypairs.js';
import { writeTransportHeader } from './messages.js';

/**
 * The padded plaintext length for a packet of `length` bytes on a link of `mtu`, exactly as the
 * kernel's calculate_skb_padding and wireguard-go's calculatePaddingSize: an MTU of 0 means no
 * cap, and a packet larger than the MTU is padded as if only its last `length % mtu` bytes were
 * (so an oversized packet still gets the same 16-byte granularity instead of none).
 */
export function paddedLength(length: number, mtu: number): number {
  const roundUp = (n: number): number => Math.ceil(n / PADDING_MULTIPLE) * PADDING_MULTIPLE;
  if (mtu <= 0) return roundUp(length);
  const lastUnit = length > mtu ? length % mtu : length;
  return length + Math.min(roundUp(lastUnit), mtu) - lastUnit;
}

/** Seals `packet` under `kp` with the next counter (the caller has checked `kp.canSend`). */
export function sealTransport(kp: Keypair, packet: Uint8Array, mtu: number): Uint8Array {
  const counter = kp.sendCounter++;
  const plain = new Uint8Array(paddedLength(packet.length, mtu));
  plain.set(packet);
  const sealed = seal(kp.sendKey, counter, plain);
  const msg = new Uint8Array(TRANSPORT_HEADER_SIZE + sealed.length);
  writeTransportHeader(msg, kp.remoteIndex, counter);
  msg.set(sealed, TRANSPORT_HEADER_SIZE);
  return msg;
}

/** Opens a transport payload; null when the tag does not verify. */
export function openTransport(kp: Keypair, counter: bigint, encrypted: Uint8Array): Uint8Array | null {
  return open(kp.receiveKey, counter, encrypted);
}

export type InnerPacket =
  | { readonly ok: true; readonly family: 4 | 6; readonly packet: Uint8Array }
  | { readonly ok: false; readonly reason: 'not-ip' | 'bad-ip-length' };

/** Validates a decrypted (non-empty) plaintext as an IP packet and trims the padding. */
export function innerPacket(plain: Uint8Array): InnerPacket {
  const version = plain[0]! >> 4;
  if (version === 4) {
    if (plain.length < 20) return { ok: false, reason: 'bad-ip-length' };
    const total = (plain[2]! << 8) | plain[3]!;
    const ihl = (plain[0]! & 0x0f) * 4;
    if (ihl < 20 || total < ihl || total > plain.length) return { ok: false, reason: 'bad-ip-length' };
    return { ok: true, family: 4, packet: plain.subarray(0, total) };
  }
  if (version === 6) {
    if (plain.length < 40) return { ok: false, reason: 'bad-ip-length' };
    const total = 40 + ((plain[4]! << 8) | plain[5]!);
    if (total > plain.length) return { ok: false, reason: 'bad-ip-length' };
    return { ok: true, family: 6, packet: plain.subarray(0, total) };
  }
  return { ok: false, reason: 'not-ip' };
}

/** Byte offsets of the source and destination address in an IP header of `family`. */
export const IP_SOURCE_OFFSET = { 4: 12, 6: 8 } as const;
export const IP_DESTINATION_OFFSET = { 4: 16, 6: 24 } as const;
