/**
 * The public Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s vector (cacophony) reproduced by the handshake
 * token functions WireGuard uses, fed the vector's prologue, keys, ephemerals, psk and payloads.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { open, seal } from '../../src/crypto/aead.js';
import { dh, publicKeyOf } from '../../src/crypto/x25519.js';
import {
  readMessage1Payload,
  readMessage1Static,
  readMessage2,
  transportKeys,
  writeMessage1,
  writeMessage2,
} from '../../src/protocol/handshake.js';
import { hex, loadVector, toHexString } from '../helpers/vectors.js';

interface NoiseVector {
  protocol_name: string;
  init_prologue: string;
  init_psks: string[];
  init_static: string;
  init_ephemeral: string;
  init_remote_static: string;
  resp_prologue: string;
  resp_psks: string[];
  resp_static: string;
  resp_ephemeral: string;
  handshake_hash: string;
  messages: { payload: string; ciphertext: string }[];
}

const { vectors } = loadVector<{ vectors: NoiseVector[] }>('noise-ikpsk2-vectors.json');

for (const v of vectors) {
  test(`${v.protocol_name}: handshake and transport messages byte for byte`, () => {
    assert.equal(v.protocol_name, 'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s');
    const initiator = { privateKey: hex(v.init_static), publicKey: publicKeyOf(hex(v.init_static)) };
    const responder = { privateKey: hex(v.resp_static), publicKey: publicKeyOf(hex(v.resp_static)) };
    assert.equal(toHexString(responder.publicKey), v.init_remote_static);
    const [m1, m2, ...transport] = v.messages;

    // -> e, es, s, ss, {payload}
    const ssI = dh(initiator.privateKey, responder.publicKey)!;
    const w1 = writeMessage1(
      hex(v.init_prologue),
      initiator,
      responder.publicKey,
      ssI,
      hex(v.init_ephemeral),
      hex(m1!.payload),
    )!;
    const wire1 = Buffer.concat([w1.ephemeral, w1.encryptedStatic, w1.encryptedPayload]);
    assert.equal(wire1.toString('hex'), m1!.ciphertext);

    const r1 = readMessage1Static(
      hex(v.resp_prologue),
      responder,
      wire1.subarray(0, 32),
      wire1.subarray(32, 80),
    )!;
    assert.deepEqual(r1.remoteStatic, initiator.publicKey);
    const ssR = dh(responder.privateKey, r1.remoteStatic)!;
    const p1 = readMessage1Payload(r1, ssR, wire1.subarray(80))!;
    assert.equal(toHexString(p1.payload), m1!.payload);

    // <- e, ee, se, psk, {payload}
    const w2 = writeMessage2(p1.state, hex(v.resp_ephemeral), hex(v.resp_psks[0]!), hex(m2!.payload))!;
    const wire2 = Buffer.concat([w2.ephemeral, w2.encryptedPayload]);
    assert.equal(wire2.toString('hex'), m2!.ciphertext);
    const r2 = readMessage2(
      w1.state,
      initiator.privateKey,
      wire2.subarray(0, 32),
      hex(v.init_psks[0]!),
      wire2.subarray(32),
    )!;
    assert.equal(toHexString(r2.payload), m2!.payload);

    assert.equal(toHexString(r2.symmetric.hash), v.handshake_hash);
    assert.equal(toHexString(w2.symmetric.hash), v.handshake_hash);

    // Transport: initiator and responder alternate, each direction counting nonces from 0.
    const ki = transportKeys(r2.symmetric, true);
    const kr = transportKeys(w2.symmetric, false);
    transport.forEach((m, i) => {
      const fromInitiator = i % 2 === 0;
      const nonce = BigInt(Math.floor(i / 2));
      const ct = seal(fromInitiator ? ki.sendKey : kr.sendKey, nonce, hex(m.payload));
      assert.equal(toHexString(ct), m.ciphertext, `transport message ${i + 3}`);
      const pt = open(fromInitiator ? kr.receiveKey : ki.receiveKey, nonce, ct)!;
      assert.equal(toHexString(pt), m.payload);
    });
  });
}
