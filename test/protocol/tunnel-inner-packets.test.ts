/**
 * What a peer may put inside an authenticated transport message (the kernel's receive.c
 * "dishonest packet" checks): the decrypted plaintext must be a whole IPv4 or IPv6 packet whose
 * length field fits what was sent. Anything else is dropped with a reason and never returned as
 * `toTunnel`, yet it was authenticated: its counter is consumed and the session carries on. The
 * plaintexts here are sealed by hand under the peer's real keypair (transport.ts sealTransport).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Pair, ipv4, ipv4OfLength, ipv6OfLength, sealRaw } from '../helpers/pair.js';

function withHeader(base: Uint8Array, edit: (b: Uint8Array) => void, length = base.length): Uint8Array {
  const out = new Uint8Array(length);
  out.set(base.subarray(0, Math.min(length, base.length)));
  edit(out);
  return out;
}

const v4 = ipv4OfLength(60);
const v6 = ipv6OfLength(80);

const CASES: readonly (readonly [string, Uint8Array, 'not-ip' | 'bad-ip-length'])[] = [
  ['IP version 0 (all-zero padding only)', new Uint8Array(16), 'not-ip'],
  ['IP version 5', withHeader(v4, (b) => (b[0] = 0x55)), 'not-ip'],
  ['IP version 15', withHeader(v4, (b) => (b[0] = 0xf5)), 'not-ip'],
  ['one byte 0x45 (padded to 16)', Uint8Array.of(0x45), 'bad-ip-length'],
  ['IPv4 header cut at 19 bytes, padded to 32 but length 60', v4.subarray(0, 19), 'bad-ip-length'],
  ['IPv4 length 100, 60 bytes sent (padded to 64)', withHeader(v4, (b) => (b[3] = 100)), 'bad-ip-length'],
  ['IPv4 length 65535', withHeader(v4, (b) => ((b[2] = 0xff), (b[3] = 0xff))), 'bad-ip-length'],
  ['IPv4 length 19', withHeader(v4, (b) => ((b[2] = 0), (b[3] = 19))), 'bad-ip-length'],
  ['IPv4 length 0', withHeader(v4, (b) => ((b[2] = 0), (b[3] = 0))), 'bad-ip-length'],
  ['IPv4 IHL 4 (header shorter than 20)', withHeader(v4, (b) => (b[0] = 0x44)), 'bad-ip-length'],
  ['IPv4 IHL 15 with length 40', withHeader(v4, (b) => ((b[0] = 0x4f), (b[3] = 40))), 'bad-ip-length'],
  ['IPv6 header cut at 30 bytes (padded to 32)', v6.subarray(0, 30), 'bad-ip-length'],
  ['IPv6 payload length 100, 40 bytes of payload sent', withHeader(v6, (b) => (b[5] = 100)), 'bad-ip-length'],
  ['IPv6 payload length 65535', withHeader(v6, (b) => ((b[4] = 0xff), (b[5] = 0xff))), 'bad-ip-length'],
];

for (const [name, plaintext, reason] of CASES) {
  test(`inner packet: ${name} → dropped (${reason})`, () => {
    const p = new Pair();
    p.handshake('a');
    const d = sealRaw(p.a, plaintext);
    const r = p.toB(d);
    assert.deepEqual(r, { kind: 'drop', reason });
    // Authenticated all the same: the counter is used up and the session works on.
    assert.deepEqual(p.toB(d), { kind: 'drop', reason: 'replay' });
    const good = ipv4('10.0.0.1', '10.0.0.2', 3);
    const after = p.toB(sealRaw(p.a, good));
    assert.equal(after.kind, 'toTunnel');
    assert.deepEqual(after.kind === 'toTunnel' && after.packet, good);
  });
}

test('inner packet: a whole packet that ends inside the padding is delivered (length ≤ what was sent)', () => {
  const p = new Pair();
  p.handshake('a');
  // 24 bytes sent (padded to 32), header says 28: the kernel accepts it (len ≤ skb->len), the
  // last 4 bytes being zero padding.
  const short = withHeader(ipv4OfLength(28), () => {}, 24);
  const r = p.toB(sealRaw(p.a, short));
  assert.equal(r.kind, 'toTunnel');
  assert.equal(r.kind === 'toTunnel' && r.packet.length, 28);
  assert.deepEqual(r.kind === 'toTunnel' && r.packet.subarray(24), new Uint8Array(4));
});

test('inner packet: an empty plaintext is a keepalive, never a packet', () => {
  const p = new Pair();
  p.handshake('a');
  assert.deepEqual(p.toB(sealRaw(p.a, new Uint8Array(0))), { kind: 'none' });
});
