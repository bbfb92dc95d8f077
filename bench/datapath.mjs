// Data-path benchmark without namespaces (issue 11 "Multi-core"): the production transport seal
// and open of realistic batches, one thread against several (WGTS_THREADS / native setThreads),
// alternating in one run so machine noise hits both alike. Each iteration is what the daemon's
// fast path does for one direction of one peer, sender and receiver in this one process:
//   copy a batch of padded 1,420-byte IP packets into the arena (the TUN split's copy),
//   Tunnel.reserveSend + native sealBatch (counters reserved in order in TypeScript),
//   per datagram: the header read, the receiver check and the replay pre-check,
//   native openBatch + acceptRun (tag, replay mark, inner length, allowed source, bookkeeping);
//   the thread gate's tick before each AEAD call, as in the daemon (src/device/thread-gate.ts;
//   WGTS_THREAD_GATE=off to bench without it).
// Two real Devices hold the session (made by the in-process DeviceNet of test/helpers); nothing
// of the fakes runs in the measured loop. Prints every round: Gbit/s of inner packets sealed and
// opened, CPU (cores busy, from process.cpuUsage), Gbit per CPU-second and the share of the CPU
// time the pool's worker threads did (/proc/self/task, threads named wgts-aead); then the medians, the
// crypto rate of one thread, the serial fraction it implies and an Amdahl projection.
//
//   npm run bench:datapath [-- --rounds 5 --seconds 2 --batch 2900 --threads 2]
//   --small: also ns per packet for small batches (where slicing starts to pay).
//   --engine evp|direct: the native AEAD's engine (native/chacha-poly.h; default: the addon's).
//   --crypto-only: each iteration is the two native calls alone (seal, then open of what was
//     sealed, in place): how far the AEAD itself scales on this machine, the ceiling of the rest.
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { availableParallelism, loadavg } from 'node:os';
import { flagArg, numberArg, stringArg } from './lib.mjs';
import { loadNative } from '../dist/src/io/native.js';
import { acceptRun } from '../dist/src/device/inner-rule.js';
import { threadGate } from '../dist/src/device/thread-gate.js';
import { DeviceNet } from '../dist/test/helpers/device-net.js';
import { ipv4 } from '../dist/test/helpers/pair.js';

const ROUNDS = numberArg('rounds', 5, 1, 50);
const SECONDS = numberArg('seconds', 2, 0.2, 30);
const BATCH = numberArg('batch', 2900, 1, 4096);
const THREADS = numberArg('threads', 2, 2, 64);
const PACKET = 1420;

const native = loadNative();
if (typeof native.setThreads !== 'function') {
  console.error('datapath bench: this native addon has no setThreads (rebuild with npm run build:native)');
  process.exit(1);
}

const CRYPTO_ONLY = flagArg('crypto-only');
const ENGINE = stringArg('engine', '');
if (ENGINE !== '') native.aeadEngine(ENGINE);

// ---- a session between two devices ----------------------------------------------------------
delete process.env.WGTS_THREADS; // the bench sets threads itself
const dn = new DeviceNet();
const a = await dn.node(1);
const b = await dn.node(2);
await dn.link(a, b);
a.tun.inject(ipv4(a.inner4, b.inner4));
await dn.settle();
b.tun.inject(ipv4(b.inner4, a.inner4));
await dn.settle();
const tunnelA = a.device.peerByKey(b.publicKey).tunnel;
const sendKp = tunnelA.session.keypairs.current;
const tunnelB = b.device.indices.get(sendKp.remoteIndex);
const now = dn.clock.mono;
const recvKp = tunnelB.receivingKeypair(sendKp.remoteIndex, now);
if (sendKp === null || recvKp === null) throw new Error('datapath bench: no session');
const from = b.device.peerByKey(a.publicKey).endpoint ?? a.endpoint(4);

// ---- the batch layout --------------------------------------------------------------------------
const stride = 16 + PACKET + 16;
const template = new Uint8Array(BATCH * stride);
const packet = ipv4(a.inner4, b.inner4, PACKET - 20);
for (let k = 0; k < BATCH; k++) template.set(packet, k * stride + 16);
const bytes = new Uint8Array(template.length);
const view = new DataView(bytes.buffer);
const offsets = new Uint32Array(BATCH).map((_, k) => k * stride);
const txLengths = new Uint32Array(BATCH);
const rxLengths = new Uint32Array(BATCH);
const results = new Int32Array(BATCH);
const counters = new Array(BATCH).fill(0n);
let delivered = 0;
const deliver = (_p, length) => {
  delivered += length;
};

function cpuUs() {
  const c = process.cpuUsage();
  return c.user + c.system;
}

/**
 * Wall ms of the serial parts of the batches since the last reset, by part: what stays on the
 * JavaScript thread however many threads seal and open (printed per batch after the rounds).
 */
const parts = { copy: 0, checks: 0, accept: 0 };

/**
 * One batch through seal and open; returns the CPU µs of the process inside the two native calls
 * (with one thread: the crypto's own CPU time, whatever else the machine runs).
 */
function iteration(n) {
  if (CRYPTO_ONLY) return cryptoIteration(n);
  const p0 = performance.now();
  bytes.set(template.subarray(0, n * stride)); // the TUN split's copy
  const p1 = performance.now();
  parts.copy += p1 - p0;
  txLengths.fill(PACKET, 0, n);
  const r = tunnelA.reserveSend(n, now);
  threadGate.tick(n); // as the daemon's batches do: workers only on CPUs the machine has to spare
  const p2 = performance.now();
  const t0 = cpuUs();
  native.sealBatch(r.keypair.sendKey, r.keypair.remoteIndex, r.first, bytes, offsets, txLengths, 0, n);
  const t1 = cpuUs();
  const p3 = performance.now();
  for (let k = 0; k < n; k++) {
    const off = offsets[k];
    if (view.getUint32(off + 4, true) !== recvKp.localIndex) throw new Error('receiver');
    const counter = view.getBigUint64(off + 8, true);
    if (!recvKp.replay.check(counter)) throw new Error('replay');
    counters[k] = counter;
    rxLengths[k] = txLengths[k];
  }
  threadGate.tick(n);
  parts.checks += p2 - p1 + (performance.now() - p3);
  const t2 = cpuUs();
  native.openBatch(recvKp.receiveKey, bytes, offsets, rxLengths, 0, n, results);
  const t3 = cpuUs();
  const p4 = performance.now();
  acceptRun(
    b.device,
    {
      keypair: recvKp,
      tunnel: tunnelB,
      from,
      buffer: bytes,
      offsets,
      lengths: rxLengths,
      counters,
      results,
      first: 0,
      count: n,
    },
    now,
    deliver,
  );
  parts.accept += performance.now() - p4;
  return t1 - t0 + (t3 - t2);
}

/** --crypto-only: seal the batch's plaintexts and open them again in place (no TypeScript work). */
let cryptoCounter = 0n;
function cryptoIteration(n) {
  txLengths.fill(PACKET, 0, n);
  const t0 = cpuUs();
  native.sealBatch(sendKp.sendKey, sendKp.remoteIndex, cryptoCounter, bytes, offsets, txLengths, 0, n);
  rxLengths.set(txLengths.subarray(0, n));
  native.openBatch(recvKp.receiveKey, bytes, offsets, rxLengths, 0, n, results);
  cryptoCounter += BigInt(n);
  for (let k = 0; k < n; k++) if (results[k] !== PACKET) throw new Error(`open ${k}: ${results[k]}`);
  delivered += n * PACKET;
  return cpuUs() - t0;
}

/** CPU seconds of the pool's worker threads (named wgts-aead by native/crypto-pool.c) so far. */
function workerCpuS() {
  let ticks = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() !== 'wgts-aead') continue;
      const f = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
    } catch {
      // the thread ended
    }
  }
  return ticks / 100; // USER_HZ
}

/** Runs batches for SECONDS on `threads` threads; returns the figures of that run. */
function run(threads, n = BATCH, seconds = SECONDS) {
  native.setThreads(threads);
  for (let w = 0; w < 3; w++) iteration(n); // wake the workers, warm the caches
  delivered = 0;
  let crypto = 0;
  let batches = 0;
  const cpu0 = process.cpuUsage();
  const workers0 = workerCpuS();
  const wakes0 = native.poolStats().wakes;
  for (const k of Object.keys(parts)) parts[k] = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < seconds * 1000) {
    crypto += iteration(n);
    batches++;
    t = performance.now();
  }
  const cpu = process.cpuUsage(cpu0);
  const workers = workerCpuS() - workers0;
  const wallS = (t - t0) / 1000;
  const cpuS = (cpu.user + cpu.system) / 1e6;
  if (delivered !== batches * n * PACKET)
    throw new Error(`delivered ${delivered} of ${batches * n * PACKET}`);
  const gbit = (delivered * 8) / 1e9;
  return {
    threads,
    gbps: gbit / wallS,
    cores: cpuS / wallS,
    workerShare: workers / cpuS,
    gbitPerCpuS: gbit / cpuS,
    cryptoCpuS: crypto / 1e6,
    cpuS,
    wallMs: t - t0,
    batches,
    wakesPerBatch: (native.poolStats().wakes - wakes0) / batches,
    serialMs: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, v / batches])),
  };
}

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const f = (x, d = 2) => x.toFixed(d);

console.log(
  `wgts data-path bench${CRYPTO_ONLY ? ' (--crypto-only: the AEAD calls alone)' : ''}: seal + open of ${BATCH} x ${PACKET}-byte packets per batch, 1 vs ${THREADS} threads, ` +
    `${ROUNDS} rounds x ${SECONDS} s each; AEAD engine ${native.aeadEngine()}; ${availableParallelism()} CPUs, load ${loadavg()
      .map((x) => f(x))
      .join(' ')}`,
);
const ones = [];
const manys = [];
for (let round = 1; round <= ROUNDS; round++) {
  // Alternate which goes first so a drift in the machine's load hits both alike.
  const order = round % 2 ? [1, THREADS] : [THREADS, 1];
  const got = {};
  for (const t of order) got[t] = run(t);
  ones.push(got[1]);
  manys.push(got[THREADS]);
  const x = got[THREADS].gbps / got[1].gbps;
  console.log(
    `round ${round}: 1 thread ${f(got[1].gbps)} Gbit/s (${f(got[1].cores)} cores, ${f(got[1].gbitPerCpuS)} Gbit/CPU-s)` +
      ` | ${THREADS} threads ${f(got[THREADS].gbps)} Gbit/s (${f(got[THREADS].cores)} cores, ` +
      `${f(got[THREADS].gbitPerCpuS)} Gbit/CPU-s, ${f(got[THREADS].workerShare * 100, 0)}% of it on workers, ` +
      `${f(got[THREADS].wakesPerBatch)} wakes/batch) | x${f(x)}`,
  );
}
const s1 = median(ones.map((r) => r.gbps));
const sN = median(manys.map((r) => r.gbps));
const speedups = ones.map((r, i) => manys[i].gbps / r.gbps);
console.log(
  `\nmedian: 1 thread ${f(s1)} Gbit/s, ${THREADS} threads ${f(sN)} Gbit/s; per-round speed-ups ` +
    `${speedups.map((x) => f(x)).join(' ')} (median x${f(median(speedups))}; target >= 1.8 on 2 cores)`,
);
// One thread: the share of the CPU time inside the two native calls is the part that spreads;
// the rest (copy, reserveSend, header reads, acceptRun) stays on the JavaScript thread.
const cryptoShare = median(ones.map((r) => r.cryptoCpuS / r.cpuS));
const cryptoGbps = median(ones.map((r) => (r.batches * BATCH * PACKET * 8 * 2) / 1e9 / r.cryptoCpuS));
const serial = 1 - cryptoShare;
const measured = median(speedups);
// The serial fraction the measured speed-up implies (Amdahl): 1/S = s + (1 - s)/N.
const implied = (1 / measured - 1 / THREADS) / (1 - 1 / THREADS);
console.log(
  `one thread: crypto (seal + open, counted once each) ${f(cryptoGbps)} Gbit/s of AEAD per core; ` +
    `${f(cryptoShare * 100, 1)}% of the CPU time is in the native calls, serial fraction s = ${f(serial, 3)}; ` +
    `the measured x${f(measured)} on ${THREADS} threads implies s = ${f(Math.max(0, implied), 3)}`,
);
if (!CRYPTO_ONLY) {
  // Where the serial fraction goes: the copy (memcpy), reserveSend + header reads + replay
  // pre-checks + the gate's ticks, and acceptRun; wall ms per batch, medians over the rounds.
  const per = (runs, k) => f(median(runs.map((r) => r.serialMs[k])), 3);
  const line = (runs) => ['copy', 'checks', 'accept'].map((k) => `${k} ${per(runs, k)}`).join(', ');
  console.log(`serial parts, ms per batch: 1 thread ${line(ones)}; ${THREADS} threads ${line(manys)}`);
}
for (const s of [serial, Math.max(serial, implied)]) {
  const proj = [2, 4, 8, 16].map((n) => `${n}: x${f(1 / (s + (1 - s) / n))}`).join(', ');
  console.log(`Amdahl with s = ${f(s, 3)}: ${proj} (x${f(1 / s, 1)} at most)`);
}

if (flagArg('small')) {
  console.log('\nsmall batches, ns per packet (seal + open + bookkeeping), 1 vs', THREADS, 'threads:');
  for (const n of [8, 16, 23, 24, 32, 45, 46, 47, 48, 64, 96, 128, 256]) {
    const r1 = run(1, n, 0.3);
    const rN = run(THREADS, n, 0.3);
    const ns = (r) => (r.wallMs * 1e6) / (r.batches * n);
    console.log(`  ${String(n).padStart(4)} packets: ${f(ns(r1), 0)} vs ${f(ns(rN), 0)} ns`);
  }
}
native.setThreads(1);
dn.close();
