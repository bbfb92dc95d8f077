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

/**
 * The one inner-length rule, for every driver (innerPacket here; the batched receivers read it
 * in place, device/inner-rule.ts): the length the IP header at b[p ..] states for the `plain`
 * decrypted bytes there — 0 for an IPv4/IPv6 packet cut short or with a bad length, -1 when it is
 * neither IPv4 nor IPv6. Anything past the stated length is padding.
 */
export function innerLength(b: Uint8Array, p: number, plain: number): number {
  const version = b[p]! >> 4;
  if (version === 4) {
    if (plain < 20) return 0;
    const total = (b[p + 2]! << 8) | b[p + 3]!;
    const ihl = (b[p]! & 0x0f) * 4;
    return ihl < 20 || total < ihl || total > plain ? 0 : total;
  }
  if (version === 6) {
    if (plain < 40) return 0;
    const total = 40 + ((b[p + 4]! << 8) | b[p + 5]!);
    return total > plain ? 0 : total;
  }
  return -1;
}

/** Validates a decrypted (non-empty) plaintext as an IP packet and trims the padding. */
export function innerPacket(plain: Uint8Array): InnerPacket {
  const length = innerLength(plain, 0, plain.length);
  if (length < 0) return { ok: false, reason: 'not-ip' };
  if (length === 0) return { ok: false, reason: 'bad-ip-length' };
  return { ok: true, family: plain[0]! >> 4 === 4 ? 4 : 6, packet: plain.subarray(0, length) };
}

/** Byte offsets of the source and destination address in an IP header of `family`. */
export const IP_SOURCE_OFFSET = { 4: 12, 6: 8 } as const;
export const IP_DESTINATION_OFFSET = { 4: 16, 6: 24 } as const;
