/**
 * The configuration WireGuard.open and setConfig take: wg-quick(8) text ("CONFIGURATION": the
 * wg(8) keys plus Address, DNS and MTU) or the same as a plain object. Both go through the one
 * parser the CLI uses (parseQuickFile, validateExtras, parseWgConfig): an object is written out
 * as wg-quick text, a line per field, and an error the parser finds on a line is reported under
 * the object path that produced it (`config.peers[1].allowedIPs: ...`). So a key, a port or an
 * allowed IP is accepted or refused by the same rule whichever form it came in.
 *
 * Everything is checked before anything is applied. Refused, deliberately: wg-quick's PreUp,
 * PostUp, PreDown and PostDown (an embedded interface runs no shell commands). Ignored, as they
 * concern only wg-quick's routing and saving: Table, SaveConfig.
 */
import { ConfigError } from '../config/errors.js';
import { parseWgConfig, type WgConfig } from '../config/wg-config.js';
import { parseQuickFile, validateExtras } from '../cli/quick/config-extras.js';
import { keyToBase64 } from '../crypto/keys.js';
import { DEFAULT_MTU } from '../io/tun.js';
import { formatPrefix, parseIP, parsePrefix, type IPPrefix } from '../routing/ip.js';

/** The [Interface] section as an object. Keys are base64 strings (or 32 raw bytes). */
export interface WireGuardInterfaceConfig {
  readonly privateKey: string | Uint8Array;
  readonly listenPort?: number;
  readonly fwMark?: number;
  /** wg-quick Address: `10.0.0.2/32`, `fd00::2/128` (a bare address is a host prefix). */
  readonly addresses?: readonly string[];
  /** wg-quick DNS: server addresses (used by the userspace stack's lookup). */
  readonly dns?: readonly string[];
  readonly mtu?: number;
}

/** A [Peer] section as an object. */
export interface WireGuardPeerConfig {
  readonly publicKey: string | Uint8Array;
  readonly presharedKey?: string | Uint8Array;
  /** `host:port`, `192.0.2.1:51820` or `[2001:db8::1]:51820`. */
  readonly endpoint?: string;
  readonly allowedIPs?: readonly string[];
  /** Seconds; 0 = off. */
  readonly persistentKeepalive?: number;
}

export interface WireGuardConfig {
  readonly interface: WireGuardInterfaceConfig;
  readonly peers?: readonly WireGuardPeerConfig[];
}

/** A configuration checked and split into the device's part and the interface's. */
export interface EmbedConfig {
  /** The wg(8) part, endpoints not yet resolved. */
  readonly wg: WgConfig;
  readonly addresses: readonly IPPrefix[];
  readonly dns: readonly Uint8Array[];
  /** null: not given (the default MTU applies). */
  readonly mtu: number | null;
}

const INTERFACE_FIELDS: Readonly<Record<string, string>> = {
  privateKey: 'PrivateKey',
  listenPort: 'ListenPort',
  fwMark: 'FwMark',
  addresses: 'Address',
  dns: 'DNS',
  mtu: 'MTU',
};
const PEER_FIELDS: Readonly<Record<string, string>> = {
  publicKey: 'PublicKey',
  presharedKey: 'PresharedKey',
  endpoint: 'Endpoint',
  allowedIPs: 'AllowedIPs',
  persistentKeepalive: 'PersistentKeepalive',
};

/** A ConfigError about an object field: the message names the path instead of FILE:LINE. */
function fieldError(path: string, detail: string): ConfigError {
  const err = new ConfigError(path, 0, detail);
  err.message = `${path}: ${detail}`;
  return err;
}

/**
 * The interface part (Address, DNS, MTU) as one string, to tell whether a new configuration
 * changes it (an open interface keeps the one it was opened with).
 */
export function interfaceKey(c: EmbedConfig): string {
  const a = c.addresses.map((p) => formatPrefix(p.bytes, p.cidr)).join(',');
  const d = c.dns.map((b) => Buffer.from(b).toString('hex')).join(',');
  return `${a} ${d} ${c.mtu ?? DEFAULT_MTU}`;
}

/** Parses and checks `config` (text or object); throws ConfigError, changes nothing. */
export function parseEmbedConfig(config: string | WireGuardConfig, file = 'config'): EmbedConfig {
  if (typeof config === 'string') return parseText(config, file);
  if (typeof config !== 'object' || config === null) {
    throw new TypeError('config must be wg-quick text or a configuration object');
  }
  const { text, paths } = objectToText(config, file);
  try {
    return parseText(text, file);
  } catch (err) {
    if (!(err instanceof ConfigError) || err.line === 0) throw err;
    throw fieldError(paths[err.line - 1] ?? file, err.detail);
  }
}

function parseText(text: string, file: string): EmbedConfig {
  const quick = parseQuickFile(text, file);
  validateExtras(quick.extras, file);
  const { preUp, postUp, preDown, postDown } = quick.extras;
  if (preUp.length + postUp.length + preDown.length + postDown.length > 0) {
    throw new ConfigError(
      file,
      0,
      'PreUp, PostUp, PreDown and PostDown are not run by an embedded interface: remove them',
    );
  }
  const wg = parseWgConfig(quick.wgText, file, { kind: 'wg-quick' });
  const addresses = quick.extras.addresses.map((a) => parsePrefix(a.value, { implicitHostPrefix: true })!);
  const dns = quick.extras.dns.map((d) => parseIP(d.value)!.bytes);
  const mtu = quick.extras.mtu === null ? null : Number(quick.extras.mtu.value);
  return { wg, addresses, dns, mtu };
}

/** The object as wg-quick text, and for each line the object path it came from. */
function objectToText(config: WireGuardConfig, file: string): { text: string; paths: string[] } {
  const lines: string[] = [];
  const paths: string[] = [];
  const add = (line: string, path: string): void => {
    lines.push(line);
    paths.push(path);
  };
  const section = (
    header: string,
    obj: object,
    fields: Readonly<Record<string, string>>,
    path: string,
    required: string,
  ): void => {
    if (typeof obj !== 'object' || obj === null) throw fieldError(path, 'must be an object');
    add(header, path);
    if ((obj as Record<string, unknown>)[required] === undefined)
      throw fieldError(`${path}.${required}`, 'is required');
    for (const [name, value] of Object.entries(obj)) {
      const key = fields[name];
      const at = `${path}.${name}`;
      if (key === undefined) throw fieldError(at, `unknown field (known: ${Object.keys(fields).join(', ')})`);
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? (value as unknown[]) : [value])
        add(`${key} = ${text(v, at)}`, at);
    }
  };
  section('[Interface]', config.interface, INTERFACE_FIELDS, `${file}.interface`, 'privateKey');
  const peers: unknown = config.peers ?? [];
  if (!Array.isArray(peers)) throw fieldError(`${file}.peers`, 'must be an array');
  peers.forEach((peer: WireGuardPeerConfig, i) => {
    const path = `${file}.peers[${i}]`;
    section('[Peer]', peer, PEER_FIELDS, path, 'publicKey');
    // An empty AllowedIPs list is a peer that routes nothing, which the text form says by omission.
  });
  return { text: lines.join('\n') + '\n', paths };
}

/** One value as config text: keys to base64; strings that would change the line's meaning refused. */
function text(v: unknown, path: string): string {
  if (v instanceof Uint8Array) {
    if (v.length !== 32) throw fieldError(path, `a key must be 32 bytes, got ${v.length}`);
    return keyToBase64(v);
  }
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0) throw fieldError(path, `must be a non-negative integer, got ${v}`);
    return String(v);
  }
  if (typeof v !== 'string') throw fieldError(path, `must be a string, got ${typeof v}`);
  if (/[\n\r#]/.test(v)) throw fieldError(path, 'must not contain a newline or #');
  if (v.trim() === '') throw fieldError(path, 'must not be empty');
  return v;
}
