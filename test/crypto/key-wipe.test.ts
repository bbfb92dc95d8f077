/**
 * Key hygiene, buffer by buffer (issue 11 "Key material lingers"; whitepaper 5.4.2-5.4.4 zero
 * the ephemeral keys and chaining keys once used): the ephemeral private keys of both roles, the
 * handshake states' chaining keys once consumed or abandoned (success and drop paths), a replaced
 * or removed preshared key (on a Tunnel and through the device's UAPI apply path), and the
 * transport keys of a dropped keypair are all-zero afterwards. The memory scan
 * (key-memory.test.ts) checks the same from the outside, including copies no reference reaches.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { isAllZero, toHex } from '../../src/crypto/bytes.js';
import { parseKeyBase64, parseKeyHex } from '../../src/crypto/keys.js';
import { randomPooled } from '../../src/crypto/random.js';
import { tai64nFromMillis } from '../../src/crypto/tai64n.js';
import { clampPrivateKey, generatePrivateKey } from '../../src/crypto/x25519.js';
import { createInitiation, identifyInitiation, type InitiatorState } from '../../src/protocol/handshake.js';
import { LocalIdentity } from '../../src/protocol/identity.js';
import { IndexTable } from '../../src/protocol/indices.js';
import type { Keypair } from '../../src/protocol/keypairs.js';
import { parseMessage, type InitiationMessage, type ResponseMessage } from '../../src/protocol/messages.js';
import type { TunnelResult } from '../../src/protocol/results.js';
import { Session } from '../../src/protocol/session.js';
import { Tunnel } from '../../src/protocol/tunnel.js';
import { DeviceNet, assertOk, deviceSet, peerUpdate } from '../helpers/device-net.js';
import { datagramsOf, ipv4 } from '../helpers/pair.js';
import { UapiServer } from '../../src/uapi/server.js';
import { FakeTarget, errnos, rawExchange, tempDir } from '../uapi/helpers.js';

const zero = (b: Uint8Array, what: string): void => assert.ok(isAllZero(b), `${what} is not wiped`);
const nonzero = (b: Uint8Array, what: string): void => assert.ok(!isAllZero(b), `${what} is zero too early`);

function identities(): [LocalIdentity, LocalIdentity] {
  return [new LocalIdentity(generatePrivateKey()), new LocalIdentity(generatePrivateKey())];
}

function initiation(bytes: Uint8Array): InitiationMessage {
  const m = parseMessage(bytes);
  assert.equal(m.type, 'initiation');
  return m as InitiationMessage;
}

function response(bytes: Uint8Array): ResponseMessage {
  const m = parseMessage(bytes);
  assert.equal(m.type, 'response');
  return m as ResponseMessage;
}

/** One initiation from `sa` (A) toward B: the message and the state the session keeps. */
function initiate(sa: Session, a: LocalIdentity, bPublic: Uint8Array, eph: Uint8Array) {
  const index = sa.beginInitiation();
  const created = createInitiation(
    a.keys!,
    bPublic,
    sa.staticStatic()!,
    index,
    eph,
    tai64nFromMillis(Date.now()),
  );
  assert.ok(created);
  sa.initiationSent(created.state);
  return created;
}

test('both ephemeral private keys and the chaining keys are zero once a handshake completes', () => {
  const [a, b] = identities();
  const psk = randomPooled(32);
  const sa = new Session(a, b.keys!.publicKey, new IndexTable(randomPooled), 'a');
  const sb = new Session(b, a.keys!.publicKey, new IndexTable(randomPooled), 'b');
  const ephA = generatePrivateKey();
  const created = initiate(sa, a, b.keys!.publicKey, ephA);
  const state: InitiatorState = created.state;
  // The state keeps its own copy; the caller's draw is its own to wipe (Tunnel does at once).
  assert.notEqual(state.ephemeralPrivate, ephA);
  nonzero(state.ephemeralPrivate, 'the pending initiator ephemeral');

  const msg = initiation(created.message);
  const partial = identifyInitiation(b.keys!, msg);
  assert.ok(partial);
  const r = sb.finishInitiation(partial, msg);
  assert.ok(r);
  const ephB = generatePrivateKey();
  const reply = sb.respond(r.state, msg.sender, ephB, psk, 0);
  assert.ok(reply);
  zero(ephB, "the responder's ephemeral private key");

  assert.equal(sa.finishResponse(response(reply), psk, 0), 'ok');
  zero(state.ephemeralPrivate, "the initiator's ephemeral private key");
  zero(state.symmetric.chainingKey, "the initiator's chaining key");
  // Both sides derived the same transport keys, which live on in the keypairs.
  const ka = sa.keypairs.current!;
  const kb = sb.keypairs.next!;
  assert.deepEqual(ka.sendKey, kb.receiveKey);
  nonzero(ka.sendKey, 'a live transport key');
});

test('an abandoned or superseded initiation has its ephemeral key and chaining key wiped', () => {
  const [a, b] = identities();
  const sa = new Session(a, b.keys!.publicKey, new IndexTable(randomPooled), 'a');
  const first = initiate(sa, a, b.keys!.publicKey, generatePrivateKey()).state;
  // A retry (REKEY_TIMEOUT) begins a new initiation: the old one is abandoned.
  const second = initiate(sa, a, b.keys!.publicKey, generatePrivateKey()).state;
  zero(first.ephemeralPrivate, 'the superseded ephemeral');
  zero(first.symmetric.chainingKey, 'the superseded chaining key');
  nonzero(second.ephemeralPrivate, 'the pending ephemeral');
  sa.clear(); // peer removal, or key zeroing after 3 x REJECT_AFTER_TIME
  zero(second.ephemeralPrivate, 'the abandoned ephemeral');
  zero(second.symmetric.chainingKey, 'the abandoned chaining key');
});

test("Tunnel: its ephemeral draws are wiped, and an initiation's responder states once consumed or dropped", () => {
  const [a, b] = identities();
  const draws: Uint8Array[] = [];
  const random = (n: number): Uint8Array => {
    const out = randomPooled(n);
    if (n === 32) draws.push(out);
    return out;
  };
  const timestamp = (): Uint8Array => tai64nFromMillis(1_700_000_000_000);
  const ta = new Tunnel({ identity: a, remotePublic: b.keys!.publicKey, timestamp, random });
  const tb = new Tunnel({ identity: b, remotePublic: a.keys!.publicKey, timestamp, random });
  const first = ta.encapsulate(ipv4('10.0.0.1', '10.0.0.2', 8), 1_000);
  const [init] = datagramsOf(first);
  assert.ok(init);
  assert.equal(draws.length, 1);
  zero(draws[0]!, "the tunnel's ephemeral draw (the state holds its own copy)");

  const msg = initiation(init);
  const partial = identifyInitiation(b.keys!, msg);
  assert.ok(partial);
  const out: TunnelResult = tb.consumeInitiation(partial, msg, null, 1_000);
  assert.equal(out.kind, 'toNetwork');
  zero(partial.symmetric.chainingKey, "the consumed initiation's chaining key");
  zero(draws[1]!, "the responder's ephemeral draw");
  // The same initiation again is dropped (its timestamp is not newer), and still wiped.
  const again = identifyInitiation(b.keys!, msg);
  assert.ok(again);
  nonzero(again.symmetric.chainingKey, 'a fresh responder state');
  const dropped = tb.consumeInitiation(again, msg, null, 1_000);
  assert.equal(dropped.kind, 'drop');
  zero(again.symmetric.chainingKey, "a dropped initiation's chaining key");
});

test('Tunnel.setPresharedKey keeps a copy and wipes the key it replaces; null and destroy wipe too', () => {
  const [a, b] = identities();
  const random = randomPooled;
  const given = randomPooled(32);
  const t = new Tunnel({
    identity: a,
    remotePublic: b.keys!.publicKey,
    presharedKey: given,
    timestamp: () => tai64nFromMillis(0),
    random,
  });
  const first = t.presharedKey!;
  assert.notEqual(first, given, 'the tunnel keeps its own copy');
  const next = randomPooled(32);
  t.setPresharedKey(next);
  zero(first, 'the replaced preshared key');
  nonzero(next, "the caller's buffer (it is the caller's to wipe)");
  const second = t.presharedKey!;
  assert.deepEqual(second, next);
  t.setPresharedKey(null);
  zero(second, 'the removed preshared key');
  assert.equal(t.presharedKey, null);
  t.setPresharedKey(randomPooled(32));
  const third = t.presharedKey!;
  t.destroy();
  zero(third, "a removed peer's preshared key");
  assert.throws(() => t.setPresharedKey(new Uint8Array(31)), TypeError);
});

test('UAPI apply: a replaced, removed, or removed-with-its-peer preshared key is wiped', async () => {
  const net = new DeviceNet();
  try {
    const a = await net.node(1);
    const b = await net.node(2);
    await net.link(a, b);
    const tunnel = (): Tunnel => a.device.peerByKey(b.publicKey)!.tunnel;
    assertOk(
      await a.device.apply(
        deviceSet({ peers: [peerUpdate(b.publicKey, { presharedKey: randomPooled(32) })] }),
      ),
    );
    const first = tunnel().presharedKey!;
    nonzero(first, 'the configured preshared key');
    assertOk(
      await a.device.apply(
        deviceSet({ peers: [peerUpdate(b.publicKey, { presharedKey: randomPooled(32) })] }),
      ),
    );
    zero(first, 'the preshared key replaced over the UAPI');
    const second = tunnel().presharedKey!;
    assertOk(await a.device.apply(deviceSet({ peers: [peerUpdate(b.publicKey, { presharedKey: null })] })));
    zero(second, 'the preshared key removed over the UAPI');
    assertOk(
      await a.device.apply(
        deviceSet({ peers: [peerUpdate(b.publicKey, { presharedKey: randomPooled(32) })] }),
      ),
    );
    const third = tunnel().presharedKey!;
    assertOk(await a.device.apply(deviceSet({ peers: [peerUpdate(b.publicKey, { remove: true })] })));
    zero(third, "a removed peer's preshared key");
  } finally {
    net.close();
  }
});

test('a dropped keypair has its transport keys wiped; DH(S_priv, S_pub) is wiped when the session clears', () => {
  const [a, b] = identities();
  const sa = new Session(a, b.keys!.publicKey, new IndexTable(randomPooled), 'a');
  const sb = new Session(b, a.keys!.publicKey, new IndexTable(randomPooled), 'b');
  const dropped: Keypair[] = [];
  for (let i = 0; i < 3; i++) {
    const created = initiate(sa, a, b.keys!.publicKey, generatePrivateKey());
    const msg = initiation(created.message);
    const r = sb.finishInitiation(identifyInitiation(b.keys!, msg)!, msg)!;
    const reply = sb.respond(r.state, msg.sender, generatePrivateKey(), null, i);
    assert.equal(sa.finishResponse(response(reply!), null, i), 'ok');
    dropped.push(sa.keypairs.current!);
  }
  // Three initiator handshakes: the first keypair fell out of previous.
  zero(dropped[0]!.sendKey, "a dropped keypair's send key");
  zero(dropped[0]!.receiveKey, "a dropped keypair's receive key");
  nonzero(dropped[1]!.sendKey, 'the previous keypair (still receiving)');
  const ss = sa.staticStatic()!;
  nonzero(ss, 'the static-static DH');
  sa.clear();
  zero(dropped[1]!.receiveKey, 'the previous keypair after clear');
  zero(dropped[2]!.sendKey, 'the current keypair after clear');
  zero(ss, 'the static-static DH after clear');
});

test('keys decoded from UAPI hex or wg base64 live outside the heap and its Buffer pool', () => {
  const hex = parseKeyHex('a8'.repeat(32))!;
  const b64 = parseKeyBase64(Buffer.alloc(32, 7).toString('base64'))!;
  for (const k of [hex, b64]) {
    // A view of a 32-byte ArrayBuffer of its own: not a slice of an 8 KiB pool, not on the heap.
    assert.equal(k.buffer.byteLength, 32);
    assert.equal(k.byteOffset, 0);
  }
  assert.equal(toHex(hex), 'a8'.repeat(32));
  assert.equal(toHex(b64), '07'.repeat(32));
});

test('the UAPI server wipes the private and preshared keys it decoded once the device has applied them', async () => {
  const tmp = tempDir('keywipe');
  const target = new FakeTarget();
  const server = new UapiServer(target, {});
  const path = join(tmp.dir, 'ky.sock');
  await server.listen(path);
  try {
    const peer = Buffer.alloc(32, 9).toString('hex');
    const r = await rawExchange(
      path,
      `set=1\nprivate_key=${'a8'.repeat(32)}\npublic_key=${peer}\npreshared_key=${'b7'.repeat(32)}\n\n`,
    );
    assert.deepEqual(errnos(r.reply), [0]);
    const set = target.received.at(-1)!;
    assert.deepEqual(
      target.applied.at(-1)!.privateKey,
      clampPrivateKey(new Uint8Array(32).fill(0xa8)),
      'what it got',
    );
    assert.ok(set.privateKey instanceof Uint8Array);
    zero(set.privateKey, 'the decoded private key');
    zero(set.peers[0]!.presharedKey!, 'the decoded preshared key');
  } finally {
    await server.close();
    tmp.remove();
  }
});
