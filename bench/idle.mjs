#!/usr/bin/env node
// Idle cost benchmark (issue 11, "Idle CPU of an idle daemon with 10 peers at most 2x
// wireguard-go's, from /proc, over 60 s"): wgtsd and the current wireguard-go (0.0.20250522, from
// ../shared/anchors or WGTS_ANCHORS) each run in a namespace of their own, side by side in the same
// window, each configured through the real `wg` with the same number of peers (default 10), then
// left idle. Nothing is sent to them; a peer's endpoint is a loopback port in its own namespace
// that nobody listens on.
//
//   npm run bench:idle [-- --seconds 60 --settle 30 --peers 10 --keepalive 0 --rounds 1 --out FILE]
//
// The window opens `--settle` seconds after configuration: a fresh wgtsd spends its first half
// minute or so collecting the garbage of its JIT warm-up (V8's memory reducer: a GC about every
// 8 s until the heap stops shrinking), which is start-up cost, not idle cost (`--settle 0`
// shows it; wireguard-go has no such phase).
// `--keepalive K` gives the first K peers persistent-keepalive 25: those send (unanswered)
// handshake initiations, as they would for an unreachable peer, so the daemon is then not quite
// idle; the default, 0, is a truly idle daemon. Per daemon and round it prints:
//   cpu ms/s     CPU time per wall second: /proc/PID/task/*/schedstat (nanoseconds, all threads),
//                and /proc/PID/stat utime+stime (clock ticks: 10 ms resolution) beside it
//   wakes/s      voluntary context switches per second, summed over /proc/PID/task/*/status:
//                each is a thread going to sleep after a wake-up
//   threads      live threads at the end
// and the ratio wgtsd / wireguard-go (target: cpu at most 2x). bench/run.mjs calls `runIdle` for
// its idle section. Needs root, /dev/net/tun and wg. Everything created is tracked by the test
// helpers and removed at the end, on errors and on SIGINT/SIGTERM.
import { readdirSync, readFileSync } from 'node:fs';
import { URL, fileURLToPath } from 'node:url';
import { cleanup, createNamespace, sleep } from '../dist/test/helpers/netns.js';
import {
  ANCHOR_DIR,
  ANCHOR_FILES,
  configureInterface,
  genKeyPair,
  implUnavailable,
  interopSkipReason,
  startDaemon,
} from '../dist/test/helpers/wg-peer.js';
import { CLK_TCK, fmt, median, numberArg, printTable, ratio, stringArg, writeJson } from './lib.mjs';

const SHORT = { wgtsd: 'wgtsd', 'wireguard-go-anchor': 'wg-go-2025' };

/** CPU nanoseconds (schedstat), clock ticks (stat) and voluntary switches over all of pid's threads. */
export function idleSample(pid) {
  let ns = 0;
  let voluntary = 0;
  let threads = 0;
  let tasks = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  for (const t of tasks) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
      const m = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(
        readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8'),
      );
      if (m !== null) voluntary += Number(m[1]);
      threads++;
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]);
  return { ns, ticks, voluntary, threads, at: process.hrtime.bigint() };
}

/** Per-second figures between two samples of one daemon. */
export function idleRates(a, b) {
  const s = Number(b.at - a.at) / 1e9;
  return {
    cpuMsPerS: (b.ns - a.ns) / 1e6 / s,
    statMsPerS: (((b.ticks - a.ticks) / CLK_TCK) * 1000) / s,
    wakesPerS: (b.voluntary - a.voluntary) / s,
    threads: b.threads,
    seconds: s,
  };
}

/** The `wg` configuration of an idle interface with `peers` peers, `keepalive` of them with PK 25. */
async function idleConfig(peers, keepalive) {
  const own = await genKeyPair();
  const list = [];
  for (let i = 0; i < peers; i++) {
    const k = await genKeyPair();
    list.push({
      publicKey: k.publicKey,
      endpoint: `127.0.0.1:${40_000 + i}`,
      allowedIps: [`10.201.${i}.0/24`],
      ...(i < keepalive ? { persistentKeepalive: 25 } : {}),
    });
  }
  return { privateKey: own.privateKey, peers: list, addresses: ['10.200.0.1/24'] };
}

/**
 * One idle round: each implementation in `impls` in a fresh namespace of its own, configured
 * with the same peer set, measured over the same `seconds` window. Returns per-impl rates.
 */
export async function idleRound(impls, { seconds, peers, keepalive, settle = 30 }) {
  const daemons = [];
  try {
    for (const impl of impls) {
      const ns = await createNamespace();
      const d = await startDaemon(ns, { impl });
      await configureInterface(d, await idleConfig(peers, keepalive));
      daemons.push({ impl, d });
    }
    await sleep(settle * 1000);
    const first = daemons.map(({ d }) => idleSample(d.proc.pid));
    await sleep(seconds * 1000);
    const last = daemons.map(({ d }) => idleSample(d.proc.pid));
    const out = {};
    daemons.forEach(({ impl, d }, i) => {
      if (first[i] === null || last[i] === null)
        throw new Error(`${impl} exited during the idle window\n${d.output()}`);
      out[impl] = idleRates(first[i], last[i]);
    });
    return out;
  } finally {
    for (const { d } of daemons) await d.stop();
  }
}

/** The implementations that can run here (wgtsd always; the anchor when present). */
export function idleImpls(log = console.log) {
  const impls = ['wgtsd'];
  const why = implUnavailable('wireguard-go-anchor');
  if (why === null) impls.push('wireguard-go-anchor');
  else log(`bench:idle: leaving out wireguard-go 0.0.20250522: ${why}`);
  return impls;
}

/** Runs `rounds` idle rounds and prints every round and the medians; returns the results. */
export async function runIdle({ seconds = 60, peers = 10, keepalive = 0, rounds = 1, settle = 30 } = {}) {
  const impls = idleImpls();
  console.log(
    `idle cost: ${impls.map((i) => SHORT[i]).join(' and ')} side by side, ${peers} peers ` +
      `(${keepalive} with persistent keepalive), ${seconds} s per round after ${settle} s settling, ${rounds} round(s)` +
      (impls.length > 1 ? `; wg-go-2025 is ${ANCHOR_FILES['wireguard-go-anchor']} (${ANCHOR_DIR})` : ''),
  );
  const results = [];
  const rows = [['round', 'daemon', 'cpu ms/s', 'stat ms/s', 'wakes/s', 'threads']];
  for (let r = 1; r <= rounds; r++) {
    const res = await idleRound(impls, { seconds, peers, keepalive, settle });
    results.push(res);
    for (const impl of impls) {
      const x = res[impl];
      rows.push([
        String(r),
        SHORT[impl],
        fmt(x.cpuMsPerS, 3),
        fmt(x.statMsPerS, 2),
        fmt(x.wakesPerS, 1),
        String(x.threads),
      ]);
    }
  }
  printTable(rows, 2);
  const med = {};
  for (const impl of impls) {
    med[impl] = {
      cpuMsPerS: median(results.map((x) => x[impl].cpuMsPerS)),
      wakesPerS: median(results.map((x) => x[impl].wakesPerS)),
    };
  }
  const line = impls.map(
    (i) => `${SHORT[i]} ${fmt(med[i].cpuMsPerS, 3)} ms/s, ${fmt(med[i].wakesPerS, 1)} wakes/s`,
  );
  console.log(`  median: ${line.join('; ')}`);
  if (med['wireguard-go-anchor'] !== undefined) {
    const cpuRatio = ratio(med.wgtsd.cpuMsPerS, med['wireguard-go-anchor'].cpuMsPerS);
    console.log(
      `  idle CPU wgtsd / wg-go-2025: ${fmt(cpuRatio, 2)}x (target <= 2x: ${cpuRatio <= 2 ? 'met' : 'NOT met'}); ` +
        `wakes ${fmt(ratio(med.wgtsd.wakesPerS, med['wireguard-go-anchor'].wakesPerS), 2)}x`,
    );
  }
  return { seconds, settle, peers, keepalive, rounds: results, median: med };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--help')) {
    console.log(
      'usage: npm run bench:idle -- [--seconds S (60)] [--settle S (30)] [--peers N (10)] [--keepalive K (0)]\n' +
        '         [--rounds R (1)] [--out FILE]',
    );
    process.exit(0);
  }
  const seconds = numberArg('seconds', 60, 1, 600);
  const peers = numberArg('peers', 10, 0, 1000);
  const keepalive = numberArg('keepalive', 0, 0, peers);
  const rounds = numberArg('rounds', 1, 1, 20);
  const settle = numberArg('settle', 30, 0, 600);
  const out = stringArg('out', fileURLToPath(new URL('results/idle.json', import.meta.url)));
  const skip = interopSkipReason(['wgtsd']);
  if (skip) {
    console.error(`bench:idle: cannot run: ${skip}`);
    process.exit(2);
  }
  const stop = async () => {
    await cleanup();
    process.exit(130);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const r = await runIdle({ seconds, peers, keepalive, rounds, settle });
    writeJson(out, r);
    console.log(`  written to ${out}`);
  } finally {
    await cleanup();
  }
}
