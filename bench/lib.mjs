// Shared pieces of the benchmarks (bench/run.mjs, bench/peers.mjs): argument parsing, /proc
// readers (CPU ticks, RSS), a bounded tracked process runner, statistics and table printing.
// Everything here reads; nothing creates namespaces or links (the dist/test/helpers do, tracked).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { dirname, join } from 'node:path';
import { clearInterval, clearTimeout, setInterval, setTimeout } from 'node:timers';
import { URL } from 'node:url';
import { spawn } from '../dist/test/helpers/netns.js';

// ---------------------------------------------------------------------------------------------
// Arguments

/** `--name VALUE` as a number within [min, max], else `fallback`; exits 2 on a bad value. */
export function numberArg(name, fallback, min, max) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!(v >= min && v <= max)) {
    console.error(`--${name} wants a number in [${min}, ${max}], got ${process.argv[i + 1]}`);
    process.exit(2);
  }
  return v;
}

/** `--name VALUE` as a string, else `fallback`. */
export function stringArg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

export function flagArg(name) {
  return process.argv.includes(`--${name}`);
}

// ---------------------------------------------------------------------------------------------
// /proc

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function stat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return {
      ppid: Number(f[1]),
      user: Number(f[11]),
      sys: Number(f[12]),
      childTicks: Number(f[13]) + Number(f[14]),
    };
  } catch {
    return null;
  }
}

/** `pid` and its live descendants (a daemon may fork helpers; threads are counted in the pid). */
export function processTree(pid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = stat(Number(entry));
    if (s === null) continue;
    if (!children.has(s.ppid)) children.set(s.ppid, []);
    children.get(s.ppid).push(Number(entry));
  }
  const out = [];
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop();
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

/** User and system CPU ticks, apart, of `pid` and its live descendants (all their threads). */
export function cpuSplitTicks(pid) {
  let user = 0;
  let sys = 0;
  for (const p of processTree(pid)) {
    const s = stat(p);
    if (s === null) continue;
    user += s.user;
    sys += s.sys;
  }
  return { user, sys };
}

/** User+system CPU ticks of `pid`, its reaped children and its live descendants (0 if gone). */
export function cpuTicks(pid) {
  const { user, sys } = cpuSplitTicks(pid);
  return user + sys + (stat(pid)?.childTicks ?? 0);
}

/** A CPU meter over the daemons `pids`: call the returned function to get % of one core each. */
export function cpuMeter(pids) {
  const t0 = process.hrtime.bigint();
  const start = pids.map(cpuTicks);
  return () => {
    const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
    return pids.map((pid, i) => ((cpuTicks(pid) - start[i]) / CLK_TCK / wallS) * 100);
  };
}

/** A field of /proc/PID/status in KiB (VmRSS, VmHWM), or null. */
export function statusKiB(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

/** VmRSS of `pid` and its descendants, KiB. */
export function rssKiB(pid) {
  return processTree(pid).reduce((sum, p) => sum + (statusKiB(p, 'VmRSS') ?? 0), 0);
}

/**
 * Samples VmRSS of each daemon every `intervalMs` until the returned function is called, which
 * returns the peak per daemon in KiB. The process trees are taken once, at the start.
 */
export function rssSampler(pids, intervalMs = 100) {
  const trees = pids.map(processTree);
  const peaks = pids.map(() => 0);
  const sample = () => {
    trees.forEach((tree, i) => {
      const kib = tree.reduce((sum, p) => sum + (statusKiB(p, 'VmRSS') ?? 0), 0);
      if (kib > peaks[i]) peaks[i] = kib;
    });
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return () => {
    clearInterval(timer);
    sample();
    return peaks;
  };
}

// ---------------------------------------------------------------------------------------------
// Processes

/**
 * Runs `cmd args` in `ns` as a tracked process (so SIGINT/exit cleanup kills it), killing it after
 * `timeoutMs`. Resolves with its combined output, exit code and whether it timed out; never throws
 * for a non-zero exit.
 */
export async function runBounded(ns, cmd, args, timeoutMs, logLimitBytes = 16 * 2 ** 20) {
  const started = process.hrtime.bigint();
  const proc = spawn(ns, cmd, args, { logLimitBytes });
  const closed = new Promise((resolve) => proc.child.once('close', resolve));
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const first = await Promise.race([proc.exited, timeout]);
  clearTimeout(timer);
  const timedOut = first === 'timeout';
  const info = timedOut ? await proc.stop({ graceMs: 1_000 }) : first;
  let closeTimer;
  await Promise.race([closed, new Promise((r) => (closeTimer = setTimeout(r, 2_000)))]);
  clearTimeout(closeTimer);
  await proc.stop();
  return {
    output: proc.output(),
    code: info.code,
    signal: info.signal,
    timedOut,
    durationMs: Number(process.hrtime.bigint() - started) / 1e6,
  };
}

// ---------------------------------------------------------------------------------------------
// Host description

function firstLine(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'pipe'] })
      .split('\n')
      .filter((l) => l.trim() !== '')[0]
      ?.trim();
  } catch {
    return undefined;
  }
}

/** Modification times of the built wgtsd (JavaScript entry point, native addon). */
function builtAt(files, root) {
  const out = {};
  for (const f of files) {
    try {
      out[f] = statSync(join(root, f)).mtime.toISOString();
    } catch {
      out[f] = null;
    }
  }
  return out;
}

/** Environment variables that change wgtsd's behaviour; the helpers pass them to every daemon. */
export function wgtsdEnv() {
  const out = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('WGTS_') || k === 'UV_THREADPOOL_SIZE' || k === 'NODE_OPTIONS') out[k] = v;
  }
  return out;
}

function cpuTotals() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + (f[4] ?? 0);
  return { idle, total: f.reduce((a, b) => a + b, 0) };
}

/** How busy the machine is right now: % of all CPUs in use over `ms` . */
export async function machineBusyPct(ms = 1_000) {
  const a = cpuTotals();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const b = cpuTotals();
  return b.total === a.total ? 0 : (1 - (b.idle - a.idle) / (b.total - a.total)) * 100;
}

export function hostInfo() {
  const root = new URL('..', import.meta.url).pathname;
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? '?',
    kernel: release(),
    node: process.version,
    wireguardGo: firstLine('wireguard-go', ['--version']),
    wg: firstLine('wg', ['--version']),
    iperf3: firstLine('iperf3', ['--version']),
    git: firstLine('git', ['-C', root, 'describe', '--always', '--dirty', '--abbrev=12']),
    wgtsdBuild: builtAt(['dist/src/daemon/main.js', 'build/Release/wgts_native.node'], root),
    loadavg: loadavg().map((x) => Number(x.toFixed(2))),
  };
}

/** Prints the host, tool versions and wgtsd environment flags. */
export function printHeader(title, host, env) {
  console.log(`${title}`);
  console.log(`  host: ${host.cpus} CPUs (${host.cpuModel}), Linux ${host.kernel}, Node ${host.node}`);
  console.log(`  tools: ${host.wireguardGo ?? '?'}; ${host.wg ?? '?'}; ${host.iperf3 ?? '?'}`);
  const built = Object.entries(host.wgtsdBuild)
    .map(([f, t]) => `${f.split('/').pop()} ${t ?? 'missing'}`)
    .join(', ');
  console.log(`  tree: ${host.git ?? '?'}; built: ${built}`);
  console.log(`  load average at start: ${host.loadavg.join(' ')}`);
  const flags = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  console.log(
    `  wgtsd environment: ${flags.length === 0 ? '(no WGTS_*, UV_THREADPOOL_SIZE or NODE_OPTIONS set; defaults)' : flags.join(' ')}` +
      ' (passed to every daemon; LOG_LEVEL=error)',
  );
  if (host.busyPct !== undefined) {
    console.log(
      `  CPU in use by others just before the start: ${host.busyPct.toFixed(0)}% of ${host.cpus} CPUs`,
    );
    if (host.busyPct > 15) console.log('  WARNING: the machine is busy; figures will be noisy');
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics and output

export function median(xs) {
  const s = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function ratio(a, b) {
  return typeof a === 'number' && typeof b === 'number' && b !== 0 ? a / b : null;
}

/** A number with `digits` decimals, or '-' for null/undefined/NaN. */
export function fmt(x, digits = 2) {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '-';
}

/** Prints rows (arrays of strings) as an aligned table; the first row is the header. */
export function printTable(rows, leftColumns = 1, indent = '  ') {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c] ?? '').length)));
  rows.forEach((r, i) => {
    const line = r.map((cell, c) =>
      c < leftColumns ? String(cell).padEnd(widths[c]) : String(cell).padStart(widths[c]),
    );
    console.log(indent + line.join('  ').trimEnd());
    if (i === 0) console.log(indent + widths.map((w) => '-'.repeat(w)).join('  '));
  });
}

export function writeJson(path, value) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}
