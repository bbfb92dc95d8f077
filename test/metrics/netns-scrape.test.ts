/**
 * wgtsd's metrics endpoint live, in two network namespaces this test creates (mt-a-PID, mt-b-PID,
 * joined by a veth): wgtsd (WGTS_METRICS) in A, Debian's wireguard-go in B, a handshake and
 * pings between them, then, with the batched data path (default) and the per-packet one
 * (WGTS_OFFLOAD=0):
 *   - Debian's `promtool check metrics` accepts a live scrape;
 *   - the scrape, read with a real text-format parser, equals `wg show IFNAME dump` from the real
 *     wg: bytes both ways, handshake time, endpoint, allowed IPs;
 *   - crafted bad packets from a third peer (crafted-peer.ts: replays, not-IP and bad-length
 *     plaintexts, a disallowed source) and raw datagrams (a bad mac1, an unknown receiver index)
 *     raise the matching wgts_packets_dropped_total counters;
 *   - a second wgtsd asked for the same metrics address fails to start, naming the address, and
 *     leaves no link or socket behind; a bad WGTS_METRICS value fails it before anything exists.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  addAddress,
  cleanup,
  createNamespace,
  deleteNamespace,
  exec,
  execOk,
  ping,
  trackLink,
  waitFor,
} from '../helpers/netns.js';
import {
  genKeyPair,
  interopSkipReason,
  startDaemon,
  wg,
  wgShowDump,
  writeSecretFile,
  type KeyPair,
  type WgDump,
} from '../helpers/wg-peer.js';
import { ipv4 } from '../helpers/pair.js';
import { cleanEnv, socketOf, WGTSD_MAIN } from '../helpers/wgtsd.js';
import { drops, parseScrape, samples, type ParsedFamily } from './parse.js';

const skip = interopSkipReason(['wgtsd', 'wireguard-go'], ['promtool']);
const PEER = fileURLToPath(new URL('../daemon/crafted-peer.js', import.meta.url));
const TAG = process.pid.toString(36);
const METRICS = '127.0.0.1:9586';
const OUTER_A = '10.76.0.1';
const OUTER_B = '10.76.0.2';
const INNER_A = '10.77.0.1';
const INNER_B = '10.77.0.2';
const INNER_C = '10.77.0.3';
const PORT_A = 51820;
const PORT_B = 51821;

let nsA = '';
let nsB = '';
let keysA: KeyPair;
let keysB: KeyPair;
let keysC: KeyPair;
let round = 0;

before(async () => {
  if (skip) return;
  nsA = await createNamespace(`mt-a-${process.pid}`);
  nsB = await createNamespace(`mt-b-${process.pid}`);
  const [vA, vB] = [`mtv${TAG}a`, `mtv${TAG}b`];
  await execOk(null, 'ip', ['-n', nsA, 'link', 'add', vA, 'type', 'veth', 'peer', 'name', vB, 'netns', nsB]);
  trackLink(nsA, vA);
  await addAddress(nsA, vA, `${OUTER_A}/24`);
  await addAddress(nsB, vB, `${OUTER_B}/24`);
  await execOk(nsA, 'ip', ['link', 'set', vA, 'up']);
  await execOk(nsB, 'ip', ['link', 'set', vB, 'up']);
  [keysA, keysB, keysC] = await Promise.all([genKeyPair(), genKeyPair(), genKeyPair()]);
});

after(async () => {
  if (nsA) await deleteNamespace(nsA);
  if (nsB) await deleteNamespace(nsB);
  await cleanup();
});

/** GET http://METRICS/metrics from inside namespace A (where the daemon listens). */
async function scrapeText(): Promise<string> {
  const script =
    `fetch('http://${METRICS}/metrics').then(async (r) => {` +
    `if (r.status !== 200) throw new Error('status ' + r.status); process.stdout.write(await r.text()); })` +
    `.catch((e) => { console.error(String(e)); process.exit(1); })`;
  const r = await exec(nsA, process.execPath, ['-e', script], { timeoutMs: 10_000 });
  assert.equal(r.code, 0, `scrape failed: ${r.stderr}`);
  return r.stdout;
}

/** The wireguard_* values of the peer with `publicKey`, and its label set. */
function peerSample(scrape: Map<string, ParsedFamily>, family: string, publicKey: string) {
  const found = samples(scrape, family).filter((s) => s.labels?.public_key === publicKey);
  assert.equal(found.length, 1, `${family} for ${publicKey}`);
  return found[0]!;
}

/** The wireguard_* families agree with a `wg show dump` of the same moment. */
function assertMatchesDump(scrape: Map<string, ParsedFamily>, dump: WgDump, ifname: string): void {
  assert.equal(samples(scrape, 'wireguard_sent_bytes_total').length, dump.peers.length);
  for (const p of dump.peers) {
    const labels: Record<string, string> = {
      interface: ifname,
      public_key: p.publicKey,
      allowed_ips: p.allowedIps.length === 0 ? '(none)' : p.allowedIps.join(','),
    };
    if (p.endpoint !== null) {
      const m = /^\[?([^\]]+)\]?:(\d+)$/.exec(p.endpoint)!;
      labels.remote_ip = m[1]!;
      labels.remote_port = m[2]!;
    }
    const sent = peerSample(scrape, 'wireguard_sent_bytes_total', p.publicKey);
    assert.deepEqual(sent.labels, labels);
    assert.equal(Number(sent.value), p.txBytes, 'sent bytes');
    assert.equal(Number(peerSample(scrape, 'wireguard_received_bytes_total', p.publicKey).value), p.rxBytes);
    assert.equal(
      Number(peerSample(scrape, 'wireguard_latest_handshake_seconds', p.publicKey).value),
      p.latestHandshake,
    );
  }
}

/** A crafted-peer plaintext, as hex. */
const hex = (p: Uint8Array): string => Buffer.from(p).toString('hex');
const b64ToHex = (k: string): string => Buffer.from(k, 'base64').toString('hex');

/** Sends raw datagrams from namespace B to wgtsd: a bad-mac1 initiation and an unknown index. */
async function sendGarbage(): Promise<void> {
  const script = `
    const s = require('node:dgram').createSocket('udp4');
    const init = Buffer.alloc(148, 7); init.writeUInt32LE(1, 0);
    const data = Buffer.alloc(64, 9); data.writeUInt32LE(4, 0); data.writeUInt32LE(0xfeedbeef, 4);
    s.send(init, ${PORT_A}, '${OUTER_A}', () => s.send(data, ${PORT_A}, '${OUTER_A}', () => s.close()));`;
  const r = await exec(nsB, process.execPath, ['-e', script], { timeoutMs: 10_000 });
  assert.equal(r.code, 0, r.stderr);
}

for (const offload of ['1', '0'] as const) {
  const path = offload === '1' ? 'batched' : 'per-packet';
  test(`metrics of a live wgtsd (${path} data path) against wg and promtool`, { skip }, async () => {
    round++;
    const ifA = `mtwg${TAG}${round}`;
    const ifB = `mtwb${TAG}${round}`;
    const env = { WGTS_METRICS: METRICS, WGTS_OFFLOAD: offload, WGTS_WARMUP: '0' };
    const a = await startDaemon(nsA, { impl: 'wgtsd', ifname: ifA, env });
    const b = await startDaemon(nsB, { impl: 'wireguard-go', ifname: ifB });
    try {
      // prettier-ignore
      await wg(nsA, [
        'set', ifA, 'listen-port', String(PORT_A), 'private-key', writeSecretFile(keysA.privateKey),
        'peer', keysB.publicKey, 'endpoint', `${OUTER_B}:${PORT_B}`, 'allowed-ips', `${INNER_B}/32,fd77::2/128`,
        'peer', keysC.publicKey, 'allowed-ips', `${INNER_C}/32`,
      ]);
      // prettier-ignore
      await wg(nsB, [
        'set', ifB, 'listen-port', String(PORT_B), 'private-key', writeSecretFile(keysB.privateKey),
        'peer', keysA.publicKey, 'endpoint', `${OUTER_A}:${PORT_A}`, 'allowed-ips', `${INNER_A}/32`,
      ]);
      await addAddress(nsA, ifA, `${INNER_A}/24`);
      await addAddress(nsB, ifB, `${INNER_B}/24`);
      await execOk(nsA, 'ip', ['link', 'set', ifA, 'up']);
      await execOk(nsB, 'ip', ['link', 'set', ifB, 'up']);
      const pinged = await ping(nsA, INNER_B, { count: 3, deadlineS: 10 });
      assert.ok(pinged.received >= 3, `ping through the tunnel: ${pinged.output}\n${a.output()}`);

      // (1) promtool accepts a live scrape.
      const text = await scrapeText();
      const check = await exec(null, 'promtool', ['check', 'metrics'], { input: text, timeoutMs: 20_000 });
      assert.equal(check.code, 0, `promtool check metrics:\n${check.stdout}${check.stderr}`);

      // (2) The scrape equals wg's dump of the same moment: a scrape between two equal dumps.
      let compared = false;
      await waitFor(
        async () => {
          const before = await wgShowDump(nsA, ifA);
          const scrape = parseScrape(await scrapeText());
          const after = await wgShowDump(nsA, ifA);
          if (JSON.stringify(before) !== JSON.stringify(after)) return false;
          assertMatchesDump(scrape, after, ifA);
          const peerB = after.peers.find((p) => p.publicKey === keysB.publicKey)!;
          assert.ok(peerB.rxBytes > 0 && peerB.txBytes > 0 && peerB.latestHandshake > 0);
          compared = true;
          return true;
        },
        { timeoutMs: 20_000, intervalMs: 200, what: 'a quiet moment to compare scrape and dump' },
      );
      assert.ok(compared);

      // (3) Drop counters rise for crafted bad packets.
      const start = drops(parseScrape(await scrapeText()));
      const good = ipv4(INNER_C, INNER_A, 8);
      const badLength = Uint8Array.from(good);
      badLength[3] = 200; // total length past the plaintext
      const plan = {
        steps: [
          { plaintexts: [hex(good)] },
          { plaintexts: [hex(good)], repeat: 3 },
          { plaintexts: [hex(Uint8Array.of(0x50, ...good.subarray(1)))] },
          { plaintexts: [hex(badLength)] },
          { plaintexts: [hex(ipv4('10.99.0.9', INNER_A, 8))] },
        ],
      };
      const r = await exec(
        nsB,
        process.execPath,
        [PEER, OUTER_A, String(PORT_A), b64ToHex(keysA.publicKey), b64ToHex(keysC.privateKey)],
        { input: JSON.stringify(plan), timeoutMs: 20_000 },
      );
      assert.equal(r.code, 0, `crafted peer: ${r.stderr}`);
      await sendGarbage();
      const rose = (d: Record<string, number>, reason: string, n: number): boolean =>
        d[reason]! - start[reason]! >= n;
      let last: Record<string, number> = {};
      await waitFor(
        async () => {
          last = drops(parseScrape(await scrapeText()));
          return (
            rose(last, 'replay', 2) &&
            rose(last, 'not-ip', 1) &&
            rose(last, 'bad-ip-length', 1) &&
            rose(last, 'disallowed-source', 1) &&
            rose(last, 'bad-mac1', 1) &&
            rose(last, 'unknown-index', 1)
          );
        },
        { timeoutMs: 10_000, intervalMs: 100, what: 'the drop counters to rise' },
      ).catch((err: Error) => {
        throw new Error(`${err.message}: before ${JSON.stringify(start)} after ${JSON.stringify(last)}`);
      });
      const final = parseScrape(await scrapeText());
      const completed = samples(final, 'wgts_handshakes_completed_total')[0]!;
      assert.ok(Number(completed.value) >= 2, 'handshakes with B and C');

      // (4) A second daemon asked for the same address fails whole, naming the address.
      const second = `mtwx${TAG}${round}`;
      const refused = await exec(nsA, process.execPath, [WGTSD_MAIN, '-f', second], {
        env: cleanEnv({ WGTS_METRICS: METRICS, WGTS_WARMUP: '0' }),
        timeoutMs: 20_000,
      });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /cannot serve metrics on 127\.0\.0\.1:9586: address already in use/);
      assert.equal(existsSync(socketOf(second)), false, 'no UAPI socket left');
      const link = await exec(nsA, 'ip', ['link', 'show', second]);
      assert.notEqual(link.code, 0, 'no TUN left');
      assert.equal((await scrapeText()).length > 0, true, 'the first daemon still serves');
    } finally {
      await a.stop();
      await b.stop();
    }
  });
}

test('a bad WGTS_METRICS value stops wgtsd before it creates anything', { skip }, async () => {
  const name = `mtwy${TAG}`;
  const r = await exec(nsA, process.execPath, [WGTSD_MAIN, '-f', name], {
    env: cleanEnv({ WGTS_METRICS: '[::1:9586' }),
    timeoutMs: 20_000,
  });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /invalid WGTS_METRICS value '\[::1:9586'/);
  assert.notEqual((await exec(nsA, 'ip', ['link', 'show', name])).code, 0);
  assert.equal(existsSync(socketOf(name)), false);
});
