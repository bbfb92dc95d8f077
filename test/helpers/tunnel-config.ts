/**
 * Configuration texts for "our side" of the tunnel peer fixture (tunnel-peer.ts): a wg-quick(8)
 * file ([Interface] PrivateKey, Address, DNS, MTU; [Peer] PublicKey, Endpoint, AllowedIPs,
 * PersistentKeepalive) and a wireproxy configuration (the same [Interface] and [Peer], then the
 * proxy sections of /work/shared/REFERENCE.md "wireproxy's configuration file": [Socks5], [http],
 * [TCPClientTunnel], …). Addresses are /32 and /128, which both formats accept.
 */

export interface ConfigInputs {
  readonly peerPublicKey: string;
  readonly endpoint: string;
  readonly ourV4: string;
  readonly ourV6: string;
  readonly dnsServer: string;
  readonly mtu: number;
  /** What our side routes into the tunnel: the peer's inner subnets. */
  readonly allowed: readonly string[];
}

export interface WgQuickOptions {
  /** Seconds; default 25 (our side may be behind an ephemeral port or a NAT). 0 leaves it out. */
  readonly persistentKeepalive?: number;
  /** Leave out the DNS line (wg-quick would hand it to resolvconf). Default false. */
  readonly omitDns?: boolean;
  /** AllowedIPs; default the peer's inner subnets. */
  readonly allowedIps?: readonly string[];
}

export interface ConfigTexts {
  /** A wg-quick file for our side. */
  wgQuickConfig(ourPrivateKey: string, opts?: WgQuickOptions): string;
  /** A wireproxy file for our side: the wg-quick part (with DNS), then `sections` (raw text). */
  wireproxyConfig(ourPrivateKey: string, sections?: string | readonly string[]): string;
}

function quick(i: ConfigInputs, key: string, o: WgQuickOptions): string {
  const keepalive = o.persistentKeepalive ?? 25;
  return [
    '[Interface]',
    `PrivateKey = ${key}`,
    `Address = ${i.ourV4}/32, ${i.ourV6}/128`,
    ...(o.omitDns === true ? [] : [`DNS = ${i.dnsServer}`]),
    `MTU = ${i.mtu}`,
    '',
    '[Peer]',
    `PublicKey = ${i.peerPublicKey}`,
    `Endpoint = ${i.endpoint}`,
    `AllowedIPs = ${(o.allowedIps ?? i.allowed).join(', ')}`,
    ...(keepalive > 0 ? [`PersistentKeepalive = ${keepalive}`] : []),
    '',
  ].join('\n');
}

/** Both texts for one peer. */
export function peerConfigText(i: ConfigInputs): ConfigTexts {
  return {
    wgQuickConfig: (key, o = {}) => quick(i, key, o),
    wireproxyConfig: (key, sections = []) => {
      const list = typeof sections === 'string' ? [sections] : sections;
      return [quick(i, key, {}), ...list.map((s) => `${s.trimEnd()}\n`)].join('\n');
    },
  };
}

function auth(username?: string, password?: string): string[] {
  return username === undefined ? [] : [`Username = ${username}`, `Password = ${password ?? ''}`];
}

/** A `[Socks5]` section. */
export function socks5Section(bindAddress: string, username?: string, password?: string): string {
  return ['[Socks5]', `BindAddress = ${bindAddress}`, ...auth(username, password)].join('\n');
}

/** An `[http]` section. */
export function httpSection(bindAddress: string, username?: string, password?: string): string {
  return ['[http]', `BindAddress = ${bindAddress}`, ...auth(username, password)].join('\n');
}

/** A `[TCPClientTunnel]` section: local `bindAddress` → `target` through the tunnel. */
export function tcpClientTunnelSection(bindAddress: string, target: string): string {
  return ['[TCPClientTunnel]', `BindAddress = ${bindAddress}`, `Target = ${target}`].join('\n');
}
