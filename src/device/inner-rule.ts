/**
 * The inbound rule for a decrypted transport payload on the batched receive paths (whitepaper
 * section 5.4.6 "Receive", and the cryptokey-routing check of section 2): the plaintext must be
 * one whole IPv4 or IPv6 packet (transport.ts's innerPacket, whose reasons these are, read in
 * place without a view per packet), and its source must be one of the sending peer's allowed IPs.
 * Both batched receivers — fast-path.ts on the offload TUN and batch-receive.ts on any TunDevice —
 * call it, so the rule and its drop reasons exist once.
 */
import { IP_SOURCE_OFFSET } from '../protocol/transport.js';
import type { Device } from './device.js';
import { DROP_INDEX } from './drops.js';
import type { Peer } from './peer.js';

const NOT_IP = DROP_INDEX['not-ip'];
const BAD_IP_LENGTH = DROP_INDEX['bad-ip-length'];
const DISALLOWED_SOURCE = DROP_INDEX['disallowed-source'];

/**
 * The length of the IP packet at b[p .. p + plain), or 0 for an IPv4/IPv6 packet cut short or
 * with a bad length, -1 when it is neither.
 */
export function innerLength(b: Uint8Array, p: number, plain: number): number {
  const version = b[p]! >> 4;
  if (version === 4) {
    if (plain < 20) return 0;
    const total = (b[p + 2]! << 8) | b[p + 3]!;
    const ihl = (b[p]! & 0x0f) * 4;
    return ihl < 20 || total < ihl || total > plain ? 0 : total;
  }
  if (version === 6) {
    if (plain < 40) return 0;
    const total = 40 + ((b[p + 4]! << 8) | b[p + 5]!);
    return total > plain ? 0 : total;
  }
  return -1;
}

/**
 * Applies the rule to the `plain` bytes at b[p ..] received from `peer`: the inner packet's
 * length when it may go to the TUN, else 0 after counting the drop (and logging it) by reason.
 */
export function acceptInner(
  device: Device,
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
