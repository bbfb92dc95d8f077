#!/usr/bin/env node
// Soak (TEST-PLAN "Load"): two wgtsd daemons, each in its own network namespace (built with the
// interop helpers from dist/), continuous traffic both ways across several rekeys (real timers:
// a rekey every REKEY_AFTER_TIME = 120 s of sending, so 5 rekeys take about 11 minutes), while the
// daemons print a STATS line every few seconds (WGTS_STATS=1, src/daemon/run.ts: rss, heapUsed,
// handles, timers, indices, queueLength, ...). The script also counts each daemon's open file
// descriptors through /proc. At the end it compares, per daemon, the median of the first samples
// after warm-up with the median of the last samples and fails on growth beyond a tolerance.
//
//   node scripts/soak.mjs [--minutes 12] [--interval 5] [--out soak-samples.json]
//
// Needs root, a built tree (npm run build), wg, ip and ping. Everything it creates (namespaces,
// veths, daemons, pings) is tracked by name/pid and removed at the end. Exit 0: no growth and at
// least --min-rekeys rekeys (default 5 when --minutes >= 11, else 1); 1: a finding; 2: setup failed.
import { readdirSync, writeFileSync } from 'node:fs';
import { cleanup, spawn, sleep } from '../dist/test/helpers/netns.js';
import { createTwoNodeTopology, interopSkipReason } from '../dist/test/helpers/wg-peer.js';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const minutes = Number(arg('minutes', '12'));
const intervalS = Number(arg('interval', '5'));
const out = arg('out', 'soak-samples.json');
const minRekeys = Number(arg('min-rekeys', minutes >= 11 ? '5' : '1'));
if (!(minutes > 0 && minutes <= 240) || !(intervalS >= 1 && intervalS <= 600)) {
  console.error('usage: soak.mjs [--minutes 0<m<=240] [--interval 1..600] [--out FILE] [--min-rekeys N]');
  process.exit(2);
}

const skip = interopSkipReason(['wgtsd'], ['ping']);
if (skip) {
  console.error(`soak: cannot run: ${skip}`);
  process.exit(2);
}

// --expose-gc: the daemon's stats line then samples the heap after a full GC (src/daemon/run.ts).
const env = {
  WGTS_STATS: '1',
  WGTS_STATS_MS: String(intervalS * 1000),
  LOG_LEVEL: 'error',
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --expose-gc`.trim(),
};
const durationMs = minutes * 60_000;

function lastStats(output) {
  const lines = output.split('\n').filter((l) => l.startsWith('STATS: '));
  if (lines.length === 0) return null;
  try {
    return JSON.parse(lines[lines.length - 1].slice('STATS: '.length));
  } catch {
    return null;
  }
}

function fdCount(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
};

let topo;
let status = 0;
const pings = [];
try {
  topo = await createTwoNodeTopology({ implA: 'wgtsd', implB: 'wgtsd', outer: 'v4', envA: env, envB: env });
  const deadline = String(Math.ceil(durationMs / 1000) + 30);
  // Continuous traffic both ways, over inner v4 and v6: 20 packets/s each, 1000-byte payloads.
  pings.push(
    spawn(topo.a.ns, 'ping', ['-q', '-i', '0.05', '-s', '1000', '-w', deadline, topo.b.innerV4]),
    spawn(topo.b.ns, 'ping', ['-q', '-i', '0.05', '-s', '1000', '-w', deadline, topo.a.innerV6]),
  );
  const start = Date.now();
  const samples = { a: [], b: [] };
  const handshakes = { a: new Set(), b: new Set() };
  while (Date.now() - start < durationMs) {
    await sleep(intervalS * 1000);
    const t = Math.round((Date.now() - start) / 1000);
    for (const node of [topo.a, topo.b]) {
      const stats = lastStats(node.daemon.output());
      const dump = await node.dump().catch(() => null);
      const hs = dump?.peers[0]?.latestHandshake ?? 0;
      if (hs > 0) handshakes[node.name].add(hs);
      if (stats === null) continue;
      const s = {
        t,
        rss: stats.rss,
        heapUsed: stats.heapUsed,
        handles: stats.handles,
        timers: stats.timers,
        fds: fdCount(node.daemon.proc.pid),
        indices: stats.indices,
        queue: stats.queueLength,
        handshakes: handshakes[node.name].size,
        rx: dump?.peers[0]?.rxBytes ?? 0,
      };
      samples[node.name].push(s);
    }
    const a = samples.a[samples.a.length - 1];
    const b = samples.b[samples.b.length - 1];
    const fmt = (s) =>
      s === undefined
        ? '-'
        : `rss=${(s.rss / 2 ** 20).toFixed(1)}M heap=${(s.heapUsed / 2 ** 20).toFixed(1)}M handles=${s.handles} ` +
          `timers=${s.timers} fds=${s.fds} indices=${s.indices} queue=${s.queue} handshakes=${s.handshakes}`;
    console.log(`t=${t}s a: ${fmt(a)} | b: ${fmt(b)}`);
  }
  for (const p of pings) await p.stop({ signal: 'SIGINT', graceMs: 2000 });
  const pingOut = pings.map((p) => (/\d+ packets transmitted.*$/m.exec(p.output()) ?? ['?'])[0]);
  console.log(`ping a->b: ${pingOut[0]}\nping b->a: ${pingOut[1]}`);

  // Growth check: warm-up is the first 20 % (at least 60 s); compare medians of up to 6 samples.
  const findings = [];
  for (const name of ['a', 'b']) {
    const all = samples[name];
    const warm = all.filter((s) => s.t >= Math.max(60, (durationMs / 1000) * 0.2));
    if (warm.length < 4) {
      findings.push(`${name}: too few samples after warm-up (${warm.length})`);
      continue;
    }
    const k = Math.min(6, Math.floor(warm.length / 2));
    const first = warm.slice(0, k);
    const last = warm.slice(-k);
    const cmp = (field, absTol, relTol) => {
      const f = median(first.map((s) => s[field]));
      const l = median(last.map((s) => s[field]));
      const ok = l <= f + Math.max(absTol, f * relTol);
      console.log(`${name} ${field}: first ${f} last ${l} ${ok ? 'ok' : 'GROWTH'}`);
      if (!ok) findings.push(`${name}: ${field} grew from ${f} to ${l}`);
    };
    cmp('rss', 16 * 2 ** 20, 0.25);
    cmp('heapUsed', 2 * 2 ** 20, 0.2); // sampled after a forced GC (--expose-gc)
    cmp('handles', 1, 0);
    cmp('timers', 2, 0);
    cmp('fds', 1, 0);
    cmp('indices', 0, 0);
    const maxIndices = Math.max(...all.map((s) => s.indices));
    if (maxIndices > 4) findings.push(`${name}: ${maxIndices} index entries for one peer (max 4)`);
    const rekeys = handshakes[name].size - 1;
    console.log(`${name}: ${rekeys} rekeys observed (distinct latest-handshake times − 1)`);
    if (rekeys < minRekeys) findings.push(`${name}: only ${rekeys} rekeys (want ≥ ${minRekeys})`);
  }
  writeFileSync(out, JSON.stringify({ minutes, intervalS, samples, findings }, null, 1));
  console.log(`samples written to ${out}`);
  if (findings.length > 0) {
    console.log(`FINDINGS:\n  ${findings.join('\n  ')}`);
    status = 1;
  } else console.log('soak: no growth');
} catch (err) {
  console.error(`soak: ${err instanceof Error ? err.stack : String(err)}`);
  if (topo !== undefined) console.error(topo.logs().slice(-4000));
  status = 2;
} finally {
  for (const p of pings) await p.stop().catch(() => undefined);
  if (topo !== undefined) await topo.teardown();
  await cleanup();
}
process.exit(status);
