/**
 * String ⇄ bytes for the socket layer. Node's socket APIs speak in strings ('10.0.0.2',
 * 'fd00::2', family 'IPv4'/'IPv6'); the stack's seams (src/netstack/types.ts) speak in raw
 * address bytes whose length is the family. The parsing and the RFC 5952 formatting live in
 * src/routing/ip.ts; this file only adds what sockets need on top: bracketed IPv6 literals as
 * URLs and Node's `host` options carry them, family names, and the unspecified addresses.
 */
import { formatIP, parseIP } from '../routing/ip.js';
import type { IpFamily } from './types.js';

export { formatIP };

/** An IP literal ('10.0.0.2', 'fd00::2', '[fd00::2]') as bytes, or null for a hostname. */
export function parseHost(host: string): Uint8Array | null {
  const text = host.length > 2 && host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return parseIP(text)?.bytes ?? null;
}

export function familyOf(address: Uint8Array): IpFamily {
  return address.length === 4 ? 4 : 6;
}

/** Node's family names, as net.Socket.remoteFamily and server.address() report them. */
export function familyName(address: Uint8Array): 'IPv4' | 'IPv6' {
  return address.length === 4 ? 'IPv4' : 'IPv6';
}

/** 0.0.0.0 or :: (RFC 4291 section 2.5.2): "any local address" for bind and listen. */
export function isUnspecified(address: Uint8Array): boolean {
  return address.every((b) => b === 0);
}

export function sameAddress(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
