/**
 * Small helpers for the tests that drive wg(8) and wg-quick(8) against wgtsd and wireguard-go
 * (test/interop/wg-commands.test.ts, test/interop/wg-quick.test.ts): tracked temporary
 * directories with 0600 files, wg(8) configuration text, random public keys, a `wgtsd` wrapper
 * that wg-quick can find on PATH, and finding (by exact argv) and stopping the daemon that
 * `wgtsd IFNAME` leaves running after it daemonises.
 *
 * Everything created here is tracked in netns.ts (`trackPath`) and removed by `cleanup()`.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep, trackPath, untrackPath } from './netns.js';
import { WGTSD_MAIN } from './wg-peer.js';

/** A fresh 0700 directory under the system temporary directory, removed by `cleanup()`. */
export function makeTempDir(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `wgts-${process.pid}-${tag}-`));
  chmodSync(dir, 0o700);
  trackPath(dir);
  return dir;
}

/** Removes a directory made by `makeTempDir` now (and stops tracking it). */
export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  untrackPath(dir);
}

/** Writes `text` to `dir/name` with mode 0600 and returns the path. */
export function writePrivateFile(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

/** A random 32-byte public key in base64 (wg accepts any 32 bytes as a peer key). */
export function randomPublicKey(): string {
  return randomBytes(32).toString('base64');
}

export interface ConfPeer {
  readonly publicKey: string;
  readonly presharedKey?: string;
  readonly endpoint?: string;
  readonly allowedIps?: readonly string[];
  readonly persistentKeepalive?: number;
}

export interface ConfInterface {
  readonly privateKey?: string;
  readonly listenPort?: number;
  readonly fwmark?: string;
  /** wg-quick only. */
  readonly addresses?: readonly string[];
  /** wg-quick only. */
  readonly mtu?: number;
  /** wg-quick only. */
  readonly table?: string;
  readonly peers?: readonly ConfPeer[];
}

/**
 * wg(8) configuration text (`[Interface]`, `[Peer]`…), as `wg setconf`/`addconf`/`syncconf` and
 * wg-quick read it. Allowed IPs go on lines of at most `ipsPerLine` entries (AllowedIPs may
 * repeat), so a peer with 100,000 prefixes does not need one enormous line.
 */
export function formatConf(cfg: ConfInterface, ipsPerLine = 256): string {
  const out: string[] = ['[Interface]'];
  if (cfg.privateKey !== undefined) out.push(`PrivateKey = ${cfg.privateKey}`);
  if (cfg.listenPort !== undefined) out.push(`ListenPort = ${cfg.listenPort}`);
  if (cfg.fwmark !== undefined) out.push(`FwMark = ${cfg.fwmark}`);
  for (const address of cfg.addresses ?? []) out.push(`Address = ${address}`);
  if (cfg.mtu !== undefined) out.push(`MTU = ${cfg.mtu}`);
  if (cfg.table !== undefined) out.push(`Table = ${cfg.table}`);
  for (const peer of cfg.peers ?? []) {
    out.push('', '[Peer]', `PublicKey = ${peer.publicKey}`);
    if (peer.presharedKey !== undefined) out.push(`PresharedKey = ${peer.presharedKey}`);
    const ips = peer.allowedIps ?? [];
    for (let i = 0; i < ips.length; i += ipsPerLine) {
      out.push(`AllowedIPs = ${ips.slice(i, i + ipsPerLine).join(', ')}`);
    }
    if (peer.endpoint !== undefined) out.push(`Endpoint = ${peer.endpoint}`);
    if (peer.persistentKeepalive !== undefined) out.push(`PersistentKeepalive = ${peer.persistentKeepalive}`);
  }
  return `${out.join('\n')}\n`;
}

/**
 * What `wg showconf` prints for `cfg` (wireguard-tools showconf.c): ListenPort, FwMark, PrivateKey,
 * then per peer PublicKey, PresharedKey, AllowedIPs (one line, `, `-separated), Endpoint,
 * PersistentKeepalive; absent values are left out. `cfg` must already be canonical (masked
 * prefixes, lowercase hex fwmark).
 */
export function expectedShowconf(cfg: ConfInterface): string {
  const out: string[] = ['[Interface]'];
  if (cfg.listenPort !== undefined && cfg.listenPort !== 0) out.push(`ListenPort = ${cfg.listenPort}`);
  if (cfg.fwmark !== undefined) out.push(`FwMark = ${cfg.fwmark}`);
  if (cfg.privateKey !== undefined) out.push(`PrivateKey = ${cfg.privateKey}`);
  for (const peer of cfg.peers ?? []) {
    out.push('', '[Peer]', `PublicKey = ${peer.publicKey}`);
    if (peer.presharedKey !== undefined) out.push(`PresharedKey = ${peer.presharedKey}`);
    if (peer.allowedIps !== undefined && peer.allowedIps.length > 0) {
      out.push(`AllowedIPs = ${peer.allowedIps.join(', ')}`);
    }
    if (peer.endpoint !== undefined) out.push(`Endpoint = ${peer.endpoint}`);
    if (peer.persistentKeepalive !== undefined && peer.persistentKeepalive !== 0) {
      out.push(`PersistentKeepalive = ${peer.persistentKeepalive}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/**
 * A directory holding an executable `wgtsd` that runs this build's daemon (dist/src/daemon/main.js
 * with this Node), for `WG_QUICK_USERSPACE_IMPLEMENTATION=wgtsd` with the directory first on PATH.
 */
export function makeWgtsdWrapperDir(): string {
  const dir = makeTempDir('bin');
  const script = `#!/bin/sh\nexec '${process.execPath}' '${WGTSD_MAIN}' "$@"\n`;
  writeFileSync(join(dir, 'wgtsd'), script, { mode: 0o755 });
  chmodSync(join(dir, 'wgtsd'), 0o755);
  return dir;
}

/** The pids of the running processes whose argv is exactly `argv` (read from /proc). */
export function pidsWithArgv(argv: readonly string[]): number[] {
  const want = `${argv.join('\0')}\0`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8') === want) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** The pids of running wgtsd daemons (`node …/main.js -f IFNAME`, as it re-executes itself). */
export function wgtsdDaemonPids(ifname: string): number[] {
  return pidsWithArgv([process.execPath, WGTSD_MAIN, '-f', ifname]);
}

/** True while `pid` exists and is not a zombie. */
export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Stops one process by pid: SIGTERM, SIGKILL after `graceMs`. Resolves once it is gone. */
export async function stopPid(pid: number, graceMs = 2_000): Promise<void> {
  if (!pidAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (pidAlive(pid) && Date.now() < deadline) await sleep(20);
  if (!pidAlive(pid)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  const hard = Date.now() + 2_000;
  while (pidAlive(pid) && Date.now() < hard) await sleep(20);
}

/**
 * One raw UAPI `get=1` on a daemon's socket (/var/run/wireguard/IFNAME.sock): the reply text up
 * to and including its blank line. Bounded by `timeoutMs`.
 */
export function uapiGet(socketPath: string, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let reply = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`UAPI get on ${socketPath}: no reply in ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write('get=1\n\n'));
    socket.on('data', (chunk: string) => {
      reply += chunk;
      if (reply.endsWith('\n\n')) {
        clearTimeout(timer);
        socket.end();
        resolve(reply);
      }
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
