/**
 * The verbose protocol log (src/device/peer-log.ts, log-limit.ts) on in-memory devices with a
 * fake clock: the rate limiter's burst, window, reports and bound; the peer's short name; the
 * handshake lines of both sides in order; retries and giving up after REKEY_ATTEMPT_TIME; a flood
 * of bad initiations costing at most a burst of lines and one count; and no observer at all when
 * logging is not verbose.
 */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, type Logger } from '../../src/device/logger.js';
import { LOG_BURST, LOG_WINDOW_MS, LogLimiter, OVERFLOW_KEY } from '../../src/device/log-limit.js';
import { peerName } from '../../src/device/peer-log.js';
import { ipBytes } from '../helpers/fake-io.js';
import { ipv4 } from '../helpers/pair.js';
import { DeviceNet, deviceSet, peerOf, type DeviceNode } from '../helpers/device-net.js';

let dn: DeviceNet | null = null;
afterEach(() => {
  dn?.close();
  dn = null;
});

/** A verbose logger per node, keeping its lines without the time stamp. */
function recorders(): { lines: Map<number, string[]>; logger: (n: number) => Logger } {
  const lines = new Map<number, string[]>();
  return {
    lines,
    logger: (n) => {
      const mine: string[] = [];
      lines.set(n, mine);
      return createLogger(`wg${n}`, 'verbose', (l) =>
        mine.push(l.replace(/^DEBUG: \(\w+\) [\d-]+ [\d:]+ /, '').trimEnd()),
      );
    },
  };
}

/** The peer's name as a regular expression source (base64 has `+`, `/`). */
const namePattern = (publicKey: Uint8Array): string =>
  peerName(publicKey).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Asserts that `patterns` match lines of `lines` in this order (others may come between). */
function assertInOrder(lines: readonly string[], patterns: readonly RegExp[]): void {
  let at = 0;
  for (const p of patterns) {
    while (at < lines.length && !p.test(lines[at]!)) at++;
    assert.ok(at < lines.length, `no line matching ${p} in order:\n${lines.join('\n')}`);
    at++;
  }
}

test('LogLimiter: a burst per key and window, then a count reported once the window ends', () => {
  const limiter = new LogLimiter(3, 1_000, 8);
  const reports: [string, number][] = [];
  const report = (key: string, n: number): void => void reports.push([key, n]);
  const allowed = Array.from({ length: 10 }, () => limiter.allow('k', 0, report));
  assert.deepEqual(allowed, [true, true, true, false, false, false, false, false, false, false]);
  assert.equal(limiter.allow('other', 500, report), true, 'keys are limited separately');
  assert.deepEqual(reports, []);
  // The next line after the window reports the 7 held back first.
  assert.equal(limiter.allow('k', 1_000, report), true);
  assert.deepEqual(reports, [['k', 7]]);
  // flush reports a window that ended with lines held back, and forgets ended windows.
  for (let i = 0; i < 5; i++) limiter.allow('k', 1_100, report);
  limiter.flush(1_999, report);
  assert.deepEqual(reports, [['k', 7]], 'the window has not ended yet');
  limiter.flush(2_000, report);
  assert.deepEqual(reports, [
    ['k', 7],
    ['k', 3],
  ]);
  assert.equal(limiter.size, 0);
});

test('LogLimiter: bounded state under many keys (new keys share one overflow key)', () => {
  const limiter = new LogLimiter(2, 1_000, 16);
  let written = 0;
  const reports: [string, number][] = [];
  for (let i = 0; i < 10_000; i++)
    if (limiter.allow(`peer${i}`, 0, (k, n) => void reports.push([k, n]))) written++;
  assert.equal(limiter.size, 17);
  assert.equal(written, 16 + 2, 'each tracked key its line, and the overflow key a burst');
  limiter.flush(1_000, (k, n) => void reports.push([k, n]));
  assert.deepEqual(reports, [[OVERFLOW_KEY, 10_000 - 16 - 2]]);
});

test('peerName: the first and last four base64 characters of the public key', () => {
  const key = Uint8Array.from({ length: 32 }, (_, i) => i); // AAECAwQF…GxwdHh8=
  assert.equal(peerName(key), 'peer(AAEC…dHh8)');
});

async function pair(): Promise<{ a: DeviceNode; b: DeviceNode; lines: Map<number, string[]> }> {
  const r = recorders();
  dn = new DeviceNet({ logger: r.logger });
  const a = await dn.node(1);
  const b = await dn.node(2);
  await dn.link(a, b);
  return { a, b, lines: r.lines };
}

test('a handshake: initiator and responder lines in protocol order, naming the peer', async () => {
  const { a, b, lines } = await pair();
  a.tun.inject(ipv4(a.inner4, b.inner4));
  await dn!.settle();
  const pb = namePattern(b.publicKey);
  const pa = namePattern(a.publicKey);
  assertInOrder(lines.get(1)!, [
    /^UAPI: updating private key$/,
    new RegExp(`^${pb} created$`),
    new RegExp(`^${pb} UAPI: updating endpoint to 192\\.0\\.2\\.2:\\d+$`),
    new RegExp(`^${pb} UAPI: adding allowed IPs 10\\.0\\.0\\.2/32, fd10::2/128$`),
    new RegExp(`^${pb} sending handshake initiation$`),
    new RegExp(`^${pb} received handshake response$`),
    new RegExp(`^${pb} keypair \\d+ created \\(initiator\\)$`),
    new RegExp(`^${pb} handshake complete: session established$`),
  ]);
  assertInOrder(lines.get(2)!, [
    new RegExp(`^${pa} received handshake initiation$`),
    new RegExp(`^${pa} keypair \\d+ created \\(responder\\)$`),
    new RegExp(`^${pa} sending handshake response$`),
    new RegExp(`^${pa} handshake complete: session established$`),
  ]);
  // Keepalive after KEEPALIVE_TIMEOUT when data went unanswered by data.
  dn!.tick(10_500);
  await dn!.settle();
  assertInOrder(lines.get(2)!, [new RegExp(`^${pa} sending keepalive$`)]);
  assertInOrder(lines.get(1)!, [new RegExp(`^${pb} received keepalive$`)]);
});

test('an unanswered peer: retries every REKEY_TIMEOUT, then gives up after REKEY_ATTEMPT_TIME', async () => {
  const r = recorders();
  dn = new DeviceNet({ logger: r.logger });
  const a = await dn.node(1);
  const b = await dn.node(2);
  b.device.close(); // b never answers
  await a.device.apply(deviceSet({ peers: [peerOf(b)] }));
  a.tun.inject(ipv4(a.inner4, b.inner4));
  for (let i = 0; i < 150; i++) {
    dn.net.flush();
    dn.clock.advance(1_000);
    a.device.tick();
  }
  const pb = namePattern(b.publicKey);
  const lines = r.lines.get(1)!;
  assertInOrder(lines, [
    new RegExp(`^${pb} sending handshake initiation$`),
    new RegExp(`^${pb} no handshake response after 5 s, sending handshake initiation again \\(try 2\\)$`),
    new RegExp(`^${pb} no handshake response after 5 s, sending handshake initiation again \\(try 19\\)$`),
    new RegExp(
      `^${pb} handshake did not complete after 20 attempts \\(90 s\\), giving up: staged packets dropped$`,
    ),
  ]);
});

test('a flood of bad initiations: a burst of lines, then one count, and no line per packet', async () => {
  const r = recorders();
  dn = new DeviceNet({ logger: r.logger });
  const b = await dn.node(2);
  const junk = new Uint8Array(148);
  junk[0] = 1; // an initiation's type and size, with a mac1 that cannot verify
  const from = { address: ipBytes('198.51.100.7'), port: 4444 };
  const FLOOD = 3_000;
  for (let sent = 0; sent < FLOOD; sent += 100) {
    b.device.receiveDatagrams(Array(100).fill(junk), Array(100).fill(from));
    await dn.settle();
  }
  assert.equal(b.device.stats.macRejected, FLOOD);
  const dropLines = (): string[] => r.lines.get(2)!.filter((l) => l.includes('198.51.100.7:4444'));
  assert.equal(dropLines().length, LOG_BURST);
  assert.match(dropLines()[0]!, /^initiation from 198\.51\.100\.7:4444 dropped: bad-mac1$/);
  dn.tick(LOG_WINDOW_MS);
  assert.deepEqual(
    r.lines.get(2)!.filter((l) => l.includes('suppressed')),
    [`bad-mac1: ${FLOOD - LOG_BURST} similar lines suppressed`],
  );
});

test('not verbose: no PeerLog and no observer, so the data path builds no event', async () => {
  dn = new DeviceNet({ logger: (n) => createLogger(`wg${n}`, 'error', () => assert.fail('nothing to log')) });
  const a = await dn.node(1);
  const b = await dn.node(2);
  await dn.link(a, b);
  a.tun.inject(ipv4(a.inner4, b.inner4));
  await dn.settle();
  assert.equal(b.tun.written.length, 1, 'the packet went through');
  assert.equal(a.device.peerLog, null);
  for (const peer of a.device.peers.values()) assert.equal(peer.tunnel.observer, null);
});

test('a peer sending from outside its allowed IPs: the drop is logged, rate-limited', async () => {
  const { a, b, lines } = await pair();
  a.tun.inject(ipv4(a.inner4, b.inner4));
  await dn!.settle();
  for (let i = 0; i < 3 * LOG_BURST; i++) b.tun.inject(ipv4('10.9.9.9', a.inner4));
  await dn!.settle();
  const refused = lines
    .get(1)!
    .filter(
      (l) => l === `${peerName(b.publicKey)} packet with a source address outside its allowed IPs dropped`,
    );
  assert.equal(refused.length, LOG_BURST);
});
