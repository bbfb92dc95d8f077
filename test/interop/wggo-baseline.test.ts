/**
 * Proves the interop harness on the reference pair: Debian's wireguard-go ↔ wireguard-go, each in
 * its own network namespace, configured with the real `wg`. What passes here is what the wgts
 * interop tests will demand of wgtsd (swap `implA`/`implB`).
 *
 * Covered: handshake and pings both ways over inner v4 and v6, with outer v4 and v6 endpoints, with
 * and without a psk (one case also via persistent keepalive with no traffic); DF pings exactly at
 * the tunnel MTU and one byte over; `wg show dump` on both sides; a mismatched-psk negative control;
 * 50 MB of TCP (v4) and 5 MB (v6) with sha256 compared end to end; RTT and iperf3 throughput
 * reported as diagnostics; and that teardown leaves nothing behind.
 *
 * Needs root, wireguard-go, wg, ip, ping (and iperf3 for the throughput test); skips otherwise.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cleanup,
  exec,
  ping,
  spawn,
  spawnedPids,
  tracked,
  waitFor,
  waitForTcpListen,
  which,
} from '../helpers/netns.js';
import {
  createTwoNodeTopology,
  genPsk,
  interopSkipReason,
  wg,
  writeSecretFile,
  type TunnelNode,
  type TwoNodeOptions,
  type TwoNodeTopology,
  type WgDump,
} from '../helpers/wg-peer.js';
import { tcpTransfer } from './tcp-transfer.js';
import { assertNothingLeft } from './checks.js';

const skip = interopSkipReason(['wireguard-go'], ['ping', 'ss']);
const skipPerf = skip || (which('iperf3') === null ? 'iperf3 not on PATH' : false);

after(async () => {
  await cleanup();
});

/** Runs `fn` on a fresh topology, always tears it down, and adds the daemons' logs to a failure. */
async function withTopology(
  opts: TwoNodeOptions,
  fn: (topo: TwoNodeTopology) => Promise<void>,
): Promise<void> {
  const topo = await createTwoNodeTopology(opts);
  try {
    await fn(topo);
  } catch (err) {
    if (err instanceof Error) err.message += `\n${topo.logs()}`;
    throw err;
  } finally {
    await topo.teardown();
  }
}

/** Pings until the first reply (the first packet starts the handshake), bounded by 8 s. */
async function firstPing(from: TunnelNode, to: string): Promise<void> {
  await waitFor(async () => (await ping(from.ns, to, { waitS: 1 })).ok, {
    timeoutMs: 8_000,
    intervalMs: 0,
    what: `a first ping ${from.name} → ${to}`,
  });
}

function checkDump(topo: TwoNodeTopology, self: TunnelNode, other: TunnelNode, dump: WgDump): void {
  const where = `wg show ${self.ifname} dump (${self.name})`;
  assert.equal(dump.publicKey, self.keys.publicKey, where);
  assert.equal(dump.privateKey, self.keys.privateKey, where);
  assert.equal(dump.listenPort, self.listenPort, where);
  assert.equal(dump.peers.length, 1, where);
  const peer = dump.peers[0]!;
  assert.equal(peer.publicKey, other.keys.publicKey, where);
  assert.equal(peer.presharedKey, topo.psk, where);
  assert.equal(peer.endpoint, other.endpoint, where);
  assert.deepEqual(
    [...peer.allowedIps].sort(),
    [`${other.innerV4}/32`, `${other.innerV6}/128`].sort(),
    where,
  );
  const now = Date.now() / 1000;
  assert.ok(peer.latestHandshake > 0, `${where}: latest-handshake is 0`);
  assert.ok(Math.abs(now - peer.latestHandshake) < 60, `${where}: latest-handshake ${peer.latestHandshake}`);
  assert.ok(peer.rxBytes > 0 && peer.txBytes > 0, `${where}: rx ${peer.rxBytes} tx ${peer.txBytes}`);
}

/** DF pings: exactly `mtu` bytes of IP passes; one byte more fails (EMSGSIZE at the sender). */
async function checkMtu(from: TunnelNode, to: TunnelNode, mtu: number): Promise<void> {
  for (const [address, header] of [
    [to.innerV4, 28],
    [to.innerV6, 48],
  ] as const) {
    const fits = await ping(from.ns, address, {
      size: mtu - header,
      dontFragment: true,
      count: 2,
      intervalS: 0.05,
    });
    assert.equal(fits.received, 2, `DF ping of ${mtu} bytes to ${address}:\n${fits.output}`);
    const over = await ping(from.ns, address, { size: mtu - header + 1, dontFragment: true, waitS: 1 });
    assert.equal(over.ok, false, `DF ping of ${mtu + 1} bytes to ${address} passed:\n${over.output}`);
    assert.match(over.output, /too long|mtu/i, `DF ping of ${mtu + 1} bytes to ${address}`);
  }
}

for (const outer of ['v4', 'v6'] as const) {
  for (const psk of [false, true]) {
    // One case also proves persistent keepalive: turning it on sends at once, so a handshake
    // completes before any traffic.
    const keepalive = outer === 'v6' && psk;
    const name =
      `outer ${outer}, ${psk ? 'psk' : 'no psk'}${keepalive ? ', keepalive 1 s on b' : ''}: ` +
      'handshake, ping v4+v6 both ways, DF ping at the MTU, wg show dump';
    test(name, { skip }, async (t) => {
      const opts: TwoNodeOptions = keepalive
        ? { outer, psk, persistentKeepalive: 1, keepaliveOn: 'b' }
        : { outer, psk };
      await withTopology(opts, async (topo) => {
        const { a, b } = topo;
        if (keepalive) {
          await waitFor(async () => (await a.dump()).peers[0]!.latestHandshake > 0, {
            timeoutMs: 4_000,
            what: 'a handshake started by persistent keepalive alone',
          });
        }
        await firstPing(a, b.innerV4);
        for (const [from, to] of [
          [a, b],
          [b, a],
        ] as const) {
          for (const address of [to.innerV4, to.innerV6]) {
            const r = await ping(from.ns, address, { count: 3, intervalS: 0.05, deadlineS: 5 });
            assert.equal(r.received, 3, `ping ${from.name} → ${address}:\n${r.output}`);
          }
        }
        const [dumpA, dumpB] = await Promise.all([a.dump(), b.dump()]);
        checkDump(topo, a, b, dumpA);
        checkDump(topo, b, a, dumpB);
        assert.equal(dumpA.peers[0]!.persistentKeepalive, null);
        assert.equal(dumpB.peers[0]!.persistentKeepalive, keepalive ? 1 : null);
        await checkMtu(a, b, topo.mtu);
        await checkMtu(b, a, topo.mtu);
        t.diagnostic(`a=${a.ns}/${a.ifname} b=${b.ns}/${b.ifname} endpoints ${a.endpoint} ${b.endpoint}`);
      });
    });
  }
}

test('negative control: mismatched psk gives no handshake and no inner traffic', { skip }, async () => {
  await withTopology({ psk: true }, async ({ a, b }) => {
    const otherPsk = writeSecretFile(await genPsk());
    await wg(b.ns, ['set', b.ifname, 'peer', a.keys.publicKey, 'preshared-key', otherPsk]);
    const r = await ping(a.ns, b.innerV4, { count: 2, intervalS: 0.5, waitS: 1 });
    assert.equal(r.received, 0, r.output);
    const [dumpA, dumpB] = await Promise.all([a.dump(), b.dump()]);
    assert.equal(dumpA.peers[0]!.latestHandshake, 0);
    assert.equal(dumpB.peers[0]!.latestHandshake, 0);
    // The initiations did leave a: the tunnel, not some other path, is what the pings depend on.
    assert.ok(dumpA.peers[0]!.txBytes > 0, `a sent nothing: ${JSON.stringify(dumpA.peers[0])}`);
  });
});

describe('one tunnel (outer v4, no psk)', { skip }, () => {
  let topo: TwoNodeTopology | null = null;
  before(async () => {
    topo = await createTwoNodeTopology({ outer: 'v4' });
    await firstPing(topo.a, topo.b.innerV4);
  });
  after(async () => {
    await topo?.teardown();
  });

  test('50 MB of TCP a → b over inner v4: byte count and sha256 match', async (t) => {
    const { a, b } = topo!;
    const bytes = 50 * 1024 * 1024;
    const r = await tcpTransfer({
      serverNs: b.ns,
      clientNs: a.ns,
      host: b.innerV4,
      bytes,
      timeoutMs: 60_000,
    });
    assert.equal(r.sent.bytes, bytes);
    assert.deepEqual(r.received, r.sent);
    assert.deepEqual(r.echoed, r.sent);
    t.diagnostic(
      `50 MiB in ${r.ms.toFixed(0)} ms (${r.mbitPerS.toFixed(0)} Mbit/s), sha256 ${r.sent.sha256}`,
    );
  });

  test('5 MB of TCP b → a over inner v6: byte count and sha256 match', async (t) => {
    const { a, b } = topo!;
    const bytes = 5 * 1024 * 1024;
    const r = await tcpTransfer({
      serverNs: a.ns,
      clientNs: b.ns,
      host: a.innerV6,
      bytes,
      timeoutMs: 30_000,
    });
    assert.deepEqual(r.received, r.sent);
    assert.deepEqual(r.echoed, r.sent);
    t.diagnostic(`5 MiB in ${r.ms.toFixed(0)} ms (${r.mbitPerS.toFixed(0)} Mbit/s)`);
  });

  test(
    'measure: RTT (avg of 20 pings) and iperf3 -t 5 one stream, a → b inner v4',
    { skip: skipPerf },
    async (t) => {
      const { a, b } = topo!;
      const direct = await ping(a.ns, b.outerV4, { count: 20, intervalS: 0.1 });
      const tunnel = await ping(a.ns, b.innerV4, { count: 20, intervalS: 0.1 });
      assert.equal(tunnel.received, 20, tunnel.output);
      assert.ok(tunnel.rttMs !== null && tunnel.rttMs.avg > 0, tunnel.output);

      const port = 5201;
      const server = spawn(b.ns, 'iperf3', ['-s', '-1', '-B', b.innerV4, '-p', String(port)]);
      try {
        await waitForTcpListen(b.ns, port);
        const client = await exec(
          a.ns,
          'iperf3',
          ['-c', b.innerV4, '-p', String(port), '-t', '5', '-P', '1', '-J'],
          {
            timeoutMs: 20_000,
          },
        );
        assert.equal(client.code, 0, `iperf3 client: ${client.stderr}${client.stdout.slice(0, 2000)}`);
        const report = JSON.parse(client.stdout) as {
          end: {
            sum_sent: { bits_per_second: number; retransmits?: number };
            sum_received: { bits_per_second: number };
          };
        };
        const received = report.end.sum_received.bits_per_second / 1e6;
        const sent = report.end.sum_sent.bits_per_second / 1e6;
        assert.ok(received > 0);
        t.diagnostic(
          `RTT through wireguard-go: avg ${tunnel.rttMs.avg} ms (min ${tunnel.rttMs.min}, max ${tunnel.rttMs.max}, ` +
            `mdev ${tunnel.rttMs.mdev}) over 20 pings at 0.1 s; bare veth avg ${direct.rttMs?.avg ?? '?'} ms`,
        );
        t.diagnostic(
          `iperf3 -t 5 -P 1 through wireguard-go: ${received.toFixed(0)} Mbit/s received, ` +
            `${sent.toFixed(0)} Mbit/s sent, ${report.end.sum_sent.retransmits ?? '?'} retransmits`,
        );
      } finally {
        await server.stop();
      }
    },
  );
});

test('teardown leaves no namespace, link, UAPI socket, process or key file behind', { skip }, async () => {
  assert.deepEqual(tracked().links, []);
  await assertNothingLeft();
  assert.ok(spawnedPids().length >= 10, `only ${spawnedPids().length} processes were spawned`);
});
