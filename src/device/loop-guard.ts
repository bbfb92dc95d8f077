/**
 * Routing-loop guard for packets read from the TUN (the kernel selftest's `loop` and "onion
 * routing, even when it loops" sections): when a peer's endpoint lies inside its own allowed IPs
 * and the kernel routes it into our TUN, every datagram we send to that endpoint comes back to us
 * as a packet for the same peer. Sealed again, it goes out again, 60-80 bytes larger each time,
 * and once it outgrows the path MTU the kernel fragments our datagram and the fragments loop too:
 * a runaway from one ping. wireguard-go has no guard.
 *
 * The kernel's outer packets are skbs it made itself (their skb->dev names the WireGuard device);
 * a daemon sees only IP packets, so the rule is: a packet read from the TUN and routed to peer P is
 * dropped when it is a UDP datagram from our listen port to P's current endpoint (address and
 * port): exactly a datagram our socket sent to P, which can only be here because P's endpoint is
 * routed into P's own tunnel. Why this rule and not another:
 *   - SO_MARK would tell our packets apart, but the mark is the user's (fwmark) and unset by
 *     default; the loop happens precisely without policy routing.
 *   - The source port alone would also drop a host behind us that happens to use our port
 *     number, through any peer; requiring P's own endpoint as the destination keeps that (and
 *     onion routing: P's endpoint reached through another peer Q's tunnel is carried by Q).
 *   - The source address is not checked: the daemon does not track the host's addresses (and the
 *     TUN may sit in another namespace than our socket).
 * Only UDP directly behind the IP header is recognised (IPv6 extension headers are not walked:
 * our own socket never adds any). Not covered: a loop through two peers or two devices, each
 * endpoint routed into the other's tunnel (the selftest's own `loop` topology), where neither
 * device ever reads its own datagram. There each pass adds both tunnels' overhead until a
 * datagram outgrows the other tunnel's MTU; the kernel then fragments our datagrams (as it must
 * for any outer path narrower than the tunnel) and the fragments loop on, as wireguard-go's do.
 */
import type { Endpoint } from '../protocol/tunnel.js';

const PROTO_UDP = 17;

/**
 * Whether the IP packet at b[at .. at + length) is a UDP datagram from local port `listenPort`
 * to `endpoint` (an IPv4 endpoint has a 4-byte address, an IPv6 one 16 bytes).
 */
export function isOwnDatagramTo(
  b: Uint8Array,
  at: number,
  length: number,
  listenPort: number,
  endpoint: Endpoint,
): boolean {
  const version = b[at]! >> 4;
  const addr = endpoint.address;
  let udp: number;
  let dst: number;
  if (version === 4) {
    if (addr.length !== 4 || b[at + 9] !== PROTO_UDP) return false;
    if ((((b[at + 6]! << 8) | b[at + 7]!) & 0x1fff) !== 0) return false; // a later fragment
    udp = at + (b[at]! & 0x0f) * 4;
    dst = at + 16;
  } else if (version === 6) {
    if (addr.length !== 16 || b[at + 6] !== PROTO_UDP) return false;
    udp = at + 40;
    dst = at + 24;
  } else {
    return false;
  }
  if (udp + 4 > at + length) return false;
  if (((b[udp]! << 8) | b[udp + 1]!) !== listenPort) return false;
  if (((b[udp + 2]! << 8) | b[udp + 3]!) !== endpoint.port) return false;
  for (let i = 0; i < addr.length; i++) if (b[dst + i] !== addr[i]) return false;
  return true;
}
