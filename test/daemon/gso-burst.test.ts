/**
 * 128-segment UDP GSO bursts from an authenticated peer (issue 11: "It can be crashed"). The
 * batched receive path reads 64 slots per batch, each up to 128 GRO segments: up to 8,192
 * transport packets, twice what its TUN write list holds. Before the list was flushed when full,
 * such a batch threw inside the reader callback and wgtsd exited, leaving a stale socket and no
 * TUN.
 *
 * A peer built from our own core (crafted-peer.ts) completes a handshake with a live wgtsd, stops
 * the daemon (SIGSTOP), sends 48 bursts of 128 sealed 496-byte datagrams (6,144 packets, all in
 * the socket's queue at once), and continues it, so they arrive as one receive batch. The daemon
 * must stay up and write every packet to its TUN, counted by the link's rx_packets: packets the
 * kernel itself dropped for want of socket buffer (UDP RcvbufErrors in the daemon's namespace) are
 * the only ones allowed to be missing. Both data paths: the batched one (offloads on) and the
 * per-packet one (WGTS_OFFLOAD=0, where the kernel splits the bursts before the socket).
 *
 * Needs root, a built wgtsd, wg, ip and python3 (to set UDP_SEGMENT); skips otherwise.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { toHex } from '../../src/crypto/bytes.js';
import {
  cleanup,
  createNamespace,
  createVethPair,
  deleteNamespace,
  exec,
  execOk,
  uniqueName,
} from '../helpers/netns.js';
import { configureInterface, genKeyPair, interopSkipReason, startDaemon, wg } from '../helpers/wg-peer.js';
import { alive } from '../helpers/wgtsd.js';

const skip = interopSkipReason(['wgtsd'], ['python3']);
const PEER = fileURLToPath(new URL('./crafted-peer.js', import.meta.url));
const PORT = 51820;
const BURSTS = 48;
const SEGMENTS = 128;

let nsA = '';
let nsB = '';

before(async () => {
  if (skip) return;
  nsA = await createNamespace(uniqueName('gsa'));
  nsB = await createNamespace(uniqueName('gsb'));
  await createVethPair(nsA, nsB, { v4: ['10.253.0.1/24', '10.253.0.2/24'] });
});

after(async () => {
  if (nsA) await deleteNamespace(nsA);
  if (nsB) await deleteNamespace(nsB);
  await cleanup();
});

/** A UDP/IPv4 packet of `total` bytes from 10.250.0.2 to 10.250.0.1:port (checksum left 0). */
function udp4(port: number, total: number): Uint8Array {
  const p = new Uint8Array(total);
  p.set([0x45, 0, total >> 8, total & 0xff, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 250, 0, 2, 10, 250, 0, 1]);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (p[i]! << 8) | p[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  p[10] = (~sum >> 8) & 0xff;
  p[11] = ~sum & 0xff;
  const udpLength = total - 20;
  p.set([0x9c, 0x40, port >> 8, port & 0xff, udpLength >> 8, udpLength & 0xff, 0, 0], 20);
  return p;
}

async function counter(ns: string, path: string): Promise<number> {
  return Number((await execOk(ns, 'cat', [path])).stdout.trim());
}

async function rcvbufErrors(ns: string): Promise<number> {
  const text = (await execOk(ns, 'cat', ['/proc/net/snmp'])).stdout.split('\n');
  const names = text.find((l) => l.startsWith('Udp: InDatagrams'))!.split(/\s+/);
  const values = text.filter((l) => l.startsWith('Udp: '))[1]!.split(/\s+/);
  return Number(values[names.indexOf('RcvbufErrors')]);
}

for (const offload of ['1', '0']) {
  test(
    `wgtsd (offloads ${offload === '1' ? 'on' : 'off'}) survives 128-segment GSO bursts and delivers them`,
    { skip },
    async () => {
      const keysA = await genKeyPair();
      const keysB = await genKeyPair();
      const daemon = await startDaemon(nsA, { impl: 'wgtsd', env: { WGTS_OFFLOAD: offload } });
      try {
        const ifname = daemon.ifname;
        await configureInterface(daemon, {
          privateKey: keysA.privateKey,
          listenPort: PORT,
          addresses: ['10.250.0.1/24'],
          peers: [{ publicKey: keysB.publicKey, allowedIps: ['10.250.0.2/32'] }],
        });
        // 448-byte packets seal to 496-byte datagrams: 128 of them fit one 64 KB GSO burst.
        const plaintexts = Array.from({ length: BURSTS * SEGMENTS }, (_, i) =>
          toHex(udp4(30000 + (i % 1000), 448)),
        );
        const plan = { steps: [{ plaintexts, gso: SEGMENTS, stopPid: daemon.proc.pid }] };
        const rxPath = `/sys/class/net/${ifname}/statistics/rx_packets`;
        const rxBefore = await counter(nsA, rxPath);
        const dropsBefore = await rcvbufErrors(nsA);
        const b64ToHex = (k: string): string => Buffer.from(k, 'base64').toString('hex');
        const r = await exec(
          nsB,
          process.execPath,
          [PEER, '10.253.0.1', String(PORT), b64ToHex(keysA.publicKey), b64ToHex(keysB.privateKey)],
          { input: JSON.stringify(plan), timeoutMs: 60_000 },
        );
        assert.equal(r.code, 0, `crafted peer: ${r.stderr}`);
        const sent = BURSTS * SEGMENTS;
        // Wait (bounded) until the TUN has seen all that the socket kept, or the daemon died.
        let delivered = 0;
        let dropped = 0;
        const deadline = Date.now() + 20_000;
        for (;;) {
          assert.ok(alive(daemon.proc.pid), `wgtsd exited: ${daemon.output().trim().slice(-600)}`);
          delivered = (await counter(nsA, rxPath)) - rxBefore;
          dropped = (await rcvbufErrors(nsA)) - dropsBefore;
          if (delivered + dropped >= sent || Date.now() > deadline) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assert.equal(delivered + dropped, sent, `delivered ${delivered}, dropped by the kernel ${dropped}`);
        assert.ok(delivered > 4096, `only ${delivered} delivered: the burst did not exercise a full list`);
        // Still serving: the UAPI answers and the peer's bytes were counted.
        const dump = (await wg(nsA, ['show', ifname, 'dump'])).stdout.trim().split('\n');
        assert.ok(Number(dump[1]!.split('\t')[5]) > sent * 496 * 0.5, `rx bytes: ${dump[1]}`);
      } finally {
        await daemon.stop();
      }
    },
  );
}
