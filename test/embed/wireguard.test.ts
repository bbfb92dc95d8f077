/**
 * WireGuard.open with the userspace backend (src/embed/wireguard.ts): two interfaces in this
 * process, on loopback UDP, each with the fake ICMP-only stack (fake-stack.ts). They handshake
 * when one pings the other; the events, `peers()`, `stats()` and `uapiGet()` must agree with what
 * happened; setConfig must keep sessions and remove dropped peers; bad configurations must be
 * refused with nothing applied.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConfigError,
  WireGuard,
  generatePrivateKey,
  keyToBase64,
  publicKeyOf,
  toHex,
} from '../../src/index.js';
import type { EndpointEvent, HandshakeEvent, PeerStateEvent } from '../../src/index.js';
import { waitFor } from '../helpers/netns.js';
import { fakeStack } from './fake-stack.js';

function keyPair(): { priv: string; pub: string; pubHex: string } {
  const k = generatePrivateKey();
  const p = publicKeyOf(k);
  return { priv: keyToBase64(k), pub: keyToBase64(p), pubHex: toHex(p) };
}

interface Recorded {
  handshake: HandshakeEvent[];
  up: PeerStateEvent[];
  down: PeerStateEvent[];
  endpoint: EndpointEvent[];
}

function record(wg: WireGuard): Recorded {
  const r: Recorded = { handshake: [], up: [], down: [], endpoint: [] };
  wg.on('handshake', (e) => r.handshake.push(e));
  wg.on('peer-up', (e) => r.up.push(e));
  wg.on('peer-down', (e) => r.down.push(e));
  wg.on('endpoint', (e) => r.endpoint.push(e));
  return r;
}

const a = keyPair();
const b = keyPair();
const c = keyPair();
/** A preshared key for A–B, given to A as base64 text and to B as raw bytes. */
const psk = generatePrivateKey();

function configA(opts: { withC: boolean; keepalive?: number; allowedB?: string }): string {
  return [
    '[Interface]',
    `PrivateKey = ${a.priv}`,
    'Address = 10.9.0.1/32',
    '',
    '[Peer]',
    `PublicKey = ${b.pub}`,
    `PresharedKey = ${keyToBase64(psk)}`,
    `AllowedIPs = ${opts.allowedB ?? '10.9.0.2/32'}`,
    ...(opts.keepalive === undefined ? [] : [`PersistentKeepalive = ${opts.keepalive}`]),
    ...(opts.withC ? ['', '[Peer]', `PublicKey = ${c.pub}`, 'AllowedIPs = 10.9.0.3/32'] : []),
    '',
  ].join('\n');
}

/** The configuration half of peers(), which traffic does not change. */
function configured(wg: WireGuard): unknown[] {
  return wg.peers().map(({ publicKey, presharedKey, endpoint, allowedIPs, persistentKeepalive }) => ({
    publicKey,
    presharedKey,
    endpoint,
    allowedIPs,
    persistentKeepalive,
  }));
}

test('two userspace interfaces handshake over loopback; events, stats, setConfig, bad configs', async (t) => {
  const stackA = fakeStack();
  const stackB = fakeStack();
  const A = await WireGuard.open({ config: configA({ withC: true }), stack: stackA.factory });
  t.after(() => A.close());
  const B = await WireGuard.open({
    config: {
      interface: { privateKey: b.priv, addresses: ['10.9.0.2/32'], dns: ['10.9.0.1'], mtu: 1380 },
      peers: [
        {
          publicKey: publicKeyOf(Buffer.from(a.priv, 'base64')),
          presharedKey: psk,
          endpoint: `127.0.0.1:${A.listenPort}`,
          allowedIPs: ['10.9.0.0/24'],
        },
      ],
    },
    stack: stackB.factory,
  });
  t.after(() => B.close());
  const evA = record(A);
  const evB = record(B);

  // The stack got the interface's addresses, DNS and MTU.
  assert.equal(stackB.options?.mtu, 1380);
  assert.deepEqual(
    stackB.options?.dns.map((d) => [...d]),
    [[10, 9, 0, 1]],
  );
  assert.deepEqual(
    stackB.options?.addresses.map((p) => [[...p.bytes], p.cidr]),
    [[[10, 9, 0, 2], 32]],
  );
  assert.equal(A.publicKey, a.pub);
  assert.equal(A.peers().length, 2);
  assert.ok(A.peers().every((p) => p.latestHandshake === null && !p.up));

  // A ping from B starts the handshake; the echo comes back through the tunnel.
  const rtt = await B.network.ping('10.9.0.1', 5000);
  assert.ok(rtt >= 0);
  assert.ok(
    stackA.received.some((p) => p[20] === 8),
    'A saw the echo request',
  );

  await waitFor(() => evA.handshake.length > 0 && evB.handshake.length > 0 && evA.up.length > 0, {
    timeoutMs: 5000,
    what: 'handshake and peer-up events',
  });
  assert.deepEqual(evB.handshake[0], {
    publicKey: a.pub,
    endpoint: `127.0.0.1:${A.listenPort}`,
    initiator: true,
  });
  assert.deepEqual(evA.handshake[0], {
    publicKey: b.pub,
    endpoint: `127.0.0.1:${B.listenPort}`,
    initiator: false,
  });
  assert.deepEqual(
    evB.up.map((e) => e.publicKey),
    [a.pub],
  );
  assert.deepEqual(
    evA.up.map((e) => e.publicKey),
    [b.pub],
  );
  // A learned B's endpoint from B's first authenticated packet.
  assert.deepEqual(evA.endpoint[0], {
    publicKey: b.pub,
    endpoint: `127.0.0.1:${B.listenPort}`,
    previous: null,
    reason: 'roaming',
  });
  assert.equal(evA.down.length + evB.down.length, 0);

  // Both sides' counters agree (loopback loses nothing), and with the UAPI dump.
  const peerB = await waitFor(
    () => {
      const onA = A.peers().find((p) => p.publicKey === b.pub)!;
      const onB = B.peers()[0]!;
      return onA.transferRx === onB.transferTx && onA.transferTx === onB.transferRx && onA.transferRx > 0
        ? onA
        : null;
    },
    { timeoutMs: 5000, what: 'transfer counters to agree' },
  );
  assert.equal(peerB.endpoint, `127.0.0.1:${B.listenPort}`);
  assert.deepEqual(peerB.allowedIPs, ['10.9.0.2/32']);
  assert.ok(peerB.latestHandshake instanceof Date);
  assert.ok(Math.abs(peerB.latestHandshake.getTime() - Date.now()) < 10_000);
  assert.equal(peerB.up, true);
  assert.equal(peerB.presharedKey, true);
  assert.equal(B.peers()[0]!.presharedKey, true);
  const peerC = A.peers().find((p) => p.publicKey === c.pub)!;
  assert.equal(peerC.latestHandshake, null);
  assert.equal(peerC.up, false);
  const statsA = A.stats();
  assert.equal(statsA.peers, 2);
  assert.equal(statsA.peersUp, 1);
  assert.equal(statsA.handshakes, 1);
  assert.equal(statsA.listenPort, A.listenPort);
  const dump = A.uapiGet();
  assert.match(dump, new RegExp(`^public_key=${b.pubHex}$`, 'm'));
  assert.match(dump, new RegExp(`^endpoint=127\\.0\\.0\\.1:${B.listenPort}$`, 'm'));
  assert.match(dump, new RegExp(`^rx_bytes=${peerB.transferRx}$`, 'm'));
  assert.match(dump, /errno=0\n\n$/);

  // setConfig (syncconf): C removed, B kept with its session, a keepalive added.
  const handshakeAt = peerB.latestHandshake.getTime();
  await A.setConfig(configA({ withC: false, keepalive: 25 }));
  assert.deepEqual(
    A.peers().map((p) => [p.publicKey, p.persistentKeepalive]),
    [[b.pub, 25]],
  );
  await B.network.ping('10.9.0.1', 5000);
  assert.equal(A.stats().handshakes, 1, 'no new handshake after setConfig');
  assert.equal(B.stats().handshakes, 1);
  assert.equal(A.peers()[0]!.latestHandshake?.getTime(), handshakeAt);
  assert.equal(evA.down.length, 0, 'B stayed up (C was never up)');

  // An endpoint changed by configuration is reported as such, and the tunnel keeps working.
  const configB = (endpoint: string, listenPort?: number): string =>
    [
      '[Interface]',
      `PrivateKey = ${b.priv}`,
      ...(listenPort === undefined ? [] : [`ListenPort = ${listenPort}`]),
      'Address = 10.9.0.2/32',
      'DNS = 10.9.0.1',
      'MTU = 1380',
      '[Peer]',
      `PublicKey = ${a.pub}`,
      `PresharedKey = ${keyToBase64(psk)}`,
      `Endpoint = ${endpoint}`,
      'AllowedIPs = 10.9.0.0/24',
      '',
    ].join('\n');
  await B.setConfig(configB(`127.0.0.2:${A.listenPort}`));
  await waitFor(() => evB.endpoint.length > 0, { timeoutMs: 2000, what: 'the endpoint event' });
  assert.deepEqual(evB.endpoint, [
    {
      publicKey: a.pub,
      endpoint: `127.0.0.2:${A.listenPort}`,
      previous: `127.0.0.1:${A.listenPort}`,
      reason: 'config',
    },
  ]);
  await B.network.ping('10.9.0.1', 5000);
  assert.equal(B.stats().handshakes, 1, 'a new endpoint is not a new session');

  // A port that is taken: refused by the device, nothing applied.
  const portB = B.listenPort;
  await assert.rejects(B.setConfig(configB(`127.0.0.1:${A.listenPort}`, A.listenPort)), {
    code: 'EADDRINUSE',
  });
  assert.equal(B.listenPort, portB);
  assert.equal(B.peers()[0]!.endpoint, `127.0.0.2:${A.listenPort}`);

  // Bad configurations: refused, nothing applied.
  const before = configured(A);
  const badText = configA({ withC: true, allowedB: '10.9.0.300/32' });
  await assert.rejects(A.setConfig(badText), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /^config:8: AllowedIPs: /);
    return true;
  });
  await assert.rejects(
    A.setConfig({
      interface: { privateKey: a.priv, addresses: ['10.9.0.1/32'] },
      peers: [
        { publicKey: c.pub, allowedIPs: ['10.9.0.3/32'] },
        { publicKey: b.pub, allowedIPs: ['10.9.0.2/32'], endpoint: 'nowhere' },
      ],
    }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /^config\.peers\[1\]\.endpoint: /);
      return true;
    },
  );
  await assert.rejects(
    A.setConfig({ interface: { privateKey: 'not a key', addresses: ['10.9.0.1/32'] } }),
    /^ConfigError: config\.interface\.privateKey: /,
  );
  await assert.rejects(
    A.setConfig({ interface: { privateKey: a.priv, adresses: ['10.9.0.1/32'] } } as never),
    /config\.interface\.adresses: unknown field/,
  );
  await assert.rejects(A.setConfig(configA({ withC: false }).replace('10.9.0.1/32', '10.9.0.5/32')), {
    name: 'ConfigError',
    message: /Address, DNS and MTU cannot change/,
  });
  assert.deepEqual(configured(A), before);

  // Removing B takes it down at once.
  await A.setConfig(['[Interface]', `PrivateKey = ${a.priv}`, 'Address = 10.9.0.1/32', ''].join('\n'));
  await waitFor(() => evA.down.length > 0, { timeoutMs: 2000, what: 'peer-down' });
  assert.deepEqual(evA.down, [
    { publicKey: b.pub, endpoint: `127.0.0.1:${B.listenPort}`, reason: 'removed' },
  ]);
  assert.equal(A.peers().length, 0);

  // close: idempotent, and the stack is closed once.
  await Promise.all([A.close(), A.close()]);
  await A.close();
  assert.equal(stackA.closed, 1);
  await assert.rejects(A.setConfig(configA({ withC: false })), /closed/);
});

test('open refuses a bad configuration and an unavailable stack, and the tun-only options', async () => {
  await assert.rejects(
    WireGuard.open({ config: '[Interface]\nPrivateKey = x\n', stack: fakeStack().factory }),
    (err: unknown) => err instanceof ConfigError && /^config:2: /.test(err.message),
  );
  await assert.rejects(
    WireGuard.open({
      config: `[Interface]\nPrivateKey = ${a.priv}\nPostUp = echo hi\n`,
      stack: fakeStack().factory,
    }),
    /PostUp.*not run by an embedded interface/,
  );
  // A stack that cannot start fails the open with its own error (and nothing stays open).
  await assert.rejects(
    WireGuard.open({
      config: `[Interface]\nPrivateKey = ${a.priv}\n`,
      stack: () => {
        throw Object.assign(new Error('no stack here'), { code: 'ETESTSTACK' });
      },
    }),
    { code: 'ETESTSTACK' },
  );
  await assert.rejects(
    WireGuard.open({
      config: `[Interface]\nPrivateKey = ${a.priv}\n`,
      name: 'wg0',
      stack: fakeStack().factory,
    }),
    TypeError,
  );
  const wg = await WireGuard.open({
    config: { interface: { privateKey: a.priv } },
    stack: fakeStack().factory,
    listenPort: 0,
  });
  try {
    assert.equal(wg.name, 'userspace');
    assert.ok(wg.listenPort > 0);
    assert.equal(wg.backend, 'userspace');
    assert.equal(typeof wg.network.ping, 'function');
  } finally {
    await wg.close();
  }
});
