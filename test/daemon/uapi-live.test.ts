/**
 * Bad UAPI input against a live wgtsd (TEST-PLAN "Bad input at the edges" → UAPI): the codec and
 * server tests prove the replies on fakes; this proves them on the real daemon, with a tunnel to
 * wireguard-go up the whole time. Every malformed `set` of test/uapi/cases.ts gets its errno; the
 * framing cases (empty connection, unknown verb, `get=1` without its blank line, trailing junk, a
 * 1 MiB line, a slow client, a client leaving mid-set, more connections than allowed) get their
 * errno or a closed connection; `get` is the same before and after (apart from handshake times and
 * byte counters); and a ping running across all of it loses nothing.
 *
 * Needs root, wgtsd built, wireguard-go, wg, ip and ping; skips otherwise.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { cleanup, ping, spawn, waitFor, type TrackedProcess } from '../helpers/netns.js';
import { createTwoNodeTopology, interopSkipReason, wg, type TwoNodeTopology } from '../helpers/wg-peer.js';
import { SET_CASES } from '../uapi/cases.js';
import { errnos, rawExchange, sleep } from '../uapi/helpers.js';

const skip = interopSkipReason(['wgtsd', 'wireguard-go'], ['ping']);

let topo: TwoNodeTopology | null = null;
let sock = '';
let pinger: TrackedProcess | null = null;
let configBefore = '';
let pingStarted = 0;

/** A get, minus what traffic changes (handshake times, byte counters). */
function configOf(reply: string): string {
  return reply
    .split('\n')
    .filter((l) => !/^(last_handshake_time_(sec|nsec)|rx_bytes|tx_bytes)=/.test(l))
    .join('\n');
}

async function get(): Promise<string> {
  const r = await rawExchange(sock, 'get=1\n\n', { until: (s) => /errno=-?\d+\n\n$/.test(s), waitMs: 3_000 });
  assert.match(r.reply, /errno=0\n\n$/);
  return r.reply;
}

before(async () => {
  if (skip) return;
  topo = await createTwoNodeTopology({ implA: 'wgtsd', implB: 'wireguard-go' });
  sock = topo.a.daemon.socketPath;
  const { a, b } = topo;
  await waitFor(async () => (await ping(b.ns, a.innerV4, { waitS: 1 })).ok, {
    timeoutMs: 8_000,
    intervalMs: 0,
    what: 'a first ping through the tunnel',
  });
  configBefore = configOf(await get());
  assert.match(configBefore, /public_key=/);
  // Pings from wireguard-go's side to wgtsd's for as long as the tests run.
  pinger = spawn(b.ns, 'ping', ['-n', '-i', '0.1', '-W', '1', '-c', '600', a.innerV4]);
  pingStarted = Date.now();
});

after(async () => {
  await pinger?.stop({ signal: 'SIGINT' });
  await topo?.teardown();
  await cleanup();
});

describe('malformed UAPI requests to a live wgtsd', { skip }, () => {
  test('every malformed set gets its errno, on one connection each, and the connection stays usable', async () => {
    const bad = SET_CASES.filter((c) => c.errno !== 0);
    assert.ok(bad.length > 80);
    for (const c of bad) {
      const body = `set=1\n${c.lines.map((l) => `${l}\n`).join('')}\nget=1\n\n`;
      const r = await rawExchange(sock, body, {
        until: (s) => /errno=-?\d+\n\n[^]*errno=-?\d+\n\n$/.test(s),
      });
      assert.deepEqual(errnos(r.reply), [c.errno, 0], c.name);
      assert.ok(r.reply.startsWith(`errno=${c.errno}\n\n`), c.name);
      assert.equal(configOf(r.reply.slice(`errno=${c.errno}\n\n`.length)), configBefore, c.name);
    }
  });

  test('all of them pipelined on one connection: answered in order', async () => {
    const bad = SET_CASES.filter((c) => c.errno !== 0);
    const body = bad.map((c) => `set=1\n${c.lines.map((l) => `${l}\n`).join('')}\n`).join('');
    const r = await rawExchange(sock, body, {
      until: (s) => errnos(s).length === bad.length,
      waitMs: 5_000,
    });
    assert.deepEqual(
      errnos(r.reply),
      bad.map((c) => c.errno),
    );
    assert.equal(r.closed, false);
  });

  test('framing: empty connection, unknown verbs, get without its blank line: closed without a reply', async () => {
    const empty = await rawExchange(sock, '', { end: true });
    assert.deepEqual([empty.reply, empty.closed], ['', true]);
    for (const verb of ['bogus\n', 'set=1\r\n', 'get=2\n', '\n', 'GET=1\n']) {
      const r = await rawExchange(sock, `${verb}get=1\n\n`);
      assert.deepEqual([r.reply, r.closed], ['', true], JSON.stringify(verb));
    }
    const half = await rawExchange(sock, 'get=1\n', { end: true });
    assert.deepEqual([half.reply, half.closed], ['', true]);
  });

  test('framing: junk after get=1 is EINVAL; trailing junk after a request gets the reply, then a close', async () => {
    const r = await rawExchange(sock, 'get=1\nx\n\n');
    assert.deepEqual([r.reply, r.closed], ['errno=-22\n\n', true]);
    const t = await rawExchange(sock, 'get=1\n\nthis is not a verb\n');
    assert.equal(t.closed, true);
    assert.deepEqual(errnos(t.reply), [0]);
    assert.equal(configOf(t.reply), configBefore);
  });

  test('an over-long line: EIO and closed (in a set), closed (as a verb); nothing applied', async () => {
    // 100 KiB (over the 64 KiB line limit) fits in the socket buffers, so the client is done
    // writing when the daemon answers and closes, and reads the answer.
    const r = await rawExchange(
      sock,
      `set=1\nlisten_port=3\nallowed_ip=${'1'.repeat(100 << 10)}\n\nget=1\n\n`,
      {
        waitMs: 1_000,
      },
    );
    assert.deepEqual([r.reply, r.closed], ['errno=-5\n\n', true]);
    // 1 MiB: the daemon answers and closes while the client is still writing, so the client may
    // meet a reset before it reads the answer. Either way: closed, and nothing applied.
    const mib = await rawExchange(
      sock,
      `set=1\nlisten_port=3\nallowed_ip=${'1'.repeat(1 << 20)}\n\nget=1\n\n`,
      {
        waitMs: 1_000,
      },
    );
    assert.ok(mib.reply === 'errno=-5\n\n' || mib.reply === '', JSON.stringify(mib.reply));
    assert.equal(mib.closed, true);
    const verb = await rawExchange(sock, `${'g'.repeat(1 << 20)}\n`, { waitMs: 1_000 });
    assert.deepEqual([verb.reply, verb.closed], ['', true]);
    assert.equal(configOf(await get()), configBefore);
  });

  test('a slow client holding a half-written set blocks nobody; when it leaves nothing is applied', async () => {
    const slow: Socket = connect(sock);
    await new Promise<void>((resolve, reject) => {
      slow.once('connect', resolve);
      slow.once('error', reject);
    });
    slow.write('set=1\nlisten_port=4\nprivate_key=');
    for (let i = 0; i < 3; i++) {
      slow.write('a');
      assert.equal(configOf(await get()), configBefore);
      const dump = await wg(topo!.a.ns, ['show', topo!.a.ifname, 'dump']);
      assert.match(dump.stdout, /\t51820\toff\n/);
      await sleep(100);
    }
    slow.destroy();
    // Mid-set disconnects: a FIN, a FIN without a final newline, and an abrupt reset.
    for (const payload of ['set=1\nlisten_port=40000\n', 'set=1\nlisten_port=40001']) {
      const r = await rawExchange(sock, payload, { end: true });
      assert.deepEqual([r.reply, r.closed], ['', true]);
    }
    await rawExchange(sock, 'set=1\nlisten_port=40002\n', { waitMs: 10 });
    await sleep(100);
    assert.equal(configOf(await get()), configBefore);
  });

  test('more connections than the server allows: the excess are closed, then service resumes', async () => {
    const sockets: Socket[] = [];
    const closed: boolean[] = [];
    for (let i = 0; i < 80; i++) {
      const s = connect(sock);
      const n = i;
      closed[n] = false;
      s.on('close', () => (closed[n] = true));
      s.on('error', () => {});
      sockets.push(s);
    }
    await waitFor(() => closed.filter(Boolean).length >= 80 - 64, {
      timeoutMs: 5_000,
      what: 'excess closed',
    });
    for (const s of sockets) s.destroy();
    await sleep(100);
    assert.equal(configOf(await get()), configBefore);
  });

  test('afterwards: get is unchanged, wg(8) reads it, and no ping was lost', async () => {
    assert.equal(configOf(await get()), configBefore);
    const dump = await topo!.a.dump();
    assert.equal(dump.listenPort, 51820);
    assert.equal(dump.peers.length, 1);
    assert.equal(dump.peers[0]!.publicKey, topo!.b.keys.publicKey);
    assert.ok(dump.peers[0]!.latestHandshake > 0);
    // Let the pings run at least 3 s in all (the requests above take about a second).
    await sleep(Math.max(0, 3_000 - (Date.now() - pingStarted)));
    const info = await pinger!.stop({ signal: 'SIGINT' });
    assert.notEqual(info.code, null);
    const m = /(\d+) packets transmitted, (\d+) received/.exec(pinger!.output());
    assert.ok(m, pinger!.output());
    const [sent, got] = [Number(m[1]), Number(m[2])];
    assert.ok(sent >= 20, `only ${sent} pings ran`);
    assert.ok(sent - got <= 1, `${sent - got} of ${sent} pings lost:\n${pinger!.output()}\n${topo!.logs()}`);
    const again = await ping(topo!.b.ns, topo!.a.innerV6, { count: 3, intervalS: 0.2 });
    assert.equal(again.received, 3);
  });
});
