/**
 * IP address and prefix formatting, byte for byte as glibc's inet_ntop(3) prints them, because
 * `wg show` and `wg showconf` print allowed IPs and endpoints through it and our CLI must match.
 * IPv4 is dotted decimal. IPv6 follows RFC 5952 section 4 (lowercase, no leading zeros, the longest
 * run of two or more zero groups shortened to `::`, the first such run on a tie) with glibc's
 * historical exception, kept deliberately: when the first 80 bits are zero and the next 16 are
 * ffff (IPv4-mapped) or zero (IPv4-compatible, but not `::` or `::1`-style addresses whose seventh
 * group is also zero), the last 32 bits print as a dotted quad: `::ffff:192.0.2.1`, `::192.0.2.1`.
 */

function checkLength(bytes: Uint8Array): void {
  if (bytes.length !== 4 && bytes.length !== 16) {
    throw new RangeError(`IP address must be 4 or 16 bytes, got ${bytes.length}`);
  }
}

function dotted(bytes: Uint8Array, at: number): string {
  return `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
}

function group(bytes: Uint8Array, index: number): number {
  return (bytes[index * 2] << 8) | bytes[index * 2 + 1];
}

function formatV6(bytes: Uint8Array): string {
  // Find the longest run of zero groups; a strictly longer run replaces, so ties keep the first.
  let bestStart = -1;
  let bestLen = 0;
  let runStart = -1;
  for (let i = 0; i <= 8; i++) {
    if (i < 8 && group(bytes, i) === 0) {
      if (runStart < 0) runStart = i;
      continue;
    }
    if (runStart >= 0 && i - runStart > bestLen) {
      bestStart = runStart;
      bestLen = i - runStart;
    }
    runStart = -1;
  }
  // A single zero group is written as `0`, never as `::` (RFC 5952 section 4.2.2).
  if (bestLen < 2) {
    bestStart = -1;
    bestLen = 0;
  }

  // glibc's embedded-IPv4 rule: it only fires when the zero run starts the address and covers
  // exactly groups 0-5 (compatible) or groups 0-4 followed by ffff (mapped).
  if (bestStart === 0 && (bestLen === 6 || (bestLen === 5 && group(bytes, 5) === 0xffff))) {
    return (bestLen === 5 ? '::ffff:' : '::') + dotted(bytes, 12);
  }

  let text = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += '::';
      i += bestLen - 1;
      continue;
    }
    // A separator goes between groups, but not right after the `::` which already supplies one.
    if (i > 0 && i !== bestStart + bestLen) text += ':';
    text += group(bytes, i).toString(16);
  }
  return text;
}

/** Formats a 4- or 16-byte address the way inet_ntop(3) does; throws RangeError on other lengths. */
export function formatIP(bytes: Uint8Array): string {
  checkLength(bytes);
  return bytes.length === 4 ? dotted(bytes, 0) : formatV6(bytes);
}

/** Formats `address/cidr` as wg(8) prints an allowed IP (the bytes are printed as given). */
export function formatPrefix(bytes: Uint8Array, cidr: number): string {
  checkLength(bytes);
  const bits = bytes.length * 8;
  if (!Number.isInteger(cidr) || cidr < 0 || cidr > bits) {
    throw new RangeError(`cidr must be an integer in [0, ${bits}], got ${cidr}`);
  }
  return `${formatIP(bytes)}/${cidr}`;
}
