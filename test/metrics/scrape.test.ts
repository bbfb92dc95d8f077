/**
 * A scrape of an in-memory device (src/metrics/scrape.ts over test/helpers/device-net.ts): the
 * exporter-compatible families carry what the UAPI `get` reports, the handshake counters count
 * one handshake on each side, the per-packet path counts drops by reason, and a device with more
 * peers than one rendering slice is exported whole. Read back with a real text-format parser.
 */
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { renderMetrics } from '../../src/metrics/scrape.js';
import { formatIP } from '../../src/routing/ip-format.js';
import { PEERS_PER_TURN } from '../../src/metrics/peer-metrics.js';
import { publicKeyOf } from '../../src/crypto/x25519.js';
import { ipv4 } from '../helpers/pair.js';
import {
  DeviceNet,
  assertOk,
  deviceSet,
  kindOf,
  newPrivateKey,
  prefix,
  type DeviceNode,
} from '../helpers/device-net.js';
import { drops, parseScrape, samples, valueOf } from './parse.js';

let dn: DeviceNet;
let a: DeviceNode;
let b: DeviceNode;

beforeEach(async () => {
  dn = new DeviceNet();
  a = await dn.node(1);
  b = await dn.node(2);
  await dn.link(a, b);
});

afterEach(() => dn.close());

const b64 = (k: Uint8Array): string => Buffer.from(k).toString('base64');

async function carry(from: DeviceNode, ...packets: Uint8Array[]): Promise<void> {
  from.tun.inject(...packets);
  await dn.settle();
}

test('wireguard_* families equal the device get; handshake counters count one handshake', async () => {
  await carry(a, ipv4(a.inner4, b.inner4, 100), ipv4(a.inner4, b.inner4, 300));
  await carry(b, ipv4(b.inner4, a.inner4, 50));
  const scrape = parseScrape(await renderMetrics(a.device, 'wgfake1'));
  const peer = a.device.snapshot().peers[0]!;
  const labels = {
    interface: 'wgfake1',
    public_key: b64(b.publicKey),
    allowed_ips: `${b.inner4}/32,${b.inner6}/128`,
    remote_ip: formatIP(peer.endpoint!.address),
    remote_port: String(peer.endpoint!.port),
  };
  for (const name of [
    'wireguard_sent_bytes_total',
    'wireguard_received_bytes_total',
    'wireguard_latest_handshake_seconds',
  ]) {
    const s = samples(scrape, name);
    assert.equal(s.length, 1, name);
    assert.deepEqual(s[0]!.labels, labels, name);
    // Label order is part of the exporter's format (dashboards do not care, diffs of scrapes do).
    assert.deepEqual(Object.keys(s[0]!.labels!), Object.keys(labels));
  }
  assert.equal(scrape.get('wireguard_sent_bytes_total')!.type, 'COUNTER');
  assert.equal(scrape.get('wireguard_latest_handshake_seconds')!.type, 'GAUGE');
  assert.ok(peer.txBytes > 0 && peer.rxBytes > 0);
  assert.equal(valueOf(scrape, 'wireguard_sent_bytes_total'), peer.txBytes);
  assert.equal(valueOf(scrape, 'wireguard_received_bytes_total'), peer.rxBytes);
  assert.equal(valueOf(scrape, 'wireguard_latest_handshake_seconds'), peer.lastHandshake!.sec);

  const iface = { interface: 'wgfake1' };
  assert.equal(valueOf(scrape, 'wgts_handshake_initiations_sent_total', iface), 1);
  assert.equal(valueOf(scrape, 'wgts_handshake_responses_received_total', iface), 1);
  assert.equal(valueOf(scrape, 'wgts_handshakes_completed_total', iface), 1);
  assert.equal(valueOf(scrape, 'wgts_handshake_responses_sent_total', iface), 0);
  assert.equal(valueOf(scrape, 'wgts_peers', iface), 1);
  const other = parseScrape(await renderMetrics(b.device, 'wgfake2'));
  assert.equal(valueOf(other, 'wgts_handshake_initiations_received_total'), 1);
  assert.equal(valueOf(other, 'wgts_handshake_responses_sent_total'), 1);
  assert.equal(valueOf(other, 'wgts_handshakes_completed_total'), 1);
  assert.ok(valueOf(scrape, 'process_resident_memory_bytes') > 0);
  assert.ok(valueOf(scrape, 'process_open_fds') > 0);
});

test('a peer without endpoint or allowed IPs has no remote labels and allowed_ips="(none)"', async () => {
  const key = publicKeyOf(newPrivateKey());
  assertOk(
    await a.device.apply(
      deviceSet({ peers: [{ publicKey: key, remove: false, updateOnly: false, allowedIPs: [] }] }),
    ),
  );
  const scrape = parseScrape(await renderMetrics(a.device, 'wgfake1'));
  const s = samples(scrape, 'wireguard_sent_bytes_total').find((x) => x.labels?.public_key === b64(key));
  assert.deepEqual(s?.labels, { interface: 'wgfake1', public_key: b64(key), allowed_ips: '(none)' });
  assert.equal(valueOf(scrape, 'wireguard_latest_handshake_seconds', { public_key: b64(key) }), 0);
});

test('the per-packet path counts drops by reason: unknown index, replay, bad tag, bad length, no route', async () => {
  const mark = dn.net.log.length;
  await carry(a, ipv4(a.inner4, b.inner4, 100));
  const transport = dn.sentSince(mark, a).find((d) => kindOf(d.data) === 'transport');
  assert.ok(transport, 'a transport datagram was sent');
  const before = drops(parseScrape(await renderMetrics(b.device, 'wgfake2')));
  const from = transport.from;
  const unknown = Uint8Array.from(transport.data);
  unknown.set([0xde, 0xad, 0xbe, 0xef], 4); // a receiver index nobody issued
  const tampered = Uint8Array.from(transport.data);
  tampered.set([0xff, 0xff, 0xff, 0], 8); // a fresh counter: passes the replay check, fails the tag
  b.device.receiveDatagrams(
    [transport.data, transport.data, unknown, tampered, Uint8Array.of(4, 0, 0, 0, 1)],
    [from, from, from, from, from],
  );
  await carry(b, ipv4(b.inner4, '10.99.0.1', 20)); // no peer has 10.99.0.1
  const after = drops(parseScrape(await renderMetrics(b.device, 'wgfake2')));
  assert.equal(after['replay']! - before['replay']!, 2);
  assert.equal(after['unknown-index']! - before['unknown-index']!, 1);
  assert.equal(after['bad-tag']! - before['bad-tag']!, 1);
  assert.equal(after['bad-length']! - before['bad-length']!, 1);
  assert.equal(after['no-route']! - before['no-route']!, 1);
  assert.equal(b.device.drops.nonZero()['replay'], after['replay']);
});

test(`a device with more peers than one slice (${PEERS_PER_TURN}) is exported whole`, async () => {
  const count = PEERS_PER_TURN * 2 + 500;
  const peers = Array.from({ length: count }, (_, i) => ({
    publicKey: publicKeyOf(newPrivateKey()),
    remove: false,
    updateOnly: false,
    allowedIPs: [
      { kind: 'add' as const, prefix: prefix(`10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`) },
    ],
  }));
  assertOk(await a.device.apply(deviceSet({ peers })));
  const text = await renderMetrics(a.device, 'wgfake1');
  const scrape = parseScrape(text);
  assert.equal(samples(scrape, 'wireguard_received_bytes_total').length, count + 1);
  assert.equal(valueOf(scrape, 'wgts_peers'), count + 1);
  assert.equal(
    new Set(samples(scrape, 'wireguard_sent_bytes_total').map((s) => s.labels!.public_key)).size,
    count + 1,
  );
});
