/**
 * Silence toward unauthenticated datagrams on a live wgtsd (TEST-PLAN "Silence, replay and
 * floods"): from the peer's namespace, a plain UDP socket sends wgtsd's port garbage of every size
 * (0, 1, 3, 4, 31, 147/149, 91/93, 63/65 bytes, random and with each message type), unknown types,
 * reserved bytes set, bad mac1s, initiations with a valid mac1 but garbage or low-order ephemerals,
 * and cookie replies and transport messages for indices nobody owns, over IPv4 and IPv6. The socket
 * then listens for a second and must receive nothing; a capture on wgtsd's side of the veth must
 * see nothing leave its port except to the real peer; and the tunnel (wgtsd ↔ wgtsd) keeps working.
 *
 * Needs root, wgtsd built, wg, ip, ping and tcpdump; skips otherwise.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mac } from '../../src/crypto/blake2s.js';
import { mac1Key } from '../../src/protocol/cookie.js';
import { LOW_ORDER_POINTS } from '../helpers/fuzz.js';
import { cleanup, exec, ping, spawn, waitFor } from '../helpers/netns.js';
import { createTwoNodeTopology, interopSkipReason, type TwoNodeTopology } from '../helpers/wg-peer.js';
import { alive } from '../helpers/wgtsd.js';

const skip = interopSkipReason(['wgtsd'], ['ping', 'tcpdump']);

let topo: TwoNodeTopology | null = null;

before(async () => {
  if (skip) return;
  topo = await createTwoNodeTopology({ implA: 'wgtsd', implB: 'wgtsd' });
  const { a, b } = topo;
  await waitFor(async () => (await ping(b.ns, a.innerV4, { waitS: 1 })).ok, {
    timeoutMs: 8_000,
    intervalMs: 0,
    what: 'a first ping through the tunnel',
  });
});

after(async () => {
  await topo?.teardown();
  await cleanup();
});

/** Sends hex datagrams (stdin, one per line, `-` for empty) to HOST PORT, then listens WAIT ms. */
const SENDER = `
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
const [host, port, waitMs] = process.argv.slice(1);
const list = readFileSync(0, 'utf8').split('\\n').filter((l) => l !== '').map((h) => (h === '-' ? Buffer.alloc(0) : Buffer.from(h, 'hex')));
const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
const got = [];
s.on('message', (m, r) => got.push({ length: m.length, first: m[0] ?? null, from: r.address + ':' + r.port }));
s.on('error', (e) => { console.error(e.message); process.exit(2); });
s.bind(0, async () => {
  for (const d of list) await new Promise((resolve, reject) => s.send(d, Number(port), host, (e) => (e ? reject(e) : resolve())));
  setTimeout(() => { console.log(JSON.stringify({ sent: list.length, port: s.address().port, got })); s.close(); }, Number(waitMs));
});
`;

const LE = (type: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(type >>> 0);
  return b;
};

function typed(type: number, size: number): Buffer {
  const m = randomBytes(size);
  LE(type).copy(m, 0, 0, Math.min(4, size));
  return m;
}

/** An initiation to `publicKey` with random contents and a valid mac1 (mac2 zero). */
function validMac1Initiation(publicKey: Uint8Array, ephemeral?: Uint8Array, type = 1): Buffer {
  const m = typed(type, 148);
  if (ephemeral) Buffer.from(ephemeral).copy(m, 8);
  m.fill(0, 132);
  Buffer.from(mac(mac1Key(publicKey), m.subarray(0, 116))).copy(m, 116);
  return m;
}

function junk(publicKey: Uint8Array): Buffer[] {
  const out: Buffer[] = [];
  for (const size of [0, 1, 3, 4, 31, 147, 149, 91, 93, 63, 65, 32, 148, 92, 64, 1400]) {
    out.push(randomBytes(size));
    if (size >= 4) for (const type of [1, 2, 3, 4]) out.push(typed(type, size));
  }
  for (const type of [0, 5, 0xff, 0xffffffff]) out.push(typed(type, 148), typed(type, 92), typed(type, 32));
  // Reserved bytes set on otherwise well-formed, valid-mac1 initiations.
  for (const type of [0x101, 0x10001, 0x1000001]) out.push(validMac1Initiation(publicKey, undefined, type));
  // Bad mac1: an initiation and a response of the right size.
  out.push(typed(1, 148), typed(2, 92));
  // Valid mac1, garbage ephemeral / low-order ephemerals.
  out.push(validMac1Initiation(publicKey));
  for (const point of LOW_ORDER_POINTS) out.push(validMac1Initiation(publicKey, point));
  // A cookie reply and transport messages for indices nobody owns.
  out.push(typed(3, 64), typed(4, 32), typed(4, 200));
  return out;
}

describe('wgtsd stays silent toward unauthenticated datagrams', { skip }, () => {
  for (const family of ['v4', 'v6'] as const) {
    test(`garbage, unknown types, bad macs over ${family}: no reply, nothing captured, the tunnel carries on`, async () => {
      const { a, b } = topo!;
      const host = family === 'v4' ? a.outerV4 : a.outerV6;
      const publicKey = new Uint8Array(Buffer.from(a.keys.publicKey, 'base64'));
      const datagrams = junk(publicKey);
      // Anything leaving wgtsd's port for somewhere other than its peer's port is a reply to junk.
      const capture = spawn(a.ns, 'tcpdump', [
        '-i',
        a.vethIf,
        '-nn',
        '-l',
        'udp',
        'and',
        'src',
        'port',
        String(a.listenPort),
        'and',
        'not',
        'dst',
        'port',
        String(b.listenPort),
      ]);
      await capture.waitForOutput(/listening on/, 5_000);
      const r = await exec(
        b.ns,
        process.execPath,
        ['--input-type=module', '-e', SENDER, host, String(a.listenPort), '1000'],
        {
          input: datagrams.map((d) => (d.length === 0 ? '-' : d.toString('hex'))).join('\n') + '\n',
          timeoutMs: 10_000,
        },
      );
      assert.equal(r.code, 0, r.stderr);
      const result = JSON.parse(r.stdout) as { sent: number; got: unknown[] };
      assert.equal(result.sent, datagrams.length);
      assert.deepEqual(result.got, [], 'the sending socket received nothing in 1 s');
      await capture.stop({ signal: 'SIGINT' });
      const captured = /(\d+) packets? captured/.exec(capture.output());
      assert.ok(captured, capture.output());
      assert.equal(Number(captured[1]), 0, capture.output());
      // The daemon is alive and the tunnel works both ways.
      assert.ok(alive(a.daemon.proc.pid));
      assert.equal((await ping(b.ns, a.innerV4, { count: 2, intervalS: 0.2 })).received, 2);
      assert.equal((await ping(a.ns, b.innerV6, { count: 2, intervalS: 0.2 })).received, 2);
      const dump = await a.dump();
      assert.equal(dump.peers.length, 1);
      assert.equal(dump.peers[0]!.endpoint, b.endpoint, 'no junk moved the endpoint');
    });
  }
});
