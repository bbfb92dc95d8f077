#!/usr/bin/env node
// The rootless benchmark: a userspace WireGuard proxy (by default `wgts proxy`, a wireproxy
// drop-in) against the kernel path, both talking to the same kind of real peer (the tunnel peer
// fixture, dist/test/helpers/tunnel-peer.js: wireguard-go in a namespace with an HTTP server).
//
//   npm run build --silent && node bench/proxy.mjs [--proxy TEMPLATE] [--rounds 5] [--bytes N]
//       [--conns 500] [--conn-timeout 30] [--round-timeout 300] [--no-baseline] [--no-proxy]
//       [--out bench/results/proxy-latest.json]
//
// Candidates, each with its own fixture peer:
// - "proxy": TEMPLATE (default `node dist/src/cli/main.js proxy -c {config}`) run in this (root)
//   namespace from the repository root, split on spaces (no shell; wrap anything fancier in a
//   script), with {config} = a wireproxy file (the fixture's [Interface]/[Peer] plus a [Socks5]
//   section), {wgquick} = the bare wg-quick file and {socks} = the SOCKS5 address it must listen on
//   (127.0.0.1:free port). If it exits or does not listen within 15 s, it is reported as failed
//   (with its output) and the rest still runs.
// - "kernel TUN + wgtsd": a namespace with wgtsd on a kernel TUN (configured from the fixture's
//   wg-quick file) and bench/socks5.mjs, so the same curl flags apply. Its CPU and RSS are wgtsd's
//   plus the SOCKS server's; the kernel's own TCP work is not counted.
//
// Each candidate first fetches 1 MiB and checks its SHA-256. Then --rounds rounds, alternating
// the candidates' order, each one `curl --socks5 … -o /dev/null` of /bytes/N (default 1 GiB):
// Gbit/s, the candidate processes' CPU seconds per Gbit transferred (= cores per Gbit/s; from
// /proc/PID/stat, process trees) and peak RSS (VmRSS sampled every 100 ms, and VmHWM). Then a
// concurrency round per candidate: bench/conc-client.mjs opens --conns connections through the
// proxy to the peer's TCP echo, all held open at once (bounded by --conn-timeout): RSS and CPU per
// connection. Prints a table, then the results as JSON on stdout (and to --out if given).
// Everything created is tracked and removed at the end, on errors and on SIGINT/SIGTERM.
import { join } from 'node:path';
import { URL, fileURLToPath } from 'node:url';
import { cleanup, spawn } from '../dist/test/helpers/netns.js';
import { interopSkipReason } from '../dist/test/helpers/wg-peer.js';
import { patternSha256 } from '../dist/test/helpers/tunnel-servers.js';
import {
  CLK_TCK,
  cpuTicks,
  flagArg,
  fmt,
  hostInfo,
  machineBusyPct,
  median,
  numberArg,
  printHeader,
  printTable,
  rssKiB,
  rssSampler,
  runBounded,
  statusKiB,
  stringArg,
  wgtsdEnv,
  writeJson,
} from './lib.mjs';
import { setupBaseline, setupProxy } from './proxy-setup.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEFAULT_PROXY = 'node dist/src/cli/main.js proxy -c {config}';
const opts = {
  proxy: stringArg('proxy', DEFAULT_PROXY),
  rounds: numberArg('rounds', 5, 1, 100),
  bytes: numberArg('bytes', 2 ** 30, 1, 2 ** 40),
  conns: numberArg('conns', 500, 1, 20_000),
  connTimeoutS: numberArg('conn-timeout', 30, 1, 600),
  roundTimeoutS: numberArg('round-timeout', 300, 1, 3_600),
  baseline: !flagArg('no-baseline'),
  withProxy: !flagArg('no-proxy'),
  out: stringArg('out', null),
};

const curlArgs = (cand, path, extra) => [
  '-sS',
  '--fail',
  '--socks5',
  cand.socks,
  ...extra,
  `http://${cand.peer.innerV4}${path}`,
];

async function verify(cand) {
  const n = 2 ** 20;
  const r = await runBounded(
    cand.ns,
    'bash',
    [
      '-c',
      `set -o pipefail; curl ${curlArgs(cand, `/bytes/${n}`, ['--max-time', '30']).join(' ')} | sha256sum`,
    ],
    35_000,
  );
  const sum = r.output.trim().split(' ')[0];
  if (r.code !== 0 || sum !== patternSha256(n)) {
    cand.ready = false;
    cand.error = `1 MiB check failed (exit ${r.code}): ${r.output.trim().slice(-300)}`;
  }
}

async function downloadRound(cand, round) {
  const ticks0 = cand.pids.map(cpuTicks);
  const peaks = rssSampler(cand.pids, 100);
  const r = await runBounded(
    cand.ns,
    'curl',
    curlArgs(cand, `/bytes/${opts.bytes}`, [
      '-o',
      '/dev/null',
      '-w',
      '%{speed_download} %{size_download} %{time_total}\\n',
      '--max-time',
      String(opts.roundTimeoutS),
    ]),
    (opts.roundTimeoutS + 10) * 1000,
  );
  const rss = peaks();
  const cpuS = cand.pids.map((pid, i) => (cpuTicks(pid) - ticks0[i]) / CLK_TCK);
  const m = /([\d.]+) (\d+) ([\d.]+)\s*$/.exec(r.output);
  const bytes = m === null ? 0 : Number(m[2]);
  if (r.code !== 0 || bytes !== opts.bytes) {
    return {
      round,
      ok: false,
      error: `curl exit ${r.code}, ${bytes} of ${opts.bytes} bytes: ${r.output.trim().slice(-200)}`,
    };
  }
  const gbit = (bytes * 8) / 1e9;
  const cpu = cpuS.reduce((a, b) => a + b, 0);
  return {
    round,
    ok: true,
    bytes,
    seconds: Number(m[3]),
    gbps: (Number(m[1]) * 8) / 1e9,
    cpuSeconds: cpu,
    cpuSecondsPerGbit: cpu / gbit,
    cpuSecondsPerGbitByPid: cpuS.map((c) => c / gbit),
    peakRssMiB: rss.reduce((a, b) => a + b, 0) / 1024,
    vmHwmMiB: cand.pids.reduce((a, pid) => a + (statusKiB(pid, 'VmHWM') ?? 0), 0) / 1024,
  };
}

async function concurrencyRound(cand) {
  const rss0 = cand.pids.reduce((a, pid) => a + rssKiB(pid), 0);
  const ticks0 = cand.pids.reduce((a, pid) => a + cpuTicks(pid), 0);
  const timeoutMs = opts.connTimeoutS * 1000;
  const client = spawn(cand.ns, process.execPath, [
    join(ROOT, 'bench', 'conc-client.mjs'),
    '--socks',
    cand.socks,
    '--target',
    `${cand.peer.innerV4}:${cand.peer.ports.echo}`,
    '--conns',
    String(opts.conns),
    '--timeout-ms',
    String(timeoutMs),
  ]);
  try {
    const m = await client.waitForOutput(/\{"event":"open"[^\n]*\}/, timeoutMs + 5_000);
    const open = JSON.parse(m[0]);
    const rss1 = cand.pids.reduce((a, pid) => a + rssKiB(pid), 0);
    const cpuMs = ((cand.pids.reduce((a, pid) => a + cpuTicks(pid), 0) - ticks0) / CLK_TCK) * 1000;
    const per = (x) => (open.opened > 0 ? x / open.opened : null);
    return {
      conns: opts.conns,
      opened: open.opened,
      failed: open.failed,
      ms: open.ms,
      rssBeforeMiB: rss0 / 1024,
      rssOpenMiB: rss1 / 1024,
      rssKiBPerConn: per(rss1 - rss0),
      cpuMsPerConn: per(cpuMs),
    };
  } finally {
    await client.stop();
  }
}

function summary(c) {
  const ok = c.rounds.filter((r) => r.ok);
  return {
    roundsOk: ok.length,
    medianGbps: median(ok.map((r) => r.gbps)),
    medianCpuSecondsPerGbit: median(ok.map((r) => r.cpuSecondsPerGbit)),
    peakRssMiB: ok.length === 0 ? null : Math.max(...ok.map((r) => r.peakRssMiB)),
  };
}

async function main() {
  process.chdir(ROOT);
  const skip = interopSkipReason(['wgtsd'], ['curl', 'sha256sum']);
  if (skip) {
    console.error(`bench/proxy.mjs cannot run: ${skip}`);
    process.exit(2);
  }
  const host = { ...hostInfo(), busyPct: await machineBusyPct() };
  printHeader('wgts rootless benchmark: userspace proxy vs kernel TUN + wgtsd', host, wgtsdEnv());
  console.log(
    `  download ${opts.bytes} bytes × ${opts.rounds} rounds; ${opts.conns} concurrent connections\n`,
  );
  const cands = [];
  if (opts.withProxy) cands.push(await setupProxy(opts.proxy));
  if (opts.baseline) cands.push(await setupBaseline());
  for (const c of cands) {
    c.rounds = [];
    if (c.ready) await verify(c);
    console.log(`${c.name}: ${c.command} (peer: ${c.peer.impl})${c.ready ? '' : `\n  FAILED: ${c.error}`}`);
  }
  for (let round = 1; round <= opts.rounds; round++) {
    const order = round % 2 === 1 ? cands : [...cands].reverse();
    for (const c of order.filter((x) => x.ready)) {
      const r = await downloadRound(c, round);
      c.rounds.push(r);
      console.log(
        r.ok
          ? `  round ${round} ${c.name.padEnd(20)} ${fmt(r.gbps, 3)} Gbit/s  cpu ${fmt(r.cpuSecondsPerGbit, 3)} s/Gbit (${r.cpuSecondsPerGbitByPid.map((x) => fmt(x, 3)).join(' + ')})  peak RSS ${fmt(r.peakRssMiB, 1)} MiB`
          : `  round ${round} ${c.name.padEnd(20)} failed: ${r.error}`,
      );
    }
  }
  for (const c of cands.filter((x) => x.ready)) {
    c.concurrency = await concurrencyRound(c);
    const k = c.concurrency;
    console.log(
      `  ${opts.conns} connections ${c.name}: ${k.opened} open (${k.failed} failed) in ${k.ms} ms; RSS ${fmt(k.rssOpenMiB, 1)} MiB, ${fmt(k.rssKiBPerConn, 1)} KiB/conn, cpu ${fmt(k.cpuMsPerConn, 3)} ms/conn`,
    );
  }
  const rows = [
    ['candidate', 'Gbit/s (median)', 'CPU s/Gbit', 'peak RSS MiB', 'conns open', 'KiB/conn', 'CPU ms/conn'],
  ];
  const results = cands.map((c) => {
    const s = summary(c);
    const k = c.concurrency ?? {};
    rows.push([
      c.name,
      fmt(s.medianGbps, 3),
      fmt(s.medianCpuSecondsPerGbit, 3),
      fmt(s.peakRssMiB, 1),
      c.ready ? `${k.opened}/${k.conns}` : 'failed',
      fmt(k.rssKiBPerConn, 1),
      fmt(k.cpuMsPerConn, 3),
    ]);
    return {
      name: c.name,
      command: c.command,
      ready: c.ready,
      error: c.error,
      rounds: c.rounds,
      concurrency: c.concurrency ?? null,
      summary: s,
    };
  });
  console.log('');
  printTable(rows);
  const json = { host, options: opts, candidates: results };
  console.log(`\nJSON:\n${JSON.stringify(json)}`);
  if (opts.out !== null) writeJson(opts.out, json);
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
