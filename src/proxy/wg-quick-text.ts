/**
 * The parsed [Interface] and [Peer]s as wg-quick(8) text, the form the embeddable device accepts
 * (the glue in open-device.ts passes it on). CheckAlive and CheckAliveInterval are the proxy's own
 * and stay out.
 */
import type { ProxyConfig } from './config-types.js';

export function wgQuickText(config: Pick<ProxyConfig, 'interface' | 'peers'>): string {
  const i = config.interface;
  const lines = ['[Interface]', `PrivateKey = ${i.privateKey}`];
  if (i.addresses.length > 0) lines.push(`Address = ${i.addresses.join(', ')}`);
  if (i.dns.length > 0) lines.push(`DNS = ${i.dns.join(', ')}`);
  lines.push(`MTU = ${i.mtu}`);
  if (i.listenPort !== null) lines.push(`ListenPort = ${i.listenPort}`);
  for (const p of config.peers) {
    lines.push('', '[Peer]', `PublicKey = ${p.publicKey}`);
    if (p.presharedKey !== null) lines.push(`PresharedKey = ${p.presharedKey}`);
    if (p.endpoint !== null) lines.push(`Endpoint = ${p.endpoint}`);
    if (p.allowedIPs.length > 0) lines.push(`AllowedIPs = ${p.allowedIPs.join(', ')}`);
    if (p.persistentKeepalive > 0) lines.push(`PersistentKeepalive = ${p.persistentKeepalive}`);
  }
  return `${lines.join('\n')}\n`;
}
