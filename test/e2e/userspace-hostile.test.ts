/**
 * A SYN flood (RFC 4987) from the peer's side of a real WireGuard tunnel toward a listening
 * userspace server: a raw-socket generator in the peer's namespace sends thousands of SYNs to our
 * tunnel address; wireguard-go encrypts them and our stack receives them as any other packet. The
 * LISTEN state (RFC 9293 §3.10.7.2) must keep its half-open connections within the backlog (no
 * SYN cookies: the excess is dropped and counted), memory must stay bounded, and a legitimate
 * connection from the peer must still succeed. Two floods: from a spoofed address nobody answers
 * for (half-open entries linger, so the bound is what holds), and from the peer's own address (its
 * kernel resets our SYN-ACKs, RFC 9293 §3.10.7.4, and the listener recovers at once).
 *
 * Needs root, wireguard-go and python3; skips otherwise.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, exec, waitFor, which } from '../helpers/netns.js';
import { probe } from '../helpers/tunnel-probe.js';
import type { TunnelServer } from '../../src/netstack/network-types.js';
import {
  observableStack,
  openUserspace,
  userspaceSkipReason,
  type StackInsides,
  type UserspaceSide,
} from '../helpers/userspace-peer.js';

const skip = userspaceSkipReason() || (which('python3') === null ? 'python3 missing' : false);
const BACKLOG = 32;
const FLOOD = 3000;

/** Raw IPv4 SYNs (IP_HDRINCL) with random source ports and ISNs: argv src dst dport count. */
const FLOODER = `
import socket, struct, random, sys
src, dst, dport, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def csum(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
sa, da = socket.inet_aton(src), socket.inet_aton(dst)
for i in range(count):
    sport = random.randint(1024, 65535)
    tcp = struct.pack('!HHIIBBHHH', sport, dport, random.getrandbits(32), 0, 5 << 4, 0x02, 65535, 0, 0)
    c = csum(sa + da + struct.pack('!BBH', 0, 6, len(tcp)) + tcp)
    tcp = tcp[:16] + struct.pack('!H', c) + tcp[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), random.getrandbits(16), 0, 64, 6, 0, sa, da)
    s.sendto(ip + tcp, (dst, 0))
print(count)
`;

describe('SYN flood from the peer toward a userspace listener', { skip, timeout: 120_000 }, () => {
  let side: UserspaceSide;
  let insides: () => StackInsides;
  const servers: TunnelServer[] = [];
  before(async () => {
    const obs = observableStack();
    insides = obs.insides;
    side = await openUserspace({}, obs.factory);
    // A first packet from us, so the peer knows our endpoint before it sends anything.
    await side.net.ping(side.peer.innerV4, 5_000);
  });
  after(async () => {
    for (const s of servers) s.close();
    await side?.close();
    await cleanup();
  });

  const listen = async (port: number): Promise<void> => {
    const server = side.net.createServer((sock) => sock.pipe(sock));
    servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, side.peer.ourV4, BACKLOG, () => resolve());
    });
  };

  const flood = async (src: string, port: number): Promise<{ maxHalfOpen: number; heapGrowth: number }> => {
    const listener = insides().tcp.listeners.get(port)?.[0];
    assert.ok(listener !== undefined, 'the listener is registered');
    let maxHalfOpen = 0;
    const heapBefore = process.memoryUsage().heapUsed;
    const sample = setInterval(() => (maxHalfOpen = Math.max(maxHalfOpen, listener.halfOpen)), 5);
    try {
      const r = await exec(
        side.peer.ns,
        'python3',
        ['-c', FLOODER, src, side.peer.ourV4, String(port), String(FLOOD)],
        {
          timeoutMs: 40_000,
        },
      );
      assert.equal(r.code, 0, r.stderr);
    } finally {
      clearInterval(sample);
    }
    maxHalfOpen = Math.max(maxHalfOpen, listener.halfOpen);
    return { maxHalfOpen, heapGrowth: process.memoryUsage().heapUsed - heapBefore };
  };

  test('spoofed silent source: half-open stays within the backlog, the excess is dropped', async () => {
    const port = 8081;
    await listen(port);
    const tcp = insides().tcp;
    const spoofed = side.peer.innerV4.replace(/\.1$/, '.77');
    const r = await flood(spoofed, port);
    await waitFor(() => (tcp.drops['backlog-full'] ?? 0) > 0, {
      timeoutMs: 15_000,
      what: `backlog-full drops (${JSON.stringify(tcp.drops)})`,
    });
    assert.ok(r.maxHalfOpen <= BACKLOG, `half-open ${r.maxHalfOpen} > backlog ${BACKLOG}`);
    assert.ok(r.maxHalfOpen > 0, 'the flood reached the listener');
    assert.ok(tcp.connections.size <= BACKLOG + 16, `connection table ${tcp.connections.size}`);
    assert.ok(r.heapGrowth < 64 * 1024 * 1024, `heap grew ${r.heapGrowth} bytes`);
    // The stack still serves: another listener accepts a legitimate connection from the peer.
    await listen(8082);
    const ok = await probe(side.peer.ns, ['tcp-echo', side.peer.ourV4, '8082', '20000']);
    assert.equal(ok['ok'], true, JSON.stringify(ok));
  });

  test("flood from the peer's own address: its resets free the backlog; a real client gets in", async () => {
    const port = 8083;
    await listen(port);
    const listener = insides().tcp.listeners.get(port)?.[0];
    const r = await flood(side.peer.innerV4, port);
    assert.ok(r.maxHalfOpen <= BACKLOG, `half-open ${r.maxHalfOpen} > backlog ${BACKLOG}`);
    assert.ok(r.heapGrowth < 64 * 1024 * 1024, `heap grew ${r.heapGrowth} bytes`);
    await waitFor(() => listener !== undefined && listener.halfOpen < BACKLOG, {
      timeoutMs: 15_000,
      what: 'the peer resets to free the backlog',
    });
    const ok = await probe(side.peer.ns, ['tcp-echo', side.peer.ourV4, String(port), '20000']);
    assert.equal(ok['ok'], true, JSON.stringify(ok));
  });
});
