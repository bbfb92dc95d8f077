/**
 * The process whose memory test/crypto/key-memory.test.ts scans (not a test file itself): two
 * in-process Tunnels with a preshared key run ROUNDS handshakes (alternating initiator, each a
 * rekey of the last) with data both ways, the preshared key is replaced half way, both sides'
 * ephemeral private keys are recorded as they are drawn, and the garbage collector runs. It then
 * prints one JSON line naming the secrets (hex strings: a scan looks for the raw bytes, which hex
 * text never contains) and waits for stdin to close.
 *
 *   node --expose-gc key-scan-child.js native|node [rounds]
 *
 * `native` loads the addon first, so X25519 runs in native/process.c; `node` keeps node:crypto.
 * It only uses APIs that existed before the key-hygiene change, so the same file can measure the
 * old code (issue 11 counted 18 copies of the static key after 5 handshakes).
 */
import { randomFillSync } from 'node:crypto';
import { toHex, wipe } from '../../src/crypto/bytes.js';
import { generatePrivateKey } from '../../src/crypto/x25519.js';
import { loadNative } from '../../src/io/native.js';
import { LocalIdentity } from '../../src/protocol/identity.js';
import type { TunnelResult } from '../../src/protocol/results.js';
import { Tunnel } from '../../src/protocol/tunnel.js';
import { tai64nFromMillis } from '../../src/crypto/tai64n.js';
import { randomPooled } from '../../src/crypto/random.js';
import { datagramsOf, ipv4, kindOf } from '../helpers/pair.js';

const backend = process.argv[2] ?? 'native';
const rounds = Number(process.argv[3] ?? 5);
if (backend === 'native') loadNative();

let now = 1_000_000;
const ephemerals: string[] = [];
/** The device's random source, recording every key-sized draw (an ephemeral private key). */
const random = (n: number): Uint8Array => {
  const out = randomPooled(n);
  if (n === 32) ephemerals.push(toHex(out));
  return out;
};
const timestamp = (): Uint8Array => tai64nFromMillis(1_700_000_000_000 + now);

const staticA = generatePrivateKey();
const staticB = generatePrivateKey();
const identityA = new LocalIdentity(staticA);
const identityB = new LocalIdentity(staticB);
const statics = [toHex(staticA), toHex(staticB)];
// The identities hold their own copies: a caller's key buffer is the caller's to wipe.
wipe(staticA, staticB);

function newPsk(): Uint8Array {
  return randomFillSync(new Uint8Array(new ArrayBuffer(32)));
}
const psk1 = newPsk();
const pskHex = [toHex(psk1)];

const a = new Tunnel({
  identity: identityA,
  remotePublic: identityB.keys!.publicKey,
  presharedKey: psk1,
  timestamp,
  random,
});
const b = new Tunnel({
  identity: identityB,
  remotePublic: identityA.keys!.publicKey,
  presharedKey: psk1,
  timestamp,
  random,
});
wipe(psk1);

/** Sets the preshared key the way the UAPI apply path does (the old code assigned the field). */
function replacePsk(t: Tunnel, psk: Uint8Array): void {
  const setter = (t as unknown as { setPresharedKey?: (k: Uint8Array) => void }).setPresharedKey;
  if (setter) setter.call(t, psk);
  else t.presharedKey = Uint8Array.from(psk);
}

const ENDPOINT_A = { address: Uint8Array.of(127, 0, 0, 1), port: 1 };
const ENDPOINT_B = { address: Uint8Array.of(127, 0, 0, 1), port: 2 };

/** Carries datagrams back and forth until neither side has anything more to send. */
function settle(from: Tunnel, r: TunnelResult): number {
  let handshakes = 0;
  let queue: [Tunnel, Uint8Array][] = datagramsOf(r).map((d) => [from, d]);
  for (let steps = 0; queue.length > 0 && steps < 100; steps++) {
    const next: [Tunnel, Uint8Array][] = [];
    for (const [sender, d] of queue) {
      const to = sender === a ? b : a;
      if (kindOf(d) === 'response') handshakes++;
      const out = to.decapsulate(d, to === a ? ENDPOINT_B : ENDPOINT_A, now);
      if (out.kind === 'toNetwork') for (const x of out.datagrams) next.push([to, x]);
    }
    queue = next;
  }
  return handshakes;
}

let completed = 0;
for (let i = 0; i < rounds; i++) {
  if (i === Math.floor(rounds / 2)) {
    const psk2 = newPsk();
    pskHex.push(toHex(psk2));
    replacePsk(a, psk2);
    replacePsk(b, psk2);
    wipe(psk2);
  }
  const initiator = i % 2 === 0 ? a : b;
  // Expiring the sessions makes the next packet start a handshake at once (a rekey).
  initiator.expireSessions();
  now += 10_000;
  completed += settle(initiator, initiator.encapsulate(ipv4('10.0.0.1', '10.0.0.2', 64), now));
  now += 10;
  // Data both ways on the new session (the responder's keypair is confirmed by the first).
  settle(a, a.encapsulate(ipv4('10.0.0.1', '10.0.0.2', 64), now));
  settle(b, b.encapsulate(ipv4('10.0.0.2', '10.0.0.1', 64), now));
}

const gc = (globalThis as { gc?: () => void }).gc;
for (let i = 0; i < 3; i++) gc?.();

process.stdout.write(
  JSON.stringify({
    pid: process.pid,
    backend,
    completed,
    statics,
    ephemerals,
    psks: pskHex,
    // Whether each side still has a working session (the scan must not see a torn-down device).
    sessions: [a.session.keypairs.current !== null, b.session.keypairs.current !== null],
  }) + '\n',
);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
