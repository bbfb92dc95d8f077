#!/usr/bin/env node
// The library benchmark: one userspace WireGuard interface opened in this process with
// WireGuard.open (no TUN, no root needed for it; root only to build the peer's namespace), and
// http.request({ createConnection: wg.network.createConnection }) downloading GET /bytes/N from the
// tunnel peer fixture (wireguard-go in a namespace, dist/test/helpers/tunnel-peer.js). Prints every
// round's Gbit/s, this process's CPU seconds per Gbit (all of it: WireGuard, the TCP/IP stack and
// the HTTP client) and peak RSS, then the medians and JSON.
//
//   npm run build --silent && node bench/library.mjs [--rounds 5] [--bytes 536870912]
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { clearInterval, setInterval } from 'node:timers';
import { WireGuard } from '../dist/src/index.js';
import { cleanup } from '../dist/test/helpers/netns.js';
import { genKeyPair } from '../dist/test/helpers/wg-peer.js';
import { startTunnelPeer } from '../dist/test/helpers/tunnel-peer.js';
import { median, numberArg } from './lib.mjs';

const rounds = numberArg('rounds', 5, 1, 100);
const bytes = numberArg('bytes', 512 * 1024 * 1024, 1 << 20, 2 ** 34);

function download(wg, host, n) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host,
        port: 80,
        path: `/bytes/${n}`,
        createConnection: (_options, onConnect) => wg.network.createConnection({ host, port: 80 }, onConnect),
      },
      (res) => {
        let got = 0;
        res.on('data', (chunk) => (got += chunk.length));
        res.on('end', () => resolve(got));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function main() {
  const keys = await genKeyPair();
  const peer = await startTunnelPeer({ ourPublicKey: keys.publicKey });
  const wg = await WireGuard.open({ config: peer.wgQuickConfig(keys.privateKey) });
  try {
    console.log(
      `wgts library benchmark: GET /bytes/${bytes} from ${peer.impl} over WireGuard.open (userspace)`,
    );
    await download(wg, peer.innerV4, 1 << 20); // the handshake and a warm start
    const results = [];
    for (let r = 1; r <= rounds; r++) {
      let peakRss = process.memoryUsage().rss;
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const got = await download(wg, peer.innerV4, bytes);
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(c0);
      clearInterval(sampler);
      if (got !== bytes) throw new Error(`round ${r}: got ${got} of ${bytes} bytes`);
      const gbit = (got * 8) / 1e9;
      const row = {
        round: r,
        gbps: gbit / seconds,
        cpuSecondsPerGbit: (cpu.user + cpu.system) / 1e6 / gbit,
        peakRssMiB: peakRss / 2 ** 20,
      };
      results.push(row);
      console.log(
        `  round ${r}  ${row.gbps.toFixed(3)} Gbit/s  cpu ${row.cpuSecondsPerGbit.toFixed(3)} s/Gbit  peak RSS ${row.peakRssMiB.toFixed(1)} MiB`,
      );
    }
    const summary = {
      medianGbps: median(results.map((x) => x.gbps)),
      medianCpuSecondsPerGbit: median(results.map((x) => x.cpuSecondsPerGbit)),
      peakRssMiB: Math.max(...results.map((x) => x.peakRssMiB)),
    };
    console.log(
      `  median ${summary.medianGbps.toFixed(3)} Gbit/s, ${summary.medianCpuSecondsPerGbit.toFixed(3)} CPU s/Gbit, peak RSS ${summary.peakRssMiB.toFixed(1)} MiB`,
    );
    console.log(JSON.stringify({ peer: peer.impl, bytes, rounds: results, summary }));
  } finally {
    await wg.close();
    await peer.close();
  }
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
