#!/usr/bin/env node
// What limits one TCP stream through a pair of daemons (issue 11, throughput): iperf3's own view
// of the sending socket (smoothed RTT and congestion window per second, from its JSON), with the
// pair's CPU and a ping through the tunnel during the load (the queueing the stream sees).
//
//   node bench/tcp-state.mjs [--impls wgtsd,wireguard-go-anchor] [--seconds 10] [--rounds 1]
//                            [--v6] [--env-NAME 'K=V ...' with wgtsd~NAME in --impls]
//
// Topology as bench/hops.mjs (namespaces A and B over a veth, MTU 1420). Needs root, iperf3,
// ping. Everything created is removed at the end; each load is bounded (--seconds, at most 60).
import { readFileSync } from 'node:fs';
import { setTimeout } from 'node:timers';
import {
  cleanup,
  createNamespace,
  createVethPair,
  ping,
  spawn,
  waitFor,
  waitForTcpListen,
} from '../dist/test/helpers/netns.js';
import {
  configureInterface,
  genKeyPair,
  implUnavailable,
  startDaemon,
} from '../dist/test/helpers/wg-peer.js';
import { median, numberArg, runBounded, stringArg, flagArg, wgtsdEnv } from './lib.mjs';

const rounds = numberArg('rounds', 1, 1, 10);
const seconds = numberArg('seconds', 10, 2, 60);
const v6 = flagArg('v6');
const impls = Array.from({ length: rounds }, (_, r) => {
  const list = stringArg('impls', 'wgtsd,wireguard-go-anchor').split(',').filter(Boolean);
  return r % 2 === 0 ? list : list.reverse();
}).flat();
const MTU = 1420;
const PORTS = [51820, 51821];
const OUTER = ['10.77.0.1', '10.77.0.2'];
const INNER = ['10.78.0.1', '10.78.0.2'];
const INNER6 = ['fd78::1', 'fd78::2'];
const env = wgtsdEnv();

function variant(name) {
  const [impl, label] = name.split('~');
  if (label === undefined) return { impl, env };
  const extra = Object.fromEntries(
    stringArg(`env-${label}`, '')
      .split(/\s+(?=[A-Z_]+=)/)
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  return { impl, env: { ...env, ...extra } };
}

async function startPair(nsA, nsB, name) {
  const v = variant(name);
  const daemons = [await startDaemon(nsA, v), await startDaemon(nsB, v)];
  const keys = await Promise.all([genKeyPair(), genKeyPair()]);
  await Promise.all(
    [0, 1].map((i) =>
      configureInterface(daemons[i], {
        privateKey: keys[i].privateKey,
        listenPort: PORTS[i],
        mtu: MTU,
        addresses: [`${INNER[i]}/24`, `${INNER6[i]}/64`],
        peers: [
          {
            publicKey: keys[1 - i].publicKey,
            endpoint: `${OUTER[1 - i]}:${PORTS[1 - i]}`,
            allowedIps: [`${INNER[1 - i]}/32`, `${INNER6[1 - i]}/128`],
          },
        ],
      }),
    ),
  );
  await waitFor(async () => (await ping(nsA, INNER[1], { count: 1, waitS: 1 })).ok, {
    timeoutMs: 15_000,
    intervalMs: 100,
    what: 'a first ping through the tunnel',
  });
  return daemons;
}

/** utime + stime of a process in clock ticks (USER_HZ, 100/s), or NaN once it is gone. */
function cpuTicks(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return NaN;
  }
}

async function measure(nsA, nsB, daemons) {
  const server = spawn(nsB, 'iperf3', ['-s', '-1', '-p', '5201']);
  try {
    await waitForTcpListen(nsB, 5201, 5_000);
    const dst = v6 ? INNER6[1] : INNER[1];
    const cpu0 = daemons.map((d) => cpuTicks(d.proc.pid));
    const pinger = ping(nsA, dst, { count: Math.floor((seconds - 2) / 0.1), intervalS: 0.1, waitS: 1 });
    const r = await runBounded(
      nsA,
      'iperf3',
      ['-c', dst, '-p', '5201', '-t', String(seconds), '-J'],
      (seconds + 20) * 1000,
    );
    const cpu = daemons.map((d, i) => (cpuTicks(d.proc.pid) - cpu0[i]) / seconds); // % of a core
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
    };
  } finally {
    await server.stop();
  }
}

try {
  const nsA = await createNamespace();
  const nsB = await createNamespace();
  await createVethPair(nsA, nsB, { v4: [`${OUTER[0]}/24`, `${OUTER[1]}/24`] });
  for (const impl of impls) {
    const why = implUnavailable(variant(impl).impl);
    if (why !== null) {
      console.log(`${impl}: left out (${why})`);
      continue;
    }
    const daemons = await startPair(nsA, nsB, impl);
    try {
      await new Promise((r) => setTimeout(r, 300));
      const m = await measure(nsA, nsB, daemons);
      console.log(
        `${impl.padEnd(22)} ${m.gbps.toFixed(2)} Gbit/s; sender srtt mean ${m.meanRttMs.toFixed(2)} ms, ` +
          `max cwnd ${m.maxCwndKiB.toFixed(0)} KiB; ping under load ${m.loadedPingMs.toFixed(2)} ms; ` +
          `cpu A ${m.cpu[0].toFixed(0)}% B ${m.cpu[1].toFixed(0)}%`,
      );
      console.log(`  per second (Gbit/s / srtt / cwnd): ${m.perSecond.join(' ')}`);
    } finally {
      await Promise.all(daemons.map((d) => d.stop()));
    }
  }
} finally {
  await cleanup();
}
