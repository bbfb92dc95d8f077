/**
 * The tunnel peer fixture's pure parts, without root: the DNS responder (RFC 1035 §4.1 messages,
 * A and AAAA, NXDOMAIN, malformed queries dropped), the download pattern (the same bytes however
 * it is sliced, and a digest that matches hashing the stream), and the configuration texts
 * (wg-quick and wireproxy keys as REFERENCE.md names them).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  answer,
  buildQuery,
  canonicalAddress,
  parseAnswers,
  parseQuery,
  TYPE_A,
  TYPE_AAAA,
} from '../helpers/tunnel-dns.js';
import { PATTERN_BLOCK, patternSha256, patternSlice, patternStream } from '../helpers/tunnel-servers.js';
import { peerConfigText, socks5Section, tcpClientTunnelSection } from '../helpers/tunnel-config.js';

const table = new Map([['web.tunnel.test', ['10.200.7.1', 'fd00:200:7::1']]]);

function ask(name: string, type: number): { rcode: number; addresses: string[] } | null {
  const q = buildQuery(0x1234, name, type);
  const parsed = parseQuery(q);
  assert.ok(parsed !== null);
  const reply = answer(q, parsed, table);
  assert.equal(reply.readUInt16BE(0), 0x1234, 'the id is echoed');
  return parseAnswers(reply);
}

describe('tunnel DNS responder', () => {
  test('A, AAAA, case-insensitive names, NXDOMAIN, no records of another type', () => {
    assert.deepEqual(ask('web.tunnel.test', TYPE_A), { rcode: 0, addresses: ['10.200.7.1'] });
    assert.deepEqual(ask('WEB.Tunnel.TEST', TYPE_AAAA), {
      rcode: 0,
      addresses: [canonicalAddress('fd00:200:7::1')],
    });
    assert.equal(canonicalAddress('fd00:200:7::1'), 'fd00:200:7:0:0:0:0:1');
    assert.deepEqual(ask('other.tunnel.test', TYPE_A), { rcode: 3, addresses: [] });
    assert.deepEqual(ask('web.tunnel.test', 16 /* TXT */), { rcode: 0, addresses: [] });
  });

  test('malformed queries are dropped (null), never thrown', () => {
    const good = buildQuery(1, 'web.tunnel.test', TYPE_A);
    assert.equal(parseQuery(good.subarray(0, 11)), null, 'short header');
    assert.equal(parseQuery(good.subarray(0, good.length - 2)), null, 'truncated question');
    const response = Buffer.from(good);
    response[2] = response[2]! | 0x80;
    assert.equal(parseQuery(response), null, 'a response, not a query');
    const pointer = Buffer.from(good);
    pointer[12] = 0xc0;
    assert.equal(parseQuery(pointer), null, 'compression in a question');
    const two = Buffer.from(good);
    two.writeUInt16BE(2, 4);
    assert.equal(parseQuery(two), null, 'two questions');
  });
});

describe('download pattern', () => {
  test('slices across the block boundary agree with the stream and its digest', async () => {
    const n = PATTERN_BLOCK + 12_345;
    const chunks: Buffer[] = [];
    for await (const c of patternStream(n)) chunks.push(c as Buffer);
    const all = Buffer.concat(chunks);
    assert.equal(all.length, n);
    assert.ok(
      patternSlice(PATTERN_BLOCK - 10, 20).equals(all.subarray(PATTERN_BLOCK - 10, PATTERN_BLOCK + 10)),
    );
    assert.equal(patternSha256(n), createHash('sha256').update(all).digest('hex'));
    assert.notEqual(patternSha256(n), patternSha256(n - 1));
  });
});

describe('configuration texts', () => {
  const texts = peerConfigText({
    peerPublicKey: 'PEERKEY=',
    endpoint: '10.7.0.2:51820',
    ourV4: '10.200.7.2',
    ourV6: 'fd00:200:7::2',
    dnsServer: '10.200.7.1',
    mtu: 1420,
    allowed: ['10.200.7.0/24', 'fd00:200:7::/64'],
  });

  test('wg-quick: every key, keepalive and DNS optional', () => {
    const q = texts.wgQuickConfig('OURKEY=');
    for (const line of [
      'PrivateKey = OURKEY=',
      'Address = 10.200.7.2/32, fd00:200:7::2/128',
      'DNS = 10.200.7.1',
      'MTU = 1420',
      'PublicKey = PEERKEY=',
      'Endpoint = 10.7.0.2:51820',
      'AllowedIPs = 10.200.7.0/24, fd00:200:7::/64',
      'PersistentKeepalive = 25',
    ]) {
      assert.ok(q.split('\n').includes(line), `${line} in\n${q}`);
    }
    const bare = texts.wgQuickConfig('OURKEY=', { omitDns: true, persistentKeepalive: 0 });
    assert.doesNotMatch(bare, /DNS|PersistentKeepalive/);
  });

  test('wireproxy: the wg-quick part, then the sections', () => {
    const w = texts.wireproxyConfig('OURKEY=', [
      socks5Section('127.0.0.1:1080', 'u', 'p'),
      tcpClientTunnelSection('127.0.0.1:2222', '10.200.7.1:7'),
    ]);
    assert.ok(w.startsWith(texts.wgQuickConfig('OURKEY=')));
    assert.match(w, /\n\[Socks5\]\nBindAddress = 127\.0\.0\.1:1080\nUsername = u\nPassword = p\n/);
    assert.match(w, /\n\[TCPClientTunnel\]\nBindAddress = 127\.0\.0\.1:2222\nTarget = 10\.200\.7\.1:7\n/);
  });
});
