/**
 * Packets the device dropped, counted by reason: the protocol core's reasons (DROP_REASONS in
 * src/protocol/results.ts) plus the few only the device can see (a full handshake queue, a
 * packet from the TUN that no peer can carry, a routing loop, a batch lost to an exception). Both
 * data paths, the per-packet one in device.ts and the batched ones (data-path.ts), count here, so the metrics endpoint and
 * WGTS_STATS report one set of numbers.
 *
 * Counting is one indexed increment of a Float64Array (exact to 2^53, no allocation, no string
 * hashing on the batched path, which passes the index constant).
 */
import { DROP_REASONS } from '../protocol/results.js';

export const DEVICE_DROP_REASONS = [
  ...DROP_REASONS,
  /** A handshake message refused because the bounded handshake queue was full. */
  'handshake-queue-full',
  /** A packet from the TUN whose destination is no peer's allowed IP. */
  'no-route',
  /** A packet from the TUN for a peer that has no endpoint. */
  'no-endpoint',
  /** Our own datagram to a peer's endpoint read back from the TUN (loop-guard.ts). */
  'routing-loop',
  /**
   * A whole batch of a batched data path dropped because its handler threw (counted once per
   * batch): nothing the network sends should get here, and if something does, the daemon goes on.
   */
  'batch-error',
] as const;

export type DeviceDropReason = (typeof DEVICE_DROP_REASONS)[number];

/** Each reason's slot in DropCounters.counts. */
export const DROP_INDEX = Object.freeze(
  Object.fromEntries(DEVICE_DROP_REASONS.map((r, i) => [r, i])) as Record<DeviceDropReason, number>,
);

export class DropCounters {
  /** counts[DROP_INDEX[reason]]: packets dropped for that reason since the device started. */
  readonly counts = new Float64Array(DEVICE_DROP_REASONS.length);

  count(reason: DeviceDropReason): void {
    this.counts[DROP_INDEX[reason]]!++;
  }

  /** The non-zero counters by reason (for the WGTS_STATS line). */
  nonZero(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 0; i < DEVICE_DROP_REASONS.length; i++) {
      if (this.counts[i]! > 0) out[DEVICE_DROP_REASONS[i]!] = this.counts[i]!;
    }
    return out;
  }
}
