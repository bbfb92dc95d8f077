/**
 * Scenarios for the sticky-source bind tests (test/selftest/sticky-bind.test.ts), run as
 * `ip netns exec NS node sticky-child.js SCENARIO LINK` inside a namespace that the test prepared:
 * a link LINK with two v4 (10.77.0.1, 10.77.0.2 /24) and two v6 (fd77::1, fd77::2 /64) addresses.
 * The addon's sockets belong to the namespace of the process that opens them, hence a child.
 *
 * A peer socket (node:dgram, bound to the first address) talks to a LinuxBind (src/io/bind.ts)
 * at the second address. The local address the bind records (IP_PKTINFO / IPV6_PKTINFO) must be
 * the second one, and a reply sent with it as the sticky source must come from it: without it the
 * kernel would answer a local destination from that destination itself (the first address), so
 * the oracle tells the two apart. A source the namespace does not own must be refused, the
 * datagrams sent from the kernel's choice, and `sourceRefused` set. Both send forms are covered
 * (sendList, and UDP GSO runs through sendSegments) and both receive forms (per-datagram
 * Endpoints, and raw batches with UDP_GRO, whose `locals` carry the address and ifindex).
 *
 * The child prints `@@result <json>` and exits 0, or prints the failure and exits 1. Run without a
 * scenario it does nothing.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { createBind, LOCAL_RECORD, type Endpoint, type LinuxBind, type RawBatch } from '../../src/io/bind.js';
import { formatIP as formatAddress } from '../../src/routing/ip-format.js';
import { parseIP } from '../../src/routing/ip.js';

/** The addresses the parent test puts on the namespace's dummy link. */
export const STICKY_ADDRESSES = {
  v4: ['10.77.0.1', '10.77.0.2'],
  v6: ['fd77::1', 'fd77::2'],
  /** Addresses in the links' prefixes that the namespace does not own. */
  gone: { v4: '10.77.0.99', v6: 'fd77::99' },
} as const;

interface Received {
  readonly data: string;
  readonly from: string;
}

/** A node:dgram peer bound to `address` that collects what it receives. */
async function peerSocket(
  family: 4 | 6,
  address: string,
): Promise<{
  socket: dgram.Socket;
  port: number;
  received: Received[];
  waitCount(n: number): Promise<void>;
}> {
  const socket = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
  const received: Received[] = [];
  socket.on('message', (msg, rinfo) => received.push({ data: msg.toString('latin1'), from: rinfo.address }));
  await new Promise<void>((resolve) => socket.bind(0, address, resolve));
  return {
    socket,
    port: socket.address().port,
    received,
    waitCount: (n) => waitUntil(() => received.length >= n, `${n} datagrams at ${address}`),
  };
}

async function waitUntil(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function bytes(address: string): Uint8Array {
  const a = parseIP(address);
  assert.ok(a !== null, address);
  return a.bytes;
}

function ifindex(name: string): number {
  const m = /^(\d+):/.exec(execFileSync('ip', ['-o', 'link', 'show', 'dev', name], { encoding: 'utf8' }));
  assert.ok(m !== null);
  return Number(m[1]);
}

/** What one family's round trip through a per-datagram bind showed. */
interface FamilyResult {
  readonly recordedSource: string | null;
  readonly replyFrom: string[];
  readonly refusedReplyFrom: string[];
  readonly refusedFlag: boolean;
  readonly flagAfterGoodSend: boolean;
  readonly segmentsFrom: string[];
  readonly refusedSegmentsFrom: string[];
  readonly refusedSegmentsFlag: boolean;
  readonly sendDropped: number;
}

/** Per-datagram receive (Bind.start), replies with sendList and sendSegments. */
async function roundTrip(bind: LinuxBind, family: 4 | 6): Promise<FamilyResult> {
  const [peerAddress, ourAddress] = family === 4 ? STICKY_ADDRESSES.v4 : STICKY_ADDRESSES.v6;
  const gone = family === 4 ? STICKY_ADDRESSES.gone.v4 : STICKY_ADDRESSES.gone.v6;
  const peer = await peerSocket(family, peerAddress);
  let from: Endpoint | null = null;
  bind.start((datagrams, sources) => {
    // The views are valid only during the call: keep copies.
    const s = sources[datagrams.length - 1]!;
    from = {
      address: s.address.slice(),
      port: s.port,
      source: s.source == null ? null : s.source.slice(),
    };
  });
  peer.socket.send('hello', bind.port, ourAddress);
  await waitUntil(() => from !== null, 'the hello at the bind');
  const endpoint = from as unknown as Endpoint;
  assert.equal(formatAddress(endpoint.address), peerAddress);
  const recordedSource = endpoint.source == null ? null : formatAddress(endpoint.source);

  bind.send([Buffer.from('reply')], endpoint);
  const flagAfterGoodSend = bind.sourceRefused;
  await peer.waitCount(1);
  // Eight equal datagrams: one UDP GSO run, carrying the source as well.
  const offsets = new Uint32Array(8);
  const lengths = new Uint32Array(8).fill(100);
  const buffer = new Uint8Array(800).fill(0x61);
  for (let i = 0; i < 8; i++) offsets[i] = i * 100;
  bind.sendSegments(buffer, offsets, lengths, 0, 8, endpoint);
  await peer.waitCount(9);

  const goneEndpoint: Endpoint = { address: endpoint.address, port: endpoint.port, source: bytes(gone) };
  bind.send([Buffer.from('refused')], goneEndpoint);
  const refusedFlag = bind.sourceRefused;
  await peer.waitCount(10);
  bind.sendSegments(buffer, offsets, lengths, 0, 8, goneEndpoint);
  const refusedSegmentsFlag = bind.sourceRefused;
  await peer.waitCount(18);
  peer.socket.close();
  const r = peer.received;
  return {
    recordedSource,
    replyFrom: [r[0]!.from],
    segmentsFrom: [...new Set(r.slice(1, 9).map((x) => x.from))],
    refusedReplyFrom: [r[9]!.from],
    refusedSegmentsFrom: [...new Set(r.slice(10, 18).map((x) => x.from))],
    refusedFlag,
    flagAfterGoodSend,
    refusedSegmentsFlag,
    sendDropped: bind.stats.sendDropped,
  };
}

/** What one family's raw batches (UDP_GRO on) recorded for a GSO run sent to the second address. */
interface RawResult {
  readonly locals: string[];
  readonly ifindexes: number[];
  /** The index of the link the addresses are on (argv[3]). */
  readonly linkIndex: number;
  readonly datagrams: number;
  readonly groSlots: number;
}

async function rawLocals(family: 4 | 6): Promise<RawResult> {
  const [peerAddress, ourAddress] = family === 4 ? STICKY_ADDRESSES.v4 : STICKY_ADDRESSES.v6;
  const receiver = createBind({ gro: true, families: [family] });
  const sender = createBind({ families: [family] });
  await receiver.open(0);
  await sender.open(0);
  const locals = new Set<string>();
  const ifindexes = new Set<number>();
  let datagrams = 0;
  let groSlots = 0;
  receiver.startRaw((batch: RawBatch) => {
    const words = new DataView(batch.locals.buffer, batch.locals.byteOffset, batch.locals.byteLength);
    const n = family === 4 ? 4 : 16;
    for (let i = 0; i < batch.count; i++) {
      const at = i * LOCAL_RECORD;
      locals.add(formatAddress(batch.locals.slice(at, at + n)));
      ifindexes.add(words.getUint32(at + 16, true));
      const seg = batch.gsoSizes[i]!;
      if (seg > 0 && seg < batch.lengths[i]!) groSlots++;
      datagrams += seg > 0 ? Math.ceil(batch.lengths[i]! / seg) : 1;
    }
  });
  // The sender's own reply path is not under test here: it sends with a source of its own
  // address (the peer side) so that both control messages, UDP_SEGMENT and pktinfo, go out.
  const to: Endpoint = { address: bytes(ourAddress), port: receiver.port, source: bytes(peerAddress) };
  const offsets = new Uint32Array(32);
  const lengths = new Uint32Array(32).fill(200);
  for (let i = 0; i < 32; i++) offsets[i] = i * 200;
  sender.sendSegments(new Uint8Array(6400), offsets, lengths, 0, 32, to);
  await waitUntil(() => datagrams >= 32, '32 datagrams in raw batches');
  receiver.close();
  sender.close();
  const link = process.argv[3] ?? 'lo';
  return { locals: [...locals], ifindexes: [...ifindexes], linkIndex: ifindex(link), datagrams, groSlots };
}

const scenarios: Record<string, () => Promise<unknown>> = {
  async 'round-trip'() {
    const out: Record<string, FamilyResult> = {};
    for (const family of [4, 6] as const) {
      const bind = createBind({ families: [family] });
      await bind.open(0);
      out[`v${family}`] = await roundTrip(bind, family);
      bind.close();
    }
    return out;
  },
  async 'raw-locals'() {
    return { v4: await rawLocals(4), v6: await rawLocals(6) };
  },
};

const name = process.argv[2];
if (name !== undefined && import.meta.url === `file://${process.argv[1]}`) {
  const scenario = scenarios[name];
  if (scenario === undefined) {
    console.error(`unknown scenario ${name}`);
    process.exit(2);
  }
  scenario().then(
    (result) => {
      console.log(`@@result ${JSON.stringify(result)}`);
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.stack : err);
      process.exit(1);
    },
  );
}
