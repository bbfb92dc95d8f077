#!/usr/bin/env node
// Handshake cost in process: complete Noise_IKpsk2 handshakes between two Tunnels (initiation,
// identify, ss + timestamp, response, consume: every DH, KDF and AEAD of both sides), reported as
// handshake pairs per CPU-second (process.cpuUsage, so a busy shared machine skews it less than
// wall time). Each round runs in a fresh child, alternating the trees given, so an A/B runs side by
// side in one invocation:
//
//   node bench/handshake.mjs [--rounds 3] [--seconds 2] [--backend native|node] [ROOT ...]
//
// ROOT is a checkout with dist/ built (default: this one); `native` loads the addon first (the
// daemon's case), `node` does not (X25519 on node:crypto).
import { spawnSync } from 'node:child_process';
import { URL, fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { join, resolve } from 'node:path';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  if (i === -1) return dflt;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const rounds = Number(opt('rounds', '3'));
const seconds = Number(opt('seconds', '2'));
const backend = opt('backend', 'native');

if (process.env.WGTS_HS_CHILD) {
  const root = process.env.WGTS_HS_CHILD;
  const imp = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
  if (backend === 'native') (await imp('src/io/native.js')).loadNative();
  const { Tunnel } = await imp('src/protocol/tunnel.js');
  const { LocalIdentity } = await imp('src/protocol/identity.js');
  const { generatePrivateKey } = await imp('src/crypto/x25519.js');
  const { randomPooled } = await imp('src/crypto/random.js');
  const { tai64nFromMillis } = await imp('src/crypto/tai64n.js');
  const { parseMessage } = await imp('src/protocol/messages.js');
  const a = new LocalIdentity(generatePrivateKey());
  const b = new LocalIdentity(generatePrivateKey());
  let wall = 1_700_000_000_000;
  const timestamp = () => tai64nFromMillis((wall += 1_000));
  const psk = randomPooled(32);
  const ta = new Tunnel({
    identity: a,
    remotePublic: b.keys.publicKey,
    presharedKey: psk,
    timestamp,
    random: randomPooled,
  });
  const tb = new Tunnel({
    identity: b,
    remotePublic: a.keys.publicKey,
    presharedKey: psk,
    timestamp,
    random: randomPooled,
  });
  const packet = new Uint8Array(28);
  packet[0] = 0x45;
  packet[3] = 28;
  let now = 1_000_000;
  const one = () => {
    now += 6_000; // past REKEY_TIMEOUT and the initiation rate limit
    ta.expireSessions();
    const init = ta.encapsulate(packet, now).datagrams.find((d) => parseMessage(d).type === 'initiation');
    const r = tb.decapsulate(init, null, now);
    if (r.kind !== 'toNetwork') throw new Error(`initiation not answered: ${r.reason ?? r.kind}`);
    const resp = r.datagrams[0];
    const done = ta.decapsulate(resp, null, now);
    if (ta.session.keypairs.current === null || done.kind === 'drop') throw new Error('handshake failed');
  };
  for (let i = 0; i < 50; i++) one();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < seconds * 1000) {
    one();
    n++;
  }
  const c = process.cpuUsage(c0);
  process.stdout.write(JSON.stringify({ n, cpuMs: (c.user + c.system) / 1000 }) + '\n');
  process.exit(0);
}

const here = resolve(fileURLToPath(new URL('..', import.meta.url)));
const roots = args.length > 0 ? args.map((r) => resolve(r)) : [here];
const results = new Map(roots.map((r) => [r, []]));
console.log(
  `handshake pairs per CPU-second, backend ${backend}, ${rounds} rounds of ${seconds} s, alternating`,
);
for (let round = 0; round < rounds; round++) {
  for (const root of roots) {
    const r = spawnSync(
      process.execPath,
      [fileURLToPath(import.meta.url), '--seconds', String(seconds), '--backend', backend],
      {
        env: { ...process.env, WGTS_HS_CHILD: root },
        encoding: 'utf8',
      },
    );
    if (r.status !== 0) throw new Error(`${root}: ${r.stderr}`);
    const { n, cpuMs } = JSON.parse(r.stdout);
    const rate = n / (cpuMs / 1000);
    results.get(root).push(rate);
    console.log(
      `  round ${round + 1}  ${root}: ${rate.toFixed(0)} /CPU-s (${n} in ${cpuMs.toFixed(0)} ms CPU)`,
    );
  }
}
for (const [root, rates] of results) {
  const sorted = [...rates].sort((x, y) => x - y);
  console.log(
    `median ${sorted[Math.floor(sorted.length / 2)].toFixed(0)} /CPU-s  ${root}  [${rates.map((x) => x.toFixed(0)).join(', ')}]`,
  );
}
