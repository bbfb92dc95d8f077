/**
 * A parsed wg(8) config file as the UAPI request that applies it (wireguard-tools src/setconf.c,
 * src/config.c config_read_init, src/ipc-uapi.h userspace_set_device):
 *
 * - `set` (wg setconf): the file is the whole configuration. private_key, listen_port and fwmark
 *   are always sent (zero when the file has none: the key is removed, the port becomes random,
 *   the mark is cleared), then replace_peers=true and every peer.
 * - `add` (wg addconf): only what the file gives; existing peers not in the file stay.
 * - both: each peer's allowed IPs replace its old ones (replace_allowed_ips=true), as wg does.
 * - sync (wg syncconf), syncToDeviceSet: the state the file describes, reached from `current` by
 *   changing only what differs. Peers not in the file are removed; a peer in both is updated in
 *   place (psk and keepalive reset when the file has none, allowed IPs replaced only when the
 *   list differs); an unchanged private key is not sent, so sessions survive. One deliberate
 *   difference from wg, whose syncconf sends listen_port=0 when the file has no ListenPort (the
 *   daemon then moves to a new random port): wgts leaves the current port, which already
 *   satisfies "any port"; with a ListenPort it sends it only when it differs.
 *
 * Endpoints must have been resolved (resolve.ts); an unresolved hostname is a TypeError. An
 * endpoint written as a hostname also carries the name (PeerSet.endpointHostname, the wgts
 * extension that wgtsd re-resolves; dropped for other daemons by cli/ipc.ts), and syncconf always
 * restates such an endpoint, since `get` cannot show whether the daemon has the name already.
 */
import { constantTimeEqual } from '../crypto/bytes.js';
import { keyToBase64 } from '../crypto/keys.js';
import { clampPrivateKey } from '../crypto/x25519.js';
import type {
  AllowedIPChange,
  DeviceSet,
  EndpointAddress,
  EndpointHostname,
  IpPrefix,
  PeerSet,
} from '../uapi/types.js';
import { isHostname } from '../uapi/values.js';
import type { DeviceConfigState, EndpointState } from './serialize.js';
import type { WgConfig, WgPeerConfig } from './wg-config.js';

function endpointOf(peer: WgPeerConfig): EndpointAddress | undefined {
  const ep = peer.endpoint;
  if (ep === undefined) return undefined;
  if (ep.address === null) {
    throw new TypeError(`endpoint ${ep.text} (line ${ep.line}) is not resolved; call resolveWgConfig first`);
  }
  return { address: ep.address, port: ep.port };
}

/** The hostname the endpoint was written with (kept through resolution), for the wgts extension. */
function hostnameOf(peer: WgPeerConfig): EndpointHostname | undefined {
  const ep = peer.endpoint;
  return ep !== undefined && isHostname(ep.host) ? { host: ep.host, port: ep.port } : undefined;
}

function replaceAllowedIPs(list: readonly IpPrefix[]): AllowedIPChange[] {
  return [{ kind: 'clear' }, ...list.map((prefix): AllowedIPChange => ({ kind: 'add', prefix }))];
}

function peerSet(peer: WgPeerConfig): PeerSet {
  const endpoint = endpointOf(peer);
  const endpointHostname = hostnameOf(peer);
  return {
    publicKey: peer.publicKey,
    remove: false,
    updateOnly: false,
    ...(peer.presharedKey === undefined ? {} : { presharedKey: peer.presharedKey }),
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(endpointHostname === undefined ? {} : { endpointHostname }),
    ...(peer.persistentKeepalive === undefined ? {} : { persistentKeepalive: peer.persistentKeepalive }),
    allowedIPs: replaceAllowedIPs(peer.allowedIPs),
  };
}

/** The request for `wg setconf` (`set`) or `wg addconf` (`add`). */
export function configToDeviceSet(config: WgConfig, mode: 'set' | 'add'): DeviceSet {
  const peers = config.peers.map(peerSet);
  if (mode === 'add') {
    return {
      ...(config.privateKey === undefined ? {} : { privateKey: config.privateKey }),
      ...(config.listenPort === undefined ? {} : { listenPort: config.listenPort }),
      ...(config.fwmark === undefined ? {} : { fwmark: config.fwmark }),
      replacePeers: false,
      peers,
    };
  }
  return {
    privateKey: config.privateKey ?? null,
    listenPort: config.listenPort ?? 0,
    fwmark: config.fwmark ?? 0,
    replacePeers: true,
    peers,
  };
}

function sameKey(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return constantTimeEqual(a, b);
}

function sameEndpoint(a: EndpointAddress, b: EndpointState | null): boolean {
  if (b === null || a.port !== b.port || (b.scope ?? '') !== '') return false;
  return a.address.length === b.address.length && a.address.every((x, i) => x === b.address[i]);
}

function samePrefixes(a: readonly IpPrefix[], b: readonly IpPrefix[]): boolean {
  return (
    a.length === b.length &&
    a.every((p, i) => {
      const q = b[i]!;
      return (
        p.cidr === q.cidr && p.bytes.length === q.bytes.length && p.bytes.every((x, j) => x === q.bytes[j])
      );
    })
  );
}

/** The allowed-IP list a daemon ends up with after a replace with `list`: first of each kept. */
function dedupe(list: readonly IpPrefix[]): IpPrefix[] {
  const seen = new Set<string>();
  return list.filter((p) => {
    const k = `${Buffer.from(p.bytes).toString('hex')}/${p.cidr}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** The request that turns `current` into what `config` describes (wg syncconf), changing only what differs. */
export function syncToDeviceSet(config: WgConfig, current: DeviceConfigState): DeviceSet {
  const out: { -readonly [K in keyof DeviceSet]: DeviceSet[K] } = { replacePeers: false, peers: [] };
  const wantKey =
    config.privateKey === undefined || config.privateKey === null
      ? null
      : clampPrivateKey(Uint8Array.from(config.privateKey));
  const haveKey = current.privateKey === null ? null : clampPrivateKey(Uint8Array.from(current.privateKey));
  if (!sameKey(wantKey, haveKey)) out.privateKey = config.privateKey ?? null;
  if (config.listenPort !== undefined && config.listenPort !== current.listenPort) {
    out.listenPort = config.listenPort;
  }
  if ((config.fwmark ?? 0) !== current.fwmark) out.fwmark = config.fwmark ?? 0;

  const inFile = new Set(config.peers.map((p) => keyToBase64(p.publicKey)));
  const byKey = new Map(current.peers.map((p) => [keyToBase64(p.publicKey), p]));
  const peers: PeerSet[] = [];
  for (const p of current.peers) {
    if (!inFile.has(keyToBase64(p.publicKey))) {
      peers.push({ publicKey: p.publicKey, remove: true, updateOnly: false, allowedIPs: [] });
    }
  }
  for (const want of config.peers) {
    const have = byKey.get(keyToBase64(want.publicKey));
    if (have === undefined) {
      peers.push(peerSet(want));
      continue;
    }
    const change: { -readonly [K in keyof PeerSet]: PeerSet[K] } = {
      publicKey: want.publicKey,
      remove: false,
      updateOnly: true,
      allowedIPs: [],
    };
    let changed = false;
    const psk = want.presharedKey ?? null;
    if (!sameKey(psk, have.presharedKey)) {
      change.presharedKey = psk;
      changed = true;
    }
    const endpoint = endpointOf(want);
    // A hostname is always restated: `get` cannot say whether the daemon already has it.
    const endpointHostname = hostnameOf(want);
    if (
      endpoint !== undefined &&
      (endpointHostname !== undefined || !sameEndpoint(endpoint, have.endpoint))
    ) {
      change.endpoint = endpoint;
      if (endpointHostname !== undefined) change.endpointHostname = endpointHostname;
      changed = true;
    }
    const keepalive = want.persistentKeepalive ?? 0;
    if (keepalive !== have.persistentKeepalive) {
      change.persistentKeepalive = keepalive;
      changed = true;
    }
    if (!samePrefixes(dedupe(want.allowedIPs), have.allowedIPs)) {
      change.allowedIPs = replaceAllowedIPs(want.allowedIPs);
      changed = true;
    }
    if (changed) peers.push(change);
  }
  out.peers = peers;
  return out;
}
