/**
 * The device as the UAPI `get` reports it (wireguard-go's IpcGetOperation): keys, port, mark, and
 * per peer its psk, endpoint, absolute last-handshake time, byte counters, keepalive and allowed
 * IPs. Handshake times are kept monotonic internally and converted to wall time only here.
 */
import type { DeviceSnapshot, PeerSnapshot } from '../uapi/types.js';
import type { Device } from './device.js';

export function snapshotDevice(device: Device): DeviceSnapshot {
  const now = device.now();
  const wall = device.wallNow();
  const peers: PeerSnapshot[] = [];
  for (const peer of device.peers.values()) {
    const t = peer.tunnel;
    let lastHandshake: PeerSnapshot['lastHandshake'] = null;
    if (t.lastHandshakeAt !== null) {
      const ms = wall - (now - t.lastHandshakeAt);
      const sec = Math.floor(ms / 1000);
      lastHandshake = { sec, nsec: Math.floor((ms - sec * 1000) * 1e6) };
    }
    peers.push({
      publicKey: peer.publicKey,
      presharedKey: t.presharedKey,
      endpoint: t.endpoint,
      lastHandshake,
      txBytes: t.txBytes,
      rxBytes: t.rxBytes,
      persistentKeepalive: t.timers.persistentKeepaliveInterval,
      allowedIPs: device.allowedIPs.entriesForPeer(peer),
    });
  }
  return {
    privateKey: device.identity.keys?.privateKey ?? null,
    listenPort: device.listenPort,
    fwmark: device.fwmark,
    peers,
  };
}
