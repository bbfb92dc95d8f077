/**
 * The WireGuard v1 wire vector (test/vectors/wg-handshake-vector.json, checked against a running
 * wireguard-go): with its fixed statics, ephemerals, psk, timestamp, indices and cookie secret, our
 * code must produce the exact initiation, response, transport and keepalive bytes, the same
 * transport keys and handshake hash, the same cookie reply, and the same mac2 initiation.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seal } from '../../src/crypto/aead.js';
import { dh } from '../../src/crypto/x25519.js';
import { CookieChecker, CookieGenerator } from '../../src/protocol/cookie.js';
import {
  consumeResponse,
  createInitiation,
  createResponse,
  finishInitiation,
  identifyInitiation,
  transportKeys,
} from '../../src/protocol/handshake.js';
import { Keypair } from '../../src/protocol/keypairs.js';
import {
  parseMessage,
  type CookieReplyMessage,
  type InitiationMessage,
  type ResponseMessage,
} from '../../src/protocol/messages.js';
import { openTransport, sealTransport } from '../../src/protocol/transport.js';
import { hex, loadVector, toHexString } from '../helpers/vectors.js';

const v = loadVector<Record<string, string | number>>('wg-handshake-vector.json');
const s = (k: string): string => v[k] as string;
const n = (k: string): number => v[k] as number;

const initiator = {
  privateKey: hex(s('initiator_static_private')),
  publicKey: hex(s('initiator_static_public')),
};
const responder = {
  privateKey: hex(s('responder_static_private')),
  publicKey: hex(s('responder_static_public')),
};
const psk = hex(s('preshared_key'));

function handshake() {
  const ss = dh(initiator.privateKey, responder.publicKey)!;
  const init = createInitiation(
    initiator,
    responder.publicKey,
    ss,
    n('initiator_index'),
    hex(s('initiator_ephemeral_private')),
    hex(s('timestamp_tai64n')),
  )!;
  const gen = new CookieGenerator(responder.publicKey);
  gen.addMacs(init.message, 0);
  const initMsg = parseMessage(init.message) as InitiationMessage;
  const partial = identifyInitiation(responder, initMsg)!;
  const fin = finishInitiation(partial, dh(responder.privateKey, initiator.publicKey)!, initMsg)!;
  const resp = createResponse(
    fin.state,
    n('responder_index'),
    n('initiator_index'),
    hex(s('responder_ephemeral_private')),
    psk,
  )!;
  new CookieGenerator(initiator.publicKey).addMacs(resp.message, 0);
  const sym = consumeResponse(
    init.state,
    initiator.privateKey,
    psk,
    parseMessage(resp.message) as ResponseMessage,
  )!;
  return { init, gen, partial, fin, resp, sym };
}

test('initiation bytes, including mac1, match the vector', () => {
  const { init, partial, fin } = handshake();
  assert.equal(toHexString(init.message), s('initiation'));
  assert.equal(toHexString(init.message.subarray(116, 132)), s('initiation_mac1'));
  assert.deepEqual(partial.remoteStatic, initiator.publicKey);
  assert.equal(toHexString(fin.timestamp), s('timestamp_tai64n'));
});

test('response bytes match, and both sides derive the vector transport keys and hash', () => {
  const { resp, sym } = handshake();
  assert.equal(toHexString(resp.message), s('response'));
  assert.equal(toHexString(sym.hash), s('final_handshake_hash'));
  assert.equal(toHexString(resp.symmetric.hash), s('final_handshake_hash'));
  const ki = transportKeys(sym, true);
  const kr = transportKeys(resp.symmetric, false);
  assert.equal(toHexString(ki.sendKey), s('initiator_send_key'));
  assert.equal(toHexString(ki.receiveKey), s('initiator_recv_key'));
  assert.deepEqual(kr.sendKey, ki.receiveKey);
  assert.deepEqual(kr.receiveKey, ki.sendKey);
});

test('transport data and keepalive bytes match, and decrypt back', () => {
  const { sym, resp } = handshake();
  const ki = transportKeys(sym, true);
  const kr = transportKeys(resp.symmetric, false);
  const a = new Keypair(ki.sendKey, ki.receiveKey, n('initiator_index'), n('responder_index'), true, 0);
  const b = new Keypair(kr.sendKey, kr.receiveKey, n('responder_index'), n('initiator_index'), false, 0);
  const data = sealTransport(a, hex(s('transport_plain_ip_packet')), 1420);
  assert.equal(toHexString(data), s('transport_initiator_counter0'));
  const keepalive = sealTransport(b, new Uint8Array(0), 1420);
  assert.equal(toHexString(keepalive), s('keepalive_responder_counter0'));
  const plain = openTransport(b, 0n, data.subarray(16))!;
  assert.equal(toHexString(plain.subarray(0, 44)), s('transport_plain_ip_packet'));
  assert.equal(plain.length, 48, 'padded to a multiple of 16');
  assert.deepEqual(seal(kr.sendKey, 0n, new Uint8Array(0)), keepalive.subarray(16));
});

test('cookie reply matches; the initiator decrypts it and produces the mac2 initiation', () => {
  const { init, gen } = handshake();
  const checker = new CookieChecker(responder.publicKey, (len) => new Uint8Array(len));
  checker.setSecret(hex(s('cookie_secret')), 0);
  const source = hex(s('cookie_source_bytes'));
  const reply = checker.createReply(
    init.message,
    n('initiator_index'),
    source,
    1,
    hex(s('cookie_reply_nonce')),
  );
  assert.equal(toHexString(reply), s('cookie_reply'));
  assert.equal(gen.consumeReply(parseMessage(reply) as CookieReplyMessage, 10), true);
  gen.addMacs(init.message, 20);
  assert.equal(toHexString(init.message), s('initiation_with_mac2'));
  // The responder, under load, now sees a valid mac2 from that source only.
  assert.equal(checker.validate(init.message, source, true, 30), 'validMacWithCookie');
  assert.equal(checker.validate(init.message, hex('c0000202ca6c'), true, 30), 'validMacNoCookie');
  assert.equal(checker.validate(init.message, source, false, 30), 'validMacNoCookie');
});

test('a cookie reply is accepted only as the answer to the last mac1 sent', () => {
  const { init } = handshake();
  const gen = new CookieGenerator(responder.publicKey);
  const checker = new CookieChecker(responder.publicKey, (len) => new Uint8Array(len).fill(7));
  const reply = parseMessage(
    checker.createReply(init.message, 1, hex('7f0000010001'), 0),
  ) as CookieReplyMessage;
  assert.equal(gen.consumeReply(reply, 0), false, 'nothing sent yet');
  gen.addMacs(init.message, 0);
  assert.equal(gen.consumeReply(reply, 0), true);
  assert.equal(gen.consumeReply(reply, 0), false, 'a second copy is refused');
});
