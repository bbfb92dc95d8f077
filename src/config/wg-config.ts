/**
 * wg(8) configuration files, parsed (wg(8) "CONFIGURATION FILE FORMAT"; wireguard-tools
 * src/config.c): `[Interface]` PrivateKey, ListenPort, FwMark; `[Peer]` PublicKey, PresharedKey,
 * AllowedIPs (comma list, repeatable), Endpoint, PersistentKeepalive. As wg does: keys and section
 * names are case-insensitive, `#` starts a comment anywhere, every whitespace character is removed
 * from a line before it is read (so `Private Key = x` works), a bare allowed IP is a host route,
 * and several `[Interface]` sections merge.
 *
 * Every error is a ConfigError `FILE:LINE: what`, thrown before anything is applied. Stricter than
 * wg 1.0.20210914, deliberately (TEST-PLAN "Config files"; wg accepts the first four):
 * - CRLF line endings are refused (wg silently drops the CR as whitespace), as is a UTF-8 byte
 *   order mark (wg: "Line unrecognized").
 * - A peer's PublicKey appearing in two [Peer] sections is refused (wg merges them, the later
 *   AllowedIPs replacing the earlier).
 * - A single-valued key given twice (two ListenPort lines, even across [Interface] sections, or
 *   two PublicKey lines in one [Peer]) is refused (wg keeps the last).
 * - Value syntaxes as values.ts describes (decimal ports only, bracketed IPv6 endpoints, no
 *   scope ids, keys explained and never echoed when secret).
 * Hostname endpoints are kept unresolved here; resolve.ts resolves them (with wg's retries) before
 * anything is sent. The other halves: device-set.ts (to a UAPI DeviceSet for setconf, addconf and
 * syncconf) and serialize.ts (showconf).
 */
import { isAllZero } from '../crypto/bytes.js';
import { keyToBase64 } from '../crypto/keys.js';
import type { IpPrefix } from '../uapi/types.js';
import {
  ValueError,
  hostBitsWarning,
  parseAllowedIPs,
  parseEndpointSpec,
  parseFwmark,
  parseKeepalive,
  parseKey,
  parsePort,
  type EndpointSpec,
} from './values.js';

import { ConfigError } from './errors.js';

export { ConfigError } from './errors.js';
export { serializeWgConfig } from './serialize.js';
export type { DeviceConfigState } from './serialize.js';
export { configToDeviceSet, syncToDeviceSet } from './device-set.js';
export { resolveWgConfig, endpointRetriesFromEnv } from './resolve.js';

/** An Endpoint= value: a literal address (`address` set) or a hostname still to resolve. */
export interface WgEndpoint extends EndpointSpec {
  /** The line it was written on. */
  readonly line: number;
}

export interface WgPeerConfig {
  readonly publicKey: Uint8Array;
  /** undefined: not given; null: given as all zeros (no psk). */
  readonly presharedKey?: Uint8Array | null;
  readonly endpoint?: WgEndpoint;
  /** Seconds; 0 = off. */
  readonly persistentKeepalive?: number;
  /** Host bits cleared, duplicates kept, in file order. */
  readonly allowedIPs: readonly IpPrefix[];
  /** The line of this peer's [Peer] header. */
  readonly line: number;
}

export interface WgConfig {
  readonly file: string;
  /** undefined: not given; null: all-zero key (removes it). */
  readonly privateKey?: Uint8Array | null;
  readonly listenPort?: number;
  readonly fwmark?: number;
  readonly peers: readonly WgPeerConfig[];
  /** Non-fatal notes, `FILE:LINE: Warning: ...` (wg prints them to stderr too). */
  readonly warnings: readonly string[];
}

export interface ParseWgConfigOptions {
  /**
   * `[Interface]` keys to skip instead of refusing (case-insensitive), e.g. wg-quick's Address,
   * DNS, MTU, Table, PreUp, PostUp, PreDown, PostDown, SaveConfig.
   */
  readonly ignoreInterfaceKeys?: readonly string[];
  /**
   * The kind of file the text came from, for messages: in a wg-quick(8) file (whose own keys the
   * caller has already taken out) an unknown key's hint lists the wg-quick keys too, and a
   * wg-quick key in [Peer] is said to belong in [Interface]. Default 'wg'.
   */
  readonly kind?: 'wg' | 'wg-quick';
}

const INTERFACE_KEYS = ['PrivateKey', 'ListenPort', 'FwMark'] as const;
const PEER_KEYS = ['PublicKey', 'PresharedKey', 'AllowedIPs', 'Endpoint', 'PersistentKeepalive'] as const;
const QUICK_KEYS = ['Address', 'DNS', 'MTU', 'Table', 'PreUp', 'PostUp', 'PreDown', 'PostDown', 'SaveConfig'];
const canonical = new Map<string, string>(
  [...INTERFACE_KEYS, ...PEER_KEYS, ...QUICK_KEYS].map((k) => [k.toLowerCase(), k]),
);
const WHITESPACE = /[ \t\n\v\f\r]/g;

type Writable<T> = { -readonly [K in keyof T]: T[K] };
interface PeerDraft extends Omit<Writable<WgPeerConfig>, 'publicKey' | 'allowedIPs'> {
  publicKey?: Uint8Array;
  allowedIPs: IpPrefix[];
  seen: Map<string, number>;
}

/** Parses a wg(8) config file. Throws ConfigError for the first problem. */
export function parseWgConfig(text: string, filename: string, options: ParseWgConfigOptions = {}): WgConfig {
  const error = (line: number, detail: string, code?: string): ConfigError =>
    new ConfigError(filename, line, detail, code);
  const ignored = new Set((options.ignoreInterfaceKeys ?? []).map((k) => k.toLowerCase()));
  const device: Writable<Omit<WgConfig, 'peers' | 'warnings'>> = { file: filename };
  const deviceSeen = new Map<string, number>();
  const peers: WgPeerConfig[] = [];
  const warnings: string[] = [];
  const peerLines = new Map<string, number>();
  let section: 'none' | 'interface' | 'peer' = 'none';
  let peer: PeerDraft | null = null;

  const closePeer = (): void => {
    if (peer === null) return;
    const { seen: _seen, publicKey, ...rest } = peer;
    if (publicKey === undefined) throw error(peer.line, '[Peer] has no PublicKey', 'ENOPUBKEY');
    else peers.push({ ...rest, publicKey });
    peer = null;
  };

  const lines = text.split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const raw = lines[i]!;
    if (i === 0 && raw.startsWith('\uFEFF')) {
      throw error(n, 'file starts with a UTF-8 byte order mark (BOM); save it without one', 'EBOM');
    }
    if (raw.endsWith('\r')) {
      throw error(n, 'line ends with CRLF (\\r\\n); convert the file to Unix line endings (LF)', 'ECRLF');
    }
    if (raw.includes('\0')) throw error(n, 'line contains a NUL byte');
    const hash = raw.indexOf('#');
    const line = (hash < 0 ? raw : raw.slice(0, hash)).replace(WHITESPACE, '');
    if (line === '') continue;

    if (line.startsWith('[')) {
      const name = line.toLowerCase();
      if (name === '[interface]') {
        closePeer();
        section = 'interface';
      } else if (name === '[peer]') {
        closePeer();
        section = 'peer';
        peer = { line: n, allowedIPs: [], seen: new Map() };
      } else {
        throw error(
          n,
          `unknown section \`${line}'; wg config files have only [Interface] and [Peer]`,
          'ESECTION',
        );
      }
      continue;
    }

    const eq = line.indexOf('=');
    if (eq <= 0)
      throw error(n, `Line unrecognized: \`${line}' (expected Key = Value or a [Section])`, 'ESYNTAX');
    const keyText = line.slice(0, eq);
    const key = canonical.get(keyText.toLowerCase());
    const value = line.slice(eq + 1);
    if (section === 'none') {
      throw error(n, `\`${keyText}' comes before any [Interface] or [Peer] section`, 'ENOSECTION');
    }
    if (section === 'interface' && ignored.has(keyText.toLowerCase())) continue;
    const quickFile = options.kind === 'wg-quick';
    if (key === undefined) {
      const known =
        section === 'peer' ? PEER_KEYS : quickFile ? [...INTERFACE_KEYS, ...QUICK_KEYS] : INTERFACE_KEYS;
      const where = `[${section === 'interface' ? 'Interface' : 'Peer'}]${quickFile ? ' of a wg-quick file' : ''}`;
      throw error(n, `unknown key \`${keyText}' in ${where} (known: ${known.join(', ')})`, 'EKEY');
    }
    const where = (INTERFACE_KEYS as readonly string[]).includes(key)
      ? 'interface'
      : (PEER_KEYS as readonly string[]).includes(key)
        ? 'peer'
        : quickFile
          ? 'interface' // wg-quick's own keys reach here only outside [Interface]
          : 'quick';
    if (where === 'quick') {
      throw error(
        n,
        `\`${key}' is a wg-quick(8) key; wg config files take only PrivateKey, ListenPort and FwMark ` +
          "in [Interface] (`wgts strip' removes wg-quick keys)",
        'EKEY',
      );
    }
    if (where !== section) {
      const [want, got] = where === 'peer' ? ['Peer', 'Interface'] : ['Interface', 'Peer'];
      throw error(n, `\`${key}' belongs in [${want}], not in [${got}]`, 'EKEY');
    }
    if (value === '') throw error(n, `\`${key}' has no value`, 'EVALUE');
    const seen = section === 'interface' ? deviceSeen : peer!.seen;
    const first = seen.get(key);
    if (first !== undefined && key !== 'AllowedIPs') {
      throw error(
        n,
        `duplicate \`${key}' (first given at line ${first}); only AllowedIPs may repeat`,
        'EDUPLICATE',
      );
    }
    if (first === undefined) seen.set(key, n);

    try {
      switch (key) {
        case 'PrivateKey': {
          const k = parseKey(value, { secret: true, detail: true });
          device.privateKey = isAllZero(k) ? null : k;
          break;
        }
        case 'ListenPort':
          device.listenPort = parsePort(value);
          break;
        case 'FwMark':
          device.fwmark = parseFwmark(value);
          break;
        case 'PublicKey': {
          const k = parseKey(value, { secret: false, detail: true });
          const b64 = keyToBase64(k);
          const other = peerLines.get(b64);
          if (other !== undefined) {
            throw error(
              n,
              `duplicate peer: PublicKey \`${b64}' is also the peer at line ${other}`,
              'EDUPLICATE',
            );
          }
          peerLines.set(b64, n);
          peer!.publicKey = k;
          break;
        }
        case 'PresharedKey': {
          const k = parseKey(value, { secret: true, detail: true });
          peer!.presharedKey = isAllZero(k) ? null : k;
          break;
        }
        case 'AllowedIPs':
          for (const entry of parseAllowedIPs(value, false)) {
            if (entry.hostBits) warnings.push(`${filename}:${n}: ${hostBitsWarning(entry)}`);
            peer!.allowedIPs.push(entry.prefix);
          }
          break;
        case 'Endpoint':
          peer!.endpoint = { ...parseEndpointSpec(value), line: n };
          break;
        case 'PersistentKeepalive':
          peer!.persistentKeepalive = parseKeepalive(value);
          break;
      }
    } catch (err) {
      if (err instanceof ValueError) throw error(n, `${key}: ${err.message}`, 'EVALUE');
      throw err;
    }
  }
  closePeer();
  return { ...device, peers, warnings };
}
