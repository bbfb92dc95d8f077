/**
 * wgtsd's own families, prefixed `wgts_` and labelled `interface`: handshake messages by
 * direction and type, sessions derived, cookie replies, packets dropped by reason (every reason
 * of src/device/drops.ts, zeros included, so each series exists from the first scrape), the
 * handshake queue and staged packets, and the peer count. All read from the device's counters
 * at scrape time (Device.stats, Device.drops).
 */
import type { Device, DeviceStats } from '../device/device.js';
import { DEVICE_DROP_REASONS } from '../device/drops.js';
import type { PeerTotals } from './peer-metrics.js';
import { labels, type Exposition, type MetricType } from './text-format.js';

/** Each exported DeviceStats field: its family name, type and HELP text. */
const STAT_FAMILIES: readonly (readonly [keyof DeviceStats, string, MetricType, string])[] = [
  ['initiationsSent', 'wgts_handshake_initiations_sent_total', 'counter', 'Handshake initiations sent'],
  [
    'initiationsReceived',
    'wgts_handshake_initiations_received_total',
    'counter',
    'Handshake initiations received that passed the mac checks',
  ],
  ['responsesSent', 'wgts_handshake_responses_sent_total', 'counter', 'Handshake responses sent'],
  [
    'responsesReceived',
    'wgts_handshake_responses_received_total',
    'counter',
    'Handshake responses received that passed the mac checks',
  ],
  [
    'handshakesCompleted',
    'wgts_handshakes_completed_total',
    'counter',
    'Handshakes that derived a session (as initiator or responder)',
  ],
  ['cookieReplies', 'wgts_cookie_replies_sent_total', 'counter', 'Cookie replies sent (under load)'],
  ['cookieRepliesReceived', 'wgts_cookie_replies_received_total', 'counter', 'Cookie replies received'],
  ['handshakeDh', 'wgts_handshake_dh_total', 'counter', 'Handshake messages that reached Diffie-Hellman'],
  ['handshakesQueued', 'wgts_handshakes_queued_total', 'counter', 'Handshake messages taken into the queue'],
  ['queueHighWater', 'wgts_handshake_queue_high_water', 'gauge', 'Longest handshake queue seen'],
];

export function writeDeviceMetrics(
  device: Device,
  ifname: string,
  totals: PeerTotals,
  out: Exposition,
): void {
  const iface = labels([['interface', ifname]]);
  for (const [field, name, type, help] of STAT_FAMILIES)
    out.single(name, type, help, iface, device.stats[field]);
  out.family('wgts_packets_dropped_total', 'counter', 'Packets dropped, by reason');
  const counts = device.drops.counts;
  for (let i = 0; i < DEVICE_DROP_REASONS.length; i++) {
    out.sample(
      'wgts_packets_dropped_total',
      labels([
        ['interface', ifname],
        ['reason', DEVICE_DROP_REASONS[i]!],
      ]),
      counts[i]!,
    );
  }
  out.single(
    'wgts_handshake_queue_length',
    'gauge',
    'Handshake messages waiting',
    iface,
    device.queue.length,
  );
  out.single(
    'wgts_staged_packets',
    'gauge',
    'Packets staged while waiting for a session',
    iface,
    totals.staged,
  );
  out.single('wgts_peers', 'gauge', 'Configured peers', iface, totals.peers);
}
