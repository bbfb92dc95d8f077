/**
 * `wgts show --json` and `wgts showconf --json`: wgts's own machine-readable forms (wg(8) has
 * none). Also documented in docs/cli-json.md. Output is one JSON value, pretty-printed with two
 * spaces, then a newline. Keys are base64 as wg prints them; addresses as `wg show` prints them.
 *
 * `wgts show IFACE --json` prints one Interface; `wgts show --json` and `wgts show all --json` an
 * array of Interface (directory order); `wgts show interfaces --json` an array of names. A field
 * argument (`wgts show wg0 peers --json`) is refused: the JSON always has every field.
 *
 *   Interface {
 *     "name": string,                     // as in `wg show`
 *     "publicKey": string | null,         // null without a private key
 *     "privateKey": string | null,        // NOT hidden: like `dump`, for scripts run by root
 *     "listenPort": number,               // 0 when the daemon reports none
 *     "fwmark": number,                   // 0 = off
 *     "peers": Peer[]                     // daemon order, as `dump` (not the pretty sort)
 *   }
 *   Peer {
 *     "publicKey": string,
 *     "presharedKey": string | null,      // null = none
 *     "endpoint": string | null,          // "192.0.2.1:51820", "[2001:db8::1]:51820"
 *     "allowedIPs": string[],             // ["10.0.0.2/32", "fd00::/64"], daemon order
 *     "latestHandshake": number | null,   // unix seconds; null = never
 *     "transferRx": number,               // bytes received, an exact 64-bit integer
 *     "transferTx": number,               // bytes sent
 *     "persistentKeepalive": number | null // seconds; null = off
 *   }
 *
 * `wgts showconf IFACE --json` prints the configuration `showconf` prints, members omitted exactly
 * when showconf omits the line:
 *
 *   {
 *     "interface": { "listenPort"?: number, "fwmark"?: number, "privateKey"?: string },
 *     "peers": [ { "publicKey": string, "presharedKey"?: string, "allowedIPs": string[],
 *                  "endpoint"?: string, "persistentKeepalive"?: number } ]
 *   }
 *
 * Counters are written as plain JSON integers even above 2^53 (exact digits); JavaScript readers
 * that need them exact should parse with a big-integer-aware parser.
 */
import { keyToBase64 } from '../crypto/keys.js';
import { formatAllowedIPC, formatEndpointC, type DeviceConfigState } from '../config/serialize.js';
import type { WgDevice } from './device.js';

export type Json =
  string | number | bigint | boolean | null | readonly Json[] | { readonly [k: string]: Json };

/** JSON.stringify(value, null, 2) that also writes bigint as exact digits. */
export function stringifyJson(value: Json, indent = ''): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'number') return JSON.stringify(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string') return JSON.stringify(value);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    const items = value as readonly Json[];
    if (items.length === 0) return '[]';
    return `[\n${items.map((v) => inner + stringifyJson(v, inner)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(value as { readonly [k: string]: Json });
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${stringifyJson(v, inner)}`).join(',\n')}\n${indent}}`;
}

const b64 = (k: Uint8Array | null): string | null => (k === null ? null : keyToBase64(k));

export function deviceJson(dev: WgDevice): Json {
  return {
    name: dev.name,
    publicKey: b64(dev.publicKey),
    privateKey: b64(dev.privateKey),
    listenPort: dev.listenPort,
    fwmark: dev.fwmark,
    peers: dev.peers.map((p): Json => ({
      publicKey: keyToBase64(p.publicKey),
      presharedKey: b64(p.presharedKey),
      endpoint: p.endpoint === null ? null : formatEndpointC(p.endpoint),
      allowedIPs: p.allowedIPs.map(formatAllowedIPC),
      latestHandshake: p.lastHandshakeSec === 0n ? null : p.lastHandshakeSec,
      transferRx: p.rxBytes,
      transferTx: p.txBytes,
      persistentKeepalive: p.persistentKeepalive === 0 ? null : p.persistentKeepalive,
    })),
  };
}

export function configJson(state: DeviceConfigState): Json {
  const iface: Record<string, Json> = {};
  if (state.listenPort !== 0) iface['listenPort'] = state.listenPort;
  if (state.fwmark !== 0) iface['fwmark'] = state.fwmark;
  if (state.privateKey !== null) iface['privateKey'] = keyToBase64(state.privateKey);
  return {
    interface: iface,
    peers: state.peers.map((p): Json => {
      const peer: Record<string, Json> = { publicKey: keyToBase64(p.publicKey) };
      if (p.presharedKey !== null) peer['presharedKey'] = keyToBase64(p.presharedKey);
      peer['allowedIPs'] = p.allowedIPs.map(formatAllowedIPC);
      if (p.endpoint !== null) peer['endpoint'] = formatEndpointC(p.endpoint);
      if (p.persistentKeepalive !== 0) peer['persistentKeepalive'] = p.persistentKeepalive;
      return peer;
    }),
  };
}
