/**
 * The live demo (the README's first quick-start line): two wgtsd daemons in two network
 * namespaces joined by a veth pair, configured over their UAPI sockets with our own client, carry
 * UDP echoes and a TCP transfer through a real WireGuard tunnel; then both ends' status is
 * printed, `latest handshake` included, and everything created is removed. It needs root, `ip`
 * and /dev/net/tun; nothing else (no wg, no ping).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PrivateKey } from '../crypto/keys.js';
import { formatIP } from '../routing/ip.js';
import { socketPath } from '../daemon/socket-path.js';
import { uapiGet, uapiSet } from '../uapi/client.js';
import type { DeviceSnapshot } from '../uapi/types.js';

const DAEMON = fileURLToPath(new URL('../daemon/main.js', import.meta.url));
const PROBE = fileURLToPath(new URL('./probe.js', import.meta.url));
const TRANSFER_BYTES = 8 * 1024 * 1024;

interface Side {
  readonly ns: string;
  readonly ifname: string;
  readonly veth: string;
  readonly outer: string;
  readonly inner: string;
  readonly port: number;
  readonly key: PrivateKey;
  daemon?: ChildProcess;
}

/** Why the live demo cannot run here, or null when it can. */
export function liveDemoUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'not running as root';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return "the 'ip' command (iproute2) is missing";
  }
  return null;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function ago(sec: number): string {
  const s = Math.max(0, Math.round(Date.now() / 1000 - sec));
  return s === 1 ? '1 second ago' : `${s} seconds ago`;
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(2)} ${units[i]}`;
}

function status(side: Side, s: DeviceSnapshot, log: (l: string) => void): void {
  log(`interface: ${side.ifname} (namespace ${side.ns})`);
  log(`  public key: ${side.key.publicKey().toBase64()}`);
  log(`  listening port: ${s.listenPort}`);
  for (const p of s.peers) {
    log(`  peer: ${Buffer.from(p.publicKey).toString('base64')}`);
    if (p.endpoint) log(`    endpoint: ${formatIP(p.endpoint.address)}:${p.endpoint.port}`);
    log(`    allowed ips: ${p.allowedIPs.map((a) => `${formatIP(a.bytes)}/${a.cidr}`).join(', ')}`);
    log(`    latest handshake: ${p.lastHandshake ? ago(p.lastHandshake.sec) : '(none)'}`);
    log(`    transfer: ${bytes(p.rxBytes)} received, ${bytes(p.txBytes)} sent`);
  }
}

export async function runLiveDemo(log: (line: string) => void = console.log): Promise<boolean> {
  const tag = process.pid.toString(36);
  const mk = (n: 'a' | 'b', i: number): Side => ({
    ns: `wgts-demo-${process.pid}-${n}`,
    ifname: `wgdemo${n}${tag}`.slice(0, 15),
    veth: `wgdv${n}${tag}`.slice(0, 15),
    outer: `192.168.209.${i}`,
    inner: `10.209.0.${i}`,
    port: 51820 + i,
    key: PrivateKey.generate(),
  });
  const a = mk('a', 1);
  const b = mk('b', 2);
  const children: ChildProcess[] = [];
  const cleanup = (): void => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    for (const s of [a, b]) {
      try {
        ip('netns', 'del', s.ns);
      } catch {
        // Not created, or already gone.
      }
    }
  };
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    log(`creating namespaces ${a.ns} and ${b.ns}, joined by a veth pair`);
    for (const s of [a, b]) {
      ip('netns', 'add', s.ns);
      ip('-n', s.ns, 'link', 'set', 'lo', 'up');
    }
    ip('link', 'add', a.veth, 'netns', a.ns, 'type', 'veth', 'peer', 'name', b.veth, 'netns', b.ns);
    for (const s of [a, b]) {
      ip('-n', s.ns, 'addr', 'add', `${s.outer}/24`, 'dev', s.veth);
      ip('-n', s.ns, 'link', 'set', s.veth, 'up');
    }
    for (const s of [a, b]) {
      log(`starting wgtsd ${s.ifname} in ${s.ns}`);
      const d = spawn('ip', ['netns', 'exec', s.ns, process.execPath, DAEMON, '-f', s.ifname], {
        stdio: 'ignore',
      });
      children.push(d);
      s.daemon = d;
      await waitFor(`${s.ifname}'s UAPI socket`, () => existsSync(socketPath(s.ifname)));
    }
    for (const [s, peer] of [
      [a, b],
      [b, a],
    ] as const) {
      await uapiSet(socketPath(s.ifname), {
        privateKey: s.key.bytes,
        listenPort: s.port,
        replacePeers: true,
        peers: [
          {
            publicKey: peer.key.publicKey().bytes,
            remove: false,
            updateOnly: false,
            endpoint: { address: Uint8Array.from(peer.outer.split('.').map(Number)), port: peer.port },
            allowedIPs: [
              {
                kind: 'add',
                prefix: { family: 4, bytes: Uint8Array.from(peer.inner.split('.').map(Number)), cidr: 32 },
              },
            ],
          },
        ],
      });
      ip('-n', s.ns, 'addr', 'add', `${s.inner}/24`, 'dev', s.ifname);
      ip('-n', s.ns, 'link', 'set', s.ifname, 'up');
    }
    log(`tunnel configured: ${a.inner} (${a.ifname}) <-> ${b.inner} (${b.ifname}), MTU 1420`);

    const server = spawn('ip', ['netns', 'exec', b.ns, process.execPath, PROBE, 'serve', '7777'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(server);
    await new Promise<void>((resolve, reject) => {
      server.stdout!.once('data', () => resolve());
      server.once('exit', () => reject(new Error('probe server exited')));
    });
    log(`pinging ${b.inner} through the tunnel (UDP echo) and sending ${bytes(TRANSFER_BYTES)} over TCP...`);
    const out = execFileSync(
      'ip',
      ['netns', 'exec', a.ns, process.execPath, PROBE, 'client', b.inner, '7777', String(TRANSFER_BYTES)],
      {
        timeout: 60_000,
        encoding: 'utf8',
      },
    );
    const r = JSON.parse(out) as { rtts: number[]; tcp: { ok: boolean; ms: number; bytes: number } };
    for (const [i, rtt] of r.rtts.entries())
      log(`  echo ${i + 1} from ${b.inner}: time=${rtt.toFixed(3)} ms`);
    const mbit = (r.tcp.bytes * 8) / (r.tcp.ms / 1000) / 1e6;
    log(
      `  TCP: ${bytes(r.tcp.bytes)} in ${r.tcp.ms.toFixed(0)} ms (${mbit.toFixed(0)} Mbit/s), SHA-256 ${r.tcp.ok ? 'matches' : 'MISMATCH'}`,
    );
    log('');
    for (const s of [a, b]) {
      status(s, await uapiGet(socketPath(s.ifname)), log);
      log('');
    }
    return r.rtts.length > 0 && r.tcp.ok;
  } finally {
    cleanup();
    await Promise.all(
      children.map((c) =>
        c.exitCode !== null || c.signalCode !== null ? null : new Promise((r) => c.once('exit', r)),
      ),
    );
    log('cleaned up: daemons stopped, namespaces deleted');
  }
}
