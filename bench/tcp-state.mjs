#!/usr/bin/env node
// What limits one TCP stream through a pair of daemons (issue 11, throughput): iperf3's own view
// of the sending socket (smoothed RTT and congestion window per second, from its JSON), with the
// pair's CPU (and its crypto workers'), the machine's idle share and a ping through the tunnel during the load (the queueing the stream sees).
//
//   node bench/tcp-state.mjs [--impls wgtsd,wireguard-go-anchor] [--seconds 10] [--rounds 1]
//                            [--v6] [--env-NAME 'K=V ...' with wgtsd~NAME in --impls]
//
// Topology of bench/pair.mjs (namespaces A and B over a veth, MTU 1420, inner IPv4 and IPv6).
// Needs root, iperf3, ping. Everything created is removed at the end; each load is bounded
// (--seconds, at most 60).
import { readFileSync, readdirSync } from 'node:fs';
import { setTimeout } from 'node:timers';
import { cleanup, ping, spawn, waitForTcpListen } from '../dist/test/helpers/netns.js';
import { parseProcStat } from '../dist/src/device/thread-gate.js';
import { median, numberArg, runBounded, flagArg, wgtsdEnv } from './lib.mjs';
import { createTopology, eachPair, implsByRound, INNER } from './pair.mjs';

const seconds = numberArg('seconds', 10, 2, 60);
const v6 = flagArg('v6');
const impls = implsByRound('wgtsd,wireguard-go-anchor', 10);
const env = wgtsdEnv();

/** utime + stime of a process in clock ticks (USER_HZ, 100/s), or NaN once it is gone. */
function cpuTicks(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return NaN;
  }
}

/** utime + stime of a process's crypto workers (threads named wgts-aead), in clock ticks. */
function workerTicks(pid) {
  let sum = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const t = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      if (!t.includes('(wgts-aead)')) continue;
      const f = t.split(') ')[1].split(' ');
      sum += Number(f[11]) + Number(f[12]);
    }
  } catch {
    return NaN;
  }
  return sum;
}

/** The whole machine's idle and total clock ticks (/proc/stat, read as the thread gate reads it). */
function machineTicks() {
  return parseProcStat(readFileSync('/proc/stat', 'latin1'));
}

async function measure(nsA, nsB, daemons) {
  const server = spawn(nsB, 'iperf3', ['-s', '-1', '-p', '5201']);
  try {
    await waitForTcpListen(nsB, 5201, 5_000);
    const dst = v6 ? INNER.v6[1] : INNER.v4[1];
    const cpu0 = daemons.map((d) => cpuTicks(d.proc.pid));
    const workers0 = daemons.map((d) => workerTicks(d.proc.pid));
    const machine0 = machineTicks();
    const pinger = ping(nsA, dst, { count: Math.floor((seconds - 2) / 0.1), intervalS: 0.1, waitS: 1 });
    const r = await runBounded(
      nsA,
      'iperf3',
      ['-c', dst, '-p', '5201', '-t', String(seconds), '-J'],
      (seconds + 20) * 1000,
    );
    const cpu = daemons.map((d, i) => (cpuTicks(d.proc.pid) - cpu0[i]) / seconds); // % of a core
    const workers = daemons.map((d, i) => (workerTicks(d.proc.pid) - workers0[i]) / seconds);
    const machine1 = machineTicks();
    const idle = ((machine1.idle - machine0.idle) / (machine1.total - machine0.total)) * 100; // % of all CPUs
    const p = await pinger;
    const rtts = [...p.output.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
    const j = JSON.parse(r.output.slice(r.output.indexOf('{'), r.output.lastIndexOf('}') + 1));
    const s = j.end?.streams?.[0]?.sender ?? {};
    const per = (j.intervals ?? []).map((iv) => iv.streams?.[0] ?? {});
    return {
      gbps: (j.end?.sum_received?.bits_per_second ?? NaN) / 1e9,
      meanRttMs: (s.mean_rtt ?? NaN) / 1000,
      maxCwndKiB: (s.max_snd_cwnd ?? NaN) / 1024,
      perSecond: per.map(
        (x) =>
          `${((x.bits_per_second ?? 0) / 1e9).toFixed(2)}G/${((x.rtt ?? 0) / 1000).toFixed(2)}ms/${Math.round((x.snd_cwnd ?? 0) / 1024)}K`,
      ),
      loadedPingMs: rtts.length ? median(rtts) : NaN,
      cpu,
      workers,
      idle,
    };
  } finally {
    await server.stop();
  }
}

try {
  const { nsA, nsB } = await createTopology();
  await eachPair(nsA, nsB, impls, env, async (impl, daemons) => {
    await new Promise((r) => setTimeout(r, 300));
    const m = await measure(nsA, nsB, daemons);
    console.log(
      `${impl.padEnd(22)} ${m.gbps.toFixed(2)} Gbit/s; sender srtt mean ${m.meanRttMs.toFixed(2)} ms, ` +
        `max cwnd ${m.maxCwndKiB.toFixed(0)} KiB; ping under load ${m.loadedPingMs.toFixed(2)} ms; ` +
        `cpu A ${m.cpu[0].toFixed(0)}% B ${m.cpu[1].toFixed(0)}% (crypto workers ${m.workers[0].toFixed(0)}% / ` +
        `${m.workers[1].toFixed(0)}%); machine idle ${m.idle.toFixed(0)}%`,
    );
    console.log(`  per second (Gbit/s / srtt / cwnd): ${m.perSecond.join(' ')}`);
  });
} finally {
  await cleanup();
}
