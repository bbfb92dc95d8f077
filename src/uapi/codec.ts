/**
 * The UAPI text codec (wireguard.com/xplatform "Configuration Protocol"), strings to types and
 * back, with no sockets. It follows wireguard-go's device/uapi.go, verified against wireguard-go
 * 0.0.20220316 (see test/uapi/interop.test.ts):
 *
 * - encodeGet (and formatGet, its text) prints IpcGetOperation's body byte for byte, through
 *   get-encoder.ts: private_key (only when set), listen_port (only when ≠ 0), fwmark (only when
 *   ≠ 0), then per peer public_key, preshared_key (always; zeros when none), protocol_version=1,
 *   endpoint (when known), last_handshake_time_sec, last_handshake_time_nsec, tx_bytes, rx_bytes,
 *   persistent_keepalive_interval, allowed_ip…, and the `errno=0` line and blank line IpcHandle
 *   adds.
 * - parseSet validates a whole `set=1` body with IpcSetOperation's errnos: a line without `=` is
 *   EPROTO; an unknown key, a key in the wrong section (device keys end at the first public_key)
 *   or a bad value is EINVAL; flags take only `true`; protocol_version only `1`; a private key
 *   is clamped (all-zero means none), a zero preshared key means none. Unlike
 *   wireguard-go, which applies line by line and so half-applies a bad request, nothing is applied
 *   unless every line is valid: the result is one DeviceSet.
 * - parseGet reads a `get=1` reply as wg(8) does (ipc-uapi.h): unknown keys are skipped, a
 *   malformed known value or a missing errno line is EPROTO, a non-zero errno is thrown.
 * - formatSet writes what wg(8) sends for `set`/`setconf` (ipc-uapi.h userspace_set_device), plus
 *   update_only and `-addr/cidr` removal, which newer wireguard-go and wireguard-tools speak.
 * - One key of our own, `wgts_endpoint_hostname=host:port` after a peer's `endpoint=`
 *   (docs/uapi-extensions.md): parseSet takes it, formatSet writes it when a PeerSet has one; the
 *   CLI drops it before talking to a daemon that does not announce it (wireguard-go refuses
 *   unknown keys with EINVAL).
 *
 * Error messages never contain key material.
 */
import { isAllZero } from '../crypto/bytes.js';
import { clampPrivateKey } from '../crypto/x25519.js';
import { EINVAL, EPROTO, UapiError } from './errno.js';
import { GetEncoder } from './get-encoder.js';
import { redactSecrets } from './redact.js';
import type { AllowedIPChange, DeviceSet, DeviceSnapshot, IpPrefix, PeerSet, PeerSnapshot } from './types.js';
import {
  formatAllowedIP,
  formatDecimal,
  formatEndpoint,
  formatEndpointHostname,
  formatHexKey,
  parseAllowedIP,
  parseDecimal,
  parseEndpoint,
  parseEndpointHostname,
  parseHexKey,
  parsePublicHexKey,
} from './values.js';

export { RequestReader } from './reader.js';
export type { ReaderEvent, RequestReaderOptions } from './reader.js';

type Writable<T> = { -readonly [K in keyof T]: T[K] };

const MAX_U16 = 0xffff;
const MAX_U32 = 0xffffffff;

/**
 * Quotes a value for a log message, shortened so a 64 KiB line cannot flood the log, and with key
 * material redacted: the value may be a key on the wrong line.
 */
function quote(text: string): string {
  return redactSecrets(JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text));
}

// ---------------------------------------------------------------------------------------------
// get

/**
 * The body of a `get=1` reply as the bytes the server sends, ending with `errno=0` and the blank
 * line: the snapshot's own `getReply` when it has one, else encoded from its fields.
 */
export function encodeGet(s: DeviceSnapshot): Uint8Array {
  if (s.getReply !== undefined) return s.getReply;
  const out = new GetEncoder();
  out.device(s.privateKey, s.listenPort, s.fwmark);
  for (const p of s.peers) {
    const hs = p.lastHandshake;
    out.peer(
      p.publicKey,
      p.presharedKey,
      p.endpoint,
      hs?.sec ?? 0,
      hs?.nsec ?? 0,
      p.txBytes,
      p.rxBytes,
      p.persistentKeepalive,
    );
    for (const prefix of p.allowedIPs) out.allowedIP(prefix);
  }
  return out.finish();
}

/** The body of a `get=1` reply as text (encodeGet's bytes, which are ASCII). */
export function formatGet(s: DeviceSnapshot): string {
  const bytes = encodeGet(s);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
}

/** A counter of up to 64 bits as a number (exact below 2^53); null unless plain digits. */
function parseCounter(text: string): number | null {
  return /^[0-9]{1,20}$/.test(text) ? Number(text) : null;
}

interface PeerDraft extends Omit<Writable<PeerSnapshot>, 'lastHandshake' | 'allowedIPs'> {
  sec: number;
  nsec: number;
  allowedIPs: IpPrefix[];
}

function finishPeer(d: PeerDraft): PeerSnapshot {
  const { sec, nsec, ...rest } = d;
  return { ...rest, lastHandshake: sec === 0 && nsec === 0 ? null : { sec, nsec } };
}

/**
 * Parses a `get=1` reply (lines up to the blank line). Throws UapiError: EPROTO when malformed or
 * unterminated, or the reply's own errno when it is not 0. Unknown keys, device keys after the
 * first peer and peer keys before it are ignored, as wg(8) ignores them.
 */
export function parseGet(text: string): DeviceSnapshot {
  const device: Writable<DeviceSnapshot> = { privateKey: null, listenPort: 0, fwmark: 0, peers: [] };
  const peers: PeerSnapshot[] = [];
  let peer: PeerDraft | null = null;
  let errno: number | null = null;
  const bad = (line: string): never => {
    throw new UapiError(EPROTO, `malformed get reply line ${quote(line.replace(/_key=.*/, '_key=…'))}`);
  };
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) throw new UapiError(EPROTO, 'get reply ended before its blank line');
    const line = text.slice(start, nl);
    start = nl + 1;
    if (line === '') break;
    const eq = line.indexOf('=');
    if (eq < 0) bad(line);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'public_key') {
      if (peer !== null) peers.push(finishPeer(peer));
      const publicKey = parsePublicHexKey(value) ?? bad(line);
      peer = {
        publicKey,
        presharedKey: null,
        endpoint: null,
        sec: 0,
        nsec: 0,
        txBytes: 0,
        rxBytes: 0,
        persistentKeepalive: 0,
        allowedIPs: [],
      };
    } else if (key === 'errno') {
      const n = /^-?[0-9]{1,10}$/.test(value) ? Number(value) : bad(line);
      errno = n > 0 ? -n : n;
    } else if (peer === null) {
      if (key === 'private_key') {
        const k = parseHexKey(value) ?? bad(line);
        device.privateKey = isAllZero(k) ? null : k;
      } else if (key === 'listen_port') device.listenPort = parseDecimal(value, MAX_U16) ?? bad(line);
      else if (key === 'fwmark') device.fwmark = parseDecimal(value, MAX_U32) ?? bad(line);
    } else if (key === 'preshared_key') {
      const k = parseHexKey(value) ?? bad(line);
      peer.presharedKey = isAllZero(k) ? null : k;
    } else if (key === 'endpoint') peer.endpoint = parseEndpoint(value) ?? bad(line);
    else if (key === 'last_handshake_time_sec') peer.sec = parseCounter(value) ?? bad(line);
    else if (key === 'last_handshake_time_nsec') peer.nsec = parseCounter(value) ?? bad(line);
    else if (key === 'tx_bytes') peer.txBytes = parseCounter(value) ?? bad(line);
    else if (key === 'rx_bytes') peer.rxBytes = parseCounter(value) ?? bad(line);
    else if (key === 'persistent_keepalive_interval') {
      peer.persistentKeepalive = parseDecimal(value, MAX_U16) ?? bad(line);
    } else if (key === 'allowed_ip') peer.allowedIPs.push(parseAllowedIP(value) ?? bad(line));
  }
  if (peer !== null) peers.push(finishPeer(peer));
  if (errno === null) throw new UapiError(EPROTO, 'get reply has no errno line');
  if (errno !== 0) throw new UapiError(errno, `get failed with errno=${errno}`);
  device.peers = peers;
  return device;
}

// ---------------------------------------------------------------------------------------------
// set

interface PeerSetDraft extends Omit<Writable<PeerSet>, 'allowedIPs'> {
  allowedIPs: AllowedIPChange[];
}

/** Every replace_allowed_ips line's change: one shared, frozen object. */
const CLEAR: AllowedIPChange = Object.freeze({ kind: 'clear' });

/**
 * How many items (peers plus allowed-IP changes) one chunk of a large set holds: about 3 MB parsed.
 * A `wg setconf` of up to ~5,000 peers with two allowed IPs each is one chunk.
 */
export const SET_CHUNK_ITEMS = 16_384;

/**
 * Parses and validates the body of a `set=1` request (the lines after `set=1`, without the blank
 * line that ends it). Throws UapiError with wireguard-go's errno for the first bad line; returns
 * the whole request as one DeviceSet otherwise.
 */
export function parseSet(lines: Iterable<string>): DeviceSet {
  return parseSetChunks(lines, Infinity).next().value as DeviceSet;
}

/**
 * parseSet in bounded pieces: yields DeviceSets of at most about `maxItems` items which, applied in
 * order, do what the whole request does, so a large set never exists parsed all at once. The first
 * chunk carries the device keys and replace_peers (they precede every peer); a chunk ends before a
 * peer's public_key, or, for one peer with more than `maxItems` allowed-IP changes, inside it: the
 * rest of that peer continues as update_only (it exists by then unless it was skipped or removed,
 * and then the rest must be skipped too) and keeps its remove flag. Deviation, for a single peer of
 * over `maxItems` changes only: an update_only or remove line placed after its first `maxItems`
 * changes (wg(8) sends them first) acts from that point on. Errors are thrown as the lines are
 * reached, so only a full pass proves a request valid.
 */
export function* parseSetChunks(lines: Iterable<string>, maxItems: number): Generator<DeviceSet, void> {
  let device: Writable<DeviceSet> = { replacePeers: false, peers: [] };
  let peers: PeerSet[] = [];
  let peer: PeerSetDraft | null = null;
  let items = 0;
  let chunks = 0;
  const cut = (): DeviceSet => {
    device.peers = peers;
    const chunk = device;
    device = { replacePeers: false, peers: [] };
    peers = [];
    items = 0;
    chunks++;
    return chunk;
  };
  // No closure or message string per line: a 100,000-peer `wg setconf` is 400,000 lines.
  let i = -1;
  const invalid = (what: string): never => {
    throw new UapiError(EINVAL, `set line ${i + 1}: ${what}`);
  };
  const flag = (key: string, value: string): true =>
    value === 'true' ? true : invalid(`${key} takes only "true", got ${quote(value)}`);
  for (const line of lines) {
    i++;
    const eq = line.indexOf('=');
    if (eq < 0) throw new UapiError(EPROTO, `set line ${i + 1}: no '=' in ${quote(line)}`);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);

    if (key === 'public_key') {
      if (peer !== null) peers.push(finishPeerSet(peer));
      const publicKey = parsePublicHexKey(value) ?? invalid('public_key is not 64 lowercase hex digits');
      if (items >= maxItems) yield cut();
      peer = { publicKey, remove: false, updateOnly: false, allowedIPs: [] };
      items++;
      continue;
    }
    if (peer === null) {
      switch (key) {
        case 'private_key': {
          const k = parseHexKey(value) ?? invalid('private_key is not 64 lowercase hex digits');
          // Clamped here, as wireguard-go's FromMaybeZeroHex (and the kernel) do: `get` then shows
          // the clamped key, and an unclamped copy of the current key counts as the same key.
          device.privateKey = isAllZero(k) ? null : clampPrivateKey(k);
          break;
        }
        case 'listen_port':
          device.listenPort = parseDecimal(value, MAX_U16) ?? invalid(`bad listen_port ${quote(value)}`);
          break;
        case 'fwmark':
          device.fwmark = parseDecimal(value, MAX_U32) ?? invalid(`bad fwmark ${quote(value)}`);
          break;
        case 'replace_peers':
          device.replacePeers = flag(key, value);
          break;
        default:
          invalid(`invalid UAPI device key ${quote(key)}`);
      }
      continue;
    }
    switch (key) {
      case 'update_only':
        peer.updateOnly = flag(key, value);
        break;
      case 'remove':
        peer.remove = flag(key, value);
        break;
      case 'preshared_key': {
        const k = parseHexKey(value) ?? invalid('preshared_key is not 64 lowercase hex digits');
        peer.presharedKey = isAllZero(k) ? null : k;
        break;
      }
      case 'endpoint':
        peer.endpoint =
          parseEndpoint(value) ?? invalid(`bad endpoint ${quote(value)} (want ip:port or [ipv6]:port)`);
        delete peer.endpointHostname; // a later address replaces an earlier name
        break;
      case 'wgts_endpoint_hostname': {
        // wgts extension (docs/uapi-extensions.md): the name this section's endpoint came from.
        const name =
          parseEndpointHostname(value) ??
          invalid(`bad wgts_endpoint_hostname ${quote(value)} (want host:port)`);
        if (peer.endpoint === undefined) invalid('wgts_endpoint_hostname must follow an endpoint');
        else if (peer.endpoint.port !== name.port)
          invalid('wgts_endpoint_hostname port differs from endpoint');
        peer.endpointHostname = name;
        break;
      }
      case 'persistent_keepalive_interval':
        peer.persistentKeepalive =
          parseDecimal(value, MAX_U16) ?? invalid(`bad persistent_keepalive_interval ${quote(value)}`);
        break;
      case 'replace_allowed_ips':
        flag(key, value);
        peer.allowedIPs.push(CLEAR);
        items++;
        break;
      case 'allowed_ip': {
        const remove = value.startsWith('-');
        const prefix =
          parseAllowedIP(remove ? value.slice(1) : value) ??
          invalid(`bad allowed_ip ${quote(value)} (want addr/cidr)`);
        peer.allowedIPs.push(remove ? { kind: 'remove', prefix } : { kind: 'add', prefix });
        items++;
        break;
      }
      case 'protocol_version':
        if (value !== '1') invalid(`invalid protocol version ${quote(value)}`);
        break;
      default:
        invalid(`invalid UAPI peer key ${quote(key)}`);
    }
    if (items >= maxItems && peer.allowedIPs.length >= maxItems) {
      peers.push(finishPeerSet(peer));
      yield cut();
      peer = { publicKey: peer.publicKey, remove: peer.remove, updateOnly: true, allowedIPs: [] };
    }
  }
  if (peer !== null) peers.push(finishPeerSet(peer));
  if (chunks === 0 || peers.length > 0) yield cut();
}

/**
 * A peer's changes in an array of their own length: the one they were pushed onto has room for
 * 16 (V8's first growth step), 112 bytes wasted per peer of a large set until it is applied.
 */
function finishPeerSet(d: PeerSetDraft): PeerSet {
  if (d.allowedIPs.length > 0) d.allowedIPs = d.allowedIPs.slice();
  return d;
}

/**
 * The body of a `set=1` request for `set` (lines ending in `\n`, without `set=1` and without the
 * terminating blank line): the inverse of parseSet. Order as wg(8) sends it; update_only comes
 * right after public_key so a new peer is never half-created; a removed peer gets only remove=true.
 */
export function formatSet(set: DeviceSet): string {
  const out: string[] = [];
  if (set.privateKey !== undefined) out.push(`private_key=${formatHexKey(set.privateKey)}`);
  if (set.listenPort !== undefined) out.push(`listen_port=${formatDecimal(set.listenPort)}`);
  if (set.fwmark !== undefined) out.push(`fwmark=${formatDecimal(set.fwmark)}`);
  if (set.replacePeers) out.push('replace_peers=true');
  for (const p of set.peers) {
    out.push(`public_key=${formatHexKey(p.publicKey)}`);
    if (p.remove) {
      out.push('remove=true');
      continue;
    }
    if (p.updateOnly) out.push('update_only=true');
    if (p.presharedKey !== undefined) out.push(`preshared_key=${formatHexKey(p.presharedKey)}`);
    if (p.endpoint !== undefined) out.push(`endpoint=${formatEndpoint(p.endpoint)}`);
    if (p.endpoint !== undefined && p.endpointHostname !== undefined) {
      out.push(`wgts_endpoint_hostname=${formatEndpointHostname(p.endpointHostname)}`);
    }
    if (p.persistentKeepalive !== undefined) {
      out.push(`persistent_keepalive_interval=${formatDecimal(p.persistentKeepalive)}`);
    }
    for (const change of p.allowedIPs) {
      if (change.kind === 'clear') out.push('replace_allowed_ips=true');
      else out.push(`allowed_ip=${change.kind === 'remove' ? '-' : ''}${formatAllowedIP(change.prefix)}`);
    }
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

/** Splits a set body (as formatSet returns it) into the lines parseSet takes. */
export function setBodyLines(body: string): string[] {
  if (body === '') return [];
  const lines = body.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}
