/**
 * Endpoint re-resolution in the device (src/device/endpoint-resolver.ts) on the in-memory fakes,
 * with a lookup the test answers by hand and the fake clock: a peer configured with a hostname
 * moves to another address and the tunnel comes back on the interval without a new `set`; an
 * unchanged answer leaves a roamed-to endpoint alone; failures keep the address and back off; one
 * lookup per peer and RESOLVE_MAX_IN_FLIGHT per device; an address set later, a removed peer or a
 * lookup past its deadline make the answer count for nothing.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RESOLVE_MAX_IN_FLIGHT, REKEY_TIMEOUT_MS } from '../../src/constants.js';
import { EndpointResolver } from '../../src/device/endpoint-resolver.js';
import type { Logger } from '../../src/device/logger.js';
import { formatEndpoint } from '../../src/uapi/values.js';
import { ipv4 } from '../helpers/pair.js';
import { waitFor } from '../helpers/netns.js';
import {
  DeviceNet,
  assertOk,
  deviceSet,
  peerOf,
  peerUpdate,
  type DeviceNode,
} from '../helpers/device-net.js';

const INTERVAL_MS = 2_000;

/** A lookup whose answers the test gives: each call waits until answered or failed. */
class ScriptedLookup {
  readonly calls: string[] = [];
  readonly #pending: { resolve: (a: string) => void; reject: (e: Error) => void }[] = [];
  /** Answer every call at once with this (null: wait for answer()/fail()). */
  auto: string | null = null;

  readonly lookup = (host: string): Promise<string> => {
    this.calls.push(host);
    if (this.auto !== null) return Promise.resolve(this.auto);
    return new Promise((resolve, reject) => this.#pending.push({ resolve, reject }));
  };

  get pending(): number {
    return this.#pending.length;
  }

  answer(address: string): void {
    const p = this.#pending.shift();
    if (p === undefined) throw new Error('no lookup pending');
    p.resolve(address);
  }

  fail(code: string): void {
    const p = this.#pending.shift();
    if (p === undefined) throw new Error('no lookup pending');
    p.reject(Object.assign(new Error(`getaddrinfo ${code} peer.test`), { code }));
  }
}

class CapturingLogger implements Logger {
  /** No protocol event log (peer-log.ts): only what the resolver says is kept. */
  readonly verboseEnabled = false;
  readonly lines: string[] = [];
  verbose(m: string): void {
    this.lines.push(`verbose: ${m}`);
  }
  error(m: string): void {
    this.lines.push(`error: ${m}`);
  }
}

let dn: DeviceNet | null = null;
afterEach(() => dn?.close());

async function setup(): Promise<{
  net: DeviceNet;
  dns: ScriptedLookup;
  log: CapturingLogger;
  a: DeviceNode;
  b: DeviceNode;
}> {
  const dns = new ScriptedLookup();
  const log = new CapturingLogger();
  const net = new DeviceNet({
    device: { lookupHost: dns.lookup, resolveIntervalMs: INTERVAL_MS },
    logger: () => log,
  });
  dn = net;
  const a = await net.node(1);
  const b = await net.node(2);
  // a knows b by name (b.test → b's address, as the CLI resolved it); b knows a by address.
  const named = peerOf(b, { extra: { endpointHostname: { host: 'b.test', port: b.endpoint(4).port } } });
  assertOk(await a.device.apply(deviceSet({ peers: [named] })));
  assertOk(await b.device.apply(deviceSet({ peers: [peerOf(a)] })));
  return { net, dns, log, a, b };
}

function endpointOf(node: DeviceNode, peer: DeviceNode): string {
  const e = node.device.peerByKey(peer.publicKey)?.tunnel.endpoint;
  return e == null ? 'none' : formatEndpoint(e);
}

/** Lets settled promises (lookup answers) run. */
async function drainMicrotasks(): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('endpoint re-resolution in the device', () => {
  test('a peer that moved is found again on the interval, without a new set', async () => {
    const { net, dns, a, b } = await setup();
    const port = b.endpoint(4).port;
    // b moves: the same keys at 192.0.2.3 (node 3), and b itself is gone.
    const moved = await net.node(3, port);
    assertOk(await moved.device.apply(deviceSet({ privateKey: b.privateKey, peers: [peerOf(a)] })));
    b.device.close();
    a.tun.inject(ipv4(a.inner4, b.inner4));
    await net.settle();
    assert.equal(endpointOf(a, b), `192.0.2.2:${port}`);
    // The interval comes: one lookup of the name, answered with the new address.
    net.tick(INTERVAL_MS);
    assert.deepEqual(dns.calls, ['b.test']);
    dns.answer('192.0.2.3');
    await drainMicrotasks();
    assert.equal(endpointOf(a, b), `192.0.2.3:${port}`);
    // The next retransmission reaches the moved peer: the handshake completes and data flows.
    moved.tun.takeWritten();
    for (let t = 0; t < REKEY_TIMEOUT_MS + 1_000; t += 500) {
      net.tick(500);
      await net.settle();
      if (dns.pending > 0) dns.answer('192.0.2.3');
    }
    a.tun.inject(ipv4(a.inner4, b.inner4, 32));
    await net.settle();
    const got = moved.tun.takeWritten();
    assert.ok(
      got.some((p) => p.length === 52),
      `the moved peer gets a's packet (got ${got.length} packets)`,
    );
  });

  test('an unchanged answer leaves a roamed-to endpoint alone', async () => {
    const { net, dns, a, b } = await setup();
    // b now sends to a's IPv6 address: a sees b's authenticated packets from b's IPv6 address.
    assertOk(
      await b.device.apply(deviceSet({ peers: [peerUpdate(a.publicKey, { endpoint: a.endpoint(6) })] })),
    );
    b.tun.inject(ipv4(b.inner4, a.inner4));
    await net.settle();
    const roamed = endpointOf(a, b);
    assert.match(roamed, /^\[2001:db8::2\]:/);
    dns.auto = '192.0.2.2';
    for (let i = 0; i < 3; i++) {
      net.tick(INTERVAL_MS);
      await drainMicrotasks();
    }
    assert.equal(dns.calls.length, 3);
    assert.equal(endpointOf(a, b), roamed, 'the name still gives what it gave: roaming wins');
    // The name moves: that is news, and it replaces the roamed-to endpoint.
    dns.auto = '192.0.2.9';
    net.tick(INTERVAL_MS);
    await drainMicrotasks();
    assert.equal(endpointOf(a, b), `192.0.2.9:${b.endpoint(4).port}`);
  });

  test('a failed lookup keeps the address, is logged and retried with backoff', async () => {
    const { net, dns, log, a, b } = await setup();
    const before = endpointOf(a, b);
    net.tick(INTERVAL_MS);
    assert.equal(dns.pending, 1);
    dns.fail('ENOTFOUND');
    await drainMicrotasks();
    assert.equal(endpointOf(a, b), before);
    assert.ok(
      log.lines.some((l) =>
        /^error: .*cannot resolve b\.test:\d+: ENOTFOUND.*endpoint kept, retrying in 1 s/.test(l),
      ),
      log.lines.join('\n'),
    );
    // Retries at 1 s, then 2 s after that; nothing in between.
    net.tick(999);
    assert.equal(dns.calls.length, 1);
    net.tick(1);
    assert.equal(dns.calls.length, 2);
    dns.fail('EAI_AGAIN');
    await drainMicrotasks();
    net.tick(1_999);
    assert.equal(dns.calls.length, 2);
    net.tick(1);
    assert.equal(dns.calls.length, 3);
    dns.answer('192.0.2.2');
    await drainMicrotasks();
    assert.equal(endpointOf(a, b), before);
    net.tick(INTERVAL_MS - 1);
    assert.equal(dns.calls.length, 3, 'after a success, the interval again');
  });

  test('one lookup in flight per peer, and a bounded number per device', async () => {
    const dns = new ScriptedLookup();
    const net = new DeviceNet({ device: { lookupHost: dns.lookup, resolveIntervalMs: INTERVAL_MS } });
    dn = net;
    const a = await net.node(1);
    const others = [await net.node(2), await net.node(3), await net.node(4), await net.node(5)];
    const peers = others.map((o, i) =>
      peerOf(o, { extra: { endpointHostname: { host: `p${i}.test`, port: o.endpoint(4).port } } }),
    );
    assertOk(await a.device.apply(deviceSet({ peers })));
    for (let i = 0; i < 5; i++) net.tick(INTERVAL_MS);
    assert.equal(dns.calls.length, RESOLVE_MAX_IN_FLIGHT);
    dns.answer('192.0.2.2');
    await drainMicrotasks();
    net.tick(1);
    assert.equal(dns.calls.length, RESOLVE_MAX_IN_FLIGHT + 1, 'a freed slot goes to a waiting peer');
    assert.equal(new Set(dns.calls).size, dns.calls.length, 'the waiting peer first, not the one just done');
  });

  test('an address set later, or removing the peer, makes a late answer count for nothing', async () => {
    const { net, dns, log, a, b } = await setup();
    net.tick(INTERVAL_MS);
    assertOk(
      await a.device.apply(deviceSet({ peers: [peerUpdate(b.publicKey, { endpoint: b.endpoint(6) })] })),
    );
    dns.answer('192.0.2.77');
    await drainMicrotasks();
    assert.match(endpointOf(a, b), /^\[2001:db8::2\]:/);
    for (let i = 0; i < 3; i++) net.tick(INTERVAL_MS);
    assert.equal(dns.calls.length, 1, 'an address without a name forgets the name');
    // Named again, then removed while its lookup runs.
    const named = peerOf(b, { extra: { endpointHostname: { host: 'b.test', port: b.endpoint(4).port } } });
    assertOk(await a.device.apply(deviceSet({ peers: [named] })));
    net.tick(INTERVAL_MS);
    assert.equal(dns.calls.length, 2);
    assertOk(await a.device.apply(deviceSet({ peers: [{ ...peerUpdate(b.publicKey), remove: true }] })));
    dns.answer('192.0.2.77');
    await drainMicrotasks();
    assert.equal(a.device.peerByKey(b.publicKey), undefined);
    assert.ok(!log.lines.some((l) => l.includes('192.0.2.77')), log.lines.join('\n'));
  });
});

describe('EndpointResolver deadline', () => {
  test('a lookup that never answers fails at its deadline and is retried after it ends', async () => {
    const net = new DeviceNet();
    dn = net;
    const a = await net.node(1);
    const b = await net.node(2);
    await net.link(a, b);
    const peer = a.device.peerByKey(b.publicKey)!;
    const dns = new ScriptedLookup();
    const log = new CapturingLogger();
    let now = 0;
    const r = new EndpointResolver({
      lookup: dns.lookup,
      intervalMs: INTERVAL_MS,
      log,
      now: () => now,
      timeoutMs: 30,
    });
    r.set(peer, { host: 'b.test', port: 51822 }, Uint8Array.of(192, 0, 2, 2), now);
    now = INTERVAL_MS;
    r.tick(now);
    assert.equal(dns.calls.length, 1);
    await waitFor(() => r.nameOf(peer)?.failures === 1, { timeoutMs: 5_000, what: 'the lookup deadline' });
    assert.ok(
      log.lines.some((l) => /no answer in 30 ms/.test(l)),
      log.lines.join('\n'),
    );
    // The abandoned lookup still holds its slot until it ends; the retry is not refused for it.
    now += 1_000;
    r.tick(now);
    assert.equal(dns.calls.length, 2);
    r.close();
  });
});
