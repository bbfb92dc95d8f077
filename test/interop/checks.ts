/**
 * Shared steps and assertions of the wgtsd interop tests (wgtsd-*.test.ts, roaming, restart,
 * rekey): a fixture wrapper that adds the daemons' logs to failures, first-ping and ping matrices,
 * `wg show dump` and DF-at-the-MTU checks, RTT/iperf3 measurement, background pings, tcpdump
 * captures, and the "nothing left behind" check. Loaded as a test file by `node --test dist/test/`
 * it defines no tests.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import {
  cleanup,
  exec,
  ping,
  spawn,
  spawnedPids,
  tracked,
  waitFor,
  waitForTcpListen,
  type TrackedProcess,
} from '../helpers/netns.js';
import {
  createTwoNodeTopology,
  UAPI_DIR,
  type TunnelNode,
  type TwoNodeOptions,
  type TwoNodeTopology,
  type WgDump,
  type WgDumpPeer,
} from '../helpers/wg-peer.js';
import { tcpTransfer } from './tcp-transfer.js';

/** Runs `fn` on a fresh topology, always tears it down, and adds the daemons' logs to a failure. */
export async function withTopology(
  opts: TwoNodeOptions,
  fn: (topo: TwoNodeTopology) => Promise<void>,
): Promise<void> {
  const topo = await createTwoNodeTopology(opts);
  try {
    await fn(topo);
  } catch (err) {
    if (err instanceof Error) err.message += `\n${topo.logs()}`;
    throw err;
  } finally {
    await topo.teardown();
  }
}

/** Adds the topology's daemon logs to an error thrown by `fn`. */
export async function withLogs<T>(topo: TwoNodeTopology, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Error) err.message += `\n${topo.logs()}`;
    throw err;
  }
}

/**
 * Pings until the first reply (the first packet starts the handshake), bounded by `timeoutMs`;
 * returns the milliseconds from the first echo request to the first reply.
 */
export async function firstPing(from: TunnelNode, to: string, timeoutMs = 8_000): Promise<number> {
  const started = Date.now();
  await waitFor(async () => (await ping(from.ns, to, { waitS: 1 })).ok, {
    timeoutMs,
    intervalMs: 0,
    what: `a first ping ${from.name} (${from.impl}) → ${to}`,
  });
  return Date.now() - started;
}

/**
 * 3 pings each way over inner v4 and inner v6; all must come back within 5 s. (A reply is not
 * lost for coming back late: on 2 busy cores one sometimes takes longer than ping's own end-of-run
 * wait of max(2 × RTT, interval) = 50 ms, and plain `ping -c` then reported 2 of 3.)
 */
export async function pingBothWays(topo: TwoNodeTopology, count = 3): Promise<void> {
  const { a, b } = topo;
  for (const [from, to] of [
    [a, b],
    [b, a],
  ] as const) {
    for (const address of [to.innerV4, to.innerV6]) {
      const r = await ping(from.ns, address, { count, intervalS: 0.05, deadlineS: 5 });
      assert.equal(r.received, count, `ping ${from.name} (${from.impl}) → ${address}:\n${r.output}`);
    }
  }
}

/** The one peer of a node's `wg show dump`. */
export async function peerOf(node: TunnelNode): Promise<WgDumpPeer> {
  const dump = await node.dump();
  assert.equal(dump.peers.length, 1, `wg show ${node.ifname} dump: ${JSON.stringify(dump)}`);
  return dump.peers[0]!;
}

/** `wg show dump` of `self` after traffic with `other`: keys, port, psk, endpoint, IPs, handshake, bytes. */
export function checkDump(topo: TwoNodeTopology, self: TunnelNode, other: TunnelNode, dump: WgDump): void {
  const where = `wg show ${self.ifname} dump (${self.name}, ${self.impl})`;
  assert.equal(dump.publicKey, self.keys.publicKey, where);
  assert.equal(dump.privateKey, self.keys.privateKey, where);
  assert.equal(dump.listenPort, self.listenPort, where);
  assert.equal(dump.peers.length, 1, where);
  const peer = dump.peers[0]!;
  assert.equal(peer.publicKey, other.keys.publicKey, where);
  assert.equal(peer.presharedKey, topo.psk, where);
  assert.equal(peer.endpoint, other.endpoint, where);
  assert.deepEqual(
    [...peer.allowedIps].sort(),
    [`${other.innerV4}/32`, `${other.innerV6}/128`].sort(),
    where,
  );
  const now = Date.now() / 1000;
  assert.ok(peer.latestHandshake > 0, `${where}: latest-handshake is 0`);
  assert.ok(Math.abs(now - peer.latestHandshake) < 60, `${where}: latest-handshake ${peer.latestHandshake}`);
  assert.ok(peer.rxBytes > 0 && peer.txBytes > 0, `${where}: rx ${peer.rxBytes} tx ${peer.txBytes}`);
}

/** DF pings: exactly `mtu` bytes of inner IP pass; one byte more fails (EMSGSIZE at the sender). */
export async function checkMtu(from: TunnelNode, to: TunnelNode, mtu: number): Promise<void> {
  for (const [address, header] of [
    [to.innerV4, 28],
    [to.innerV6, 48],
  ] as const) {
    const fits = await ping(from.ns, address, {
      size: mtu - header,
      dontFragment: true,
      count: 2,
      intervalS: 0.05,
    });
    assert.equal(fits.received, 2, `DF ping of ${mtu} bytes ${from.name} → ${address}:\n${fits.output}`);
    const over = await ping(from.ns, address, { size: mtu - header + 1, dontFragment: true, waitS: 1 });
    assert.equal(
      over.ok,
      false,
      `DF ping of ${mtu + 1} bytes ${from.name} → ${address} passed:\n${over.output}`,
    );
    // iputils prints the local EMSGSIZE as "message too long" (v4: "local error: message too long,
    // mtu=1420"; v6: "ping: sendmsg: Message too long" or "mtu=1420").
    assert.match(over.output, /too long|mtu=\d+/i, `DF ping of ${mtu + 1} bytes ${from.name} → ${address}`);
  }
}

interface IperfReport {
  end: {
    sum_sent: { bits_per_second: number; retransmits?: number };
    sum_received: { bits_per_second: number };
  };
}

export interface Measurement {
  readonly rttAvgMs: number;
  readonly rttMinMs: number;
  readonly rttMaxMs: number;
  readonly rttMdevMs: number;
  readonly mbitReceived: number;
  readonly mbitSent: number;
  readonly retransmits: number | null;
}

/** RTT (avg of 20 pings at 0.1 s) and `iperf3 -t 5 -P 1`, a → b over inner v4. */
export async function measure(topo: TwoNodeTopology, port = 5201): Promise<Measurement> {
  const { a, b } = topo;
  const tunnel = await ping(a.ns, b.innerV4, { count: 20, intervalS: 0.1 });
  assert.equal(tunnel.received, 20, tunnel.output);
  assert.ok(tunnel.rttMs !== null && tunnel.rttMs.avg > 0, tunnel.output);
  const server = spawn(b.ns, 'iperf3', ['-s', '-1', '-B', b.innerV4, '-p', String(port)]);
  try {
    await waitForTcpListen(b.ns, port);
    const client = await exec(
      a.ns,
      'iperf3',
      ['-c', b.innerV4, '-p', String(port), '-t', '5', '-P', '1', '-J'],
      {
        timeoutMs: 20_000,
      },
    );
    assert.equal(client.code, 0, `iperf3 client: ${client.stderr}${client.stdout.slice(0, 2000)}`);
    const report = JSON.parse(client.stdout) as IperfReport;
    const mbitReceived = report.end.sum_received.bits_per_second / 1e6;
    assert.ok(mbitReceived > 0, client.stdout.slice(0, 2000));
    return {
      rttAvgMs: tunnel.rttMs.avg,
      rttMinMs: tunnel.rttMs.min,
      rttMaxMs: tunnel.rttMs.max,
      rttMdevMs: tunnel.rttMs.mdev,
      mbitReceived,
      mbitSent: report.end.sum_sent.bits_per_second / 1e6,
      retransmits: report.end.sum_sent.retransmits ?? null,
    };
  } finally {
    await server.stop();
  }
}

export function describeMeasurement(label: string, m: Measurement): string {
  return (
    `${label}: RTT avg ${m.rttAvgMs} ms (min ${m.rttMinMs}, max ${m.rttMaxMs}, mdev ${m.rttMdevMs}) over 20 ` +
    `pings; iperf3 -t 5 -P 1 ${m.mbitReceived.toFixed(0)} Mbit/s received, ${m.mbitSent.toFixed(0)} sent, ` +
    `${m.retransmits ?? '?'} retransmits`
  );
}

/**
 * One matrix case on `topo` (either implementation on either side), where only the initiator was given an
 * endpoint.
 */
export async function runMatrixCase(
  topo: TwoNodeTopology,
  initiator: 'a' | 'b',
  tcp: 'v4' | 'v6' | undefined,
  diagnostic: (msg: string) => void,
): Promise<void> {
  const init = topo[initiator];
  const resp = initiator === 'a' ? topo.b : topo.a;
  // Before any traffic the responder knows no endpoint and has no session: it cannot initiate.
  const before = await peerOf(resp);
  assert.equal(before.endpoint, null, `${resp.impl} (responder) was given an endpoint`);
  assert.equal(before.latestHandshake, 0);
  assert.equal((await peerOf(init)).endpoint, resp.endpoint);

  const ms = await firstPing(init, resp.innerV4);
  diagnostic(`${init.impl} initiated (outer ${topo.outer}): first ping answered after ${ms} ms`);
  // The responder learnt the initiator's endpoint from its authenticated initiation.
  assert.equal((await peerOf(resp)).endpoint, init.endpoint);
  await pingBothWays(topo);
  const [dumpA, dumpB] = await Promise.all([topo.a.dump(), topo.b.dump()]);
  checkDump(topo, topo.a, topo.b, dumpA);
  checkDump(topo, topo.b, topo.a, dumpB);
  await checkMtu(topo.a, topo.b, topo.mtu);
  await checkMtu(topo.b, topo.a, topo.mtu);

  if (tcp !== undefined) {
    // Data flows initiator → responder; the responder runs the receiving server.
    const host = tcp === 'v4' ? resp.innerV4 : resp.innerV6;
    const MIB50 = 50 * 1024 * 1024;
    const r = await tcpTransfer({
      serverNs: resp.ns,
      clientNs: init.ns,
      host,
      bytes: MIB50,
      timeoutMs: 90_000,
    });
    assert.equal(r.sent.bytes, MIB50);
    assert.deepEqual(r.received, r.sent, 'the receiver hashed other bytes than were sent');
    assert.deepEqual(r.echoed, r.sent);
    diagnostic(
      `50 MiB ${init.impl} → ${resp.impl} over inner ${tcp} (outer ${topo.outer}) in ${r.ms.toFixed(0)} ms ` +
        `(${r.mbitPerS.toFixed(0)} Mbit/s), sha256 ${r.sent.sha256.slice(0, 16)}… on both ends`,
    );
    // Both sides still agree after the bulk transfer.
    const after = await peerOf(resp);
    assert.ok(after.rxBytes > MIB50, `responder rx ${after.rxBytes}`);
  }
}

/**
 * Both sides send their first packet at the same moment (both know the other's endpoint), so both
 * may send an initiation before either sees the other's. Each then answers the other's initiation,
 * which replaces its own pending one (kernel and wireguard-go semantics), so both responses are
 * dropped and the tunnel waits for a retransmission (REKEY_TIMEOUT + jitter; the jitter separates
 * the two retries). What must hold: the handshakes converge, every echo request is answered (they
 * were staged meanwhile), and both sides end with a session. Bounded so that two colliding retries
 * still pass: 3 × (REKEY_TIMEOUT + 333 ms) + 1 s. Returns the first-reply times (ms) of both pings.
 */
export async function simultaneousStart(topo: TwoNodeTopology): Promise<[number, number]> {
  const { a, b } = topo;
  const waitS = 17;
  const [ra, rb] = await Promise.all([
    ping(a.ns, b.innerV4, { count: 3, intervalS: 0.05, waitS }),
    ping(b.ns, a.innerV6, { count: 3, intervalS: 0.05, waitS }),
  ]);
  assert.equal(ra.received, 3, `a → b:\n${ra.output}`);
  assert.equal(rb.received, 3, `b → a:\n${rb.output}`);
  const first = (out: string): number => Number(/icmp_seq=1 .*time=([\d.]+) ms/.exec(out)?.[1] ?? NaN);
  const [pa, pb] = await Promise.all([peerOf(a), peerOf(b)]);
  assert.ok(
    pa.latestHandshake > 0 && pb.latestHandshake > 0,
    `handshakes ${pa.latestHandshake} ${pb.latestHandshake}`,
  );
  await pingBothWays(topo);
  return [first(ra.output), first(rb.output)];
}

// ---------------------------------------------------------------------------------------------
// Background pings

export interface PingStream {
  readonly proc: TrackedProcess;
  /** icmp_seq numbers that got a reply so far. */
  replies(): number[];
  /** Waits for a reply with icmp_seq > `afterSeq` (default: any); returns its seq. */
  nextReply(timeoutMs: number, afterSeq?: number): Promise<number>;
  /** Waits for ping to finish on its own (bounded), or stops it with SIGINT; returns its counts. */
  finish(timeoutMs: number): Promise<{ transmitted: number; received: number; output: string }>;
}

/**
 * `ping -i intervalS -c count ADDRESS` running in the background in `node`'s namespace, `-O` so
 * missed replies are reported as they happen. ping flushes each line, so progress can be read.
 */
export function pingStream(node: TunnelNode, address: string, intervalS: number, count: number): PingStream {
  const proc = spawn(
    node.ns,
    'ping',
    ['-n', '-O', '-i', String(intervalS), '-c', String(count), '-W', '1', address],
    {
      logLimitBytes: 4 * 1024 * 1024,
    },
  );
  const replies = (): number[] =>
    [...proc.output().matchAll(/bytes from .*icmp_seq=(\d+)/g)].map((m) => Number(m[1]));
  return {
    proc,
    replies,
    async nextReply(timeoutMs, afterSeq = 0) {
      return waitFor(
        () => {
          const later = replies().filter((s) => s > afterSeq);
          if (later.length > 0) return later[0]!;
          if (proc.hasExited()) throw new Error(`ping exited: ${proc.output().slice(-2000)}`);
          return null;
        },
        { timeoutMs, intervalMs: 20, what: `a ping reply from ${address} after icmp_seq ${afterSeq}` },
      );
    },
    async finish(timeoutMs) {
      const done = await Promise.race([
        proc.exited.then(() => true),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), timeoutMs)),
      ]);
      if (!done) await proc.stop({ signal: 'SIGINT', graceMs: 2_000 });
      const output = proc.output();
      const counts = /(\d+) packets transmitted, (\d+) received/.exec(output);
      return {
        transmitted: counts === null ? 0 : Number(counts[1]),
        received: counts === null ? 0 : Number(counts[2]),
        output,
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Capture

export interface CapturedPacket {
  /** Unix seconds with microseconds. */
  readonly time: number;
  readonly src: string;
  readonly dst: string;
  /** UDP payload length. */
  readonly length: number;
}

/**
 * `tcpdump -i dev -c count -n -tt FILTER` in `ns`, bounded by `timeoutMs` (killed then, returning
 * what it printed). Resolves once tcpdump is capturing (it says "listening on"), with a promise of
 * the packets.
 */
export async function startCapture(
  ns: string,
  dev: string,
  filter: string,
  count: number,
  timeoutMs: number,
): Promise<{ packets: Promise<CapturedPacket[]>; stop(): Promise<void> }> {
  const proc = spawn(ns, 'tcpdump', ['-i', dev, '-n', '-tt', '-l', '-p', '-c', String(count), filter]);
  await proc.waitForOutput(/listening on/, 5_000);
  const timer = setTimeout(() => void proc.stop({ signal: 'SIGINT' }), timeoutMs);
  const packets = proc.exited.then(() => {
    clearTimeout(timer);
    return parseTcpdump(proc.output());
  });
  return {
    packets,
    async stop() {
      clearTimeout(timer);
      await proc.stop({ signal: 'SIGINT' });
    },
  };
}

/** Lines like `1700000000.123456 IP 10.1.2.1.51820 > 10.1.2.2.51821: UDP, length 32` (and IP6). */
export function parseTcpdump(text: string): CapturedPacket[] {
  const out: CapturedPacket[] = [];
  for (const m of text.matchAll(/^(\d+\.\d+) IP6? (\S+) > (\S+): UDP, length (\d+)/gm)) {
    out.push({ time: Number(m[1]), src: m[2]!, dst: m[3]!.replace(/:$/, ''), length: Number(m[4]) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Leftovers

/** Everything this process created is gone: namespaces, links, UAPI sockets, processes. */
export async function assertNothingLeft(): Promise<void> {
  const held = tracked();
  assert.deepEqual(held.namespaces, []);
  assert.deepEqual(held.pids, []);
  assert.deepEqual(await cleanup(), []);
  assert.deepEqual(tracked().paths, []);
  const prefix = `wgts-${process.pid}-`;
  const netns = await exec(null, 'ip', ['netns', 'list']);
  assert.equal(netns.code, 0);
  assert.deepEqual(
    netns.stdout.split('\n').filter((l) => l.startsWith(prefix)),
    [],
  );
  const ifPrefix = `wgts-${process.pid.toString(36)}`;
  const sockets = existsSync(UAPI_DIR) ? readdirSync(UAPI_DIR).filter((f) => f.startsWith(ifPrefix)) : [];
  assert.deepEqual(sockets, []);
  const links = await exec(null, 'ip', ['-o', 'link']);
  assert.ok(!links.stdout.includes(ifPrefix), links.stdout);
  const alive = spawnedPids().filter((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
  assert.deepEqual(alive, []);
}
