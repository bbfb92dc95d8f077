/**
 * A hostname to its first address, as wg(8) resolves an endpoint (wireguard-tools src/config.c
 * parse_endpoint: getaddrinfo with AF_UNSPEC, the first answer taken). node:dns lookup calls
 * getaddrinfo on libuv's thread pool, so /etc/hosts, nsswitch and resolv.conf apply exactly as
 * they do for wg; `verbatim` keeps the resolver's order. Used by the CLI (config/resolve.ts) and by
 * the daemon's re-resolution (device/endpoint-resolver.ts). Failures reject with node's error,
 * whose `code` is getaddrinfo's (ENOTFOUND, EAI_AGAIN, ...).
 */
import { lookup } from 'node:dns/promises';

/** The first address getaddrinfo gives for `host`, as text (an IPv6 zone may follow `%`). */
export async function lookupFirstAddress(host: string): Promise<string> {
  return (await lookup(host, { family: 0, hints: 0, verbatim: true })).address;
}
