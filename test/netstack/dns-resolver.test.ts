/**
 * The stub resolver (src/netstack/dns-resolver.ts) between two NetStacks wired back to back: the
 * client asks, the other stack runs a DNS server on UDP port 53 from a table. Covers A, AAAA and
 * both, CNAMEs, NXDOMAIN, SERVFAIL, failover to a second server after a timeout, ignored spoofed
 * answers, IP literals, and that every query binding is closed afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { resolve } from '../../src/netstack/dns-resolver.js';
import { NetStack } from '../../src/netstack/stack.js';
import { answerQuery, response } from './dns-wire.js';
import { FakeHost, V4_LOCAL, V4_PEER, V6_LOCAL, V6_PEER } from './packets.js';

const TABLE = {
  'host.test': { a: [[10, 1, 2, 3]], aaaa: [[0xfd, ...new Array<number>(14).fill(0), 7]] },
  'alias.test': { cname: 'host.test' },
  'v4only.test': { a: [[10, 4, 4, 4]] },
  'broken.test': { rcode: 2 },
};

const SILENT_V4 = Uint8Array.of(10, 9, 0, 99);

function pair(opts: { spoofFirst?: boolean } = {}): {
  client: NetStack;
  server: NetStack;
  queries: () => number;
} {
  let queries = 0;
  const server: NetStack = new NetStack({
    addresses: [V4_PEER, V6_PEER, SILENT_V4],
    mtu: 1420,
    host: new FakeHost(5),
    output: (p) => queueMicrotask(() => client.input([p])),
  });
  const client: NetStack = new NetStack({
    addresses: [V4_LOCAL, V6_LOCAL],
    mtu: 1420,
    host: new FakeHost(6),
    output: (p) => queueMicrotask(() => server.input([p])),
  });
  for (const family of [4, 6] as const) {
    const b = server.udp.bind(family, null, 53, (query, from, to) => {
      queries++;
      if (to[3] === 99) return; // the silent server
      if (opts.spoofFirst === true) {
        const id = ((query[0]! << 8) | query[1]!) ^ 1;
        b.send(response({ id, qname: 'host.test', qtype: 1, answers: [] }), from);
      }
      const answer = answerQuery(query, TABLE);
      if (answer !== null) b.send(answer, from);
    });
  }
  return { client, server, queries: () => queries };
}

const text = (a: Uint8Array): string => (a.length === 4 ? a.join('.') : Buffer.from(a).toString('hex'));

describe('DNS resolver over a NetStack', () => {
  // The resolver's timers are unref'd (a lookup must not keep a program alive); in a real program
  // the tunnel's sockets keep the loop alive, here this interval does.
  let keepAlive: NodeJS.Timeout | undefined;
  before(() => {
    keepAlive = setInterval(() => undefined, 10_000);
  });
  after(() => clearInterval(keepAlive));

  it('resolves A, AAAA, both, and CNAMEs, over IPv4 and IPv6 servers', async () => {
    const { client } = pair();
    const v4 = await resolve('host.test', 4, [V4_PEER], client.udp);
    assert.deepEqual(
      v4.map((r) => [r.family, text(r.address)]),
      [[4, '10.1.2.3']],
    );
    const v6 = await resolve('host.test', 6, [V6_PEER], client.udp);
    assert.deepEqual(
      v6.map((r) => r.family),
      [6],
    );
    assert.equal(v6[0]!.address[15], 7);
    const both = await resolve('alias.test', 0, [V4_PEER], client.udp);
    assert.deepEqual(
      both.map((r) => r.family),
      [4, 6],
    );
    const only = await resolve('v4only.test', 0, [V4_PEER], client.udp);
    assert.deepEqual(
      only.map((r) => text(r.address)),
      ['10.4.4.4'],
    );
    assert.equal(client.udp.size, 0, 'query bindings closed');
  });

  it('rejects with ENOTFOUND, ESERVFAIL, EBADNAME', async () => {
    const { client } = pair();
    await assert.rejects(resolve('nope.test', 4, [V4_PEER], client.udp), { code: 'ENOTFOUND' });
    await assert.rejects(resolve('v4only.test', 6, [V4_PEER], client.udp), { code: 'ENOTFOUND' });
    await assert.rejects(resolve('broken.test', 4, [V4_PEER], client.udp, { attempts: 1 }), {
      code: 'ESERVFAIL',
    });
    await assert.rejects(resolve('a..b', 4, [V4_PEER], client.udp), { code: 'EBADNAME' });
    await assert.rejects(resolve('host.test', 4, [], client.udp), { code: 'ENOTFOUND' });
    assert.equal(client.udp.size, 0);
  });

  it('moves on to the next server after a timeout, and times out with ETIMEOUT', async () => {
    const { client, queries } = pair();
    const r = await resolve('host.test', 4, [SILENT_V4, V4_PEER], client.udp, { timeoutMs: 50 });
    assert.deepEqual(
      r.map((x) => text(x.address)),
      ['10.1.2.3'],
    );
    assert.equal(queries(), 2);
    await assert.rejects(resolve('host.test', 4, [SILENT_V4], client.udp, { timeoutMs: 30, attempts: 2 }), {
      code: 'ETIMEOUT',
    });
    assert.equal(queries(), 4, 'two attempts');
    assert.equal(client.udp.size, 0);
  });

  it('ignores an answer with the wrong id and takes the real one', async () => {
    const { client } = pair({ spoofFirst: true });
    const r = await resolve('host.test', 4, [V4_PEER], client.udp, { timeoutMs: 1000 });
    assert.deepEqual(
      r.map((x) => text(x.address)),
      ['10.1.2.3'],
    );
  });

  it('returns IP literals without asking', async () => {
    const { client, queries } = pair();
    assert.deepEqual(
      (await resolve('192.0.2.5', 0, [V4_PEER], client.udp)).map((r) => [r.family, text(r.address)]),
      [[4, '192.0.2.5']],
    );
    const v6 = await resolve('[fd00::1]', 6, [V4_PEER], client.udp);
    assert.equal(v6[0]!.family, 6);
    await assert.rejects(resolve('192.0.2.5', 6, [V4_PEER], client.udp), { code: 'ENOTFOUND' });
    assert.equal(queries(), 0);
  });
});
