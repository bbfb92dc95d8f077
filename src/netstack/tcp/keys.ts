/**
 * Table keys for the TCP layer: a connection is named by its 4-tuple (RFC 9293 section 3.3.1's
 * "socket pair"), written as one string so a Map finds it. Also the errors API misuse throws.
 */

/** Dotted decimal for IPv4, hex words for IPv6 (only ever compared, never shown). */
export function addrKey(a: Uint8Array): string {
  if (a.length === 4) return `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;
  let s = '';
  for (let i = 0; i < a.length; i += 2) s += ((a[i]! << 8) | a[i + 1]!).toString(16) + ':';
  return s;
}

export function connectionKey(
  local: Uint8Array,
  localPort: number,
  remote: Uint8Array,
  remotePort: number,
): string {
  return `${addrKey(local)}|${localPort}|${addrKey(remote)}|${remotePort}`;
}

/** An Error with a Node-style `code`, for API misuse the caller must handle. */
export function usageError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}
