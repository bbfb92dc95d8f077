#!/usr/bin/env node
// Peer-scale benchmark: how wgtsd and Debian's wireguard-go cope with many peers.
//
//   npm run bench:peers [-- --peers 10000 --big 100000 --timeout 60 --out bench/results/peers-latest.json]
//
// For each size (--peers, then --big) and each implementation in turn, a fresh daemon runs alone in
// a fresh network namespace (unique interface name). A generated config (one interface key from
// `wg genkey`; per peer 32 random clamped bytes as the public key, a distinct /32 allowed IP from
// 10.0.0.0/8 and an endpoint in 198.18.0.0/15; no keepalive, so nothing is sent) is applied with
// `wg setconf IF FILE`, timed, with the daemon's CPU time; RSS (VmRSS) is read before and 1 s
// after, giving KiB per peer; then `wg show IF dump` is timed and its lines counted (want N+1).
// Every `wg` command is bounded by --timeout seconds; when setconf does not finish, `wg show IF
// peers` (bounded) tells how far the daemon got. Prints a table with ratios wgtsd / wireguard-go
// and writes bench/results/peers-latest.json. Everything created is tracked and removed at the
// end, on errors and on SIGINT/SIGTERM.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { URL, fileURLToPath } from 'node:url';
import {
  cleanup,
  createNamespace,
  deleteNamespace,
  execOk,
  sleep,
  trackPath,
} from '../dist/test/helpers/netns.js';
import { interopSkipReason, startDaemon } from '../dist/test/helpers/wg-peer.js';
import {
  CLK_TCK,
  cpuTicks,
  flagArg,
  fmt,
  hostInfo,
  machineBusyPct,
  numberArg,
  printHeader,
  printTable,
  ratio,
  rssKiB,
  runBounded,
  statusKiB,
  stringArg,
  wgtsdEnv,
  writeJson,
} from './lib.mjs';

if (flagArg('help')) {
  console.log(
    'usage: npm run bench:peers -- [--peers N (10000)] [--big N (100000, 0 = skip)] [--timeout S (60)] [--out FILE]',
  );
  process.exit(0);
}
const small = numberArg('peers', 10_000, 1, 131_072);
const big = numberArg('big', 100_000, 0, 131_072);
const timeoutS = numberArg('timeout', 60, 5, 600);
const out = stringArg('out', fileURLToPath(new URL('results/peers-latest.json', import.meta.url)));
const IMPLS = ['wgtsd', 'wireguard-go'];

const skip = interopSkipReason(IMPLS);
if (skip) {
  console.error(`bench:peers: cannot run: ${skip}`);
  process.exit(2);
}

const env = wgtsdEnv();
const host = { ...hostInfo(), busyPct: await machineBusyPct() };
printHeader('wgts peer-scale benchmark: wg setconf / wg show dump with many peers', host, env);
console.log(
  `  plan: ${[small, big].filter((n) => n > 0).join(' then ')} peers, each size on wgtsd then wireguard-go; every wg command bounded at ${timeoutS} s\n`,
);

const dir = mkdtempSync(join(tmpdir(), `wgts-bench-${process.pid}-`));
trackPath(dir);

/** A `wg setconf` file with `n` peers; returns its path. */
function writeConfig(n, privateKey) {
  const keys = randomBytes(32 * n);
  const parts = ['[Interface]', `PrivateKey = ${privateKey}`, 'ListenPort = 51820', ''];
  for (let i = 0; i < n; i++) {
    const k = keys.subarray(32 * i, 32 * i + 32);
    k[0] &= 248;
    k[31] = (k[31] & 127) | 64;
    const ip = i + 1; // 10.0.0.1 onwards
    parts.push(
      '[Peer]',
      `PublicKey = ${k.toString('base64')}`,
      `AllowedIPs = 10.${(ip >> 16) & 255}.${(ip >> 8) & 255}.${ip & 255}/32`,
      `Endpoint = 198.${18 + ((i >> 16) & 1)}.${(i >> 8) & 255}.${i & 255}:51820`,
      '',
    );
  }
  const path = join(dir, `peers-${n}.conf`);
  writeFileSync(path, parts.join('\n'), { mode: 0o600 });
  return path;
}

const lineCount = (text) => text.split('\n').filter((l) => l.trim() !== '').length;
/** The daemon's first error line (the cause; later ones are often consequences), or its last line. */
const daemonSaid = (text) =>
  (text.split('\n').find((l) => /error/i.test(l)) ?? lastLine(text)).trim().slice(0, 300);
const lastLine = (text) => text.trim().split('\n').slice(-1)[0]?.slice(0, 300) ?? '';

/** One implementation, one size: fresh namespace and daemon, setconf, RSS, dump. */
async function measure(impl, n, file) {
  const res = { impl, peers: n, errors: [] };
  const ns = await createNamespace();
  try {
    const daemon = await startDaemon(ns, { impl, env });
    const pid = daemon.proc.pid;
    await sleep(1_000);
    res.rssBeforeKiB = rssKiB(pid);
    const ticks0 = cpuTicks(pid);
    const set = await runBounded(ns, 'wg', ['setconf', daemon.ifname, file], timeoutS * 1000);
    res.setconfS = set.durationMs / 1000;
    res.setconfCpuS = (cpuTicks(pid) - ticks0) / CLK_TCK;
    res.setconfOk = set.code === 0 && !set.timedOut;
    if (!res.setconfOk) {
      res.errors.push(
        set.timedOut
          ? `setconf did not finish in ${timeoutS} s`
          : `setconf ended (${set.code === null ? `killed by ${set.signal}` : `exit ${set.code}`}) after ` +
              `${res.setconfS.toFixed(2)} s${set.signal === 'SIGPIPE' ? ', the daemon closed the UAPI socket' : ''}: ` +
              (lastLine(set.output) || '(wg printed nothing)') +
              (daemonSaid(daemon.output()) === '' ? '' : `; daemon log: ${daemonSaid(daemon.output())}`),
      );
      res.daemonLogTail = daemon.output().slice(-4000);
    }
    if (daemon.proc.hasExited()) {
      const info = daemon.proc.exitInfo();
      res.errors.push(`daemon exited (${info?.code ?? info?.signal}): ${lastLine(daemon.output())}`);
      return res;
    }
    await sleep(1_000);
    res.rssAfterKiB = rssKiB(pid);
    res.hwmKiB = statusKiB(pid, 'VmHWM');
    const dump = await runBounded(ns, 'wg', ['show', daemon.ifname, 'dump'], timeoutS * 1000, 512 * 2 ** 20);
    res.dumpS = dump.durationMs / 1000;
    res.dumpOk = dump.code === 0 && !dump.timedOut;
    res.dumpLines = res.dumpOk ? lineCount(dump.output) : null;
    if (!res.dumpOk) {
      res.errors.push(
        dump.timedOut
          ? `dump did not finish in ${timeoutS} s`
          : `dump exit ${dump.code ?? dump.signal}: ${lastLine(dump.output)}`,
      );
    } else if (res.dumpLines !== n + 1) {
      res.errors.push(`dump printed ${res.dumpLines} lines, want ${n + 1}`);
    }
    if (!res.setconfOk && !res.dumpOk) {
      const peers = await runBounded(ns, 'wg', ['show', daemon.ifname, 'peers'], 30_000, 512 * 2 ** 20);
      res.peersApplied = peers.code === 0 ? lineCount(peers.output) : null;
    } else if (!res.setconfOk) {
      res.peersApplied = res.dumpLines === null ? null : res.dumpLines - 1;
    }
    // Per peer actually applied (a daemon that stopped short is divided by what it holds).
    const held = res.setconfOk ? n : res.peersApplied;
    res.kibPerPeer = held > 0 ? (res.rssAfterKiB - res.rssBeforeKiB) / held : null;
    res.rssEndKiB = rssKiB(pid);
    await daemon.stop();
  } catch (err) {
    res.errors.push(err instanceof Error ? err.message.split('\n')[0] : String(err));
  } finally {
    await deleteNamespace(ns).catch((err) => res.errors.push(`cleanup: ${err.message}`));
  }
  return res;
}

const results = [];
let status = 0;
const t0 = Date.now();
try {
  const privateKey = (await execOk(null, 'wg', ['genkey'])).stdout.trim();
  for (const n of [small, big].filter((x) => x > 0)) {
    const g0 = Date.now();
    const file = writeConfig(n, privateKey);
    console.log(`${n} peers: config written in ${((Date.now() - g0) / 1000).toFixed(1)} s (${file})`);
    for (const impl of IMPLS) {
      process.stdout.write(`  ${impl}: wg setconf ... `);
      const r = await measure(impl, n, file);
      results.push(r);
      console.log(
        `${fmt(r.setconfS, 2)} s${r.setconfOk ? '' : ' (did not complete)'}, dump ${fmt(r.dumpS, 2)} s, ` +
          `${fmt(r.kibPerPeer, 2)} KiB/peer` +
          (r.errors.length > 0 ? ` [${r.errors.join('; ')}]` : ''),
      );
    }
  }
} catch (err) {
  console.error(`\nbench:peers: ${err instanceof Error ? err.stack : String(err)}`);
  status = 2;
} finally {
  await cleanup();
}

const rows = [['metric', 'wgtsd', 'wireguard-go', 'wgts/wg-go']];
for (const n of [small, big].filter((x) => x > 0)) {
  const w = results.find((r) => r.impl === 'wgtsd' && r.peers === n) ?? {};
  const g = results.find((r) => r.impl === 'wireguard-go' && r.peers === n) ?? {};
  const mib = (k) => (typeof k === 'number' ? k / 1024 : null);
  // Ratios only where both sides did the same work (or the row is per peer).
  const same = w.setconfOk === true && g.setconfOk === true;
  const line = (name, get, digits, withRatio = same) => {
    const a = get(w);
    const b = get(g);
    const cell = (x) => (typeof x === 'number' ? fmt(x, digits) : (x ?? '-'));
    rows.push([`${n} peers: ${name}`, cell(a), cell(b), withRatio ? fmt(ratio(a, b), 2) : '']);
  };
  line(
    'wg setconf s',
    (r) => (r.setconfOk ? r.setconfS : r.setconfS === undefined ? null : `fail ${fmt(r.setconfS, 2)}`),
    2,
  );
  line('daemon CPU s during setconf', (r) => r.setconfCpuS, 2);
  if (!w.setconfOk || !g.setconfOk) {
    line('peers applied (setconf incomplete)', (r) => (r.setconfOk ? n : r.peersApplied), 0, false);
  }
  line('RSS before MiB', (r) => mib(r.rssBeforeKiB), 1, true);
  line('RSS after MiB', (r) => mib(r.rssAfterKiB), 1);
  line('RSS peak (VmHWM) MiB', (r) => mib(r.hwmKiB), 1);
  line('KiB per peer (of peers held)', (r) => r.kibPerPeer, 2, true);
  line('wg show dump s', (r) => (r.dumpOk ? r.dumpS : null), 2);
  line(`wg show dump lines (want ${n + 1})`, (r) => r.dumpLines, 0, false);
}
console.log('\npeer scale (one daemon alone per run; ratio > 1 means wgtsd is slower or bigger):');
printTable(rows);
const errors = results.flatMap((r) => r.errors.map((e) => `${r.impl} ${r.peers} peers: ${e}`));
if (errors.length > 0) {
  console.log('\nnotes/errors:');
  for (const e of errors) console.log(`  ${e}`);
}
const totalS = (Date.now() - t0) / 1000;
console.log(`\nfinished in ${totalS.toFixed(0)} s`);
writeJson(out, {
  startedAt: new Date(t0).toISOString(),
  durationS: totalS,
  options: { peers: small, big, timeoutS },
  host,
  wgtsdEnv: env,
  results,
  errors,
});
console.log(`results written to ${out}`);
// wireguard-go falling short is a finding about the baseline, not a failure of this run.
const wgtsdFailed = results.some((r) => r.impl === 'wgtsd' && r.errors.length > 0);
process.exit(status !== 0 ? status : wgtsdFailed ? 1 : 0);
