/**
 * The device as the UAPI `get` reports it (wireguard-go's IpcGetOperation): keys, port, mark, and
 * per peer its psk, endpoint, absolute last-handshake time, byte counters, keepalive and allowed
 * IPs. Handshake times are kept monotonic internally and converted to wall time only here.
 */
import type { Tunnel } from '../protocol/tunnel.js';
import type { DeviceSnapshot, PeerSnapshot } from '../uapi/types.js';
import type { Device } from './device.js';

/**
 * Each tunnel's last handshake in wall-clock milliseconds, converted once per handshake: reading
 * both clocks at every `get` would move the reported time by their jitter (a fraction of a
 * millisecond, enough to change the second at a boundary), where wireguard-go reports a fixed time.
 */
const handshakeWall = new WeakMap<Tunnel, { readonly at: number; readonly ms: number }>();

export function snapshotDevice(device: Device): DeviceSnapshot {
  const now = device.now();
  const wall = device.wallNow();
  const peers: PeerSnapshot[] = [];
  for (const peer of device.peers.values()) {
    const t = peer.tunnel;
    let lastHandshake: PeerSnapshot['lastHandshake'] = null;
    if (t.lastHandshakeAt !== null) {
      let known = handshakeWall.get(t);
      if (known === undefined || known.at !== t.lastHandshakeAt) {
        known = { at: t.lastHandshakeAt, ms: wall - (now - t.lastHandshakeAt) };
        handshakeWall.set(t, known);
      }
      const ms = known.ms;
      const sec = Math.floor(ms / 1000);
      lastHandshake = { sec, nsec: Math.floor((ms - sec * 1000) * 1e6) };
    }
    peers.push({
      publicKey: peer.publicKey,
      presharedKey: t.presharedKey,
      endpoint: t.endpoint,
      lastHandshake,
      txBytes: peer.txBytes,
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
