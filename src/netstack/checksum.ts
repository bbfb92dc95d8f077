/**
 * The Internet checksum (RFC 1071): the 16-bit ones' complement of the ones' complement sum of the
 * data as big-endian 16-bit words, an odd last byte padded with zero. The pseudo-header sums are
 * those of UDP (RFC 768) and TCP (RFC 9293 section 3.1) over IPv4, and of RFC 8200 section 8.1 for
 * every upper layer over IPv6 (ICMPv6 included, RFC 4443 section 2.3).
 *
 * Speed: the data is read as 32-bit words and added into a double, which holds the sum of up to
 * 2^21 such words exactly; folding the carries afterwards gives the same result as adding 16-bit
 * words with end-around carry (2^16 ≡ 1 modulo 2^16 − 1). Large aligned input is read in the
 * machine's byte order (see sumAligned).
 */

/** Folds a non-negative sum (exact in a double) to 16 bits with end-around carry. */
export function foldSum(sum: number): number {
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/** The unfolded ones' complement sum of `data`, plus `initial` (another unfolded sum). */
export function sumWords(data: Uint8Array, initial = 0): number {
  const length = data.byteLength;
  if (length >= 64 && (data.byteOffset & 3) === 0) return sumAligned(data, initial);
  const view = new DataView(data.buffer, data.byteOffset, length);
  const whole = length & ~3;
  let sum = initial;
  let i = 0;
  for (; i < whole; i += 4) sum += view.getUint32(i);
  if (length - i >= 2) {
    sum += view.getUint16(i);
    i += 2;
  }
  if (i < length) sum += data[i]! << 8;
  return sum;
}

/**
 * Large aligned input: the words are summed in the machine's byte order through a Uint32Array
 * (no per-word byte swapping), and the folded result swapped back when the machine is
 * little-endian. RFC 1071 section 2(B): the sum is independent of byte order up to that swap.
 */
function sumAligned(data: Uint8Array, initial: number): number {
  const words = data.byteLength >>> 2;
  const u32 = new Uint32Array(data.buffer, data.byteOffset, words);
  let sum = 0;
  for (let i = 0; i < words; i++) sum += u32[i]!;
  let folded = foldSum(sum);
  if (LITTLE_ENDIAN) folded = ((folded & 0xff) << 8) | (folded >>> 8);
  let tail = initial + folded;
  let i = words * 4;
  if (data.byteLength - i >= 2) {
    tail += (data[i]! << 8) | data[i + 1]!;
    i += 2;
  }
  if (i < data.byteLength) tail += data[i]! << 8;
  return tail;
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** The checksum to write into a header: the complement of the folded sum, 16 bits. */
export function internetChecksum(data: Uint8Array, initial = 0): number {
  return ~foldSum(sumWords(data, initial)) & 0xffff;
}

/**
 * The pseudo-header sum for `protocol` with upper-layer `length`: source, destination, zero,
 * protocol and length for IPv4 (12 bytes); source, destination, 32-bit length, three zero bytes
 * and next header for IPv6 (40 bytes). Both add up to the same words.
 */
export function pseudoHeaderSum(
  source: Uint8Array,
  destination: Uint8Array,
  protocol: number,
  length: number,
): number {
  let sum = sumWords(source) + sumWords(destination) + protocol;
  sum += (length >>> 16) + (length & 0xffff);
  return sum;
}

/** True when `data` (its checksum field included) plus `initial` sums to all ones: it verifies. */
export function checksumVerifies(data: Uint8Array, initial = 0): boolean {
  return foldSum(sumWords(data, initial)) === 0xffff;
}
