/**
 * What wgtsd's batched receive path (src/device/fast-path.ts) lets through to its TUN, on a live
 * daemon (TEST-PLAN "Bad input at the edges", inner packets; "Silence, replay and floods", replayed
 * transport). A peer built from the package's own core (crafted-peer.ts) completes a real
 * handshake from the other namespace and then seals plaintexts of its choosing; a tcpdump on
 * wgtsd's interface counts what reaches the TUN, by UDP destination port:
 *
 * - well-formed IPv4 and IPv6 packets arrive once each, padding trimmed — alone, and as 40 back to
 *   back (one receive batch, one open run);
 * - the same sealed datagram sent three times in a row arrives once (replay within a run);
 * - a plaintext that is not IP (version 5), a truncated IPv4 header, an IPv4 total length past the
 *   plaintext or below its header length, an IPv6 payload length past the plaintext, and a source
 *   outside the peer's allowed IPs are all written nowhere — also when mixed between good ones;
 * - the initiation and transport datagrams, replayed from another source port afterwards (an
 *   attacker with a capture), draw no reply, write nothing to the TUN and do not move the peer's
 *   endpoint;
 * - the daemon is alive afterwards and counted the peer's bytes.
 *
 * Needs root, a built wgtsd, wg, ip and tcpdump; skips otherwise.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { toHex } from '../../src/crypto/bytes.js';
import {
  addAddress,
  cleanup,
  createNamespace,
  createVethPair,
  deleteNamespace,
  exec,
  execOk,
  uniqueName,
} from '../helpers/netns.js';
import {
  genKeyPair,
  interopSkipReason,
  startDaemon,
  wg,
  writeSecretFile,
  type Daemon,
} from '../helpers/wg-peer.js';
import { alive } from '../helpers/wgtsd.js';
import { startCapture } from '../hostile/harness.js';

const skip = interopSkipReason(['wgtsd'], ['tcpdump']);
const PEER = fileURLToPath(new URL('./crafted-peer.js', import.meta.url));

const INNER_A = [10, 251, 0, 1];
const INNER_B = [10, 251, 0, 2];
const INNER6_A = hexWords('fd00:251::1');
const INNER6_B = hexWords('fd00:251::2');
const PORT = 51820;

let nsA = '';
let nsB = '';
let daemon: Daemon | null = null;

before(async () => {
  if (skip) return;
  nsA = await createNamespace(uniqueName('fpa'));
  nsB = await createNamespace(uniqueName('fpb'));
  await createVethPair(nsA, nsB, { v4: ['10.252.0.1/24', '10.252.0.2/24'] });
});

after(async () => {
  await daemon?.stop();
  if (nsA) await deleteNamespace(nsA);
  if (nsB) await deleteNamespace(nsB);
  await cleanup();
});

/** The 16 bytes of an IPv6 address written with `::`. */
function hexWords(text: string): number[] {
  const [head, tail] = text.split('::') as [string, string];
  const words = (s: string): number[] => (s === '' ? [] : s.split(':').map((w) => parseInt(w, 16)));
  const h = words(head);
  const t = words(tail);
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  return all.flatMap((w) => [w >> 8, w & 0xff]);
}

function ipv4Checksum(h: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (h[i]! << 8) | h[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IPv4 UDP packet to `dport` with `payload` bytes; `total` overrides the stated length. */
function udp4(src: number[], dport: number, payload = 8, total?: number): Uint8Array {
  const p = new Uint8Array(28 + payload);
  const length = total ?? p.length;
  p.set([0x45, 0, length >> 8, length & 0xff, 0, 1, 0x40, 0, 64, 17, 0, 0, ...src, ...INNER_A]);
  p.set([0x9c, 0x40, dport >> 8, dport & 0xff, (8 + payload) >> 8, (8 + payload) & 0xff, 0, 0], 20);
  const c = ipv4Checksum(p);
  p[10] = c >> 8;
  p[11] = c & 0xff;
  return p;
}

/** An IPv6 UDP packet to `dport`; `payloadLength` overrides the stated one. Checksum left 0. */
function udp6(dport: number, payload = 8, payloadLength?: number): Uint8Array {
  const p = new Uint8Array(48 + payload);
  const stated = payloadLength ?? 8 + payload;
  p.set([0x60, 0, 0, 0, stated >> 8, stated & 0xff, 17, 64, ...INNER6_B, ...INNER6_A]);
  p.set([0x9c, 0x40, dport >> 8, dport & 0xff, (8 + payload) >> 8, (8 + payload) & 0xff, 0, 0], 40);
  return p;
}

const hex = (p: Uint8Array): string => toHex(p);
const b64ToHex = (k: string): string => Buffer.from(k, 'base64').toString('hex');

test(
  'the batched receive path writes only whole, allowed IP packets to the TUN, each once',
  { skip },
  async () => {
    const keysA = await genKeyPair();
    const keysB = await genKeyPair();
    daemon = await startDaemon(nsA, { impl: 'wgtsd' });
    const ifname = daemon.ifname;
    await wg(nsA, [
      'set',
      ifname,
      'listen-port',
      String(PORT),
      'private-key',
      writeSecretFile(keysA.privateKey),
      'peer',
      keysB.publicKey,
      'allowed-ips',
      '10.251.0.2/32,fd00:251::2/128',
    ]);
    await addAddress(nsA, ifname, '10.251.0.1/24');
    await execOk(nsA, 'ip', ['link', 'set', 'dev', ifname, 'up']);

    const good = (port: number, extra = 0): string =>
      hex(new Uint8Array([...udp4(INNER_B, port), ...new Uint8Array(extra)]));
    const plan = {
      steps: [
        { plaintexts: [good(40001)] },
        { plaintexts: [good(40002, 7)] }, // padding past the IP length: trimmed, delivered
        { plaintexts: [good(40003)], repeat: 3 }, // the same datagram three times
        {
          plaintexts: [
            hex(udp4(INNER_B, 40004, 8, 200)), // total length past the plaintext
            hex(udp4(INNER_B, 40005, 8, 12)), // total length below the header length
            hex(udp4(INNER_B, 40006).subarray(0, 12)), // truncated header
            hex(Uint8Array.of(0x50, ...udp4(INNER_B, 40007).subarray(1))), // version 5
            hex(udp6(40008, 8, 400)), // IPv6 payload length past the plaintext
            hex(udp4([10, 99, 0, 9], 40009)), // source outside the allowed IPs
          ],
        },
        { plaintexts: [hex(udp6(40010))] },
        // One run: good and bad mixed, then 40 good ones back to back.
        {
          plaintexts: [
            good(40011),
            hex(udp4(INNER_B, 40012, 8, 300)),
            good(40013),
            hex(udp4([10, 251, 0, 3], 40014)),
            good(40015),
            ...Array.from({ length: 40 }, (_, i) => good(40100 + i)),
          ],
        },
      ],
    };
    const expected = new Map<number, number>();
    for (const p of [40001, 40002, 40003, 40010, 40011, 40013, 40015]) expected.set(p, 1);
    for (let i = 0; i < 40; i++) expected.set(40100 + i, 1);

    const capture = await startCapture(
      nsA,
      ifname,
      // What wgtsd writes, not what the kernel sends back (port unreachables, IPv6 chatter).
      'not src host 10.251.0.1 and not (ip6 and (src net fe80::/10 or src host fd00:251::1))',
    );
    const r = await exec(
      nsB,
      process.execPath,
      [PEER, '10.252.0.1', String(PORT), b64ToHex(keysA.publicKey), b64ToHex(keysB.privateKey)],
      { input: JSON.stringify(plan), timeoutMs: 20_000 },
    );
    assert.equal(r.code, 0, `crafted peer: ${r.stderr}`);
    const report = JSON.parse(r.stdout) as {
      handshake: boolean;
      port: number;
      replayPort: number;
      replayed: number;
      repliesToReplay: number;
    };
    assert.equal(report.handshake, true);
    assert.ok(report.replayed >= 2 && report.replayPort !== report.port, JSON.stringify(report));
    assert.equal(report.repliesToReplay, 0, 'a replayed initiation or transport datagram drew a reply');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const captured = await capture.stop();
    const lines = capture.proc.output().split('\n');
    const seen = new Map<number, number>();
    for (const line of lines) {
      const m = /> (?:10\.251\.0\.1|fd00:251::1)\.(\d+): UDP/.exec(line);
      if (m) seen.set(Number(m[1]), (seen.get(Number(m[1])) ?? 0) + 1);
    }
    assert.deepEqual(
      [...seen.entries()].sort((x, y) => x[0] - y[0]),
      [...expected.entries()].sort((x, y) => x[0] - y[0]),
      `what reached the TUN:\n${lines.filter((l) => l.includes('>') || l.includes('IP')).join('\n')}`,
    );
    assert.equal(
      captured,
      [...expected.values()].reduce((a, b) => a + b, 0),
      'packets on the TUN in all',
    );
    assert.ok(alive(daemon.proc.pid));
    const dump = (await wg(nsA, ['show', ifname, 'dump'])).stdout.trim().split('\n');
    const peer = dump[1]!.split('\t');
    assert.equal(peer[2], `10.252.0.2:${report.port}`, 'the replay from another port moved the endpoint');
    assert.ok(Number(peer[4]) > 0, 'latest handshake set');
    assert.ok(Number(peer[5]) > 0, 'rx bytes counted');
  },
);
