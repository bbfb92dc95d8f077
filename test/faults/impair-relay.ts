/**
 * A UDP impairment relay for the fault tests: it sits between two WireGuard peers (each peer's
 * endpoint points at one of its two sockets) and forwards A ↔ B, dropping, corrupting (one random
 * bit flipped), duplicating and reordering datagrams at set rates, and can switch its outbound
 * source port towards one side mid-traffic (NAT rebinding).
 *
 * As a program (run inside a namespace with `ip netns exec`):
 *
 *     node impair-relay.js relay --host H --port-a PA --port-b PB --to-a IP:PORT --to-b IP:PORT
 *         [--drop PCT] [--corrupt PCT] [--dup PCT] [--reorder PCT] [--reorder-k K]
 *         [--reorder-max-ms MS] [--kinds data|all] [--rebind-side a|b] [--duration-ms MS]
 *
 * The socket bound to H:PA faces A (A's endpoint for its peer is H:PA): what arrives there goes to
 * `--to-b` from the socket bound to H:PB, and what arrives on H:PB goes to `--to-a` from H:PA.
 * Each datagram (of a kind selected by `--kinds`: `data` = WireGuard transport messages only, type
 * 4; default `all`) is, in this order: dropped with probability `drop`%; else corrupted with
 * probability `corrupt`% (one random bit of it flipped); then sent, and sent a second time with
 * probability `dup`%; or — with probability `reorder`% — held back and released after `K` (default
 * 3) later datagrams of the same direction went out, or after `reorder-max-ms` (default 50), which
 * keeps every held datagram far inside a 8128-counter replay window.
 *
 * `--to-a learn` (for an A behind an ephemeral port): datagrams towards A go to the source address of
 * the latest datagram that arrived on the A-facing socket; until one has, they are send errors.
 *
 * Signals: SIGUSR1 closes the socket facing side `--rebind-side` (default a) and opens a new one on
 * a fresh ephemeral port (the old mapping is gone, as after a NAT rebinding), printing
 * {"event":"rebound","side":S,"port":N}; SIGUSR2 prints the counters; SIGTERM/SIGINT, or the end of
 * `--duration-ms` (default 60 s: it is always bounded), print the counters as
 * {"event":"counters",...} and exit 0. On start it prints {"event":"listening",...}.
 *
 * Run without a mode by the test runner (which loads every .js under dist/test/), it does nothing.
 *
 * `startRelay()` runs it in a namespace as a tracked process and reads its counters.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { spawn, waitFor, type TrackedProcess } from '../helpers/netns.js';

const SCRIPT = fileURLToPath(import.meta.url);

/** Counters of one direction (`ab`: from A to B; `ba`: from B to A). */
export interface DirectionCounters {
  /** Datagrams received from this direction's source. */
  received: number;
  /** Datagrams that were subject to impairment (of the selected kinds). */
  eligible: number;
  dropped: number;
  corrupted: number;
  /** Bytes of the corrupted datagrams (all were sent). */
  corruptedBytes: number;
  /** Extra copies sent. */
  duplicated: number;
  duplicatedBytes: number;
  /** Datagrams held back and sent after later ones. */
  reordered: number;
  /** Of those, released by the timer rather than by K later datagrams. */
  reorderTimerReleases: number;
  /** Datagrams (copies included) handed to the kernel successfully, and their bytes. */
  sent: number;
  sentBytes: number;
  sendErrors: number;
}

export interface RelayCounters {
  readonly ab: DirectionCounters;
  readonly ba: DirectionCounters;
  readonly rebinds: number;
}

function zero(): DirectionCounters {
  return {
    received: 0,
    eligible: 0,
    dropped: 0,
    corrupted: 0,
    corruptedBytes: 0,
    duplicated: 0,
    duplicatedBytes: 0,
    reordered: 0,
    reorderTimerReleases: 0,
    sent: 0,
    sentBytes: 0,
    sendErrors: 0,
  };
}

// ---------------------------------------------------------------------------------------------
// The relay program

interface RelayConfig {
  readonly host: string;
  readonly portA: number;
  readonly portB: number;
  /** null: learned from what arrives on the A-facing socket (`--to-a learn`). */
  readonly toA: { readonly address: string; readonly port: number } | null;
  readonly toB: { readonly address: string; readonly port: number };
  readonly drop: number;
  readonly corrupt: number;
  readonly dup: number;
  readonly reorder: number;
  readonly reorderK: number;
  readonly reorderMaxMs: number;
  readonly kinds: 'data' | 'all';
  readonly rebindSide: 'a' | 'b';
  readonly durationMs: number;
}

function option(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

function num(args: readonly string[], name: string, fallback: number, max: number): number {
  const text = option(args, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value > max) throw new Error(`bad --${name} ${text}`);
  return value;
}

function hostPort(text: string | undefined, name: string): { address: string; port: number } {
  const m = text === undefined ? null : /^\[?([^\]]+?)\]?:(\d+)$/.exec(text);
  if (m === null) throw new Error(`bad or missing --${name}: ${text}`);
  return { address: m[1]!, port: Number(m[2]) };
}

function parseConfig(args: readonly string[]): RelayConfig {
  const host = option(args, 'host');
  if (host === undefined) throw new Error('missing --host');
  const kinds = option(args, 'kinds') ?? 'all';
  if (kinds !== 'data' && kinds !== 'all') throw new Error(`bad --kinds ${kinds}`);
  const rebindSide = option(args, 'rebind-side') ?? 'a';
  if (rebindSide !== 'a' && rebindSide !== 'b') throw new Error(`bad --rebind-side ${rebindSide}`);
  return {
    host,
    portA: num(args, 'port-a', NaN, 65535),
    portB: num(args, 'port-b', NaN, 65535),
    toA: option(args, 'to-a') === 'learn' ? null : hostPort(option(args, 'to-a'), 'to-a'),
    toB: hostPort(option(args, 'to-b'), 'to-b'),
    drop: num(args, 'drop', 0, 100),
    corrupt: num(args, 'corrupt', 0, 100),
    dup: num(args, 'dup', 0, 100),
    reorder: num(args, 'reorder', 0, 100),
    reorderK: num(args, 'reorder-k', 3, 1000),
    reorderMaxMs: num(args, 'reorder-max-ms', 50, 10_000),
    kinds,
    rebindSide,
    durationMs: num(args, 'duration-ms', 60_000, 600_000),
  };
}

/** True with probability pct/100 (crypto-random, 1/10000 resolution). */
function chance(pct: number): boolean {
  return pct > 0 && randomInt(10_000) < pct * 100;
}

interface Held {
  readonly data: Buffer;
  left: number;
  readonly timer: NodeJS.Timeout;
}

async function runRelay(args: readonly string[]): Promise<void> {
  const cfg = parseConfig(args);
  if (!Number.isInteger(cfg.portA) || !Number.isInteger(cfg.portB))
    throw new Error('missing --port-a/--port-b');
  const family = cfg.host.includes(':') ? 'udp6' : 'udp4';
  const counters = { ab: zero(), ba: zero(), rebinds: 0 };
  const sockets: { a: Socket | null; b: Socket | null } = { a: null, b: null };
  const held: { ab: Held[]; ba: Held[] } = { ab: [], ba: [] };
  let toA = cfg.toA;
  const print = (event: object): void => {
    process.stdout.write(`${JSON.stringify(event)}\n`);
  };

  // Sends towards the destination of `dir` from the socket facing it.
  const send = (dir: 'ab' | 'ba', data: Buffer): void => {
    const c = counters[dir];
    const socket = dir === 'ab' ? sockets.b : sockets.a;
    const to = dir === 'ab' ? cfg.toB : toA;
    if (socket === null || to === null) {
      c.sendErrors += 1;
      return;
    }
    socket.send(data, to.port, to.address, (err) => {
      if (err) c.sendErrors += 1;
      else {
        c.sent += 1;
        c.sentBytes += data.length;
      }
    });
  };

  const release = (dir: 'ab' | 'ba', h: Held, byTimer: boolean): void => {
    const list = held[dir];
    const i = list.indexOf(h);
    if (i < 0) return;
    list.splice(i, 1);
    clearTimeout(h.timer);
    if (byTimer) counters[dir].reorderTimerReleases += 1;
    send(dir, h.data);
  };

  // One datagram went out in `dir`: count down the held ones.
  const sentOne = (dir: 'ab' | 'ba'): void => {
    for (const h of [...held[dir]]) {
      h.left -= 1;
      if (h.left <= 0) release(dir, h, false);
    }
  };

  const onMessage = (dir: 'ab' | 'ba', msg: Buffer): void => {
    const c = counters[dir];
    c.received += 1;
    const eligible = cfg.kinds === 'all' || (msg.length >= 32 && msg[0] === 4);
    if (!eligible) {
      send(dir, msg);
      sentOne(dir);
      return;
    }
    c.eligible += 1;
    if (chance(cfg.drop)) {
      c.dropped += 1;
      return;
    }
    let data = msg;
    if (chance(cfg.corrupt)) {
      data = Buffer.from(msg);
      const bit = randomInt(data.length * 8);
      data[bit >> 3] = data[bit >> 3]! ^ (1 << (bit & 7));
      c.corrupted += 1;
      c.corruptedBytes += data.length;
    }
    if (chance(cfg.reorder)) {
      c.reordered += 1;
      const h: Held = {
        data,
        left: cfg.reorderK,
        timer: setTimeout(() => release(dir, h, true), cfg.reorderMaxMs),
      };
      held[dir].push(h);
      return;
    }
    send(dir, data);
    sentOne(dir);
    if (chance(cfg.dup)) {
      c.duplicated += 1;
      c.duplicatedBytes += data.length;
      send(dir, data);
      sentOne(dir);
    }
  };

  const open = (side: 'a' | 'b', port: number): Promise<Socket> =>
    new Promise((resolveOpen, reject) => {
      const socket = createSocket({ type: family });
      socket.once('error', reject);
      socket.on('message', (msg, rinfo) => {
        if (side === 'a' && cfg.toA === null) toA = { address: rinfo.address, port: rinfo.port };
        onMessage(side === 'a' ? 'ab' : 'ba', msg);
      });
      socket.bind({ address: cfg.host, port, exclusive: true }, () => {
        socket.off('error', reject);
        socket.on('error', () => {
          // ICMP errors (the peer's port closed for a moment) are not fatal for a relay.
        });
        resolveOpen(socket);
      });
    });

  sockets.a = await open('a', cfg.portA);
  sockets.b = await open('b', cfg.portB);
  print({ event: 'listening', host: cfg.host, portA: cfg.portA, portB: cfg.portB });

  let rebinding = false;
  process.on('SIGUSR1', () => {
    if (rebinding) return;
    rebinding = true;
    const side = cfg.rebindSide;
    sockets[side]?.close();
    sockets[side] = null;
    void open(side, 0).then(
      (socket) => {
        sockets[side] = socket;
        counters.rebinds += 1;
        rebinding = false;
        print({ event: 'rebound', side, port: socket.address().port });
      },
      (err: unknown) => {
        print({ event: 'error', message: String(err) });
        process.exit(2);
      },
    );
  });
  process.on('SIGUSR2', () => print({ event: 'counters', ...counters }));
  const finish = (): void => {
    for (const dir of ['ab', 'ba'] as const) for (const h of held[dir]) clearTimeout(h.timer);
    sockets.a?.close();
    sockets.b?.close();
    print({ event: 'counters', final: true, ...counters });
    process.exit(0);
  };
  process.once('SIGTERM', finish);
  process.once('SIGINT', finish);
  setTimeout(finish, cfg.durationMs).unref();
  // Keep the process alive for the duration (the sockets do too, but not while rebinding).
  setInterval(() => undefined, 1_000_000);
}

// ---------------------------------------------------------------------------------------------
// Running it from a test

export interface RelayOptions {
  /** Namespace the relay runs in. */
  readonly ns: string;
  /** Address both relay sockets bind (must be reachable from both peers). */
  readonly host: string;
  /** Port facing A (A's endpoint for B is host:portA) and facing B. */
  readonly portA: number;
  readonly portB: number;
  /** A's and B's real endpoints (`ip:port` or `[ip]:port`); `learn` for A: see the header. */
  readonly toA: string;
  readonly toB: string;
  readonly drop?: number;
  readonly corrupt?: number;
  readonly dup?: number;
  readonly reorder?: number;
  readonly reorderK?: number;
  readonly reorderMaxMs?: number;
  readonly kinds?: 'data' | 'all';
  readonly rebindSide?: 'a' | 'b';
  /** Default 60 s. */
  readonly durationMs?: number;
}

export interface Relay {
  readonly proc: TrackedProcess;
  /** The relay's endpoint for A to use as B's (`host:portA`) and for B to use as A's. */
  readonly endpointForA: string;
  readonly endpointForB: string;
  /** SIGUSR1: the socket facing `rebindSide` moves to a fresh port, which is returned. */
  rebind(): Promise<number>;
  /** The current counters (SIGUSR2). */
  counters(): Promise<RelayCounters>;
  /** Stops the relay (SIGTERM) and returns its final counters. */
  stop(): Promise<RelayCounters>;
}

function lastCounters(output: string, finalOnly: boolean): RelayCounters | null {
  const lines = output.split('\n').filter((l) => l.startsWith('{"event":"counters"'));
  const chosen = finalOnly ? lines.filter((l) => l.includes('"final":true')) : lines;
  const line = chosen[chosen.length - 1];
  return line === undefined ? null : (JSON.parse(line) as RelayCounters);
}

/** Starts the relay in `o.ns` (tracked: cleanup stops it) and waits until it listens. */
export async function startRelay(o: RelayOptions): Promise<Relay> {
  const args = [
    SCRIPT,
    'relay',
    '--host',
    o.host,
    '--port-a',
    String(o.portA),
    '--port-b',
    String(o.portB),
    '--to-a',
    o.toA,
    '--to-b',
    o.toB,
    '--drop',
    String(o.drop ?? 0),
    '--corrupt',
    String(o.corrupt ?? 0),
    '--dup',
    String(o.dup ?? 0),
    '--reorder',
    String(o.reorder ?? 0),
    '--reorder-k',
    String(o.reorderK ?? 3),
    '--reorder-max-ms',
    String(o.reorderMaxMs ?? 50),
    '--kinds',
    o.kinds ?? 'all',
    '--rebind-side',
    o.rebindSide ?? 'a',
    '--duration-ms',
    String(o.durationMs ?? 60_000),
  ];
  const proc = spawn(o.ns, process.execPath, args, { logLimitBytes: 1024 * 1024 });
  await proc.waitForOutput(/"event":"listening"/, 5_000);
  const bracket = o.host.includes(':') ? `[${o.host}]` : o.host;
  let rebinds = 0;
  return {
    proc,
    endpointForA: `${bracket}:${o.portA}`,
    endpointForB: `${bracket}:${o.portB}`,
    async rebind() {
      rebinds += 1;
      const want = rebinds;
      process.kill(proc.pid, 'SIGUSR1');
      return waitFor(
        () => {
          const all = [...proc.output().matchAll(/\{"event":"rebound","side":"[ab]","port":(\d+)\}/g)];
          return all.length >= want ? Number(all[want - 1]![1]) : null;
        },
        { timeoutMs: 2_000, intervalMs: 10, what: 'the relay to rebind' },
      );
    },
    async counters() {
      const before = proc.output().split('{"event":"counters"').length;
      process.kill(proc.pid, 'SIGUSR2');
      await waitFor(() => proc.output().split('{"event":"counters"').length > before, {
        timeoutMs: 2_000,
        intervalMs: 10,
        what: 'relay counters',
      });
      return lastCounters(proc.output(), false)!;
    },
    async stop() {
      await proc.stop({ signal: 'SIGTERM', graceMs: 2_000 });
      const c = lastCounters(proc.output(), true);
      if (c === null) throw new Error(`relay printed no final counters:\n${proc.output()}`);
      return c;
    },
  };
}

/** One line of counters for a diagnostic. */
export function describeCounters(c: RelayCounters): string {
  const d = (name: string, x: DirectionCounters): string =>
    `${name}: rx ${x.received} (eligible ${x.eligible}) sent ${x.sent} (${x.sentBytes} B) dropped ${x.dropped} ` +
    `corrupted ${x.corrupted} duplicated ${x.duplicated} reordered ${x.reordered} ` +
    `(timer ${x.reorderTimerReleases}) send-errors ${x.sendErrors}`;
  return `${d('A→B', c.ab)}; ${d('B→A', c.ba)}; rebinds ${c.rebinds}`;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === SCRIPT && process.argv[2] === 'relay') {
  runRelay(process.argv.slice(3)).catch((err: unknown) => {
    process.stderr.write(`impair-relay: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  });
}
