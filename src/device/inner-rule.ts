/**
 * The inbound rules for a run of transport messages the native code has opened, on the batched
 * receive paths (whitepaper section 5.4.6 "Receive", and the cryptokey-routing check of section
 * 2): a bad tag is dropped; the replay window is marked only for a verified tag (a duplicate
 * within the run is a replay); the plaintext must be one whole IPv4 or IPv6 packet
 * (transport.ts's innerLength, the one inner-length rule, read in place without a view per
 * packet) whose source is one of the sending peer's allowed IPs; then the run's bookkeeping
 * (timers, counters, endpoint) happens once, in Tunnel.transportBatchReceived. Both batched
 * receivers — fast-path.ts on the offload TUN and batch-receive.ts on any TunDevice — call
 * acceptRun, so the rules and their drop reasons exist once.
 */
import { TRANSPORT_HEADER_SIZE } from '../constants.js';
import type { Keypair } from '../protocol/keypairs.js';
import { toNetwork } from '../protocol/results.js';
import type { Endpoint, Tunnel } from '../protocol/tunnel.js';
import { innerLength, IP_SOURCE_OFFSET } from '../protocol/transport.js';
import type { DataPathHost } from './data-path.js';
import { DROP_INDEX } from './drops.js';
import type { Peer } from './peer.js';

const NOT_IP = DROP_INDEX['not-ip'];
const BAD_IP_LENGTH = DROP_INDEX['bad-ip-length'];
const DISALLOWED_SOURCE = DROP_INDEX['disallowed-source'];
const REPLAY = DROP_INDEX['replay'];
const BAD_TAG = DROP_INDEX['bad-tag'];

/** One opened run: messages k in [first, first + count) of `buffer`, all under one keypair. */
export interface OpenedRun {
  readonly keypair: Keypair;
  readonly tunnel: Tunnel;
  /** Where the run came from (copied by the caller if it is a reused view). */
  readonly from: Endpoint;
  readonly buffer: Uint8Array;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  readonly counters: readonly bigint[];
  /** openBatch's results: plaintext length, or -1 for a bad tag. */
  readonly results: Int32Array;
  readonly first: number;
  readonly count: number;
}

/**
 * Applies the rules to an opened run; `deliver(p, length)` receives each inner packet that may go
 * to the TUN (buffer[p .. p + length)).
 */
export function acceptRun(
  device: DataPathHost,
  run: OpenedRun,
  now: number,
  deliver: (p: number, length: number) => void,
): void {
  const { keypair, tunnel, buffer, offsets, lengths, counters, results } = run;
  const peer = device.peerOfTunnel(tunnel);
  const drops = device.drops.counts;
  let accepted = 0;
  let data = 0;
  let bytes = 0;
  for (let k = run.first; k < run.first + run.count; k++) {
    const plain = results[k]!;
    if (plain < 0) {
      drops[BAD_TAG]!++;
      continue;
    }
    if (!keypair.replay.mark(counters[k]!)) {
      drops[REPLAY]!++; // a duplicate within this run
      continue;
    }
    accepted++;
    bytes += lengths[k]!;
    if (plain === 0) continue; // a keepalive
    data++;
    const p = offsets[k]! + TRANSPORT_HEADER_SIZE;
    const length = acceptInner(device, buffer, p, plain, peer, drops);
    if (length > 0) deliver(p, length);
  }
  const out = tunnel.transportBatchReceived(keypair, run.from, accepted, data, bytes, now);
  if (out.length > 0 && peer !== undefined) device.transmit(peer, toNetwork(out));
}

/**
 * Applies the rule to the `plain` bytes at b[p ..] received from `peer`: the inner packet's
 * length when it may go to the TUN, else 0 after counting the drop (and logging it) by reason.
 */
export function acceptInner(
  device: DataPathHost,
  b: Uint8Array,
  p: number,
  plain: number,
  peer: Peer | undefined,
  drops: Float64Array,
): number {
  const length = innerLength(b, p, plain);
  if (length <= 0) {
    drops[length === 0 ? BAD_IP_LENGTH : NOT_IP]!++;
    if (peer !== undefined) device.peerLog?.innerRefused(peer, 'not-ip');
    return 0;
  }
  const family = b[p]! >> 4 === 4 ? 4 : 6;
  if (device.allowedIPs.lookupAt(b, p + IP_SOURCE_OFFSET[family], family) !== peer) {
    drops[DISALLOWED_SOURCE]!++;
    if (peer !== undefined) device.peerLog?.innerRefused(peer, 'disallowed-source');
    return 0;
  }
  return length;
}
