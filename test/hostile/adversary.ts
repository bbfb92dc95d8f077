/**
 * A raw-UDP adversary for the hostile-input tests (TEST-PLAN "Silence, replay and floods"). Run it
 * inside a namespace:
 *
 *   ip netns exec NS node dist/test/hostile/adversary.js MODE --host H --port P [options]
 *
 * MODE is one of
 *   garbage   random datagrams of varied sizes (0..1500), some with each message type
 *   mac1      initiations with a valid mac1 for `--pub` (random ephemerals and contents, so they
 *             fail identification after Diffie-Hellman); `--low-order` uses low-order ephemerals
 *   badmac1   initiations of the right size and type with a wrong mac1
 *   replay    the UDP payloads of a pcap file (`--pcap`, Ethernet or Linux cooked capture),
 *             optionally only those of `--types` (e.g. 1,4) and to `--dst-port`, each `--repeat` times
 *
 * Every flood is bounded: at most `--count` datagrams (hard cap 5,000,000) and `--duration`
 * seconds (hard cap 30), optionally paced to `--rate` per second. `--sockets K` spreads the
 * datagrams over K sockets (K source ports); `--bind ADDR` picks the source address.
 *
 * In mac1 mode, `--probe-rate R` adds a probe socket that sends one initiation, decrypts the cookie
 * reply it gets, then sends R initiations a second carrying a valid mac2; and a `foreign` socket
 * (another source port) that sends initiations with a mac2 made from the probe's cookie. The
 * probe's mac2 is valid (same source); the foreign one's is not, so it keeps getting cookie replies.
 *
 * Every socket listens the whole time and `--listen-ms` after the last send. The result is one JSON
 * line on stdout: what was sent, the rate, and every datagram received back (count, sizes, types).
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mac } from '../../src/crypto/blake2s.js';
import { CookieGenerator, mac1Key } from '../../src/protocol/cookie.js';
import { parseMessage } from '../../src/protocol/messages.js';

const MAX_COUNT = 5_000_000;
const MAX_DURATION_S = 30;
const MAX_INFLIGHT = 512;

export type Mode = 'garbage' | 'mac1' | 'badmac1' | 'replay';

export interface ReceivedSummary {
  count: number;
  bytes: number;
  maxSize: number;
  sizes: Record<string, number>;
  types: Record<string, number>;
}

export interface ProbeSummary {
  gotCookie: boolean;
  /** mac2 initiations sent after the cookie arrived. */
  sentWithMac2: number;
  /** Cookie replies received after the cookie arrived (answers to mac2 initiations). */
  cookieRepliesAfter: number;
  received: ReceivedSummary;
}

export interface AdversaryReport {
  mode: Mode;
  sent: number;
  sendErrors: number;
  elapsedMs: number;
  ratePerS: number;
  sockets: number;
  /** Everything received back on the flooding sockets. */
  received: ReceivedSummary;
  /** Largest datagram sent (for "replies are never larger than the input"). */
  minSentSize: number;
  probe: ProbeSummary | null;
  foreign: ProbeSummary | null;
}

interface Options {
  host: string;
  port: number;
  pub: Uint8Array | null;
  count: number;
  durationS: number;
  rate: number;
  sockets: number;
  bind: string | undefined;
  pcap: string | null;
  types: number[] | null;
  dstPort: number | null;
  repeat: number;
  listenMs: number;
  lowOrder: boolean;
  probeRate: number;
}

const LOW_ORDER_HEX = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
];

function parseArgs(argv: readonly string[]): { mode: Mode; o: Options } {
  const mode = argv[0] as Mode;
  if (!['garbage', 'mac1', 'badmac1', 'replay'].includes(mode)) throw new Error(`unknown mode ${argv[0]}`);
  const kv = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) flags.add(a.slice(2));
    else {
      kv.set(a.slice(2), next);
      i++;
    }
  }
  const num = (k: string, d: number): number => {
    const v = kv.get(k);
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${k}: ${v}`);
    return n;
  };
  const host = kv.get('host');
  if (host === undefined) throw new Error('--host is required');
  const pub = kv.get('pub');
  const types = kv.get('types');
  return {
    mode,
    o: {
      host,
      port: num('port', 51820),
      pub: pub === undefined ? null : new Uint8Array(Buffer.from(pub, 'base64')),
      count: Math.min(num('count', 1000), MAX_COUNT),
      durationS: Math.min(num('duration', 5), MAX_DURATION_S),
      rate: num('rate', 0),
      sockets: Math.max(1, Math.min(num('sockets', 1), 256)),
      bind: kv.get('bind'),
      pcap: kv.get('pcap') ?? null,
      types: types === undefined ? null : types.split(',').map(Number),
      dstPort: kv.has('dst-port') ? num('dst-port', 0) : null,
      repeat: Math.max(1, num('repeat', 1)),
      listenMs: Math.min(num('listen-ms', 1000), 10_000),
      lowOrder: flags.has('low-order'),
      probeRate: num('probe-rate', 0),
    },
  };
}

// ---- datagram factories ---------------------------------------------------------------------------

function typed(type: number, size: number): Buffer {
  const m = randomBytes(size);
  if (size >= 4) m.writeUInt32LE(type >>> 0, 0);
  return m;
}

/** A random initiation with a valid mac1 for `pub` and mac2 zero. */
export function validMac1Initiation(pub: Uint8Array, ephemeral?: Uint8Array): Buffer {
  const m = typed(1, 148);
  if (ephemeral) Buffer.from(ephemeral).copy(m, 8);
  m.fill(0, 132);
  Buffer.from(mac(mac1Key(pub), m.subarray(0, 116))).copy(m, 116);
  return m;
}

const GARBAGE_SIZES = [0, 1, 3, 4, 31, 32, 63, 64, 65, 91, 92, 93, 147, 148, 149, 200, 1400, 1500];

function pool(mode: Mode, o: Options): Buffer[] {
  const out: Buffer[] = [];
  switch (mode) {
    case 'garbage':
      for (let i = 0; i < 1024; i++) {
        const size = GARBAGE_SIZES[i % GARBAGE_SIZES.length]!;
        const type = [1, 2, 3, 4, 0, 5, 0x101, 0xffffffff][(i >> 4) % 8]!;
        out.push(i % 3 === 0 ? randomBytes(size) : typed(type, size));
      }
      return out;
    case 'badmac1':
      for (let i = 0; i < 1024; i++) out.push(typed(1, 148));
      return out;
    case 'mac1': {
      if (o.pub === null) throw new Error('mac1 needs --pub');
      const low = LOW_ORDER_HEX.map((h) => Buffer.from(h, 'hex'));
      for (let i = 0; i < 2048; i++)
        out.push(validMac1Initiation(o.pub, o.lowOrder ? low[i % low.length] : undefined));
      return out;
    }
    case 'replay': {
      if (o.pcap === null) throw new Error('replay needs --pcap');
      const payloads = readPcapUdp(readFileSync(o.pcap), o.dstPort).filter(
        (p) => o.types === null || (p.length >= 4 && o.types.includes(p.readUInt32LE(0))),
      );
      for (let r = 0; r < o.repeat; r++) out.push(...payloads);
      return out;
    }
  }
}

// ---- pcap -----------------------------------------------------------------------------------------

/** The UDP payloads of a classic pcap file (Ethernet, Linux SLL or SLL2), optionally to `dstPort`. */
export function readPcapUdp(file: Buffer, dstPort: number | null = null): Buffer[] {
  if (file.length < 24) return [];
  const magic = file.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const u32 = (off: number): number => (le ? file.readUInt32LE(off) : file.readUInt32BE(off));
  const linktype = u32(20);
  const out: Buffer[] = [];
  let off = 24;
  while (off + 16 <= file.length) {
    const incl = u32(off + 8);
    const frame = file.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    let l3 = -1;
    let ethertype = 0;
    if (linktype === 1 && frame.length >= 14) {
      ethertype = frame.readUInt16BE(12);
      l3 = 14;
    } else if (linktype === 113 && frame.length >= 16) {
      ethertype = frame.readUInt16BE(14);
      l3 = 16;
    } else if (linktype === 276 && frame.length >= 20) {
      ethertype = frame.readUInt16BE(0);
      l3 = 20;
    } else if (linktype === 101 || linktype === 12) {
      l3 = 0;
      ethertype = frame.length > 0 && frame[0]! >> 4 === 6 ? 0x86dd : 0x0800;
    }
    if (l3 < 0) continue;
    let udp = -1;
    if (ethertype === 0x0800 && frame.length >= l3 + 20 && frame[l3 + 9] === 17) {
      udp = l3 + (frame[l3]! & 0x0f) * 4;
    } else if (ethertype === 0x86dd && frame.length >= l3 + 40 && frame[l3 + 6] === 17) {
      udp = l3 + 40;
    }
    if (udp < 0 || frame.length < udp + 8) continue;
    if (dstPort !== null && frame.readUInt16BE(udp + 2) !== dstPort) continue;
    const len = frame.readUInt16BE(udp + 4);
    out.push(Buffer.from(frame.subarray(udp + 8, udp + Math.min(len, frame.length - udp))));
  }
  return out;
}

// ---- sockets --------------------------------------------------------------------------------------

function emptySummary(): ReceivedSummary {
  return { count: 0, bytes: 0, maxSize: 0, sizes: {}, types: {} };
}

function note(s: ReceivedSummary, m: Buffer): void {
  s.count++;
  s.bytes += m.length;
  s.maxSize = Math.max(s.maxSize, m.length);
  s.sizes[m.length] = (s.sizes[m.length] ?? 0) + 1;
  const t = m.length >= 4 ? m.readUInt32LE(0) : -1;
  s.types[t] = (s.types[t] ?? 0) + 1;
}

async function openSocket(o: Options, onMessage: (m: Buffer) => void): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: o.host.includes(':') ? 'udp6' : 'udp4' });
  s.on('message', onMessage);
  s.on('error', () => {});
  await new Promise<void>((resolve) => s.bind({ port: 0, ...(o.bind ? { address: o.bind } : {}) }, resolve));
  return s;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A probe: one socket, one CookieGenerator; mac2 initiations at `rate` per second once it has a cookie. */
class Probe {
  readonly summary: ProbeSummary = {
    gotCookie: false,
    sentWithMac2: 0,
    cookieRepliesAfter: 0,
    received: emptySummary(),
  };
  socket: dgram.Socket | null = null;

  constructor(
    readonly o: Options,
    readonly gen: CookieGenerator,
    readonly consumes: boolean,
  ) {}

  async open(): Promise<void> {
    this.socket = await openSocket(this.o, (m) => {
      note(this.summary.received, m);
      if (m.length >= 4 && m.readUInt32LE(0) === 3) {
        if (this.summary.gotCookie || !this.consumes) this.summary.cookieRepliesAfter++;
        else if (this.consumes) {
          const msg = parseMessage(new Uint8Array(m));
          if (msg.type === 'cookieReply' && this.gen.consumeReply(msg, performance.now())) {
            this.summary.gotCookie = true;
          }
        }
      }
    });
  }

  /** Until a cookie arrives, the same initiation again and again, so every reply matches its mac1. */
  readonly #first = new Uint8Array(typed(1, 148));

  send(withMac2Expected: boolean): void {
    const m = withMac2Expected ? new Uint8Array(typed(1, 148)) : Uint8Array.from(this.#first);
    this.gen.addMacs(m, performance.now());
    if (withMac2Expected) this.summary.sentWithMac2++;
    this.socket?.send(m, this.o.port, this.o.host);
  }
}

export async function runAdversary(mode: Mode, o: Options): Promise<AdversaryReport> {
  const datagrams = pool(mode, o);
  const received = emptySummary();
  const sockets: dgram.Socket[] = [];
  for (let i = 0; i < o.sockets; i++) sockets.push(await openSocket(o, (m) => note(received, m)));

  let probe: Probe | null = null;
  let foreign: Probe | null = null;
  let probeTimer: NodeJS.Timeout | null = null;
  if (mode === 'mac1' && o.probeRate > 0 && o.pub !== null) {
    const gen = new CookieGenerator(o.pub);
    probe = new Probe(o, gen, true);
    foreign = new Probe(o, gen, false);
    await probe.open();
    await foreign.open();
    const p = probe;
    const f = foreign;
    probeTimer = setInterval(
      () => {
        if (p.summary.gotCookie) {
          p.send(true);
          f.send(true);
        } else p.send(false);
      },
      Math.max(1, 1000 / o.probeRate),
    );
  }

  let sent = 0;
  let sendErrors = 0;
  let inflight = 0;
  let minSentSize = Infinity;
  const start = performance.now();
  const deadline = start + o.durationS * 1000;
  let wake: (() => void) | null = null;
  const done = (err: Error | null): void => {
    inflight--;
    if (err) sendErrors++;
    if (wake && inflight < MAX_INFLIGHT / 2) {
      const w = wake;
      wake = null;
      w();
    }
  };
  const total = mode === 'replay' ? Math.min(o.count, datagrams.length) : o.count;
  while (sent < total && datagrams.length > 0) {
    const now = performance.now();
    if (now >= deadline) break;
    if (o.rate > 0 && sent >= ((now - start) / 1000) * o.rate) {
      await sleep(1);
      continue;
    }
    if (inflight >= MAX_INFLIGHT) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      continue;
    }
    const d = datagrams[sent % datagrams.length]!;
    minSentSize = Math.min(minSentSize, d.length);
    inflight++;
    sockets[sent % sockets.length]!.send(d, o.port, o.host, done);
    sent++;
    // Yield now and then so replies are read while flooding.
    if (sent % 256 === 0) await new Promise<void>((r) => setImmediate(r));
  }
  const elapsedMs = performance.now() - start;
  while (inflight > 0) await sleep(5);
  if (probeTimer !== null) {
    // Keep probing for as long as the flood ran, at least.
    clearInterval(probeTimer);
  }
  await sleep(o.listenMs);
  for (const s of sockets) s.close();
  probe?.socket?.close();
  foreign?.socket?.close();
  return {
    mode,
    sent,
    sendErrors,
    elapsedMs: Math.round(elapsedMs),
    ratePerS: Math.round((sent / Math.max(elapsedMs, 1)) * 1000),
    sockets: sockets.length,
    received,
    minSentSize: minSentSize === Infinity ? 0 : minSentSize,
    probe: probe?.summary ?? null,
    foreign: foreign?.summary ?? null,
  };
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop()!);
if (isMain) {
  try {
    const { mode, o } = parseArgs(process.argv.slice(2));
    const report = await runAdversary(mode, o);
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } catch (err) {
    process.stderr.write(`adversary: ${(err as Error).message}\n`);
    process.exit(2);
  }
}
