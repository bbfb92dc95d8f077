/**
 * The glue between a parsed proxy configuration (wireproxy's format) and the embeddable WireGuard
 * device over the userspace network stack: the [Interface] and [Peer] sections go back to wg-quick
 * text, which `WireGuard.open` parses with the same reader as every other configuration, so errors
 * name the file and line the user wrote (`configName`). No TUN, no capabilities: the stack
 * (src/netstack, RFC 791/8200/768/9293) lives in this process and the proxy sees only its
 * TunnelNetwork.
 */
import { WireGuard } from '../embed/wireguard.js';
import type { ProxyConfig } from './config-types.js';
import type { ProxyDevice } from './types.js';
import { wgQuickText } from './wg-quick-text.js';

export async function openDevice(config: ProxyConfig): Promise<ProxyDevice> {
  const wg = await WireGuard.open({
    config: wgQuickText(config),
    backend: 'userspace',
    configName: config.wgFile,
  });
  return {
    network: wg.network,
    uapiGet: () => wg.uapiGet(),
    close: () => wg.close(),
  };
}
