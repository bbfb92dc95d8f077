/**
 * The device's timer driving (src/device/device.ts with deadline-queue.ts; whitepaper section 6):
 * one setTimeout armed at the earliest deadline of all peers, on a fake clock (the device's `now`
 * and node:test's mocked setTimeout advance together). A deadline runs when it is due, not up to
 * a scheduler period late; an idle device with 10 peers arms nothing, or only the one deadline
 * that is pending; and the timer never keeps a program alive by itself.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { afterEach, beforeEach, mock, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { REKEY_TIMEOUT_MS } from '../../src/constants.js';
import { ipv4 } from '../helpers/pair.js';
import { clampPrivateKey, publicKeyOf } from '../../src/crypto/x25519.js';
import {
  assertOk,
  DeviceNet,
  deviceSet,
  kinds,
  peerOf,
  peerUpdate,
  prefix,
  type DeviceNode,
} from '../helpers/device-net.js';

let dn: DeviceNet | null = null;

beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
afterEach(() => {
  dn?.close();
  dn = null;
  mock.timers.reset();
});

/** Fake monotonic clock and mocked timers advance together, `step` ms at a time. */
function advance(net: DeviceNet, ms: number, step = 1): void {
  for (let t = 0; t < ms; t += step) {
    const d = Math.min(step, ms - t);
    net.clock.advance(d);
    mock.timers.tick(d);
  }
}

async function twoNodes(): Promise<{ net: DeviceNet; a: DeviceNode; b: DeviceNode }> {
  // tickMs 0: the device's own timer runs (DeviceNet's default leaves it to the test); linkEvents:
  // the MTU comes from link events, as wgtsd's link watch gives it, not a once-a-second look.
  const net = new DeviceNet({ device: { tickMs: 0, linkEvents: true } });
  dn = net;
  const a = await net.node(1);
  const b = await net.node(2);
  return { net, a, b };
}

test('handshake retries run at their deadlines to the millisecond, not a period late', async () => {
  const { net, a, b } = await twoNodes();
  // b is unreachable: a's initiations go out and are never answered (the manual network
  // delivers nothing unless the test flushes it).
  const mark = net.net.log.length;
  assertOk(await a.device.apply(deviceSet({ peers: [peerOf(b, { extra: { persistentKeepalive: 25 } })] })));
  // The persistent keepalive on configuration finds no session: it starts a handshake.
  assert.deepEqual(kinds(net.sentSince(mark, a)), ['initiation']);
  const peer = a.device.peerByKey(b.publicKey)!;
  for (let retry = 1; retry <= 2; retry++) {
    const at = peer.tunnel.timers.retransmitHandshakeAt;
    assert.ok(at > net.clock.mono && at <= net.clock.mono + REKEY_TIMEOUT_MS + 334, `armed at ${at}`);
    assert.equal(a.device.nextWake, at, 'the one timer sleeps until the retransmission');
    advance(net, Math.ceil(at - net.clock.mono) - 1, 100);
    assert.equal(net.sentSince(mark, a).length, retry, 'nothing before the deadline');
    advance(net, 1);
    assert.equal(net.sentSince(mark, a).length, retry + 1, `retry ${retry}, on time`);
    assert.ok(net.clock.mono - at < 1, `ran ${net.clock.mono - at} ms after its deadline`);
  }
  assert.deepEqual(kinds(net.sentSince(mark, a)), ['initiation', 'initiation', 'initiation']);
});

test('an idle device with 10 peers and no traffic arms no timer at all', async () => {
  const { a } = await twoNodes();
  const peers = Array.from({ length: 10 }, (_, i) => ({
    publicKey: publicKeyOf(clampPrivateKey(randomBytes(32))),
    remove: false,
    updateOnly: false,
    endpoint: { address: Uint8Array.of(192, 0, 2, 100 + i), port: 51820 },
    allowedIPs: [{ kind: 'add' as const, prefix: prefix(`10.9.${i}.0/24`) }],
  }));
  assertOk(await a.device.apply(deviceSet({ peers })));
  assert.equal(a.device.peers.size, 10);
  assert.equal(a.device.nextWake, Infinity, 'no deadline, no housekeeping: nothing armed');
  // Without link events the TUN's MTU is looked at once a second instead (the only wake).
  const polling = new DeviceNet({ device: { tickMs: 0 } });
  try {
    const c = await polling.node(3);
    assert.equal(c.device.nextWake, polling.clock.mono + 1_000);
  } finally {
    polling.close();
  }
  // And nothing runs on its own: a minute passes without a datagram.
  const net = dn!;
  const mark = net.net.log.length;
  advance(net, 60_000, 1_000);
  assert.equal(net.net.log.length, mark);
});

test('after a session went quiet, only the key-zeroing deadline stays armed', async () => {
  const { net, a, b } = await twoNodes();
  await net.link(a, b);
  a.tun.inject(ipv4(a.inner4, b.inner4));
  await net.settle();
  assert.equal(b.tun.takeWritten().length, 1, 'the packet went through');
  // Keepalive and new-handshake deadlines come and go; run them on the device's own timer.
  for (let i = 0; i < 40; i++) {
    advance(net, 1_000, 1_000);
    await net.settle();
  }
  const peer = a.device.peerByKey(b.publicKey)!;
  const zero = peer.tunnel.timers.zeroKeyMaterialAt;
  assert.ok(Number.isFinite(zero));
  assert.equal(peer.tunnel.timers.nextDeadline(), zero, 'nothing else pending');
  assert.equal(a.device.nextWake, zero, 'the timer sleeps until then, and only for that');
  // Removing the peer leaves nothing to wake for (the timer may still fire once, finding nothing).
  assertOk(await a.device.apply(deviceSet({ peers: [{ ...peerUpdate(b.publicKey), remove: true }] })));
  advance(net, zero - net.clock.mono + 1, 60_000);
  assert.equal(a.device.nextWake, Infinity);
});

test("the device's timer never keeps a program alive by itself", async () => {
  // A child makes a device with a peer whose persistent keepalive is armed 25 s out, and ends
  // its script: it must exit at once, as it did with the unref'd interval.
  const helpers = new URL('../helpers/device-net.js', import.meta.url).href;
  const script = `
    import { DeviceNet, deviceSet, peerOf } from ${JSON.stringify(helpers)};
    const net = new DeviceNet({ device: { tickMs: 0 } });
    const a = await net.node(1);
    const b = await net.node(2);
    await a.device.apply(deviceSet({ peers: [peerOf(b, { extra: { persistentKeepalive: 25 } })] }));
    if (!(a.device.nextWake < Infinity)) throw new Error('no timer armed: the test proves nothing');
    console.log('armed');
  `;
  const started = performance.now();
  const out = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { timeout: 20_000, cwd: fileURLToPath(new URL('.', import.meta.url)) },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
    );
  });
  assert.match(out, /armed/);
  assert.ok(performance.now() - started < 15_000, 'exited well before the 25 s keepalive');
});
