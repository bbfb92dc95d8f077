#!/usr/bin/env node
// Throughput/latency benchmark: wgtsd against the other userspace WireGuards, side by side in one
// run: the current wireguard-go (0.0.20250522) and boringtun-cli (0.7.1) from ../shared/anchors
// (WGTS_ANCHORS overrides), and Debian's wireguard-go (0.0.20220316, on PATH).
//
//   npm run bench [-- --rounds 3 --seconds 10 --pings 50 --tests ... --impls ... --out FILE]
//   (--impls may also name wgtsd~NAME: this build with --env-NAME 'K=V ...' on top)
//
// One topology for the whole run: namespaces A and B joined by a veth (outer 10.77.0.1/.2 and
// fd77::1/::2), a WireGuard interface in each (MTU 1420, inner 10.78.0.1/.2 and fd78::1/::2).
// Each round starts fresh daemons for each implementation in turn, both ends the same (the order
// rotates every round, so drift on a noisy machine hits all alike), then the mixed pair wgtsd(A)
// with the reference wireguard-go (B: the current one when its anchor is there). Every pair is
// configured through the real `wg` and measured with iperf3 from A to B through the tunnel: ping
// RTT (idle), one TCP stream (with both daemons' CPU time from /proc/PID/stat), 4 TCP streams,
// UDP at full speed (-b 0), one TCP stream over inner IPv6, and the pings again on the same
// daemons, idle after that load ("rtt after": a daemon that has been carrying traffic, as against
// the first pings of a fresh one). `--tests` picks a subset, `--impls` the implementations. The
// mixed pair gets one TCP stream each way. Peak RSS is VmRSS sampled every 100 ms during the
// pair's run (VmHWM is in the JSON too). Prints every round and a summary of medians with the
// ratio wgtsd / each other implementation, and writes bench/results/latest.json. A missing anchor
// is named and left out, never skipped silently.
//
// The wgtsd measured is whatever `npm run build` produced (dist/ and build/Release). Environment
// flags (WGTS_*, e.g. WGTS_OFFLOAD=0, UV_THREADPOOL_SIZE, NODE_OPTIONS) reach every daemon.
// Needs root, /dev/net/tun, wg, iperf3, ping. Everything created (namespaces, veth, TUNs,
// daemons, iperf3, sockets, key files) is tracked by name/pid and removed at the end, on errors
// and on SIGINT/SIGTERM. Every load is bounded in time.
import { URL, fileURLToPath } from 'node:url';
import {
  cleanup,
  createNamespace,
  createVethPair,
  deleteLink,
  exec,
  ping,
  sleep,
  spawn,
  waitFor,
  waitForTcpListen,
} from '../dist/test/helpers/netns.js';
import {
  ANCHOR_DIR,
  ANCHOR_FILES,
  implUnavailable,
  interopSkipReason,
  startDaemon,
} from '../dist/test/helpers/wg-peer.js';
import {
  cpuMeter,
  flagArg,
  fmt,
  hostInfo,
  machineBusyPct,
  median,
  numberArg,
  printHeader,
  printTable,
  ratio,
  rssSampler,
  runBounded,
  statusKiB,
  stringArg,
  wgtsdEnv,
  writeJson,
} from './lib.mjs';
import { runIdle } from './idle.mjs';
import { configurePair, firstPing, INNER, MTU, OUTER, variant } from './pair.mjs';

if (flagArg('help')) {
  console.log(
    'usage: npm run bench -- [--rounds N (3)] [--seconds S (10)] [--pings N (50)] [--out FILE]\n' +
      '         [--tests ping,tcp1,tcp4,udp,tcp6,pingAfter,mixed (all)]\n' +
      '         [--impls wgtsd,wireguard-go-anchor,boringtun,wireguard-go (all that are here)]\n' +
      '         [--idle-seconds S (60; 0: no idle-cost section, bench/idle.mjs)]',
  );
  process.exit(0);
}
const rounds = numberArg('rounds', 3, 1, 50);
const seconds = numberArg('seconds', 10, 1, 120);
const pingCount = numberArg('pings', 50, 1, 1000);
const out = stringArg('out', fileURLToPath(new URL('results/latest.json', import.meta.url)));
const ALL_PAIR_TESTS = ['ping', 'tcp1', 'tcp4', 'udp', 'tcp6', 'pingAfter'];
const chosen = stringArg('tests', ALL_PAIR_TESTS.join(',')).split(',').filter(Boolean);
const unknown = chosen.filter((t) => !ALL_PAIR_TESTS.includes(t) && t !== 'mixed');
if (unknown.length > 0) {
  console.error(`bench: unknown test(s) ${unknown.join(', ')}; known: ${ALL_PAIR_TESTS.join(', ')}, mixed`);
  process.exit(2);
}
// Same order as ALL_PAIR_TESTS whatever order they were named in: ping first on fresh daemons.
const PAIR_TESTS = ALL_PAIR_TESTS.filter((t) => chosen.includes(t));
const MIXED_TESTS = chosen.includes('mixed') || !process.argv.includes('--tests') ? ['tcp1', 'tcp1rev'] : [];

const IPERF_PORT = 5201;
const SHORT = {
  wgtsd: 'wgtsd',
  'wgtsd-1thread': 'wgtsd-1thr',
  'wireguard-go-anchor': 'wg-go-2025',
  boringtun: 'boringtun',
  'wireguard-go': 'wg-go-deb',
};
const VERSION = {
  wgtsd: 'this build',
  'wgtsd-1thread': 'this build with WGTS_THREADS=1 (all transport AEAD on the main thread)',
  'wireguard-go-anchor': `${ANCHOR_FILES['wireguard-go-anchor']} (${ANCHOR_DIR})`,
  boringtun: `${ANCHOR_FILES.boringtun} (${ANCHOR_DIR})`,
  'wireguard-go': "Debian's wireguard-go on PATH (0.0.20220316 on Debian 12)",
};
const ALL_IMPLS = Object.keys(SHORT);
const askedImpls = stringArg('impls', ALL_IMPLS.join(',')).split(',').filter(Boolean);
// `wgtsd~NAME`: this build with the environment of --env-NAME 'K=V ...' (an A/B in one run).
for (const i of askedImpls.filter((i) => /^wgtsd~[\w-]+$/.test(i))) {
  SHORT[i] = i.slice(0, 10);
  VERSION[i] = `this build with ${stringArg(`env-${i.slice(6)}`, '(no --env-' + i.slice(6) + ')')}`;
}
const badImpl = askedImpls.filter((i) => SHORT[i] === undefined);
if (badImpl.length > 0 || !askedImpls.includes('wgtsd')) {
  console.error(`bench: --impls must include wgtsd and name only ${ALL_IMPLS.join(', ')}`);
  process.exit(2);
}
const IMPLS = askedImpls.filter((i) => {
  const why = implUnavailable(variant(i, {}).impl);
  if (why !== null) console.log(`bench: leaving out ${i}: ${why}`);
  return why === null;
});
// The mixed pair's partner: the wireguard-go a user would pick today, else Debian's.
const MIXED_PARTNER = ['wireguard-go-anchor', 'wireguard-go'].find((i) => IMPLS.includes(i));

const skip = interopSkipReason(['wgtsd'], ['iperf3', 'ping', 'ss']);
if (skip || IMPLS.length < 2) {
  console.error(`bench: cannot run: ${skip || 'no implementation to compare against'}`);
  process.exit(2);
}

const env = wgtsdEnv();
const host = { ...hostInfo(), busyPct: await machineBusyPct() };
printHeader(
  'wgts benchmark: wgtsd vs other userspace WireGuards through a veth between two namespaces',
  host,
  env,
);
for (const i of IMPLS) console.log(`  ${SHORT[i].padEnd(10)} ${VERSION[i]}`);
console.log(
  `  plan: ${rounds} round(s); per pair: ${PAIR_TESTS.join(', ')} (pings: ${pingCount} at 20 ms; iperf3: ${seconds} s)` +
    `${MIXED_TESTS.length > 0 && MIXED_PARTNER ? `; mixed wgtsd<->${SHORT[MIXED_PARTNER]} TCP x1 both ways` : ''}; MTU ${MTU}\n`,
);
if (seconds < 10) {
  // The current wireguard-go gains speed over its first seconds and wgtsd does not, so short runs
  // flatter wgtsd: one stream, the same machine and day, 5 s runs 1.34-1.68 Gbit/s, 10 s runs
  // 1.95-2.18 (wgtsd 3.3-4.0 and 3.55-3.94). The issue's targets are judged on 10 s runs.
  console.log(`  note: iperf3 runs of ${seconds} s favour wgtsd (wireguard-go ramps up); compare at 10 s\n`);
}

// ---------------------------------------------------------------------------------------------
// One pair of daemons

/** wgtsd-1thread is wgtsd with WGTS_THREADS=1, so the default (crypto threads on, one per CPU,
 * woken only for idle CPU: src/device/threads.ts, thread-gate.ts) is compared with threads off in
 * one run. */
function daemonOptions(impl) {
  return impl === 'wgtsd-1thread'
    ? { impl: 'wgtsd', env: { ...env, WGTS_THREADS: '1' } }
    : variant(impl, env);
}

/** Starts impls[0] in A and impls[1] in B, configured as peers; returns the two daemons. */
async function startPair(nsA, nsB, impls) {
  const daemons = [];
  try {
    daemons.push(await startDaemon(nsA, daemonOptions(impls[0])));
    daemons.push(await startDaemon(nsB, daemonOptions(impls[1])));
    await configurePair(daemons);
    for (const dst of [INNER.v4[1], INNER.v6[1]]) await firstPing(nsA, dst);
    return daemons;
  } catch (err) {
    await stopPair(daemons);
    throw err;
  }
}

/** Stops the daemons and waits (bounded) until their TUN links are gone. */
async function stopPair(daemons) {
  await Promise.all(daemons.map((d) => d.stop()));
  for (const d of daemons) {
    const gone = await waitFor(
      async () =>
        (await exec(d.ns, 'ip', ['link', 'show', 'dev', d.ifname], { timeoutMs: 2_000 })).code !== 0,
      { timeoutMs: 5_000, intervalMs: 50, what: `${d.ifname} to go` },
    ).catch(() => false);
    if (gone !== true) await deleteLink(d.ns, d.ifname).catch(() => undefined);
  }
}

function parseIperf(text) {
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start < 0 || end < start) throw new Error(`iperf3 printed no JSON: ${text.trim().slice(-400)}`);
  const j = JSON.parse(text.slice(start, end + 1));
  if (typeof j.error === 'string') throw new Error(`iperf3: ${j.error}`);
  return j;
}

/** One iperf3 run from A to B (a fresh one-off server in B each time), bounded in time. */
async function iperf(nsA, nsB, dst, extra) {
  const server = await runServer(nsB);
  try {
    const args = [
      '-c',
      dst,
      '-p',
      String(IPERF_PORT),
      '-t',
      String(seconds),
      '-J',
      '--connect-timeout',
      '5000',
    ];
    const r = await runBounded(nsA, 'iperf3', [...args, ...extra], (seconds + 20) * 1000);
    if (r.timedOut)
      throw new Error(`iperf3 ${extra.join(' ')} timed out after ${Math.round(r.durationMs)} ms`);
    return parseIperf(r.output);
  } finally {
    await server.stop();
  }
}

async function runServer(nsB) {
  const server = spawn(nsB, 'iperf3', ['-s', '-1', '-p', String(IPERF_PORT)]);
  try {
    await waitForTcpListen(nsB, IPERF_PORT, 5_000);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

const gbit = (bps) => (typeof bps === 'number' ? bps / 1e9 : null);

function tcpResult(j) {
  return {
    gbps: gbit(j.end?.sum_received?.bits_per_second),
    senderGbps: gbit(j.end?.sum_sent?.bits_per_second),
    retransmits: j.end?.sum_sent?.retransmits ?? null,
  };
}

function udpResult(j) {
  const recv = j.end?.sum_received;
  const sum = j.end?.sum;
  const lost = recv?.lost_percent ?? sum?.lost_percent ?? null;
  const sent = j.end?.sum_sent?.bits_per_second ?? sum?.bits_per_second;
  const delivered =
    recv?.bits_per_second ??
    (typeof sent === 'number' && typeof lost === 'number' ? sent * (1 - lost / 100) : undefined);
  return {
    gbps: gbit(delivered),
    sentGbps: gbit(sent),
    lossPct: lost,
    jitterMs: recv?.jitter_ms ?? sum?.jitter_ms ?? null,
  };
}

function pingResult(p) {
  const times = [...p.output.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  return {
    sent: p.transmitted,
    received: p.received,
    avgMs: p.rttMs?.avg ?? null,
    medianMs: median(times),
    minMs: p.rttMs?.min ?? null,
    maxMs: p.rttMs?.max ?? null,
  };
}

/**
 * Runs `tests` (names) against a fresh pair `impls` in A and B. Returns the measurements; a failed
 * measurement is recorded in `errors` and the rest still run (unless a daemon died).
 */
async function measure(nsA, nsB, impls, tests) {
  // What else runs on the machine (nothing of ours is running now): noise indicator per pair.
  const res = { a: impls[0], b: impls[1], errors: [], otherCpuPct: await machineBusyPct(500) };
  const started = Date.now();
  let daemons;
  try {
    daemons = await startPair(nsA, nsB, impls);
  } catch (err) {
    res.errors.push(`setup: ${err.message.split('\n')[0]}`);
    return res;
  }
  const pids = daemons.map((d) => d.proc.pid);
  res.rssIdleMiB = pids.map((pid) => (statusKiB(pid, 'VmRSS') ?? 0) / 1024);
  const stopRss = rssSampler(pids);
  try {
    for (const test of tests) {
      const dead = daemons.filter((d) => d.proc.hasExited());
      if (dead.length > 0) {
        const info = dead.map(
          (d) =>
            `${d.impl} in ${d.ns === nsA ? 'A' : 'B'} exited (${d.proc.exitInfo()?.code ?? d.proc.exitInfo()?.signal})`,
        );
        res.errors.push(
          `${info.join(', ')}; skipped ${test} and the rest: ${dead[0].output().trim().slice(-300)}`,
        );
        break;
      }
      try {
        if (test === 'ping' || test === 'pingAfter') {
          res[test] = pingResult(
            await ping(nsA, INNER.v4[1], { count: pingCount, intervalS: 0.02, waitS: 1 }),
          );
        } else if (test === 'tcp1' || test === 'tcp1rev') {
          const cpu = cpuMeter(pids);
          const r = tcpResult(await iperf(nsA, nsB, INNER.v4[1], test === 'tcp1rev' ? ['-R'] : []));
          const [cpuA, cpuB] = cpu();
          res[test] = { ...r, cpuA, cpuB };
        } else if (test === 'tcp4') {
          res.tcp4 = tcpResult(await iperf(nsA, nsB, INNER.v4[1], ['-P', '4']));
        } else if (test === 'udp') {
          res.udp = udpResult(await iperf(nsA, nsB, INNER.v4[1], ['-u', '-b', '0', '-l', String(MTU - 28)]));
        } else if (test === 'tcp6') {
          res.tcp6 = tcpResult(await iperf(nsA, nsB, INNER.v6[1], []));
        }
      } catch (err) {
        res.errors.push(`${test}: ${err.message.split('\n')[0]}`);
      }
      await sleep(300);
    }
  } finally {
    res.rssPeakMiB = stopRss().map((k) => k / 1024);
    res.rssHwmMiB = pids.map((pid) => (statusKiB(pid, 'VmHWM') ?? 0) / 1024);
    await stopPair(daemons);
  }
  res.seconds = (Date.now() - started) / 1000;
  return res;
}

// ---------------------------------------------------------------------------------------------
// Main

const results = [];
let status = 0;
let dataPath = null;
const t0 = Date.now();

function roundRow(round, label, r) {
  const cpuSum = r.tcp1 ? r.tcp1.cpuA + r.tcp1.cpuB : null;
  return [
    String(round),
    label,
    fmt(r.tcp1?.gbps, 3),
    r.tcp1?.retransmits ?? '-',
    fmt(r.tcp4?.gbps, 3),
    fmt(r.udp?.gbps, 3),
    fmt(r.udp?.lossPct, 1),
    fmt(r.tcp6?.gbps, 3),
    fmt(r.ping?.avgMs, 3),
    fmt(r.ping?.medianMs, 3),
    fmt(r.pingAfter?.medianMs, 3),
    fmt(r.tcp1?.cpuA, 0),
    fmt(r.tcp1?.cpuB, 0),
    fmt(ratio(cpuSum, r.tcp1?.gbps), 0),
    r.rssPeakMiB ? r.rssPeakMiB.map((x) => fmt(x, 1)).join('/') : '-',
    fmt(r.otherCpuPct, 0),
  ];
}

const HEADER = [
  'round',
  'pair (A->B)',
  'tcp1 Gb/s',
  'retr',
  'tcp4 Gb/s',
  'udp Gb/s',
  'udp loss%',
  'tcp6 Gb/s',
  'rtt avg ms',
  'rtt med ms',
  'rtt after',
  'cpu A %',
  'cpu B %',
  'cpu%/Gb/s',
  'rss peak MiB A/B',
  'other %',
];

try {
  const nsA = await createNamespace();
  const nsB = await createNamespace();
  await createVethPair(nsA, nsB, {
    v4: [`${OUTER.v4[0]}/24`, `${OUTER.v4[1]}/24`],
    v6: [`${OUTER.v6[0]}/64`, `${OUTER.v6[1]}/64`],
  });
  // A probe wgtsd at LOG_LEVEL=verbose, only to print which data path this build and environment use.
  const probe = await startDaemon(nsA, { impl: 'wgtsd', env: { ...env, LOG_LEVEL: 'verbose' } });
  await sleep(200);
  dataPath = /data path:.*$/m.exec(probe.output())?.[0] ?? '(wgtsd did not log a "data path:" line)';
  dataPath += `; ${/wgts_native: threads \d+/.exec(probe.output())?.[0] ?? 'no threads line'}`;
  await stopPair([probe]);
  console.log(`wgtsd says: ${dataPath}\n`);
  for (let round = 1; round <= rounds; round++) {
    const shift = (round - 1) % IMPLS.length;
    const order = [...IMPLS.slice(shift), ...IMPLS.slice(0, shift)];
    const entry = { round, order, pairs: {} };
    for (const impl of order) {
      process.stdout.write(`round ${round}/${rounds}: ${impl} <-> ${impl} ... `);
      entry.pairs[impl] = await measure(nsA, nsB, [impl, impl], PAIR_TESTS);
      const e = entry.pairs[impl];
      console.log(
        `tcp1 ${fmt(e.tcp1?.gbps, 3)} Gb/s, tcp4 ${fmt(e.tcp4?.gbps, 3)}, udp ${fmt(e.udp?.gbps, 3)} ` +
          `(loss ${fmt(e.udp?.lossPct, 1)}%), tcp6 ${fmt(e.tcp6?.gbps, 3)}, rtt ${fmt(e.ping?.medianMs, 3)} ms` +
          (e.errors.length > 0 ? ` [${e.errors.length} error(s)]` : ''),
      );
    }
    if (MIXED_TESTS.length === 0 || MIXED_PARTNER === undefined) {
      results.push(entry);
      continue;
    }
    process.stdout.write(`round ${round}/${rounds}: wgtsd <-> ${MIXED_PARTNER} ... `);
    entry.pairs.mixed = await measure(nsA, nsB, ['wgtsd', MIXED_PARTNER], MIXED_TESTS);
    const m = entry.pairs.mixed;
    const p = SHORT[MIXED_PARTNER];
    console.log(
      `wgtsd->${p} ${fmt(m.tcp1?.gbps, 3)} Gb/s, ${p}->wgtsd ${fmt(m.tcp1rev?.gbps, 3)} Gb/s` +
        (m.errors.length > 0 ? ` [${m.errors.length} error(s)]` : ''),
    );
    results.push(entry);
  }
} catch (err) {
  console.error(`\nbench: ${err instanceof Error ? err.stack : String(err)}`);
  status = 2;
} finally {
  await cleanup();
}

// ---------------------------------------------------------------------------------------------
// Report

const rows = [HEADER];
for (const { round, order, pairs } of results) {
  for (const impl of order) rows.push(roundRow(round, `${SHORT[impl]}<->${SHORT[impl]}`, pairs[impl]));
  const m = pairs.mixed;
  if (!m) continue;
  rows.push(roundRow(round, `wgtsd->${SHORT[MIXED_PARTNER]}`, m));
  if (m.tcp1rev) {
    rows.push(roundRow(round, `${SHORT[MIXED_PARTNER]}->wgtsd`, { tcp1: m.tcp1rev }));
  }
}
console.log(
  '\nevery round (A sends to B; retr = tcp1 retransmits; cpu = % of one core during tcp1; ' +
    'cpu%/Gb/s = (A+B) per Gb/s;\n  mixed rows: A = wgtsd, B = the wireguard-go, and the reverse row is iperf3 -R (B sends); ' +
    'other % = CPU busy with other work just before the pair started, all CPUs):',
);
printTable(rows, 2);

const errors = results.flatMap(({ round, pairs }) =>
  Object.entries(pairs).flatMap(([k, p]) => p.errors.map((e) => `round ${round} ${k}: ${e}`)),
);
if (errors.length > 0) {
  console.log('\nerrors:');
  for (const e of errors) console.log(`  ${e}`);
}

const METRICS = [
  ['tcp1 Gbit/s', 'higher', (p) => p.tcp1?.gbps, 3],
  ['tcp x4 Gbit/s', 'higher', (p) => p.tcp4?.gbps, 3],
  ['udp delivered Gbit/s', 'higher', (p) => p.udp?.gbps, 3],
  ['udp loss %', 'lower', (p) => p.udp?.lossPct, 1],
  ['tcp1 IPv6 Gbit/s', 'higher', (p) => p.tcp6?.gbps, 3],
  ['ping rtt avg ms', 'lower', (p) => p.ping?.avgMs, 3],
  ['ping rtt median ms', 'lower', (p) => p.ping?.medianMs, 3],
  ['ping rtt after load avg ms', 'lower', (p) => p.pingAfter?.avgMs, 3],
  ['ping rtt after load median ms', 'lower', (p) => p.pingAfter?.medianMs, 3],
  ['cpu sender % (tcp1)', 'lower', (p) => p.tcp1?.cpuA, 0],
  ['cpu receiver % (tcp1)', 'lower', (p) => p.tcp1?.cpuB, 0],
  ['cpu both %/Gbit/s (tcp1)', 'lower', (p) => ratio(p.tcp1 && p.tcp1.cpuA + p.tcp1.cpuB, p.tcp1?.gbps), 0],
  ['rss peak MiB (max A,B)', 'lower', (p) => (p.rssPeakMiB ? Math.max(...p.rssPeakMiB) : undefined), 1],
  ['rss idle MiB (max A,B)', 'lower', (p) => (p.rssIdleMiB ? Math.max(...p.rssIdleMiB) : undefined), 1],
];
const summary = {};
const others = IMPLS.filter((i) => i !== 'wgtsd');
const srows = [
  [
    'metric (median over rounds)',
    ...IMPLS.map((i) => SHORT[i]),
    ...others.map((i) => `wgts/${SHORT[i]}`),
    'better',
  ],
];
for (const [name, better, get, digits] of METRICS) {
  const med = Object.fromEntries(IMPLS.map((i) => [i, median(results.map((r) => get(r.pairs[i] ?? {})))]));
  const ratios = Object.fromEntries(others.map((i) => [i, ratio(med.wgtsd, med[i])]));
  summary[name] = { medians: med, ratios, better };
  srows.push([
    name,
    ...IMPLS.map((i) => fmt(med[i], digits)),
    ...others.map((i) => fmt(ratios[i], 2)),
    better,
  ]);
}
const mrows = [['mixed pair (median over rounds)', 'tcp1 Gbit/s', 'same-impl pair', 'ratio']];
if (MIXED_PARTNER !== undefined) {
  const p = SHORT[MIXED_PARTNER];
  const partnerTcp = summary['tcp1 Gbit/s'].medians[MIXED_PARTNER];
  for (const [label, get] of [
    [`wgtsd->${p}`, (r) => r.pairs.mixed?.tcp1?.gbps],
    [`${p}->wgtsd`, (r) => r.pairs.mixed?.tcp1rev?.gbps],
  ]) {
    const m = median(results.map(get));
    summary[`mixed ${label} tcp1 Gbit/s`] = { mixed: m, partner: partnerTcp, ratio: ratio(m, partnerTcp) };
    mrows.push([label, fmt(m, 3), `${p}<->${p} ${fmt(partnerTcp, 3)}`, fmt(ratio(m, partnerTcp), 2)]);
  }
}
console.log(`\nsummary: medians of ${results.length} round(s), ${seconds} s per iperf3 run:`);
printTable(srows);
if (mrows.length > 1) {
  console.log('');
  printTable(mrows);
}

// Idle cost (bench/idle.mjs): wgtsd and wireguard-go 0.0.20250522 with 10 idle peers, side by
// side; `--idle-seconds 0` leaves it out.
const idleSeconds = numberArg('idle-seconds', 60, 0, 600);
let idle = null;
if (idleSeconds > 0) {
  console.log('');
  try {
    idle = await runIdle({ seconds: idleSeconds });
  } catch (err) {
    errors.push(`idle: ${err.message}`);
    console.log(`idle: ${err.message}`);
  } finally {
    await cleanup();
  }
}

const totalS = (Date.now() - t0) / 1000;
const endLoad = hostInfo().loadavg;
const endBusy = await machineBusyPct();
console.log(
  `\nfinished in ${totalS.toFixed(0)} s; load average at end ${endLoad.join(' ')}; ` +
    `CPU in use by others after cleanup ${endBusy.toFixed(0)}%`,
);
writeJson(out, {
  startedAt: new Date(t0).toISOString(),
  durationS: totalS,
  options: { rounds, seconds, pings: pingCount, pingIntervalS: 0.02, mtu: MTU, impls: IMPLS },
  versions: Object.fromEntries(IMPLS.map((i) => [i, VERSION[i]])),
  host: { ...host, loadavgEnd: endLoad, busyPctEnd: endBusy },
  wgtsdEnv: env,
  wgtsdDataPath: dataPath,
  rounds: results,
  summary,
  idle,
  errors,
});
console.log(`results written to ${out}`);
if (status === 0 && errors.length > 0) status = 1;
process.exit(status);
