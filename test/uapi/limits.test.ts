/**
 * UapiServer resource limits over a real unix socket, in process (issue 12, item 7): one memory
 * budget for all connections (a set four times the pool, four of them at once, a small set that
 * must still get through; the server here has a 4 MiB pool to keep the floods light, and
 * test/daemon/uapi-limits.test.ts sends 60 MiB ones to a real wgtsd with the default), large legitimate sets applied in chunks that add up to the whole request, idle
 * connections evicted at the connection cap while a connection mid-request is kept, and key
 * material redacted from everything the server logs about a malformed line.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { UapiServer } from '../../src/uapi/server.js';
import { UapiBudget } from '../../src/uapi/budget.js';
import { parseSet, parseSetChunks } from '../../src/uapi/codec.js';
import { redactSecrets } from '../../src/uapi/redact.js';
import type { DeviceSet } from '../../src/uapi/types.js';
import { waitFor } from '../helpers/netns.js';
import { FakeTarget, errnos, hex, hugeSet, key, rawExchange, tempDir } from './helpers.js';

const tmp = tempDir('limits');
const path = join(tmp.dir, 'limits.sock');
const target = new FakeTarget();
const logged: string[] = [];
const MAX_CONNECTIONS = 64;
const POOL_BYTES = 4 << 20;
const FLOOD_BYTES = 4 * POOL_BYTES;
const server = new UapiServer(target, {
  budget: new UapiBudget(POOL_BYTES),
  maxConnections: MAX_CONNECTIONS,
  requestTimeoutMs: 15_000,
  logger: { verbose: (m) => logged.push(m), error: (m) => logged.push(m) },
});

before(() => server.listen(path));
after(async () => {
  await server.close();
  tmp.remove();
});

const UNTIL_ERRNO = (s: string): boolean => /errno=-?\d+\n\n/.test(s);
const PEER = hex(key(0x40));

/** A `wg setconf`-shaped request: `peers` peers with two allowed IPs each. */
function bigConfig(peers: number): string {
  const out = [`set=1`, `private_key=${hex(key(0xa8))}`, 'listen_port=51820', 'replace_peers=true'];
  for (let i = 0; i < peers; i++) {
    const k = Buffer.alloc(32, 0x22);
    k.writeUInt32BE(i, 0);
    out.push(`public_key=${k.toString('hex')}`, 'replace_allowed_ips=true');
    out.push(`allowed_ip=10.${i >> 8}.${i & 0xff}.0/24`, `allowed_ip=fd00::${i.toString(16)}/128`);
  }
  return `${out.join('\n')}\n\n`;
}

test('a set four times the pool is refused with EIO, applies nothing, and the budget never passes its cap', async () => {
  const applied = target.applied.length;
  const r = await rawExchange(path, hugeSet(FLOOD_BYTES, PEER), { until: UNTIL_ERRNO, waitMs: 20_000 });
  assert.equal(r.reply, 'errno=-5\n\n');
  assert.equal(target.applied.length, applied);
  assert.ok(server.budget.peak <= server.budget.capBytes, `peak ${server.budget.peak}`);
  await waitFor(() => server.budget.inUse === 0, { timeoutMs: 5_000, what: 'budget returned' });
  // Refused by the reader's cap on one request (the pool's size) or by the budget, whichever is first.
  assert.ok(logged.some((m) => /memory budget .* exhausted|set request larger than/.test(m)));
});

test('four such sets at once are all refused, and a small set sent meanwhile applies', async () => {
  const applied = target.applied.length;
  const floods = Array.from({ length: 4 }, () =>
    rawExchange(path, hugeSet(FLOOD_BYTES, PEER), { until: UNTIL_ERRNO, waitMs: 30_000 }),
  );
  const small = await rawExchange(path, `set=1\nlisten_port=4242\n\n`, {
    until: UNTIL_ERRNO,
    waitMs: 20_000,
  });
  assert.equal(small.reply, 'errno=0\n\n');
  for (const r of await Promise.all(floods)) {
    // Refused: -EIO, or closed before a reply by the reader's own cap; never applied.
    assert.ok(r.closed || r.reply === 'errno=-5\n\n', JSON.stringify(r));
    assert.notEqual(r.reply, 'errno=0\n\n');
  }
  assert.equal(target.applied.length, applied + 1);
  assert.equal(target.applied.at(-1)!.listenPort, 4242);
  assert.ok(server.budget.peak <= server.budget.capBytes, `peak ${server.budget.peak}`);
  await waitFor(() => server.budget.inUse === 0, { timeoutMs: 5_000, what: 'budget returned' });
});

test('a set waiting for the budget goes through once a holder releases (waiting, not refusal)', async () => {
  const budget = new UapiBudget(300 * 1024, 1024);
  const t = new FakeTarget();
  const p = join(tmp.dir, 'wait.sock');
  const s = new UapiServer(t, { budget, requestTimeoutMs: 10_000 });
  await s.listen(p);
  try {
    // A holds 200 KiB of a set it has not finished; B's 200 KiB must wait for it.
    const a = connect(p);
    const aDone = new Promise<string>((resolve) => {
      let got = '';
      a.on('data', (c: Buffer) => {
        got += c.toString();
        if (UNTIL_ERRNO(got)) resolve(got);
      });
    });
    const aBody = hugeSet(200 * 1024, PEER);
    a.write(aBody.subarray(0, aBody.length - 1));
    await waitFor(() => budget.inUse > 190_000, { timeoutMs: 5_000, what: 'A holding its bytes' });
    const b = rawExchange(p, hugeSet(200 * 1024, PEER), { until: UNTIL_ERRNO, waitMs: 10_000 });
    await waitFor(() => budget.waiting === 1, { timeoutMs: 5_000, what: 'B waiting for the budget' });
    assert.equal(t.applied.length, 0);
    a.end('\n');
    assert.equal(await aDone, 'errno=0\n\n');
    assert.equal((await b).reply, 'errno=0\n\n');
    assert.equal(t.applied.length, 2);
    a.destroy();
  } finally {
    await s.close();
  }
});

test('a large legitimate set applies: 20,000 peers in chunks that add up to the request', async () => {
  const t = new FakeTarget();
  const p = join(tmp.dir, 'big.sock');
  const s = new UapiServer(t);
  await s.listen(p);
  try {
    const r = await rawExchange(p, bigConfig(20_000), { until: UNTIL_ERRNO, waitMs: 30_000 });
    assert.equal(r.reply, 'errno=0\n\n');
    assert.ok(t.applied.length >= 2, `${t.applied.length} chunks`);
    assert.equal(t.applied[0]!.replacePeers, true);
    assert.equal(t.applied[0]!.listenPort, 51820);
    for (const c of t.applied.slice(1))
      assert.deepEqual([c.replacePeers, c.listenPort, c.privateKey], [false, undefined, undefined]);
    const peers = t.applied.flatMap((c) => c.peers);
    assert.equal(peers.length, 20_000);
    assert.equal(
      peers.reduce((n, p) => n + p.allowedIPs.length, 0),
      60_000,
    );
  } finally {
    await s.close();
  }
});

/** What a set does to a device's peers and allowed IPs, modelled naively. */
function applyModel(model: Map<string, string[]>, set: DeviceSet): void {
  if (set.replacePeers) model.clear();
  for (const p of set.peers) {
    const k = hex(p.publicKey);
    if (p.remove) {
      model.delete(k);
      continue;
    }
    if (!model.has(k)) {
      if (p.updateOnly) continue;
      model.set(k, []);
    }
    let ips = model.get(k)!;
    for (const c of p.allowedIPs) {
      if (c.kind === 'clear') ips = [];
      else {
        const text = `${hex(c.prefix.bytes)}/${c.prefix.cidr}`;
        ips = ips.filter((x) => x !== text);
        if (c.kind === 'add') ips.push(text);
      }
    }
    model.set(k, ips);
  }
}

test('chunks applied in order do what the whole set does, whatever the chunk size', () => {
  const lines = ['replace_peers=true'];
  const peerKey = (i: number): string => hex(key(i));
  for (let i = 1; i <= 12; i++) {
    lines.push(`public_key=${peerKey(i)}`);
    if (i % 4 === 0) lines.push('update_only=true');
    lines.push('replace_allowed_ips=true');
    for (let j = 0; j < i * 3; j++) lines.push(`allowed_ip=10.${i}.${j}.0/24`);
    if (i % 5 === 0) lines.push(`allowed_ip=-10.${i}.0.0/24`);
  }
  lines.push(
    `public_key=${peerKey(3)}`,
    'remove=true',
    `public_key=${peerKey(7)}`,
    'allowed_ip=192.168.0.0/16',
  );
  const whole = new Map<string, string[]>([[peerKey(8), ['x']]]);
  applyModel(whole, parseSet(lines));
  for (const size of [1, 2, 3, 5, 8, 13, 40, 1000]) {
    const chunked = new Map<string, string[]>([[peerKey(8), ['x']]]);
    let n = 0;
    for (const chunk of parseSetChunks(lines, size)) {
      applyModel(chunked, chunk);
      n++;
    }
    assert.deepEqual(chunked, whole, `chunk size ${size}`);
    if (size < 40) assert.ok(n > 1, `chunk size ${size}: ${n} chunk(s)`);
  }
});

test('an idle flood past the connection cap evicts the longest idle; gets answer, mid-request survives', async () => {
  const applied = target.applied.length;
  // Mid-request first: it is the oldest connection, and must not be the one evicted.
  const busy = connect(path);
  let busyReply = '';
  busy.on('data', (c: Buffer) => (busyReply += c.toString()));
  busy.write('set=1\nlisten_port=4343\n');
  await new Promise((r) => busy.once('connect', r));
  const idle: Socket[] = [];
  let closed = 0;
  let most = 0;
  for (let i = 0; i < 250; i++) {
    const s = connect(path);
    s.on('error', () => {});
    s.on('close', () => closed++);
    idle.push(s);
    await new Promise((r) => s.once('connect', r));
    most = Math.max(most, server.connections);
  }
  await waitFor(() => closed >= 250 - MAX_CONNECTIONS + 1, { timeoutMs: 5_000, what: 'evictions' });
  assert.ok(most <= MAX_CONNECTIONS, `${most} connections at once`);
  const r = await rawExchange(path, 'get=1\n\n', { until: UNTIL_ERRNO, waitMs: 5_000 });
  assert.deepEqual(errnos(r.reply), [0]);
  busy.write('\n');
  await waitFor(() => UNTIL_ERRNO(busyReply), { timeoutMs: 5_000, what: 'the mid-request set answered' });
  assert.equal(busyReply, 'errno=0\n\n');
  assert.equal(target.applied.length, applied + 1);
  assert.ok(logged.some((m) => m.includes('evicted')));
  for (const s of [busy, ...idle]) s.destroy();
});

test('malformed lines carrying keys are logged without the keys', async () => {
  const hexKey = 'a8' + 'c3'.repeat(30) + '6a';
  const b64Key = Buffer.from(hexKey, 'hex').toString('base64');
  const requests = [
    `set=1\n${hexKey}\n\n`,
    `set=1\nprivate_key=${hexKey}z\n\n`,
    `set=1\nlisten_port=${hexKey}\n\n`,
    `set=1\n${hexKey}=1\n\n`,
    `set=1\nprivate_key ${b64Key}\n\n`,
    `set=1\npublic_key=${PEER}\nendpoint=${b64Key}\n\n`,
    `set=1\npublic_key=${PEER}\npreshared_key=${b64Key}\n\n`,
    `set=1\npublic_key=${PEER}\npersistent_keepalive_interval=${hexKey.slice(0, 40)}\n\n`,
    `private_key=${hexKey}\n`,
  ];
  const from = logged.length;
  for (const req of requests) {
    const r = await rawExchange(path, req, { until: UNTIL_ERRNO, waitMs: 2_000 });
    assert.ok(r.closed || errnos(r.reply)[0]! < 0, JSON.stringify(r));
  }
  const messages = logged.slice(from);
  assert.ok(messages.length >= requests.length, messages.join('\n'));
  assert.ok(messages.some((m) => m.includes('<redacted>')));
  for (const m of messages) {
    for (const secret of [hexKey, b64Key, hexKey.slice(0, 20), b64Key.slice(0, 20), hexKey.slice(20, 40)])
      assert.ok(!m.includes(secret), `leaked in: ${m}`);
  }
});

test('redactSecrets: key values and key-like runs go, protocol words and addresses stay', () => {
  const k = 'ab'.repeat(32);
  assert.equal(redactSecrets(`"private_key=${k}"`), '"private_key=<redacted>"');
  assert.equal(redactSecrets('PRESHARED_KEY=short'), 'PRESHARED_KEY=<redacted>');
  assert.equal(redactSecrets(`x ${Buffer.alloc(32, 7).toString('base64')} y`), 'x <redacted> y');
  const plain =
    'set line 3: bad persistent_keepalive_interval "70000" endpoint "[fd00::1]:51820" 10.0.0.0/24';
  assert.equal(redactSecrets(plain), plain);
});
