/**
 * A WireGuard peer made from the package's own protocol core (Tunnel) over a plain UDP socket,
 * run by fast-path.test.ts inside the peer's namespace: it completes a real handshake with a live
 * wgtsd, then seals plaintexts of its choosing — well-formed IP packets and malformed ones — so the
 * test can see what wgtsd's batched receive path writes to its TUN.
 *
 *   node crafted-peer.js HOST PORT SERVER_PUBLIC_HEX OWN_PRIVATE_HEX < plan.json
 *
 * plan.json: { "steps": [{ "plaintexts": [hex...], "repeat": n }...] }. Each step seals its
 * plaintexts in order (one datagram each; `repeat` sends each sealed datagram that many times, a
 * replay of the very same bytes), all of a step's datagrams back to back so they share receive
 * batches. A step with `gso: n` sends its datagrams (all one length) as UDP GSO bursts of n
 * segments (UDP_SEGMENT, through python3: Node's dgram cannot set it), which the receiver's
 * UDP_GRO socket takes as n-segment slots; with `stopPid` that process (the daemon) is stopped
 * while they are sent and continued after, so every burst lands in one receive batch. Then, as an attacker who captured that traffic would, it sends again from a second
 * socket (another source port) the initiation it began with and the first few transport datagrams,
 * and listens 500 ms on that socket. Prints one JSON line:
 * { handshake: true, sent, port, replayPort, replayed, repliesToReplay } or exits 2 with a message.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { LocalIdentity, Tunnel, tai64nFromMillis } from '../../src/index.js';
import { fromHex } from '../helpers/fuzz.js';

interface Plan {
  readonly steps: readonly {
    readonly plaintexts: readonly string[];
    readonly repeat?: number;
    readonly gso?: number;
    readonly stopPid?: number;
  }[];
}

// Sends stdin's bytes as UDP GSO bursts of argv[3] segments of argv[2] bytes each.
const GSO_SENDER = `
import socket, sys
host, port, seg, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
data = sys.stdin.buffer.read()
s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_UDP, 103, seg)  # UDP_SEGMENT
for off in range(0, len(data), seg * per):
    s.sendto(data[off:off + seg * per], (host, port))
`;

function sendGso(datagrams: readonly Uint8Array[], segments: number): void {
  const seg = datagrams[0]!.length;
  if (datagrams.some((d) => d.length !== seg)) throw new Error('gso step: datagrams differ in length');
  const r = spawnSync('python3', ['-c', GSO_SENDER, host!, String(port), String(seg), String(segments)], {
    input: Buffer.concat(datagrams),
    timeout: 10_000,
  });
  if (r.status !== 0) throw new Error(`gso sender: ${r.error?.message ?? r.stderr.toString()}`);
}

const [host, portText, serverHex, ownHex] = process.argv.slice(2);
if (host === undefined || portText === undefined || serverHex === undefined || ownHex === undefined) {
  console.error('usage: crafted-peer HOST PORT SERVER_PUBLIC_HEX OWN_PRIVATE_HEX < plan.json');
  process.exit(2);
}
const port = Number(portText);
const plan = JSON.parse(readFileSync(0, 'utf8')) as Plan;
const tunnel = new Tunnel({
  identity: new LocalIdentity(fromHex(ownHex)),
  remotePublic: fromHex(serverHex),
  timestamp: () => tai64nFromMillis(Date.now()),
  random: (n) => new Uint8Array(randomBytes(n)),
});
const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
const from = { address: new Uint8Array(4), port };

/** Everything sent on the main socket, in order (the replay's material). */
const wire: Uint8Array[] = [];

function send(datagrams: readonly Uint8Array[], via = socket): Promise<void> {
  if (via === socket) wire.push(...datagrams);
  return new Promise((resolve, reject) => {
    if (datagrams.length === 0) return resolve();
    let left = datagrams.length;
    for (const d of datagrams) {
      via.send(d, port, host, (err) => {
        if (err) reject(err);
        else if (--left === 0) resolve();
      });
    }
  });
}

const timer = setTimeout(() => {
  console.error('no handshake response within 5 s');
  process.exit(2);
}, 5_000);

socket.on('message', (msg) => {
  // Only the handshake response matters; transport data back (if any) is ignored.
  const r = tunnel.decapsulate(new Uint8Array(msg), from, performance.now());
  if (r.kind === 'toNetwork' && tunnel.lastHandshakeAt !== null && !started) {
    started = true;
    clearTimeout(timer);
    void send(r.datagrams).then(run);
  }
});
let started = false;

async function run(): Promise<void> {
  let sent = 0;
  for (const step of plan.steps) {
    const out: Uint8Array[] = [];
    for (const hex of step.plaintexts) {
      const r = tunnel.encapsulate(fromHex(hex), performance.now());
      if (r.kind !== 'toNetwork' || r.datagrams.length !== 1) throw new Error(`cannot seal: ${r.kind}`);
      for (let k = 0; k < (step.repeat ?? 1); k++) out.push(r.datagrams[0]!);
    }
    if (step.gso !== undefined) {
      if (step.stopPid !== undefined) process.kill(step.stopPid, 'SIGSTOP');
      try {
        sendGso(out, step.gso);
      } finally {
        if (step.stopPid !== undefined) process.kill(step.stopPid, 'SIGCONT');
      }
    } else await send(out);
    sent += out.length;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // The replay: the initiation (wire[0]) and the first transport datagrams after the response.
  const replay = [wire[0]!, ...wire.slice(1, 6)];
  const other = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  let repliesToReplay = 0;
  other.on('message', () => repliesToReplay++);
  await new Promise<void>((resolve) => other.bind(0, resolve));
  await send(replay, other);
  await new Promise((resolve) => setTimeout(resolve, 500));
  console.log(
    JSON.stringify({
      handshake: true,
      sent,
      port: socket.address().port,
      replayPort: other.address().port,
      replayed: replay.length,
      repliesToReplay,
    }),
  );
  other.close();
  socket.close();
}

socket.bind(0, () => {
  // The first packet (a keepalive) stages and starts the handshake.
  const r = tunnel.keepalive(performance.now());
  if (r.kind === 'toNetwork') void send(r.datagrams);
});
