/**
 * The device as the UAPI `get` reports it (wireguard-go's IpcGetOperation): keys, port, mark, and
 * per peer its psk, endpoint, absolute last-handshake time, byte counters, keepalive and allowed
 * IPs. Handshake times are kept monotonic internally and converted to wall time only here.
 *
 * The snapshot is taken as the encoded `get` reply itself (getReply): one pass over the peers
 * straight into bytes, which is what the UAPI server sends. A 100,000-peer `get` thus makes no
 * object per peer (an object graph per peer, kept alive until encoded, cost V8 more to copy
 * through its young generation than the encoding itself). `peers`, for callers in the process
 * that read fields, is decoded from those bytes on first use, so both views are the same moment.
 * The snapshot is still a plain object: `peers` is an enumerable accessor (spread, JSON and deep
 * comparisons see it as a property) and getReply is not enumerable, so a spread copy that changes
 * a field is encoded from its fields rather than sent as the stale reply.
 */
import type { Tunnel } from '../protocol/tunnel.js';
import { parseGet } from '../uapi/codec.js';
import { GetEncoder } from '../uapi/get-encoder.js';
import type { DeviceSnapshot, PeerSnapshot } from '../uapi/types.js';
import type { Device } from './device.js';

/**
 * Each tunnel's last handshake in wall-clock milliseconds, converted once per handshake: reading
 * both clocks at every `get` would move the reported time by their jitter (a fraction of a
 * millisecond, enough to change the second at a boundary), where wireguard-go reports a fixed time.
 */
const handshakeWall = new WeakMap<Tunnel, { readonly at: number; readonly ms: number }>();

/**
 * The tunnel's last handshake in wall-clock milliseconds (null: none yet), given the device's
 * monotonic `now` and wall-clock `wall` read once by the caller. The UAPI `get` and the metrics
 * endpoint both report it through here, so they agree to the nanosecond.
 */
export function lastHandshakeWallMs(t: Tunnel, now: number, wall: number): number | null {
  if (t.lastHandshakeAt === null) return null;
  let known = handshakeWall.get(t);
  if (known === undefined || known.at !== t.lastHandshakeAt) {
    known = { at: t.lastHandshakeAt, ms: wall - (now - t.lastHandshakeAt) };
    handshakeWall.set(t, known);
  }
  return known.ms;
}

/** About what one peer with one IPv4 allowed IP adds to a `get` reply (a sizing hint). */
const REPLY_BYTES_PER_PEER = 340;

export function snapshotDevice(device: Device): DeviceSnapshot {
  const privateKey = device.identity.keys?.privateKey ?? null;
  const listenPort = device.listenPort;
  const fwmark = device.fwmark;
  const now = device.now();
  const wall = device.wallNow();
  // The reply prints a missing pre-shared key and an all-zero one alike; `peers` must still tell
  // them apart as the device does, so the configured keys are kept beside it.
  const presharedKeys: (Uint8Array | null)[] = [];
  const out = new GetEncoder(device.peers.size * REPLY_BYTES_PER_PEER);
  out.device(privateKey, listenPort, fwmark);
  for (const peer of device.peers.values()) {
    const t = peer.tunnel;
    let sec = 0;
    let nsec = 0;
    const ms = lastHandshakeWallMs(t, now, wall);
    if (ms !== null) {
      sec = Math.floor(ms / 1000);
      nsec = Math.floor((ms - sec * 1000) * 1e6);
    }
    presharedKeys.push(t.presharedKey);
    out.peer(
      peer.publicKey,
      t.presharedKey,
      t.endpoint,
      sec,
      nsec,
      peer.txBytes,
      t.rxBytes,
      t.timers.persistentKeepaliveInterval,
    );
    device.allowedIPs.visitEntries(peer, out);
  }
  const getReply = out.finish();

  let peers: readonly PeerSnapshot[] | null = null;
  const decodePeers = (): readonly PeerSnapshot[] => {
    const text = Buffer.from(getReply.buffer, getReply.byteOffset, getReply.length).toString('latin1');
    return parseGet(text).peers.map((p, i) => ({ ...p, presharedKey: presharedKeys[i]! }));
  };
  return Object.defineProperties(
    { privateKey, listenPort, fwmark },
    {
      peers: { enumerable: true, get: () => (peers ??= decodePeers()) },
      getReply: { enumerable: false, value: getReply },
    },
  ) as DeviceSnapshot;
}
