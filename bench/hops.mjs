#!/usr/bin/env node
// Per-hop latency of an idle ping through a pair of daemons (issue 11, latency target): where the
// round trip's time goes inside each of the four daemon hops (A tun->udp, B udp->tun, B tun->udp,
// A udp->tun), for wgtsd and for the anchors, side by side in one run.
//
//   node bench/hops.mjs [--impls wgtsd,boringtun] [--pings 30] [--interval 0.2] [--rounds 1]
//                       [--noload] [--blocks N] [--cpu | --strace | --perf | --stat | --record] [--dump]
//                       [--keep DIR]
//                       [--env-NAME 'K=V ...' with wgtsd~NAME in --impls]
//
// Topology as in bench/run.mjs (bench/pair.mjs: namespaces A and B over a veth, MTU 1420; pinged
// over IPv4). For each
// implementation a fresh pair is started, reached with one ping, and then pinged slowly
// (`--interval`, default 0.2 s: every ping finds both daemons asleep and their caches cold, the
// case the latency target is about; bench/run.mjs pings every 20 ms). Plain mode prints the ping
// medians fresh, then after a 3 s iperf3 TCP load, and that load's Gbit/s (--noload: no load).
// `--blocks N` also prints the median of each N consecutive pings (the trend as code settles).
// `--rounds N` repeats the list, alternating its order. A variant `wgtsd~NAME` is wgtsd with the
// extra environment given by --env-NAME (an A/B of flags in one run, e.g.
// --env-b8 'WGTS_V8_FLAGS=--interrupt-budget=8192').
//
// --cpu adds to the plain mode each daemon's CPU time per ping (user and system, all threads,
// from /proc): a round trip's work in each daemon, two hops each, without a tracer's distortion.
// With --interval 0.002 against the default 0.2 (or bench/run.mjs's 0.02) it shows how much of a
// hop's cost is the cold start of a process that slept in between.
//
// Tracing modes (the fresh pings only; each slows the daemons, so compare implementations under
// the same mode, never against an untraced RTT):
//   --strace  strace -f -ttt -T on each daemon; prints per daemon the syscalls made, and per
//             packet-carrying wake the time from the wake to the read, from the read to the
//             send, and sample wakes with every syscall
//   --perf    one `perf trace` of both daemons' I/O syscalls (one clock: the whole timeline) into
//             DIR/IMPL.perf
//   --stat    perf stat per thread (task clock, context switches) into DIR/IMPL.stat
//   --record  perf record -g of both daemons into DIR/IMPL.data (with NODE_OPTIONS=--perf-basic-prof
//             for JavaScript names)
// --dump writes each daemon's output to DIR/IMPL-N.out (with WGTS_V8_FLAGS=--trace-deopt, say).
// Needs root, iperf3, ping, and strace/perf for those modes. Everything created is removed at
// the end; every run is bounded (ping count, 3 s iperf3).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout } from 'node:timers';
import { join } from 'node:path';
import { cleanup, ping, spawn, waitForTcpListen } from '../dist/test/helpers/netns.js';
import {
  CLK_TCK,
  cpuSplitTicks,
  median,
  numberArg,
  runBounded,
  stringArg,
  flagArg,
  wgtsdEnv,
} from './lib.mjs';
import { createTopology, eachPair, implsByRound, INNER } from './pair.mjs';

const impls = implsByRound('wgtsd,boringtun', 20);
const pings = numberArg('pings', 30, 3, 5000);
const interval = numberArg('interval', 0.2, 0.002, 2);
const traced = flagArg('strace');
const perf = flagArg('perf');
const stat = flagArg('stat');
const record = flagArg('record');
const keep = stringArg('keep', '');
const blocks = numberArg('blocks', 0, 0, 500);
const cpu = flagArg('cpu');
const env = wgtsdEnv();

function rtts(text) {
  return [...text.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
}

async function load(nsA, nsB) {
  const server = spawn(nsB, 'iperf3', ['-s', '-1', '-p', '5201']);
  try {
    await waitForTcpListen(nsB, 5201, 5_000);
    const r = await runBounded(nsA, 'iperf3', ['-c', INNER.v4[1], '-p', '5201', '-t', '3', '-J'], 20_000);
    const j = JSON.parse(r.output.slice(r.output.indexOf('{'), r.output.lastIndexOf('}') + 1));
    return (j.end?.sum_received?.bits_per_second ?? NaN) / 1e9;
  } finally {
    await server.stop();
  }
}

/** Parses one strace -f -ttt -T file into events {t, pid, call, ret, dur, line}. */
function parseStrace(file) {
  const out = [];
  const pending = new Map();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^(\d+)\s+(\d+\.\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, pid, ts, rest] = m;
    let text = rest;
    if (text.includes('<unfinished ...>')) {
      pending.set(pid, text.replace(/\s*<unfinished \.\.\.>$/, ''));
      continue;
    }
    const resumed = /^<\.\.\. (\w+) resumed>(.*)$/.exec(text);
    if (resumed) text = (pending.get(pid) ?? `${resumed[1]}(`) + resumed[2];
    const call = /^(\w+)\(/.exec(text)?.[1];
    if (!call) continue;
    const ret = /\)\s+=\s+(-?\d+|\?)/.exec(text)?.[1];
    const dur = Number(/<([\d.]+)>$/.exec(text)?.[1] ?? 0);
    // -ttt stamps the call's start; an unfinished call's start is the earlier line's stamp.
    out.push({ t: Number(ts), pid: Number(pid), call, ret: Number(ret), dur, line: text });
  }
  return out;
}

function summarizeTrace(name, events) {
  // Per-thread syscall counts while the pings ran, and per-wake sequences: every epoll_wait that
  // returned > 0 starts a wake; everything that thread did until its next epoll_wait is the wake.
  const counts = new Map();
  for (const e of events) counts.set(e.call, (counts.get(e.call) ?? 0) + 1);
  const threads = new Set(events.map((e) => e.pid));
  console.log(`  ${name}: ${events.length} syscalls on ${threads.size} thread(s) during ${pings} pings:`);
  console.log(
    '    ' +
      [...counts]
        .sort((a, b) => b[1] - a[1])
        .map(([c, n]) => `${c} ${n}`)
        .join(', '),
  );
  const wakes = [];
  const byPid = new Map();
  for (const e of events) {
    if (!byPid.has(e.pid)) byPid.set(e.pid, []);
    byPid.get(e.pid).push(e);
  }
  for (const list of byPid.values()) {
    let cur = null;
    for (const e of list) {
      if (e.call === 'epoll_wait' || e.call === 'epoll_pwait') {
        if (cur) wakes.push(cur);
        cur = e.ret > 0 ? { start: e.t + e.dur, pid: e.pid, calls: [] } : null;
        continue;
      }
      if (cur) cur.calls.push(e);
    }
    if (cur) wakes.push(cur);
  }
  // Wakes that carried a packet: a read/recv returning > 0 then a send/write.
  const io = wakes.filter((w) =>
    w.calls.some((c) => /^(read|recvmmsg|recvmsg|recvfrom)$/.test(c.call) && c.ret > 0),
  );
  const firstIo = (w) => w.calls.find((c) => /^(read|recvmmsg|recvmsg|recvfrom)$/.test(c.call) && c.ret > 0);
  const lastOut = (w) =>
    [...w.calls].reverse().find((c) => /^(write|writev|sendmmsg|sendmsg|sendto)$/.test(c.call));
  const toRead = [];
  const readToSend = [];
  const wakeLen = [];
  const perWake = [];
  for (const w of io) {
    const r = firstIo(w);
    const s = lastOut(w);
    toRead.push((r.t - w.start) * 1e6);
    if (s) readToSend.push((s.t - r.t - r.dur) * 1e6);
    const last = w.calls[w.calls.length - 1];
    wakeLen.push((last.t + last.dur - w.start) * 1e6);
    perWake.push(w.calls.length);
  }
  const f = (xs) => (xs.length ? median(xs).toFixed(0) : '-');
  console.log(
    `    packet wakes ${io.length}; median µs: wake->read ${f(toRead)}, read->send ${f(readToSend)}, ` +
      `whole wake ${f(wakeLen)}; syscalls per wake ${f(perWake)}`,
  );
  const sample = io.slice(Math.floor(io.length / 2), Math.floor(io.length / 2) + 4);
  for (const w of sample) {
    console.log(`    wake at ${w.start.toFixed(6)} (tid ${w.pid}):`);
    for (const c of w.calls.slice(0, 14))
      console.log(`      +${((c.t - w.start) * 1e6).toFixed(0).padStart(5)} µs ${c.line.slice(0, 110)}`);
  }
}

async function slowPing(nsA) {
  const r = await ping(nsA, INNER.v4[1], { count: pings, intervalS: interval, waitS: 1 });
  return rtts(r.output);
}

/**
 * slowPing, and (--cpu) each daemon's CPU µs per ping over it as `A user+sys, B user+sys`. A tick
 * is 1/CLK_TCK s: over 30 pings that is ~300 µs per ping, so --cpu wants --pings 300+.
 */
async function measuredPing(nsA, daemons) {
  const before = daemons.map((d) => cpuSplitTicks(d.proc.pid));
  const rtt = await slowPing(nsA);
  const us = (ticks) => (((ticks / CLK_TCK) * 1e6) / rtt.length).toFixed(0);
  const cpuText = daemons
    .map((d, i) => {
      const after = cpuSplitTicks(d.proc.pid);
      return `${i === 0 ? 'A' : 'B'} ${us(after.user - before[i].user)}+${us(after.sys - before[i].sys)}`;
    })
    .join(', ');
  return { rtt, cpuText };
}

const dir = keep || mkdtempSync(join(tmpdir(), 'lt-hops-'));
if (keep) mkdirSync(keep, { recursive: true });
try {
  const { nsA, nsB } = await createTopology();
  const dump = (impl, daemons) => {
    if (flagArg('dump')) daemons.forEach((d, i) => writeFileSync(join(dir, `${impl}-${i}.out`), d.output()));
  };
  await eachPair(
    nsA,
    nsB,
    impls,
    env,
    async (impl, daemons) => {
      let fresh;
      if (record) {
        const file = join(dir, `${impl}.data`);
        const pids = daemons.map((d) => d.proc.pid).join(',');
        const tracer = spawn(null, 'perf', [
          'record',
          '-e',
          'cpu-clock',
          '-F',
          '25000',
          '-g',
          '-p',
          pids,
          '-o',
          file,
        ]);
        await new Promise((r) => setTimeout(r, 800));
        fresh = await slowPing(nsA);
        const closed = new Promise((r) => tracer.child.once('close', r));
        tracer.child.kill('SIGINT');
        await Promise.race([closed, new Promise((r) => setTimeout(r, 5000))]);
        await tracer.stop();
        console.log(`${impl} (perf record, pids ${pids}) rtt median ${median(fresh).toFixed(3)} ms; ${file}`);
      } else if (stat) {
        const file = join(dir, `${impl}.stat`);
        const pids = daemons.map((d) => d.proc.pid).join(',');
        const tracer = spawn(null, 'perf', [
          'stat',
          '--per-thread',
          '-e',
          'task-clock,context-switches,cycles:u,instructions:u,cycles:k,instructions:k,page-faults',
          '-p',
          pids,
          '-o',
          file,
        ]);
        await new Promise((r) => setTimeout(r, 500));
        fresh = await slowPing(nsA);
        const closed = new Promise((r) => tracer.child.once('close', r));
        tracer.child.kill('SIGINT');
        await Promise.race([closed, new Promise((r) => setTimeout(r, 3000))]);
        await tracer.stop();
        console.log(`${impl} (perf stat, pids ${pids}) rtt median ${median(fresh).toFixed(3)} ms`);
        console.log(readFileSync(file, 'utf8'));
      } else if (perf) {
        const file = join(dir, `${impl}.perf`);
        const pids = daemons.map((d) => d.proc.pid).join(',');
        const tracer = spawn(null, 'perf', [
          'trace',
          '-p',
          pids,
          '-e',
          'read,write,recvmmsg,recvfrom,sendmsg,sendto,sendmmsg,epoll_wait,epoll_pwait',
          '-o',
          file,
        ]);
        await new Promise((r) => setTimeout(r, 1000));
        fresh = await slowPing(nsA);
        await tracer.stop();
        console.log(
          `${impl} (perf trace, pids ${pids}) rtt median ${median(fresh).toFixed(3)} ms; trace in ${file}`,
        );
      } else if (traced) {
        const files = daemons.map((_, i) => join(dir, `${impl}-${i === 0 ? 'A' : 'B'}.strace`));
        const tracers = daemons.map((d, i) =>
          spawn(null, 'strace', ['-f', '-ttt', '-T', '-o', files[i], '-p', String(d.proc.pid)]),
        );
        await new Promise((r) => setTimeout(r, 500));
        fresh = await slowPing(nsA);
        await Promise.all(tracers.map((t) => t.stop()));
        console.log(`${impl} (traced) rtt median ${median(fresh).toFixed(3)} ms over ${fresh.length}`);
        for (let i = 0; i < 2; i++) summarizeTrace(i === 0 ? 'A' : 'B', parseStrace(files[i]));
      } else {
        const first = await measuredPing(nsA, daemons);
        fresh = first.rtt;
        const gbps = flagArg('noload') ? NaN : await load(nsA, nsB).catch(() => NaN);
        const second = await measuredPing(nsA, daemons);
        const after = second.rtt;
        console.log(
          `${impl.padEnd(20)} rtt median fresh ${median(fresh).toFixed(3)} ms, after load ${median(after).toFixed(3)} ms ` +
            `(min ${Math.min(...fresh).toFixed(3)} / ${Math.min(...after).toFixed(3)}); load tcp1 ${gbps.toFixed(2)} Gbit/s`,
        );
        if (cpu)
          console.log(`  CPU µs per ping (user+sys): fresh ${first.cpuText}; after load ${second.cpuText}`);
        if (blocks > 0) {
          // The trend within one run: does the RTT fall as the daemons' code settles?
          const per = (xs) =>
            Array.from({ length: Math.ceil(xs.length / blocks) }, (_, k) =>
              median(xs.slice(k * blocks, (k + 1) * blocks)).toFixed(3),
            ).join(' ');
          console.log(`  per ${blocks} pings: fresh ${per(fresh)}; after load ${per(after)}`);
        }
      }
    },
    dump,
  );
} finally {
  await cleanup();
  if (!keep) rmSync(dir, { recursive: true, force: true });
}
