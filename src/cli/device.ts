/**
 * A `get=1` reply read the way wg(8) reads it (wireguard-tools src/ipc-uapi.h
 * userspace_get_device), into what `wgts show`/`showconf` print. It differs from the uapi codec's
 * parseGet where wg differs: counters and handshake times stay exact 64-bit integers (`bigint`,
 * printed with %llu / PRIu64), the public key is derived from the private key, hex may be either
 * case, allowed IPs are kept as the daemon printed them (not re-masked), an IPv6 endpoint may carry
 * a scope (`%eth0`), and the first malformed line makes the whole reply EPROTO. Unknown keys are
 * skipped.
 */
import { isAllZero } from '../crypto/bytes.js';
import { PrivateKey } from '../crypto/keys.js';
import type { EndpointState, PeerConfigState, DeviceConfigState } from '../config/serialize.js';
import { parseIP } from '../routing/ip.js';
import type { IpPrefix } from '../uapi/types.js';

export interface WgPeer extends PeerConfigState {
  readonly lastHandshakeSec: bigint;
  readonly lastHandshakeNsec: bigint;
  readonly rxBytes: bigint;
  readonly txBytes: bigint;
}

export interface WgDevice extends DeviceConfigState {
  /** The interface name as wg keeps it (at most 15 bytes). */
  readonly name: string;
  /** Derived from the private key; null without one. */
  readonly publicKey: Uint8Array | null;
  readonly peers: readonly WgPeer[];
}

/** A malformed reply (EPROTO) or the daemon's own non-zero errno (positive). */
export class DeviceReadError extends Error {
  readonly errno: number;
  constructor(errno: number, message: string) {
    super(message);
    this.name = 'DeviceReadError';
    this.errno = errno;
  }
}

const EPROTO = 71;
const U64_MAX = (1n << 64n) - 1n;
const I64_MAX = (1n << 63n) - 1n;

/** wg's NUM(max): digits first, strtoull (which saturates), at most max. */
function num(value: string, max: bigint): bigint | null {
  if (!/^[0-9]+$/.test(value)) return null;
  let n = BigInt(value);
  if (n > U64_MAX) n = U64_MAX;
  return n <= max ? n : null;
}

function hexKey(value: string): Uint8Array | null {
  if (!/^[0-9a-fA-F]{64}$/.test(value)) return null;
  return new Uint8Array(Buffer.from(value, 'hex'));
}

function endpoint(value: string): EndpointState | null {
  let host: string;
  let port: string;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0 || value[close + 1] !== ':' || close + 2 >= value.length) return null;
    host = value.slice(1, close);
    port = value.slice(close + 2);
  } else {
    const colon = value.lastIndexOf(':');
    if (colon < 0 || colon === value.length - 1) return null;
    host = value.slice(0, colon);
    port = value.slice(colon + 1);
  }
  const p = num(port, 0xffffn);
  if (p === null) return null;
  const pct = host.indexOf('%');
  const ip = parseIP(pct < 0 ? host : host.slice(0, pct));
  if (ip === null || (pct >= 0 && ip.family !== 6)) return null;
  return { address: ip.bytes, port: Number(p), ...(pct >= 0 ? { scope: host.slice(pct + 1) } : {}) };
}

function allowedIP(value: string): IpPrefix | null {
  const slash = value.indexOf('/');
  if (slash < 0) return null;
  const ip = parseIP(value.slice(0, slash));
  const cidr = num(value.slice(slash + 1), 128n);
  if (ip === null || cidr === null || cidr > (ip.family === 4 ? 32n : 128n)) return null;
  return { family: ip.family, bytes: ip.bytes, cidr: Number(cidr) };
}

type Draft<T> = { -readonly [K in keyof T]: T[K] };
interface PeerDraft extends Omit<Draft<WgPeer>, 'allowedIPs'> {
  allowedIPs: IpPrefix[];
}

/** Parses a `get=1` reply (through its blank line). Throws DeviceReadError. */
export function parseDeviceReply(name: string, text: string): WgDevice {
  const dev: Draft<Omit<WgDevice, 'peers'>> = {
    name: Buffer.from(name).subarray(0, 15).toString(),
    privateKey: null,
    publicKey: null,
    listenPort: 0,
    fwmark: 0,
  };
  const peers: PeerDraft[] = [];
  let peer: PeerDraft | null = null;
  let errno: number | null = null;
  const bad = (line: string): never => {
    throw new DeviceReadError(
      EPROTO,
      `malformed get reply line ${JSON.stringify(line.replace(/key=.*/, 'key=…'))}`,
    );
  };
  for (const line of text.split('\n')) {
    if (line === '') {
      if (errno === null) bad(line);
      if (errno !== 0) throw new DeviceReadError(errno ?? EPROTO, `get failed with errno=${errno}`);
      return { ...dev, peers };
    }
    const eq = line.indexOf('=');
    if (eq < 0) bad(line);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (peer === null && key === 'private_key') {
      const k = hexKey(value) ?? bad(line);
      dev.privateKey = k;
      dev.publicKey = new PrivateKey(k).publicKey().bytes;
    } else if (peer === null && key === 'listen_port')
      dev.listenPort = Number(num(value, 0xffffn) ?? bad(line));
    else if (peer === null && key === 'fwmark') dev.fwmark = Number(num(value, 0xffffffffn) ?? bad(line));
    else if (key === 'public_key') {
      peer = {
        publicKey: hexKey(value) ?? bad(line),
        presharedKey: null,
        endpoint: null,
        persistentKeepalive: 0,
        allowedIPs: [],
        lastHandshakeSec: 0n,
        lastHandshakeNsec: 0n,
        rxBytes: 0n,
        txBytes: 0n,
      };
      peers.push(peer);
    } else if (peer !== null && key === 'preshared_key') {
      const k = hexKey(value) ?? bad(line);
      peer.presharedKey = isAllZero(k) ? null : k;
    } else if (peer !== null && key === 'endpoint') peer.endpoint = endpoint(value) ?? bad(line);
    else if (peer !== null && key === 'persistent_keepalive_interval') {
      peer.persistentKeepalive = Number(num(value, 0xffffn) ?? bad(line));
    } else if (peer !== null && key === 'allowed_ip') peer.allowedIPs.push(allowedIP(value) ?? bad(line));
    else if (peer !== null && key === 'last_handshake_time_sec')
      peer.lastHandshakeSec = num(value, I64_MAX) ?? bad(line);
    else if (peer !== null && key === 'last_handshake_time_nsec') {
      peer.lastHandshakeNsec = num(value, I64_MAX) ?? bad(line);
    } else if (peer !== null && key === 'rx_bytes') peer.rxBytes = num(value, U64_MAX) ?? bad(line);
    else if (peer !== null && key === 'tx_bytes') peer.txBytes = num(value, U64_MAX) ?? bad(line);
    else if (key === 'errno') errno = Number(num(value, 0x7fffffffn) ?? bad(line));
  }
  return bad('(end of reply before its blank line)');
}
