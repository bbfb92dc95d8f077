/**
 * The per-peer families of prometheus_wireguard_exporter (MindFlavor, the exporter Grafana's
 * WireGuard dashboards are built on), with its names, HELP text, types and label order, so those
 * dashboards work unchanged against wgtsd:
 *
 *   wireguard_sent_bytes_total, wireguard_received_bytes_total (counters) and
 *   wireguard_latest_handshake_seconds (a gauge: the last handshake as unix seconds, 0 for none,
 *   which is `wg show dump`'s field despite the exporter's HELP text), labelled
 *   interface, public_key, allowed_ips (as wg prints them: comma-joined, `(none)` when empty),
 *   remote_ip, remote_port. Its newest releases add wireguard_peers_total{interface}, a gauge
 *   whose `_total` suffix promtool's lint rejects; wgts_peers (device-metrics.ts) is that count.
 *
 * As that exporter with `-r`, remote_ip and remote_port are present only when the peer has an
 * endpoint; remote_ip is the bare address (IPv6 without brackets). Its optional extras need its
 * own files (friendly_name from config comments, `-s` split allowed_ip_N labels): not exported.
 *
 * The values are read from the device when scraped, never counted per packet: one pass over the
 * peers in slices of PEERS_PER_TURN, yielding to the event loop between slices so a scrape of a
 * large device does not hold up the data path.
 */
import { formatIP } from '../routing/ip-format.js';
import type { PrefixVisitor } from '../routing/allowed-ips.js';
import type { Device } from '../device/device.js';
import { lastHandshakeWallMs } from '../device/snapshot.js';
import { escapeLabelValue, yieldTurn, type Exposition } from './text-format.js';

/** Peers rendered per event-loop turn (a few milliseconds of work on a busy 2-core machine). */
export const PEERS_PER_TURN = 250;

/** Sums across the peers that the device-wide families need (metrics.ts). */
export interface PeerTotals {
  peers: number;
  staged: number;
}

/** Writes a peer's prefixes as `wg show dump` does (AllowedIPs.visitEntries order). */
class AllowedIPsText implements PrefixVisitor {
  text = '';
  readonly #v6 = new Uint8Array(16);
  readonly #v6View = new DataView(this.#v6.buffer);
  ipv4(a: number, cidr: number): void {
    this.#add(`${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${cidr}`);
  }
  ipv6(w0: number, w1: number, w2: number, w3: number, cidr: number): void {
    const v = this.#v6View;
    v.setInt32(0, w0);
    v.setInt32(4, w1);
    v.setInt32(8, w2);
    v.setInt32(12, w3);
    this.#add(`${formatIP(this.#v6)}/${cidr}`);
  }
  #add(prefix: string): void {
    this.text = this.text === '' ? prefix : `${this.text},${prefix}`;
  }
}

/** Appends the exporter's families for `device` (named `ifname`) to `out`; returns the totals. */
export async function writePeerMetrics(device: Device, ifname: string, out: Exposition): Promise<PeerTotals> {
  const sent: string[] = [];
  const received: string[] = [];
  const handshake: string[] = [];
  const totals: PeerTotals = { peers: 0, staged: 0 };
  const iface = `interface="${escapeLabelValue(ifname)}"`;
  let inTurn = 0;
  let now = device.now();
  let wall = device.wallNow();
  for (const peer of device.peers.values()) {
    if (++inTurn > PEERS_PER_TURN) {
      await yieldTurn();
      inTurn = 1;
      now = device.now();
      wall = device.wallNow();
    }
    const t = peer.tunnel;
    const ips = new AllowedIPsText();
    device.allowedIPs.visitEntries(peer, ips);
    let text = `{${iface},public_key="${Buffer.from(peer.publicKey).toString('base64')}",allowed_ips="${ips.text === '' ? '(none)' : ips.text}"`;
    const endpoint = t.endpoint;
    if (endpoint !== null)
      text += `,remote_ip="${formatIP(endpoint.address)}",remote_port="${endpoint.port}"`;
    text += '}';
    const ms = lastHandshakeWallMs(t, now, wall);
    sent.push(`wireguard_sent_bytes_total${text} ${peer.txBytes}`);
    received.push(`wireguard_received_bytes_total${text} ${t.rxBytes}`);
    handshake.push(`wireguard_latest_handshake_seconds${text} ${ms === null ? 0 : Math.floor(ms / 1000)}`);
    totals.peers++;
    totals.staged += t.stagedCount;
  }
  out.family('wireguard_sent_bytes_total', 'counter', 'Bytes sent to the peer').lines(sent);
  out.family('wireguard_received_bytes_total', 'counter', 'Bytes received from the peer').lines(received);
  out
    .family('wireguard_latest_handshake_seconds', 'gauge', 'Seconds from the last handshake')
    .lines(handshake);
  return totals;
}
