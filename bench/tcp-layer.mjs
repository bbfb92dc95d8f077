#!/usr/bin/env node
// Micro-benchmark of the userspace TCP (src/netstack/tcp): two TcpLayers back to back in one
// process, no IP layer and no crypto, segments handed across in batches of up to 64 with a
// flush() after each batch (as NetStack.input does). Prints MiB/s for a 256 MiB transfer, 3 rounds.
// Usage: npm run build && node bench/tcp-layer.mjs [MiB]
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { TcpLayer } from '../dist/src/netstack/tcp/index.js';

const MIB = Number(process.argv[2] ?? 256);
const BATCH = 64;

function run() {
  const t0 = performance.now();
  const host = { now: () => performance.now() - t0, random: (n) => randomBytes(n), wake() {} };
  const qa = [];
  const qb = [];
  const ip = (addr, q) => ({
    mtu: 1500,
    sourceFor: () => addr,
    send(source, destination, _p, payload) {
      q.push({ family: 4, source, destination, protocol: 6, payload, hopLimit: 64 });
      return true;
    },
  });
  const A = new Uint8Array([10, 0, 0, 1]);
  const B = new Uint8Array([10, 0, 0, 2]);
  const a = new TcpLayer(ip(A, qa), host);
  const b = new TcpLayer(ip(B, qb), host);
  let received = 0;
  let server = null;
  b.listen(null, 5001, 8, (c) => {
    server = c;
    c.setEvents({
      onEstablished() {},
      onData(d) {
        received += d.length;
        c.consume(d.length);
      },
      onEnd() {},
      onDrain() {},
      onClose() {},
    });
  });
  const client = a.connect(
    { address: B, port: 5001 },
    { onEstablished() {}, onData() {}, onEnd() {}, onDrain() {}, onClose() {} },
  );
  const total = MIB * 1024 * 1024;
  const chunk = randomBytes(256 * 1024);
  let written = 0;
  const move = (q, to) => {
    let n = 0;
    while (q.length > 0) {
      const batch = q.splice(0, BATCH);
      for (const d of batch) to.receive(d);
      to.flush();
      n += batch.length;
    }
    return n;
  };
  const start = performance.now();
  while (received < total) {
    while (written < total) {
      const n = client.write(chunk.subarray(0, Math.min(chunk.length, total - written)));
      if (n === 0) break;
      written += n;
    }
    const moved = move(qa, b) + move(qb, a);
    if (moved === 0) {
      a.poll();
      b.poll();
    }
  }
  const ms = performance.now() - start;
  if (server === null) throw new Error('no server');
  return { ms, mibps: MIB / (ms / 1000) };
}

for (let round = 1; round <= 3; round++) {
  const r = run();
  console.log(
    `round ${round}: ${MIB} MiB in ${r.ms.toFixed(0)} ms = ${r.mibps.toFixed(0)} MiB/s (${((r.mibps * 8 * 1.048576) / 1000).toFixed(2)} Gbit/s)`,
  );
}
