// The two kinds of candidate for the rootless benchmark (bench/proxy.mjs), each with its own tunnel
// peer fixture (dist/test/helpers/tunnel-peer.js): a proxy command run from a template in this
// namespace, and the kernel baseline (wgtsd on a kernel TUN in a namespace + bench/socks5.mjs).
// A candidate is { name, command, ns, socks, peer, pids, ready, error }: `ns` is where its clients
// run (null: here), `socks` the SOCKS5 address, `pids` the processes whose CPU and memory count.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout } from 'node:timers';
import { URL, fileURLToPath } from 'node:url';
import { createNamespace, sleep, spawn, trackPath, uniqueName } from '../dist/test/helpers/netns.js';
import { genKeyPair, startDaemon } from '../dist/test/helpers/wg-peer.js';
import { socks5Section, startTunnelPeer, tfIfname } from '../dist/test/helpers/tunnel-peer.js';
import { applyWgQuick } from '../dist/test/helpers/wg-quick-apply.js';
import { wgtsdEnv } from './lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function accepts(host, port) {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok) => (s.destroy(), resolve(ok));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    setTimeout(() => done(false), 1_000).unref();
  });
}

export async function setupProxy(template) {
  const keys = await genKeyPair();
  const peer = await startTunnelPeer({ ourPublicKey: keys.publicKey });
  const socks = `127.0.0.1:${await freePort()}`;
  const dir = mkdtempSync(join(tmpdir(), 'nspf-bench-'));
  trackPath(dir);
  const config = join(dir, 'wireproxy.conf');
  const wgquick = join(dir, 'wg0.conf');
  writeFileSync(config, peer.wireproxyConfig(keys.privateKey, [socks5Section(socks)]), { mode: 0o600 });
  writeFileSync(wgquick, peer.wgQuickConfig(keys.privateKey), { mode: 0o600 });
  const argv = template
    .trim()
    .split(/\s+/)
    .map((a) =>
      a.replaceAll('{config}', config).replaceAll('{wgquick}', wgquick).replaceAll('{socks}', socks),
    );
  const cmd = argv[0] === 'node' ? process.execPath : argv[0];
  const cand = { name: 'proxy', command: argv.join(' '), ns: null, socks, peer, ready: false, error: null };
  const proc = spawn(null, cmd, argv.slice(1));
  cand.pids = [proc.pid];
  // Not waitFor: a command that exits at once (not implemented yet) should fail at once.
  const deadline = Date.now() + 15_000;
  while (!cand.ready && !proc.hasExited() && Date.now() < deadline) {
    cand.ready = await accepts('127.0.0.1', Number(socks.split(':')[1]));
    if (!cand.ready) await sleep(100);
  }
  if (!cand.ready) {
    const info = proc.exitInfo();
    const why =
      info === null ? `not listening on ${socks} after 15 s` : `exited (${info.code ?? info.signal})`;
    await proc.stop();
    cand.error = `${why}: ${proc.output().trim().split('\n').slice(0, 3).join(' | ')}`;
  }
  return cand;
}

export async function setupBaseline() {
  const keys = await genKeyPair();
  const ns = await createNamespace(uniqueName('nspf-bench'));
  const peer = await startTunnelPeer({ ourPublicKey: keys.publicKey, hostNs: ns });
  const daemon = await startDaemon(ns, { impl: 'wgtsd', ifname: tfIfname('b'), env: wgtsdEnv() });
  await applyWgQuick(ns, daemon.ifname, peer.wgQuickConfig(keys.privateKey, { omitDns: true }));
  const socks = '127.0.0.1:1080';
  const server = spawn(ns, process.execPath, [join(ROOT, 'bench', 'socks5.mjs'), '--listen', socks]);
  await server.waitForOutput(/"event":"listening"/, 10_000);
  const command = `wgtsd -f ${daemon.ifname} + node bench/socks5.mjs --listen ${socks} (in ${ns})`;
  return {
    name: 'kernel TUN + wgtsd',
    command,
    ns,
    socks,
    peer,
    pids: [daemon.proc.pid, server.pid],
    ready: true,
    error: null,
  };
}
