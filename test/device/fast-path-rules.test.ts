/**
 * The receive rules of the production fast data path (src/device/fast-path.ts), without root: the
 * packet-pair fixture (test/helpers/packet-pair-path.ts) runs two Devices with FastPath over
 * packetPair() TUN stand-ins and loopback UDP. Every case of test/daemon/fast-path.test.ts (which
 * needs root, namespaces and tcpdump) is here, plus the rules that test could not reach
 * (whitepaper section 5.4.6; TEST-PLAN "Bad input at the edges", "Silence, replay and floods"):
 *
 * - whole IPv4 and IPv6 packets arrive once each, padding trimmed, alone and 40 back to back;
 * - the same datagram three times arrives once (a replay within one run);
 * - not IP, a cut IPv4 header, IPv4 total length past the plaintext or below its header, IPv6
 *   payload length past the plaintext, a source outside the peer's allowed IPs: nothing written,
 *   each counted by reason; also mixed between good ones in one run;
 * - a bad tag, an unknown receiver index, an expired keypair: counted by reason, nothing written;
 * - a replayed initiation and transport datagram from another port: no reply, nothing written,
 *   the endpoint not moved; an authenticated run from a new source moves it (roaming per run),
 *   with that run's local address as the sticky source;
 * - a UDP GSO run of 64 segments (one GRO slot) arrives whole and in order, with a replayed and a
 *   forged segment in it dropped by reason;
 * - a 128-segment UDP GSO burst (the crash) is delivered whole;
 * - an exception inside a batch handler drops that batch, counted as batch-error, and the path
 *   goes on;
 * - handshake messages and cookie replies between transport datagrams keep their order;
 * - rx bytes and the handshake time are counted.
 *
 * Each case also goes through the ordinary batched and per-packet receive paths of the same
 * device, which must give the same verdict. Needs the native addon (skipped without), not root.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { REJECT_AFTER_TIME_MS } from '../../src/constants.js';
import type { Keypair } from '../../src/protocol/keypairs.js';
import {
  destinationPort,
  hex,
  INNER4,
  PacketPairPath,
  udp4,
  udp6,
  type Driver,
  type Verdict,
} from '../helpers/packet-pair-path.js';
import { waitFor } from '../helpers/netns.js';
import { noNative } from '../helpers/native-skip.js';

const skip = noNative;

const DRIVERS: readonly Driver[] = ['fast', 'batched', 'per-packet'];
const X_INNER = INNER4[0];

/** The same datagrams through every driver (window reset in between): the verdicts must agree. */
async function agreed(path: PacketPairPath, rx: Keypair, datagrams: readonly Uint8Array[]): Promise<Verdict> {
  const verdicts: Verdict[] = [];
  for (const driver of DRIVERS) verdicts.push(await path.verdict(driver, datagrams, rx));
  assert.deepEqual(verdicts[1], verdicts[0], 'batched path against the fast path');
  assert.deepEqual(verdicts[2], verdicts[0], 'per-packet path against the fast path');
  return verdicts[0]!;
}

/** Ports of the packets in a verdict, in order. */
const ports = (v: Verdict): number[] => v.delivered.map((h) => destinationPort(Buffer.from(h, 'hex')));

describe('fast path receive rules over the packet-pair fixture', { skip }, () => {
  let path: PacketPairPath;
  let rx: Keypair;
  const seal = (plain: Uint8Array): Uint8Array => path.sealNext(plain);

  before(async () => {
    path = await PacketPairPath.open();
    await path.establish();
    rx = path.receiveKeypair();
  });
  after(() => path?.close());

  test('whole IPv4 and IPv6 packets arrive once each, padding trimmed', async () => {
    const v4 = udp4(X_INNER, 40001);
    const padded = new Uint8Array([...udp4(X_INNER, 40002), ...new Uint8Array(7)]);
    const v6 = udp6(40010);
    const v = await agreed(path, rx, [seal(v4), seal(padded), seal(v6)]);
    assert.deepEqual(v.delivered, [hex(v4), hex(padded.subarray(0, padded.length - 7)), hex(v6)]);
    assert.deepEqual(v.drops, {});
  });

  test('the same datagram three times in a row arrives once', async () => {
    const d = seal(udp4(X_INNER, 40003));
    const v = await agreed(path, rx, [d, d, d]);
    assert.deepEqual(ports(v), [40003]);
    assert.deepEqual(v.drops, { replay: 2 });
  });

  test('inner packets that are not whole, allowed IP packets are written nowhere, counted by reason', async () => {
    const bad = [
      udp4(X_INNER, 40004, 8, 200), // total length past the plaintext
      udp4(X_INNER, 40005, 8, 12), // total length below the header length
      udp4(X_INNER, 40006).subarray(0, 12), // truncated header
      Uint8Array.of(0x50, ...udp4(X_INNER, 40007).subarray(1)), // version 5
      udp6(40008, 8, 400), // IPv6 payload length past the plaintext
      udp4(Uint8Array.of(10, 99, 0, 9), 40009), // source outside the allowed IPs
    ];
    const v = await agreed(path, rx, bad.map(seal));
    assert.deepEqual(v.delivered, []);
    assert.deepEqual(v.drops, { 'bad-ip-length': 4, 'not-ip': 1, 'disallowed-source': 1 });
  });

  test('good and bad mixed in one run, then 40 good back to back: only the good, in order', async () => {
    const good = (port: number): Uint8Array => seal(udp4(X_INNER, port));
    const run = [
      good(40011),
      seal(udp4(X_INNER, 40012, 8, 300)),
      good(40013),
      seal(udp4(Uint8Array.of(10, 251, 0, 3), 40014)),
      good(40015),
      ...Array.from({ length: 40 }, (_, i) => good(40100 + i)),
    ];
    const v = await agreed(path, rx, run);
    assert.deepEqual(ports(v), [40011, 40013, 40015, ...Array.from({ length: 40 }, (_, i) => 40100 + i)]);
    assert.deepEqual(v.drops, { 'bad-ip-length': 1, 'disallowed-source': 1 });
  });

  test('a bad tag and an unknown receiver index are counted and written nowhere', async () => {
    const badTag = seal(udp4(X_INNER, 40020));
    badTag[badTag.length - 1]! ^= 1;
    const unknown = seal(udp4(X_INNER, 40021));
    unknown[4]! ^= 0xff;
    const good = udp4(X_INNER, 40022);
    const v = await agreed(path, rx, [badTag, unknown, seal(good)]);
    assert.deepEqual(v.delivered, [hex(good)]);
    assert.deepEqual(v.drops, { 'bad-tag': 1, 'unknown-index': 1 });
  });

  test('a handshake message and a cookie reply between transport data keep the order', async () => {
    const initiation = new Uint8Array(148);
    initiation[0] = 1; // bad mac1: dropped at admission, after the queue
    const cookie = new Uint8Array(64);
    cookie[0] = 3;
    cookie.set([0xde, 0xad, 0xbe, 0xef], 4); // no index of ours
    const short = Uint8Array.of(4, 0, 0, 0, ...new Uint8Array(20));
    const a = udp4(X_INNER, 40030);
    const b = udp4(X_INNER, 40031);
    const c = udp4(X_INNER, 40032);
    const v = await agreed(path, rx, [seal(a), initiation, seal(b), cookie, short, seal(c)]);
    assert.deepEqual(ports(v), [40030, 40031, 40032]);
    assert.deepEqual(v.drops, { 'bad-mac1': 1, 'unknown-index': 1, 'bad-length': 1 });
  });

  test('a UDP GSO run of 64 segments arrives whole and in order; a replay and a forgery in it are dropped', async () => {
    const packets = Array.from({ length: 64 }, (_, i) => udp4(X_INNER, 41000 + i, 100));
    const sealed = packets.map(seal);
    sealed[20] = sealed[10]!.slice(); // a replay inside the run
    sealed[30]![40]! ^= 0x80; // a forgery inside the run
    rx.replay.reset();
    const before = path.drops();
    const mark = path.y.received.length;
    const batches = path.y.bind.stats.receiveBatches;
    path.sendRun(sealed);
    await path.waitReceived(path.y, mark + 62, 'the GSO run');
    const got = path.y.received.slice(mark).map((p) => destinationPort(p));
    const want = packets.map((_, i) => 41000 + i).filter((p) => p !== 41020 && p !== 41030);
    assert.deepEqual(got, want);
    assert.deepEqual(path.dropsSince(before), { replay: 1, 'bad-tag': 1 });
    assert.ok(path.y.bind.stats.receiveBatches - batches <= 2, 'the run came in one GRO slot or two');
  });

  test('a 128-segment GSO burst (one GRO slot) is delivered whole, or dropped with a counted reason', async () => {
    const packets = Array.from({ length: 128 }, (_, i) => udp4(X_INNER, 42000 + i, 380));
    const before = path.drops();
    const mark = path.y.received.length;
    path.sendRun(packets.map(seal));
    await path.waitReceived(path.y, mark + 128, 'the 128-segment burst');
    assert.deepEqual(
      path.y.received.slice(mark).map((p) => destinationPort(p)),
      packets.map((_, i) => 42000 + i),
    );
    assert.deepEqual(path.dropsSince(before), {});
  });

  test('an exception inside a batch handler drops that batch, counted as batch-error; the path goes on', async () => {
    const device = path.y.device;
    const begin = device.beginBatch.bind(device);
    let thrown = 0;
    device.beginBatch = (outbound: boolean): number => {
      if (!outbound && thrown++ === 0) throw new Error('injected');
      return begin(outbound);
    };
    try {
      const before = path.drops();
      const mark = path.y.received.length;
      path.send([seal(udp4(X_INNER, 40070))]);
      await waitFor(() => path.dropsSince(before)['batch-error'] === 1, {
        timeoutMs: 5_000,
        intervalMs: 5,
        what: 'the batch error counted',
      });
      assert.equal(path.y.received.length, mark, 'the thrown batch wrote nothing');
      const v = await path.verdict('fast', [seal(udp4(X_INNER, 40071))]);
      assert.deepEqual(ports(v), [40071]);
      assert.deepEqual(path.dropsSince(before), { 'batch-error': 1 });
    } finally {
      device.beginBatch = begin;
    }
  });

  test('replayed initiation and transport from another port: no reply, nothing written, endpoint kept', async () => {
    // A datagram from X's own port (a fresh counter) is accepted and moves the endpoint back to X.
    const fromX = seal(udp4(X_INNER, 40040));
    const mark = path.y.received.length;
    path.x.bind.send([fromX], path.yEndpoint());
    await path.waitReceived(path.y, mark + 1, 'the datagram from X');
    const peer = path.y.device.peerByKey(path.x.publicKey)!;
    const xPort = path.x.device.listenPort;
    assert.equal(peer.tunnel.endpoint?.port, xPort);
    const initiation = path.x.sent.find((d) => d[0] === 1);
    assert.ok(initiation, 'X sent an initiation');
    const replies = path.y.sent.length;
    const v = await path.verdict('fast', [initiation, fromX]);
    assert.deepEqual(v.delivered, []);
    assert.deepEqual(v.drops, { 'stale-timestamp': 1, replay: 1 });
    assert.equal(path.y.sent.length, replies, 'a replay drew a reply');
    // The sentinel (authenticated) came from the injector: that run roamed; put X back and look again.
    const again = seal(udp4(X_INNER, 40041));
    path.x.bind.send([again], path.yEndpoint());
    await path.waitReceived(path.y, mark + 3, 'X again');
    assert.equal(peer.tunnel.endpoint?.port, xPort);
    const v2 = await path.verdict('fast', [fromX, again]);
    assert.deepEqual(v2.drops, { replay: 2 });
    assert.ok(peer.tunnel.rxBytes > 0, 'rx bytes counted');
    assert.ok((peer.tunnel.lastHandshakeAt ?? 0) > 0, 'handshake time set');
  });

  test('roaming is per run: an authenticated run moves the endpoint, with its local address as sticky source', async () => {
    const peer = path.y.device.peerByKey(path.x.publicKey)!;
    const mark = path.y.received.length;
    path.x.bind.send([seal(udp4(X_INNER, 40050))], path.yEndpoint());
    await path.waitReceived(path.y, mark + 1, 'from X');
    assert.equal(peer.tunnel.endpoint?.port, path.x.device.listenPort);
    // A forged datagram from the injector moves nothing.
    const forged = seal(udp4(X_INNER, 40051));
    forged[forged.length - 3]! ^= 1;
    const v = await path.verdict('fast', [forged]);
    assert.deepEqual(v.drops, { 'bad-tag': 1 });
    // The sentinel (authenticated, from the injector) did: one run, one source.
    const e = peer.tunnel.endpoint!;
    assert.equal(e.port, path.injector.port);
    assert.deepEqual([...e.address], [127, 0, 0, 1]);
    assert.deepEqual([...(e.source ?? [])], [127, 0, 0, 1], 'sticky source from IP_PKTINFO');
    assert.ok((e.sourceIfindex ?? 0) > 0, 'the interface it arrived on');
    // Y's answers now go to the injector's port: the path still works both ways after X sends.
    path.x.bind.send([seal(udp4(X_INNER, 40052))], path.yEndpoint());
    await waitFor(() => peer.tunnel.endpoint?.port === path.x.device.listenPort, {
      timeoutMs: 5_000,
      intervalMs: 5,
      what: 'the endpoint back at X',
    });
  });
});

describe('fast path: an expired keypair', { skip }, () => {
  let path: PacketPairPath;
  before(async () => {
    path = await PacketPairPath.open();
    await path.establish();
  });
  after(() => path?.close());

  test('a transport message for a keypair past REJECT_AFTER_TIME is dropped as expired-keypair', async () => {
    const d = path.seal(5_000, udp4(X_INNER, 40060));
    path.skew += REJECT_AFTER_TIME_MS + 1_000;
    const verdicts: Verdict[] = [];
    for (const driver of DRIVERS) {
      const before = path.drops();
      const mark = path.y.received.length;
      if (driver === 'fast') path.send([d]);
      else {
        path.y.device.batched = driver === 'batched';
        path.y.device.receiveDatagrams([d.slice()], [path.injectorEndpoint()]);
        path.y.device.batched = true;
      }
      await waitFor(() => path.dropsSince(before)['expired-keypair'] === 1, {
        timeoutMs: 5_000,
        intervalMs: 5,
        what: `expired-keypair through ${driver}`,
      });
      verdicts.push({ delivered: path.y.received.slice(mark).map(hex), drops: path.dropsSince(before) });
    }
    for (const v of verdicts) assert.deepEqual(v, { delivered: [], drops: { 'expired-keypair': 1 } });
  });
});
