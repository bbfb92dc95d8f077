/**
 * The crypto layer against the WireGuard wire vector (test/vectors/wg-handshake-vector.json, both
 * halves accepted by wireguard-go): static public keys, mac1 and mac2 (whitepaper section 5.4.4),
 * the cookie and its XChaCha20-Poly1305 reply (section 5.4.7) and transport data and keepalive
 * under the derived keys (section 5.4.6). Only primitives are exercised here; the handshake itself
 * is the protocol suite's job.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONSTRUCTION, IDENTIFIER, LABEL_COOKIE, LABEL_MAC1 } from '../../src/constants.js';
import { open, seal, xopen, xseal } from '../../src/crypto/aead.js';
import { hash, mac } from '../../src/crypto/blake2s.js';
import { publicKeyOf } from '../../src/crypto/x25519.js';
import { hexOf, loadVectors, unhex } from './vectors.js';

interface WgVector {
  initiator_static_private: string;
  initiator_static_public: string;
  responder_static_private: string;
  responder_static_public: string;
  initiation: string;
  initiation_mac1: string;
  response: string;
  initiator_send_key: string;
  initiator_recv_key: string;
  transport_plain_ip_packet: string;
  transport_initiator_counter0: string;
  keepalive_responder_counter0: string;
  cookie_secret: string;
  cookie_source_bytes: string;
  cookie: string;
  cookie_reply_nonce: string;
  cookie_reply: string;
  initiation_with_mac2: string;
}

const w = loadVectors<WgVector>('wg-handshake-vector.json');
const initiation = unhex(w.initiation);
const response = unhex(w.response);
const responderPublic = unhex(w.responder_static_public);
const initiatorPublic = unhex(w.initiator_static_public);

test('the static public keys derive from the private keys', () => {
  assert.equal(hexOf(publicKeyOf(unhex(w.initiator_static_private))), w.initiator_static_public);
  assert.equal(hexOf(publicKeyOf(unhex(w.responder_static_private))), w.responder_static_public);
});

test('HASH(CONSTRUCTION) and HASH(C ‖ IDENTIFIER) are the handshake constants', () => {
  const ck = hash(CONSTRUCTION);
  assert.equal(hexOf(ck), '60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36');
  assert.equal(
    hexOf(hash(ck, IDENTIFIER)),
    '2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3',
  );
});

test("initiation mac1 = MAC(HASH(LABEL_MAC1 ‖ responder's static public), msg up to mac1)", () => {
  assert.equal(initiation.length, 148);
  const key = hash(LABEL_MAC1, responderPublic);
  const mac1 = mac(key, initiation.subarray(0, 116));
  assert.equal(hexOf(mac1), w.initiation_mac1);
  assert.equal(hexOf(initiation.subarray(116, 132)), w.initiation_mac1);
  assert.equal(hexOf(initiation.subarray(132)), '00'.repeat(16), 'no cookie, so mac2 is zero');
});

test("response mac1 is keyed with the initiator's static public", () => {
  assert.equal(response.length, 92);
  const key = hash(LABEL_MAC1, initiatorPublic);
  assert.equal(hexOf(mac(key, response.subarray(0, 60))), hexOf(response.subarray(60, 76)));
});

test('cookie = MAC(secret, source bytes)', () => {
  assert.equal(hexOf(mac(unhex(w.cookie_secret), unhex(w.cookie_source_bytes))), w.cookie);
});

test("cookie reply: XAEAD(HASH(LABEL_COOKIE ‖ responder's public), nonce, cookie, mac1)", () => {
  const reply = unhex(w.cookie_reply);
  assert.equal(reply.length, 64);
  assert.equal(
    hexOf(reply.subarray(0, 8)),
    '03000000' + w.initiation.slice(8, 16),
    'type 3, to the sender index',
  );
  const nonce = reply.subarray(8, 32);
  assert.equal(hexOf(nonce), w.cookie_reply_nonce);
  const key = hash(LABEL_COOKIE, responderPublic);
  const aad = unhex(w.initiation_mac1);
  const cookie = xopen(key, nonce, reply.subarray(32), aad);
  assert.ok(cookie);
  assert.equal(hexOf(cookie), w.cookie);
  assert.equal(hexOf(xseal(key, nonce, unhex(w.cookie), aad)), hexOf(reply.subarray(32)));
  assert.equal(xopen(key, nonce, reply.subarray(32), unhex(w.initiation_mac1.replace(/^a1/, 'a0'))), null);
  assert.equal(xopen(hash(LABEL_COOKIE, initiatorPublic), nonce, reply.subarray(32), aad), null);
});

test('initiation mac2 = MAC(cookie, msg up to mac2), mac1 unchanged', () => {
  const withMac2 = unhex(w.initiation_with_mac2);
  assert.equal(hexOf(withMac2.subarray(0, 132)), hexOf(initiation.subarray(0, 132)));
  assert.equal(hexOf(mac(unhex(w.cookie), withMac2.subarray(0, 132))), hexOf(withMac2.subarray(132)));
});

test('transport data: counter 0 under the initiator send key opens to the padded IP packet', () => {
  const msg = unhex(w.transport_initiator_counter0);
  assert.equal(hexOf(msg.subarray(0, 4)), '04000000');
  assert.equal(hexOf(msg.subarray(4, 8)), w.response.slice(8, 16), "the responder's sender index");
  assert.equal(Buffer.from(msg).readBigUInt64LE(8), 0n);
  const key = unhex(w.initiator_send_key);
  const plain = open(key, 0n, msg.subarray(16));
  assert.ok(plain);
  const packet = unhex(w.transport_plain_ip_packet);
  const padded = new Uint8Array(Math.ceil(packet.length / 16) * 16);
  padded.set(packet);
  assert.equal(hexOf(plain), hexOf(padded));
  assert.equal(hexOf(seal(key, 0n, padded)), hexOf(msg.subarray(16)));
  assert.equal(open(key, 1n, msg.subarray(16)), null, 'wrong counter');
  assert.equal(open(unhex(w.initiator_recv_key), 0n, msg.subarray(16)), null, 'wrong direction');
});

test("keepalive: counter 0 under the responder's send key (the initiator's receive key) is empty", () => {
  const msg = unhex(w.keepalive_responder_counter0);
  assert.equal(msg.length, 32);
  const plain = open(unhex(w.initiator_recv_key), 0n, msg.subarray(16));
  assert.ok(plain);
  assert.equal(plain.length, 0);
});
