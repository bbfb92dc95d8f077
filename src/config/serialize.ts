/**
 * `wg showconf`: a device's state as a wg(8) config file, byte for byte as wireguard-tools'
 * src/showconf.c prints it. `[Interface]` with ListenPort (when not 0), FwMark (hex, when not 0)
 * and PrivateKey (when set), a blank line, then per peer `[Peer]`, PublicKey, PresharedKey (when
 * set), AllowedIPs (`, `-separated, when any), Endpoint (when known) and PersistentKeepalive (when
 * not 0), peers separated by blank lines. Addresses print as glibc's inet_ntop/getnameinfo do.
 */
import { keyToBase64 } from '../crypto/keys.js';
import { formatIP } from '../routing/ip.js';
import type { IpPrefix } from '../uapi/types.js';

/** An endpoint as read back from a daemon; `scope` is an IPv6 zone as the daemon printed it. */
export interface EndpointState {
  readonly address: Uint8Array;
  readonly port: number;
  readonly scope?: string;
}

export interface PeerConfigState {
  readonly publicKey: Uint8Array;
  readonly presharedKey: Uint8Array | null;
  readonly endpoint: EndpointState | null;
  /** Seconds, 0 = off. */
  readonly persistentKeepalive: number;
  readonly allowedIPs: readonly IpPrefix[];
}

/**
 * The configuration part of a device's state. A uapi DeviceSnapshot is one, and so is the CLI's
 * WgDevice.
 */
export interface DeviceConfigState {
  readonly privateKey: Uint8Array | null;
  readonly listenPort: number;
  readonly fwmark: number;
  readonly peers: readonly PeerConfigState[];
}

/** `a.b.c.d:port` or `[v6]:port`, as getnameinfo(NI_NUMERICHOST | NI_NUMERICSERV) and wg print it. */
export function formatEndpointC(endpoint: EndpointState): string {
  const host = formatIP(endpoint.address);
  if (endpoint.address.length === 16) {
    const zone = endpoint.scope === undefined || endpoint.scope === '' ? '' : `%${endpoint.scope}`;
    return `[${host}${zone}]:${endpoint.port}`;
  }
  return `${host}:${endpoint.port}`;
}

/** `addr/cidr` as inet_ntop and `%d` print it. */
export function formatAllowedIPC(prefix: IpPrefix): string {
  return `${formatIP(prefix.bytes)}/${prefix.cidr}`;
}

/** showconf's text for `state`. */
export function serializeWgConfig(state: DeviceConfigState): string {
  let out = '[Interface]\n';
  if (state.listenPort !== 0) out += `ListenPort = ${state.listenPort}\n`;
  if (state.fwmark !== 0) out += `FwMark = 0x${(state.fwmark >>> 0).toString(16)}\n`;
  if (state.privateKey !== null) out += `PrivateKey = ${keyToBase64(state.privateKey)}\n`;
  out += '\n';
  state.peers.forEach((peer, i) => {
    out += `[Peer]\nPublicKey = ${keyToBase64(peer.publicKey)}\n`;
    if (peer.presharedKey !== null) out += `PresharedKey = ${keyToBase64(peer.presharedKey)}\n`;
    if (peer.allowedIPs.length > 0)
      out += `AllowedIPs = ${peer.allowedIPs.map(formatAllowedIPC).join(', ')}\n`;
    if (peer.endpoint !== null) out += `Endpoint = ${formatEndpointC(peer.endpoint)}\n`;
    if (peer.persistentKeepalive !== 0) out += `PersistentKeepalive = ${peer.persistentKeepalive}\n`;
    if (i < state.peers.length - 1) out += '\n';
  });
  return out;
}
