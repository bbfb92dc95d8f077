/**
 * DNS messages (src/netstack/dns-message.ts): query layout, and response parsing on crafted,
 * compressed, looping, truncated and mismatched messages, which must give error results and
 * never throw.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildQuery, parseResponse, readName } from '../../src/netstack/dns-message.js';
import { FakeHost } from './packets.js';
import { response } from './dns-wire.js';

const A = 1;
const AAAA = 28;

describe('DNS query', () => {
  it('lays out header, labels, type and class', () => {
    const q = buildQuery(0xabcd, 'Example.test.', AAAA)!;
    assert.deepEqual(
      [...q],
      [
        0xab,
        0xcd,
        1,
        0,
        0,
        1,
        0,
        0,
        0,
        0,
        0,
        0,
        7,
        ...Buffer.from('Example'),
        4,
        ...Buffer.from('test'),
        0,
        0,
        28,
        0,
        1,
      ],
    );
  });

  it('refuses names that are not host names', () => {
    for (const bad of [
      '',
      '.',
      'a..b',
      'x'.repeat(64) + '.com',
      'a b.com',
      'ü.de',
      `${'a.'.repeat(127)}ab`,
    ]) {
      assert.equal(buildQuery(1, bad, A), null, JSON.stringify(bad));
    }
  });
});

describe('DNS response', () => {
  it('reads addresses, compressed owners, case-insensitive question, TTLs', () => {
    const msg = response({
      id: 7,
      qname: 'WWW.Example.TEST',
      qtype: A,
      answers: [
        { owner: { pointer: 12 }, type: A, ttl: 60, rdata: [192, 0, 2, 1] },
        { owner: { pointer: 12 }, type: A, ttl: 0x80000000, rdata: [192, 0, 2, 2] },
      ],
    });
    const r = parseResponse(msg, 7, 'www.example.test', A);
    assert.ok(r.ok);
    assert.deepEqual(
      r.addresses.map((a) => [[...a.address].join('.'), a.ttl]),
      [
        ['192.0.2.1', 60],
        ['192.0.2.2', 0],
      ],
    );
  });

  it('follows a CNAME chain with compressed targets', () => {
    // question at 12: "a.test" = 1 'a' 4 'test' 0 → "test" label at offset 14
    const msg = response({
      id: 1,
      qname: 'a.test',
      qtype: AAAA,
      answers: [
        { owner: { pointer: 12 }, type: 5, rdata: { name: { labels: 'b', pointer: 14 } } },
        { owner: 'b.test', type: 5, rdata: { name: 'c.test' } },
        { owner: 'c.test', type: AAAA, rdata: [0xfd, ...new Array<number>(14).fill(0), 1] },
        { owner: 'unrelated.test', type: AAAA, rdata: new Array<number>(16).fill(9) },
      ],
    });
    const r = parseResponse(msg, 1, 'a.test', AAAA);
    assert.ok(r.ok);
    assert.equal(r.addresses.length, 1);
    assert.equal(r.addresses[0]!.address[0], 0xfd);
  });

  it('an empty answer or NXDOMAIN is a result with no addresses and the rcode', () => {
    const nx = parseResponse(response({ id: 2, qname: 'x.test', qtype: A, rcode: 3 }), 2, 'x.test', A);
    assert.ok(nx.ok);
    assert.equal(nx.rcode, 3);
    assert.equal(nx.addresses.length, 0);
  });

  it('refuses mismatches: id, question name, type, count, not a response', () => {
    const msg = response({
      id: 5,
      qname: 'a.test',
      qtype: A,
      answers: [{ owner: 'a.test', type: A, rdata: [1, 2, 3, 4] }],
    });
    assert.deepEqual(parseResponse(msg, 6, 'a.test', A), { ok: false, error: 'id mismatch' });
    assert.deepEqual(parseResponse(msg, 5, 'b.test', A), { ok: false, error: 'question mismatch' });
    assert.deepEqual(parseResponse(msg, 5, 'a.test', AAAA), { ok: false, error: 'question mismatch' });
    const two = response({ id: 5, qname: 'a.test', qtype: A, qdcount: 2 });
    assert.equal(parseResponse(two, 5, 'a.test', A).ok, false);
    const query = buildQuery(5, 'a.test', A)!;
    assert.deepEqual(parseResponse(query, 5, 'a.test', A), { ok: false, error: 'not a response' });
    const wrongLength = response({
      id: 5,
      qname: 'a.test',
      qtype: A,
      answers: [{ owner: 'a.test', type: A, rdata: [1, 2, 3] }],
    });
    assert.equal(parseResponse(wrongLength, 5, 'a.test', A).ok, false);
  });

  it('refuses pointer loops, forward pointers, and CNAME loops', () => {
    const self = response({
      id: 1,
      qname: 'a.test',
      qtype: A,
      answers: [{ owner: { pointer: 24 }, type: A, rdata: [1, 2, 3, 4] }],
    });
    // The answer's owner name starts at offset 24 and points to itself.
    assert.deepEqual(parseResponse(self, 1, 'a.test', A), { ok: false, error: 'bad record' });
    const loop = Uint8Array.from([0, 0, 0, 0, 0xc0, 4]);
    assert.equal(readName(loop, 4), null, 'a pointer to itself');
    const forward = Uint8Array.from([0xc0, 2, 1, 0x61, 0]);
    assert.equal(readName(forward, 0), null, 'a pointer forwards');
    assert.equal(readName(Uint8Array.from([0x40, 0]), 0), null, 'extended label type');
    assert.equal(readName(Uint8Array.from([3, 0x61]), 0), null, 'label past the end');
    const cnameLoop = response({
      id: 1,
      qname: 'a.test',
      qtype: A,
      answers: [
        { owner: 'a.test', type: 5, rdata: { name: 'b.test' } },
        { owner: 'b.test', type: 5, rdata: { name: 'a.test' } },
      ],
    });
    assert.deepEqual(parseResponse(cnameLoop, 1, 'a.test', A), { ok: false, error: 'CNAME chain too long' });
  });

  it('uses a truncated (TC) answer up to the cut, and refuses an untruncated cut message', () => {
    const full = response({
      id: 3,
      qname: 'a.test',
      qtype: A,
      truncated: true,
      answers: [
        { owner: { pointer: 12 }, type: A, rdata: [1, 1, 1, 1] },
        { owner: { pointer: 12 }, type: A, rdata: [2, 2, 2, 2] },
      ],
    });
    const cut = full.subarray(0, full.length - 3);
    const r = parseResponse(cut, 3, 'a.test', A);
    assert.ok(r.ok);
    assert.equal(r.truncated, true);
    assert.equal(r.addresses.length, 1);
    const plain = Uint8Array.from(cut);
    plain[2] = 0x81;
    assert.equal(parseResponse(plain, 3, 'a.test', A).ok, false);
  });

  it('never throws on random or mutated messages', () => {
    const host = new FakeHost(11);
    const base = response({
      id: 9,
      qname: 'a.test',
      qtype: A,
      answers: [
        { owner: { pointer: 12 }, type: 5, rdata: { name: { labels: 'b', pointer: 14 } } },
        { owner: 'b.test', type: A, rdata: [1, 2, 3, 4] },
      ],
    });
    for (let i = 0; i < 5000; i++) {
      let msg: Uint8Array;
      if (i % 2 === 0) msg = host.random(host.next() % 80);
      else {
        msg = Uint8Array.from(base.subarray(0, host.next() % (base.length + 1)));
        for (let k = host.next() % 4; k >= 0; k--)
          if (msg.length > 0) msg[host.next() % msg.length] = host.next() & 0xff;
      }
      assert.doesNotThrow(() => parseResponse(msg, 9, 'a.test', A));
    }
  });
});
