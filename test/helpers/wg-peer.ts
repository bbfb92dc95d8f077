/**
 * WireGuard userspace daemons in network namespaces, for the interop suite.
 *
 * A daemon is either Debian's `wireguard-go` or our `wgtsd` (`node dist/src/daemon/main.js`), run in
 * the foreground (`-f IFNAME`) as a tracked child of the test. Both listen on the UAPI socket
 * /var/run/wireguard/IFNAME.sock, which is on the filesystem and so shared by every namespace:
 * interface names come from `uniqueIfname('w')` so concurrent tests never collide. Configuration
 * always goes through the real `wg` tool (`ip netns exec NS wg set …`), the way users drive them.
 *
 * `createTwoNodeTopology()` builds the standard interop fixture:
 *
 *     nsA [wg IFA innerA] ── veth (outer v4 10.X.Y.1/24 ↔ .2, v6 fdXX:Y::1/64 ↔ ::2) ── [wg IFB innerB] nsB
 *
 * with inner addresses 100.(64+X%64).Y.1/.2 /24 and fdXX:Y:1::1/::2 /64, each side's peer endpoint
 * set to the other's outer v4 or v6 address, optional psk and persistent keepalive.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  addAddress,
  createNamespace,
  createVethPair,
  deleteNamespace,
  exec,
  execOk,
  isRoot,
  trackLink,
  trackPath,
  uniqueIfname,
  uniqueName,
  untrackPath,
  waitFor,
  which,
  type ExecOptions,
  type ExecResult,
  type TrackedProcess,
  spawn,
} from './netns.js';

/**
 * The daemons a test or benchmark can start: ours, Debian's wireguard-go (on PATH), and the two
 * anchors in ../shared/anchors (the current wireguard-go and boringtun-cli; benchmark-only
 * measuring instruments, never shipped).
 */
export type Impl = 'wireguard-go' | 'wgtsd' | 'wireguard-go-anchor' | 'boringtun';

/**
 * Where the anchors live: WGTS_ANCHORS, else `shared/anchors` beside the repository (the repo's
 * root is three levels above this compiled file: dist/test/helpers).
 */
export const ANCHOR_DIR =
  process.env['WGTS_ANCHORS'] ?? fileURLToPath(new URL('../../../../shared/anchors', import.meta.url));

/** Each anchor's file name, with the version it was built from. */
export const ANCHOR_FILES: Readonly<Record<'wireguard-go-anchor' | 'boringtun', string>> = {
  'wireguard-go-anchor': 'wireguard-go-0.0.20250522',
  boringtun: 'boringtun-cli-0.7.1',
};

function anchorPath(impl: 'wireguard-go-anchor' | 'boringtun'): string {
  return join(ANCHOR_DIR, ANCHOR_FILES[impl]);
}

/** Where both daemons put their UAPI sockets (shared across namespaces). */
export const UAPI_DIR = '/var/run/wireguard';

/** The compiled wgtsd entry point (dist/src/daemon/main.js), relative to this compiled file. */
export const WGTSD_MAIN = fileURLToPath(new URL('../../src/daemon/main.js', import.meta.url));

/** Default tunnel MTU, as wireguard-go and wg-quick use when the route MTU is unknown. */
export const DEFAULT_MTU = 1420;

/**
 * LOG_LEVEL given to daemons unless the caller's env says otherwise: `WGTS_INTEROP_LOG_LEVEL` or
 * `error`. Set WGTS_INTEROP_LOG_LEVEL=verbose to see handshakes in failure output.
 */
function defaultLogLevel(): string {
  return process.env['WGTS_INTEROP_LOG_LEVEL'] ?? 'error';
}

/** Why `impl` cannot run here, or null when it can. */
export function implUnavailable(impl: Impl): string | null {
  if (impl === 'wireguard-go') return which('wireguard-go') === null ? 'wireguard-go not on PATH' : null;
  if (impl === 'wireguard-go-anchor' || impl === 'boringtun') {
    return existsSync(anchorPath(impl)) ? null : `anchor ${anchorPath(impl)} missing (set WGTS_ANCHORS)`;
  }
  return existsSync(WGTSD_MAIN) ? null : `wgtsd not built (${WGTSD_MAIN} missing)`;
}

/**
 * A reason to skip an interop test, or false: not root, no /dev/net/tun, a daemon implementation
 * missing, or one of the tools (`ip`, `wg`, plus `tools`) not on PATH.
 */
export function interopSkipReason(impls: readonly Impl[], tools: readonly string[] = []): string | false {
  if (!isRoot()) return 'needs root (network namespaces, /dev/net/tun)';
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun missing';
  for (const impl of new Set(impls)) {
    const why = implUnavailable(impl);
    if (why !== null) return why;
  }
  const missing = ['ip', 'wg', ...tools].filter((t) => which(t) === null);
  return missing.length > 0 ? `missing ${missing.join(', ')} on PATH` : false;
}

// ---------------------------------------------------------------------------------------------
// Keys

export interface KeyPair {
  /** base64, as `wg genkey` prints it. */
  readonly privateKey: string;
  readonly publicKey: string;
}

/** `wg genkey` then `wg pubkey`. */
export async function genKeyPair(): Promise<KeyPair> {
  const privateKey = (await execOk(null, 'wg', ['genkey'])).stdout.trim();
  const publicKey = (await execOk(null, 'wg', ['pubkey'], { input: `${privateKey}\n` })).stdout.trim();
  return { privateKey, publicKey };
}

/** `wg genpsk`. */
export async function genPsk(): Promise<string> {
  return (await execOk(null, 'wg', ['genpsk'])).stdout.trim();
}

let secretDir: string | null = null;
let secretCount = 0;

/** Writes a key to a 0600 file in a tracked temporary directory (for `wg set … private-key FILE`). */
export function writeSecretFile(value: string): string {
  if (secretDir === null || !existsSync(secretDir)) {
    secretDir = mkdtempSync(join(tmpdir(), `wgts-${process.pid}-keys-`));
    trackPath(secretDir);
  }
  secretCount += 1;
  const path = join(secretDir, `key${secretCount}`);
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  return path;
}

// ---------------------------------------------------------------------------------------------
// Daemons

export interface StartDaemonOptions {
  readonly impl: Impl;
  /** Default: a unique name from `uniqueIfname('w')`. */
  readonly ifname?: string;
  /** Added to this process's environment (LOG_LEVEL defaults to WGTS_INTEROP_LOG_LEVEL or error). */
  readonly env?: Readonly<Record<string, string>>;
  /** How long to wait for the UAPI socket; default 10 s. */
  readonly startTimeoutMs?: number;
  /**
   * Leave a socket file already at the UAPI path (a killed daemon's stale socket) for the daemon
   * to deal with, and wait until the path accepts connections instead of merely existing.
   */
  readonly keepStaleSocket?: boolean;
}

export interface Daemon {
  readonly ns: string;
  readonly ifname: string;
  readonly impl: Impl;
  readonly socketPath: string;
  readonly proc: TrackedProcess;
  /** The daemon's recent stdout and stderr. */
  output(): string;
  /** SIGTERM (SIGKILL after 2 s); removes the socket if the daemon left it. Idempotent. */
  stop(): Promise<void>;
}

function daemonCommand(impl: Impl, ifname: string): [string, string[]] {
  if (impl === 'wireguard-go') return [which('wireguard-go') ?? 'wireguard-go', ['-f', ifname]];
  if (impl === 'wireguard-go-anchor') return [anchorPath(impl), ['-f', ifname]];
  // boringtun drops to nobody by default, which would leave it unable to serve root's `wg`.
  if (impl === 'boringtun') return [anchorPath(impl), ['-f', '--disable-drop-privileges', ifname]];
  return [process.execPath, [WGTSD_MAIN, '-f', ifname]];
}

/**
 * Starts `impl` in the foreground in `ns` and waits until its UAPI socket exists. Throws, with the
 * daemon's output, if it exits or does not create the socket in time.
 */
export async function startDaemon(ns: string, opts: StartDaemonOptions): Promise<Daemon> {
  const ifname = opts.ifname ?? uniqueIfname('w');
  const socketPath = join(UAPI_DIR, `${ifname}.sock`);
  // The name is unique to this process, so a socket already there is a stale one of ours (pid reuse).
  const stale = existsSync(socketPath);
  if (stale && opts.keepStaleSocket !== true) rmSync(socketPath, { force: true });
  const waitLive = stale && opts.keepStaleSocket === true;
  const [cmd, args] = daemonCommand(opts.impl, ifname);
  const env = { ...process.env, LOG_LEVEL: defaultLogLevel(), ...opts.env };
  const proc = spawn(ns, cmd, args, { env });
  trackPath(socketPath);
  trackLink(ns, ifname);
  const stop = async (): Promise<void> => {
    await proc.stop();
    rmSync(socketPath, { force: true });
    untrackPath(socketPath);
  };
  try {
    await waitFor(
      () => {
        if (proc.hasExited()) {
          const info = proc.exitInfo();
          throw new Error(`exited (${info?.code ?? info?.signal}) before creating its socket`);
        }
        return waitLive ? acceptsConnections(socketPath) : existsSync(socketPath);
      },
      { timeoutMs: opts.startTimeoutMs ?? 10_000, intervalMs: 20, what: `${socketPath}` },
    );
  } catch (err) {
    await stop();
    throw new Error(`${opts.impl} ${ifname} in ${ns}: ${(err as Error).message}\n${proc.output()}`);
  }
  return { ns, ifname, impl: opts.impl, socketPath, proc, output: () => proc.output(), stop };
}

/** Whether a unix stream socket at `path` accepts a connection (closed at once), within 1 s. */
export function acceptsConnections(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ path });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 1_000);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Runs the real `wg` with `args` inside `ns`; throws unless it exits 0. */
export function wg(ns: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return execOk(ns, 'wg', args, opts);
}

export interface PeerConfig {
  readonly publicKey: string;
  /** `ip:port` or `[ipv6]:port`. */
  readonly endpoint?: string;
  readonly allowedIps: readonly string[];
  /** base64; omitted means no psk. */
  readonly presharedKey?: string;
  /** Seconds; omitted means off. */
  readonly persistentKeepalive?: number;
}

export interface InterfaceConfig {
  /** base64 private key. */
  readonly privateKey: string;
  readonly listenPort?: number;
  readonly peers?: readonly PeerConfig[];
  /** CIDR addresses for the interface (v6 added with nodad). */
  readonly addresses?: readonly string[];
  /** Default 1420. */
  readonly mtu?: number;
}

/** The `wg set` arguments for `cfg` (key material written to 0600 temporary files). */
export function wgSetArgs(ifname: string, cfg: InterfaceConfig): string[] {
  const args = ['set', ifname, 'private-key', writeSecretFile(cfg.privateKey)];
  if (cfg.listenPort !== undefined) args.push('listen-port', String(cfg.listenPort));
  for (const peer of cfg.peers ?? []) {
    args.push('peer', peer.publicKey);
    if (peer.presharedKey !== undefined) args.push('preshared-key', writeSecretFile(peer.presharedKey));
    if (peer.endpoint !== undefined) args.push('endpoint', peer.endpoint);
    if (peer.persistentKeepalive !== undefined) {
      args.push('persistent-keepalive', String(peer.persistentKeepalive));
    }
    args.push('allowed-ips', peer.allowedIps.join(','));
  }
  return args;
}

/** `wg set` the keys, port and peers, then add addresses, set the MTU and bring the link up. */
export async function configureInterface(
  target: { readonly ns: string; readonly ifname: string },
  cfg: InterfaceConfig,
): Promise<void> {
  const { ns, ifname } = target;
  await wg(ns, wgSetArgs(ifname, cfg));
  for (const cidr of cfg.addresses ?? []) await addAddress(ns, ifname, cidr);
  await execOk(ns, 'ip', ['link', 'set', 'dev', ifname, 'mtu', String(cfg.mtu ?? DEFAULT_MTU), 'up']);
}

export interface WgDumpPeer {
  readonly publicKey: string;
  /** null for `(none)`. */
  readonly presharedKey: string | null;
  /** null for `(none)`. */
  readonly endpoint: string | null;
  readonly allowedIps: string[];
  /** Unix seconds; 0 = never. */
  readonly latestHandshake: number;
  readonly rxBytes: number;
  readonly txBytes: number;
  /** Seconds; null when off. */
  readonly persistentKeepalive: number | null;
}

export interface WgDump {
  readonly privateKey: string;
  readonly publicKey: string;
  readonly listenPort: number;
  /** null when off. */
  readonly fwmark: string | null;
  readonly peers: WgDumpPeer[];
}

const none = (s: string): string | null => (s === '(none)' || s === 'off' ? null : s);

/** Parses `wg show IFNAME dump` (one interface: a device line, then one line per peer). */
export function parseWgDump(text: string): WgDump {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const head = lines[0]?.split('\t');
  if (head === undefined || head.length !== 4) throw new Error(`bad wg dump device line: ${lines[0]}`);
  const peers = lines.slice(1).map((line): WgDumpPeer => {
    const f = line.split('\t');
    if (f.length !== 8) throw new Error(`bad wg dump peer line: ${line}`);
    const allowed = none(f[3]!);
    const keepalive = none(f[7]!);
    return {
      publicKey: f[0]!,
      presharedKey: none(f[1]!),
      endpoint: none(f[2]!),
      allowedIps: allowed === null ? [] : allowed.split(','),
      latestHandshake: Number(f[4]),
      rxBytes: Number(f[5]),
      txBytes: Number(f[6]),
      persistentKeepalive: keepalive === null ? null : Number(keepalive),
    };
  });
  return {
    privateKey: head[0]!,
    publicKey: head[1]!,
    listenPort: Number(head[2]),
    fwmark: none(head[3]!),
    peers,
  };
}

/** `wg show IFNAME dump` in `ns`, parsed. */
export async function wgShowDump(ns: string, ifname: string): Promise<WgDump> {
  return parseWgDump((await wg(ns, ['show', ifname, 'dump'])).stdout);
}

// ---------------------------------------------------------------------------------------------
// The two-node topology

export type Family = 'v4' | 'v6';

export interface TwoNodeOptions {
  readonly implA?: Impl;
  readonly implB?: Impl;
  /** Which outer (veth) family the peers' endpoints use; default v4. Both families are configured. */
  readonly outer?: Family;
  /** Use one fresh preshared key on both sides. */
  readonly psk?: boolean;
  /** Persistent keepalive seconds, set on `keepaliveOn` (default both sides). */
  readonly persistentKeepalive?: number;
  readonly keepaliveOn?: 'a' | 'b' | 'both';
  /** Tunnel MTU; default 1420. */
  readonly mtu?: number;
  /** Veth MTU; default the kernel's (1500). */
  readonly outerMtu?: number;
  /** Default 51820 (A) and 51821 (B). */
  readonly listenPorts?: readonly [number, number];
  readonly envA?: Readonly<Record<string, string>>;
  readonly envB?: Readonly<Record<string, string>>;
  /**
   * Which sides get the other's endpoint; default both. With `'a'`, only A knows where B is, so
   * only A can initiate: B learns A's endpoint from A's first authenticated packet (roaming).
   */
  readonly endpointOn?: 'a' | 'b' | 'both';
}

export interface TunnelNode {
  readonly name: 'a' | 'b';
  readonly ns: string;
  readonly ifname: string;
  readonly impl: Impl;
  readonly daemon: Daemon;
  readonly keys: KeyPair;
  readonly listenPort: number;
  /** The veth end in this node's namespace. */
  readonly vethIf: string;
  /** Outer (veth) and inner (tunnel) addresses, without prefix length. */
  readonly outerV4: string;
  readonly outerV6: string;
  readonly innerV4: string;
  readonly innerV6: string;
  /** The endpoint the other side was given for this node (`ip:port` or `[ip]:port`). */
  readonly endpoint: string;
  /** What `configureInterface` applied to this node (to apply again after a restart). */
  readonly config: InterfaceConfig;
  /** Runs a command in this node's namespace (bounded, never throws on a non-zero exit). */
  exec(cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** `wg show IFNAME dump`, parsed. */
  dump(): Promise<WgDump>;
}

export interface TwoNodeTopology {
  readonly a: TunnelNode;
  readonly b: TunnelNode;
  readonly outer: Family;
  /** The shared psk, or null. */
  readonly psk: string | null;
  readonly mtu: number;
  /** Both daemons' recent output, for failure messages. */
  logs(): string;
  /** Stops both daemons and deletes both namespaces (and so the veth and TUNs). Idempotent. */
  teardown(): Promise<void>;
  /**
   * Starts a fresh daemon (same implementation, namespace, interface name and environment) for a
   * node whose daemon has already exited (the test stopped or killed it), applies the node's
   * `config` again, and makes it the node's `daemon` (teardown stops it). Throws if the old
   * daemon still runs. With `keepStaleSocket`, a socket the old daemon left stays for the new one
   * to handle (see StartDaemonOptions).
   */
  restartDaemon(node: 'a' | 'b', opts?: { readonly keepStaleSocket?: boolean }): Promise<Daemon>;
}

/** Per-topology address octets: X from the pid, Y from a per-process counter. */
function addressPlan(): {
  outerV4: [string, string];
  outerV6: [string, string];
  innerV4: [string, string];
  innerV6: [string, string];
} {
  const x = (process.pid % 250) + 1;
  const y = (uniqueNumber() % 254) + 1;
  const xx = x.toString(16).padStart(2, '0');
  const yy = y.toString(16);
  return {
    outerV4: [`10.${x}.${y}.1`, `10.${x}.${y}.2`],
    outerV6: [`fd${xx}:${yy}::1`, `fd${xx}:${yy}::2`],
    innerV4: [`100.${64 + (x % 64)}.${y}.1`, `100.${64 + (x % 64)}.${y}.2`],
    innerV6: [`fd${xx}:${yy}:1::1`, `fd${xx}:${yy}:1::2`],
  };
}

let topologyCount = 0;
function uniqueNumber(): number {
  topologyCount += 1;
  return topologyCount;
}

/** Builds nsA ↔ nsB with a WireGuard daemon in each; see the module comment. */
export async function createTwoNodeTopology(opts: TwoNodeOptions = {}): Promise<TwoNodeTopology> {
  const outer = opts.outer ?? 'v4';
  const mtu = opts.mtu ?? DEFAULT_MTU;
  const [portA, portB] = opts.listenPorts ?? [51820, 51821];
  const plan = addressPlan();
  const daemons: Daemon[] = [];
  const spaces: string[] = [];
  const current: Daemon[] = [];
  let tornDown = false;
  const teardown = async (): Promise<void> => {
    if (tornDown) return;
    tornDown = true;
    await Promise.all(current.map((d) => d.stop()));
    await Promise.all(daemons.map((d) => d.proc.stop()));
    for (const ns of spaces) await deleteNamespace(ns);
  };
  try {
    const nsA = await createNamespace(uniqueName('a'));
    spaces.push(nsA);
    const nsB = await createNamespace(uniqueName('b'));
    spaces.push(nsB);
    const veth = await createVethPair(nsA, nsB, {
      v4: [`${plan.outerV4[0]}/24`, `${plan.outerV4[1]}/24`],
      v6: [`${plan.outerV6[0]}/64`, `${plan.outerV6[1]}/64`],
      ...(opts.outerMtu === undefined ? {} : { mtu: opts.outerMtu }),
    });
    const [keysA, keysB, psk] = await Promise.all([
      genKeyPair(),
      genKeyPair(),
      opts.psk === true ? genPsk() : Promise.resolve(null),
    ]);
    const [daemonA, daemonB] = await Promise.all([
      startDaemon(nsA, { impl: opts.implA ?? 'wireguard-go', ...(opts.envA ? { env: opts.envA } : {}) }),
      startDaemon(nsB, { impl: opts.implB ?? 'wireguard-go', ...(opts.envB ? { env: opts.envB } : {}) }),
    ]);
    daemons.push(daemonA, daemonB);
    current.push(daemonA, daemonB);

    const endpointOf = (i: 0 | 1, port: number): string =>
      outer === 'v4' ? `${plan.outerV4[i]}:${port}` : `[${plan.outerV6[i]}]:${port}`;
    const keepaliveOn = opts.keepaliveOn ?? 'both';
    const endpointOn = opts.endpointOn ?? 'both';
    const sides = [
      { name: 'a', ns: nsA, daemon: daemonA, keys: keysA, port: portA, vethIf: veth.ifA, i: 0 },
      { name: 'b', ns: nsB, daemon: daemonB, keys: keysB, port: portB, vethIf: veth.ifB, i: 1 },
    ] as const;
    const configs = sides.map((side): InterfaceConfig => {
      const o = side.i === 0 ? 1 : 0;
      const keepalive =
        opts.persistentKeepalive !== undefined && (keepaliveOn === 'both' || keepaliveOn === side.name)
          ? { persistentKeepalive: opts.persistentKeepalive }
          : {};
      const endpoint =
        endpointOn === 'both' || endpointOn === side.name ? { endpoint: endpointOf(o, sides[o].port) } : {};
      return {
        privateKey: side.keys.privateKey,
        listenPort: side.port,
        mtu,
        addresses: [`${plan.innerV4[side.i]}/24`, `${plan.innerV6[side.i]}/64`],
        peers: [
          {
            publicKey: sides[o].keys.publicKey,
            ...endpoint,
            allowedIps: [`${plan.innerV4[o]}/32`, `${plan.innerV6[o]}/128`],
            ...(psk === null ? {} : { presharedKey: psk }),
            ...keepalive,
          },
        ],
      };
    });
    const nodes = sides.map((side): TunnelNode => ({
      name: side.name,
      ns: side.ns,
      ifname: side.daemon.ifname,
      impl: side.daemon.impl,
      get daemon(): Daemon {
        return current[side.i]!;
      },
      keys: side.keys,
      listenPort: side.port,
      vethIf: side.vethIf,
      outerV4: plan.outerV4[side.i],
      outerV6: plan.outerV6[side.i],
      innerV4: plan.innerV4[side.i],
      innerV6: plan.innerV6[side.i],
      endpoint: endpointOf(side.i, side.port),
      config: configs[side.i]!,
      exec: (cmd, args, execOpts) => exec(side.ns, cmd, args, execOpts),
      dump: () => wgShowDump(side.ns, side.daemon.ifname),
    }));
    await Promise.all(sides.map((side) => configureInterface(side.daemon, configs[side.i]!)));
    const restartDaemon = async (
      name: 'a' | 'b',
      restartOpts: { readonly keepStaleSocket?: boolean } = {},
    ): Promise<Daemon> => {
      const i = name === 'a' ? 0 : 1;
      const old = current[i]!;
      if (!old.proc.hasExited()) throw new Error(`${old.impl} ${old.ifname} is still running`);
      // Forget it (its stop() would remove the socket path, which the new daemon will own).
      await old.proc.stop();
      const env = i === 0 ? opts.envA : opts.envB;
      const fresh = await startDaemon(old.ns, {
        impl: old.impl,
        ifname: old.ifname,
        ...(env ? { env } : {}),
        ...(restartOpts.keepStaleSocket === true ? { keepStaleSocket: true } : {}),
      });
      daemons.push(fresh);
      current[i] = fresh;
      await configureInterface(fresh, configs[i]!);
      return fresh;
    };
    return {
      a: nodes[0]!,
      b: nodes[1]!,
      outer,
      psk,
      mtu,
      logs: () =>
        daemons.map((d) => `--- ${d.impl} ${d.ifname} in ${d.ns} ---\n${d.output().trim()}`).join('\n'),
      teardown,
      restartDaemon,
    };
  } catch (err) {
    const logs = daemons.map((d) => `--- ${d.impl} ${d.ifname} ---\n${d.output().trim()}`).join('\n');
    await teardown();
    throw new Error(`two-node topology: ${(err as Error).message}${logs === '' ? '' : `\n${logs}`}`);
  }
}
