/**
 * The in-memory demo: two Tunnels (two WireGuard peers) in one process exchange a handshake and
 * an IP packet through arrays instead of sockets, printing every message on the way. It shows the
 * sans-I/O core doing the whole protocol (whitepaper sections 5.4.2–5.4.6) with nothing else.
 */
import { randomBytes } from 'node:crypto';
import { PrivateKey } from '../crypto/keys.js';
import { tai64nFromMillis } from '../crypto/tai64n.js';
import { LocalIdentity } from '../protocol/identity.js';
import { Tunnel, type Endpoint } from '../protocol/tunnel.js';
import type { TunnelResult } from '../protocol/results.js';

const NAMES = ['?', 'handshake initiation', 'handshake response', 'cookie reply', 'transport data'];

function describe(d: Uint8Array): string {
  return `${NAMES[d[0]!] ?? 'unknown'} (${d.length} bytes)`;
}

/** A 44-byte ICMP echo request from 10.0.0.1 to 10.0.0.2 (checksums are not checked by the tunnel). */
function echoRequest(): Uint8Array {
  return Uint8Array.from(
    Buffer.from(
      '4500002c00000000400166cf0a0000010a0000020800c59a123400015769726547756172642d766563746f72',
      'hex',
    ),
  );
}

export function runMemoryDemo(log: (line: string) => void = console.log): boolean {
  const random = (n: number): Uint8Array => new Uint8Array(randomBytes(n));
  const timestamp = (): Uint8Array => tai64nFromMillis(Date.now());
  const now = (): number => performance.now();
  const keyA = PrivateKey.generate();
  const keyB = PrivateKey.generate();
  const alice = new Tunnel({
    identity: new LocalIdentity(keyA.bytes),
    remotePublic: keyB.publicKey().bytes,
    timestamp,
    random,
  });
  const bob = new Tunnel({
    identity: new LocalIdentity(keyB.bytes),
    remotePublic: keyA.publicKey().bytes,
    timestamp,
    random,
  });
  const epA: Endpoint = { address: Uint8Array.of(192, 0, 2, 1), port: 51820 };
  const epB: Endpoint = { address: Uint8Array.of(192, 0, 2, 2), port: 51820 };
  log(`alice public key: ${keyA.publicKey().toBase64()}`);
  log(`bob   public key: ${keyB.publicKey().toBase64()}`);

  let delivered: Uint8Array | null = null;
  // Carry datagrams back and forth until both sides are quiet.
  let queue: { to: 'alice' | 'bob'; d: Uint8Array }[] = [];
  const push = (to: 'alice' | 'bob', r: TunnelResult): void => {
    if (r.kind === 'toNetwork' || r.kind === 'toTunnel') for (const d of r.datagrams) queue.push({ to, d });
    if (r.kind === 'toTunnel') delivered = r.packet;
    if (r.kind === 'drop') log(`  dropped: ${r.reason}`);
  };
  const packet = echoRequest();
  log(`alice sends a ${packet.length}-byte ICMP echo request to 10.0.0.2`);
  push('bob', alice.encapsulate(packet, now()));
  for (let hops = 0; queue.length > 0 && hops < 16; hops++) {
    const batch = queue;
    queue = [];
    for (const { to, d } of batch) {
      log(`  ${to === 'bob' ? 'alice -> bob  ' : 'bob   -> alice'}: ${describe(d)}`);
      if (to === 'bob') push('alice', bob.decapsulate(d, epA, now()));
      else push('bob', alice.decapsulate(d, epB, now()));
    }
  }
  const ok = delivered !== null && Buffer.compare(delivered, packet) === 0;
  log(
    `handshake complete: alice ${alice.lastHandshakeAt !== null ? 'yes' : 'no'}, bob ${bob.lastHandshakeAt !== null ? 'yes' : 'no'}`,
  );
  log(`bob received the packet intact: ${ok ? 'yes' : 'no'}`);
  log(
    `transfer: alice sent ${alice.txBytes} B, received ${alice.rxBytes} B; bob sent ${bob.txBytes} B, received ${bob.rxBytes} B`,
  );
  return ok;
}
