/**
 * What `WireGuard.peers()` and `stats()` report: per peer the fields `wg show` prints (wg(8)
 * "show": endpoint, allowed ips, latest handshake, transfer, persistent keepalive, and whether a
 * preshared key is set), read from the device's UAPI snapshot (src/device/snapshot.ts), so they
 * agree with `uapiGet()` and with the metrics endpoint to the byte.
 */
import { keyToBase64 } from '../crypto/keys.js';
import type { Device } from '../device/device.js';
import { formatEndpoint } from '../device/peer-log.js';
import { formatPrefix } from '../routing/ip.js';

export interface PeerInfo {
  /** base64, as `wg show` prints it. */
  readonly publicKey: string;
  /** Whether a preshared key is configured (its value is never reported). */
  readonly presharedKey: boolean;
  /** `192.0.2.1:51820` or `[2001:db8::1]:51820`; null until known. */
  readonly endpoint: string | null;
  /** `10.0.0.0/24`, in the order `wg show` lists them. */
  readonly allowedIPs: readonly string[];
  /** Wall-clock time of the latest completed handshake; null if none yet. */
  readonly latestHandshake: Date | null;
  /** Bytes received from and sent to the peer (UDP payload: wg show's "transfer"). */
  readonly transferRx: number;
  readonly transferTx: number;
  /** Seconds; 0 = off. */
  readonly persistentKeepalive: number;
  /** Has a session within REJECT_AFTER_TIME (see peer-events.ts). */
  readonly up: boolean;
}

export interface InterfaceStats {
  /** base64; null without a private key. */
  readonly publicKey: string | null;
  readonly listenPort: number;
  readonly fwMark: number;
  readonly peers: number;
  readonly peersUp: number;
  readonly transferRx: number;
  readonly transferTx: number;
  /** Handshakes completed (sessions derived) since the interface opened. */
  readonly handshakes: number;
  /** Dropped packets by reason (only reasons that occurred). */
  readonly drops: Readonly<Record<string, number>>;
}

export function peerInfos(device: Device, isUp: (publicKeyHex: string) => boolean): PeerInfo[] {
  return device.snapshot().peers.map((p) => ({
    publicKey: keyToBase64(p.publicKey),
    presharedKey: p.presharedKey !== null,
    endpoint: p.endpoint === null ? null : formatEndpoint(p.endpoint),
    allowedIPs: p.allowedIPs.map((a) => formatPrefix(a.bytes, a.cidr)),
    latestHandshake:
      p.lastHandshake === null ? null : new Date(p.lastHandshake.sec * 1000 + p.lastHandshake.nsec / 1e6),
    transferRx: p.rxBytes,
    transferTx: p.txBytes,
    persistentKeepalive: p.persistentKeepalive,
    up: isUp(Buffer.from(p.publicKey).toString('hex')),
  }));
}

export function interfaceStats(device: Device, peers: readonly PeerInfo[]): InterfaceStats {
  let rx = 0;
  let tx = 0;
  let up = 0;
  for (const p of peers) {
    rx += p.transferRx;
    tx += p.transferTx;
    if (p.up) up++;
  }
  const keys = device.identity.keys;
  return {
    publicKey: keys === null ? null : keyToBase64(keys.publicKey),
    listenPort: device.listenPort,
    fwMark: device.fwmark,
    peers: peers.length,
    peersUp: up,
    transferRx: rx,
    transferTx: tx,
    handshakes: device.stats.handshakesCompleted,
    drops: device.drops.nonZero(),
  };
}
