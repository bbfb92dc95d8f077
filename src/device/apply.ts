/**
 * Applies a parsed UAPI `set` request (wireguard.com/xplatform, wireguard-go's IpcSetOperation)
 * to a device as one unit. The codec has already validated every line, so the only step that
 * can still fail is binding a new listen port: it runs first, and if it fails nothing else is
 * touched. Semantics follow wireguard-go: setting the same private key changes nothing (so
 * `wg syncconf` keeps sessions alive); a new key expires every session and drops a peer whose
 * public key equals ours; a peer section naming our own public key is ignored; `update_only`
 * skips unknown peers; turning persistent keepalive on sends one keepalive at once (on a link that
 * is up; a down link sends it when it comes up, Device.setUp). An endpoint with the wgts
 * extension's hostname keeps the name for re-resolution (endpoint-resolver.ts).
 */
import { BytePool, constantTimeEqual } from '../crypto/bytes.js';
import { EADDRINUSE, EIO } from '../uapi/errno.js';
import type { DeviceSet, PeerSet } from '../uapi/types.js';
import { describePeerSet } from './apply-log.js';
import type { Device } from './device.js';

/** Configured endpoint addresses: public, one per peer (see BytePool). */
const ENDPOINT_ADDRESSES = new BytePool();

export async function applyDeviceSet(device: Device, set: DeviceSet): Promise<number> {
  // The two steps that can fail (SO_MARK needs CAP_NET_ADMIN; a port may be taken) run first,
  // the second undoing the first if it fails, so a refused request leaves the device as it was.
  const oldMark = device.fwmark;
  const oldPort = device.listenPort;
  if (set.fwmark !== undefined && set.fwmark !== oldMark) {
    try {
      device.bind.setMark(set.fwmark);
    } catch (err) {
      device.log.error(`cannot set fwmark ${set.fwmark}: ${(err as Error).message}`);
      return EIO;
    }
    device.fwmark = set.fwmark;
    device.log.verbose(`UAPI: updating fwmark to ${set.fwmark}`);
  }
  if (set.listenPort !== undefined && set.listenPort !== device.listenPort) {
    try {
      device.listenPort = await device.bind.open(set.listenPort);
    } catch (err) {
      device.log.error(`cannot bind port ${set.listenPort}: ${(err as Error).message}`);
      if (device.fwmark !== oldMark) {
        device.bind.setMark(oldMark);
        device.fwmark = oldMark;
      }
      return (err as { code?: string }).code === 'EADDRINUSE' ? EADDRINUSE : EIO;
    }
    device.log.verbose(`UAPI: updating listen port to ${device.listenPort}`);
  }
  // Another fwmark (other routing rules) or new sockets: a sticky source may no longer route to
  // its peer, so every peer's is forgotten, as wireguard-go's BindSetMark and BindUpdate do.
  if (device.fwmark !== oldMark || device.listenPort !== oldPort) {
    for (const peer of device.peers.values()) peer.tunnel.forgetSource();
  }
  let keyChanged = false;
  if (set.privateKey !== undefined)
    device.log.verbose(`UAPI: ${set.privateKey === null ? 'removing' : 'updating'} private key`);
  if (set.privateKey !== undefined && device.identity.setPrivateKey(set.privateKey)) {
    const own = device.identity.keys?.publicKey;
    for (const peer of [...device.peers.values()]) {
      if (own && constantTimeEqual(peer.publicKey, own)) device.removePeer(peer);
      else peer.tunnel.expireSessions();
    }
    keyChanged = true;
  }
  if (set.replacePeers) {
    device.log.verbose('UAPI: removing all peers');
    for (const peer of [...device.peers.values()]) device.removePeer(peer);
  }
  for (const p of set.peers) applyPeer(device, p);
  if (keyChanged) sendAfterKeyChange(device);
  return 0;
}

/**
 * After a new private key (and the rest of the request, so endpoints are current): the kernel
 * sends staged packets once a key makes handshakes possible (netlink.c, "send staged packets when
 * setting initial private key"). A keepalive staged while the link came up without a key, staged
 * data, or a peer's persistent keepalive starts its handshake now rather than at the next timer or
 * packet (selftest: "this should also happen even if the private key is set later"). We do it
 * for any key change, not only the first: the sessions were just expired either way.
 */
function sendAfterKeyChange(device: Device): void {
  if (!device.up || device.identity.keys === null) return;
  const now = device.now();
  for (const peer of device.peers.values()) {
    const t = peer.tunnel;
    if (t.stagedCount > 0 || t.timers.persistentKeepaliveInterval > 0)
      device.transmit(peer, t.keepalive(now));
  }
}

function applyPeer(device: Device, p: PeerSet): void {
  const own = device.identity.keys?.publicKey;
  if (own && constantTimeEqual(p.publicKey, own)) return; // never a peer of ourselves
  let peer = device.peerByKey(p.publicKey);
  if (p.remove) {
    if (peer) device.removePeer(peer);
    return;
  }
  if (peer === undefined) {
    if (p.updateOnly) return;
    peer = device.createPeer(p.publicKey);
  }
  const tunnel = peer.tunnel;
  if (device.peerLog !== null)
    for (const line of describePeerSet(p)) device.peerLog.say(peer, `UAPI: ${line}`);
  if (p.presharedKey !== undefined) tunnel.setPresharedKey(p.presharedKey);
  if (p.endpoint !== undefined) {
    tunnel.endpoint = { address: ENDPOINT_ADDRESSES.copy(p.endpoint.address), port: p.endpoint.port };
    // The wgts extension's hostname, re-resolved from now on; an address alone forgets any name.
    device.endpointNames.set(peer, p.endpointHostname ?? null, p.endpoint.address, device.now());
  }
  for (const change of p.allowedIPs) {
    if (change.kind === 'clear') device.allowedIPs.removeByPeer(peer);
    else if (change.kind === 'add') device.allowedIPs.insert(change.prefix.bytes, change.prefix.cidr, peer);
    else device.allowedIPs.remove(change.prefix.bytes, change.prefix.cidr, peer);
  }
  if (p.persistentKeepalive !== undefined) {
    // While the link is down only the interval is kept: a keepalive now would start a handshake
    // that transmit() drops, and its REKEY_TIMEOUT rate limit would then hold back the keepalive
    // that setUp(true) sends, so a spoke configured before `ip link set up` (wg-quick, `wgts up`)
    // would first be reachable REKEY_TIMEOUT after coming up.
    if (device.up) device.transmit(peer, tunnel.setPersistentKeepalive(p.persistentKeepalive, device.now()));
    else tunnel.timers.setPersistentKeepalive(p.persistentKeepalive, device.now());
  }
}
