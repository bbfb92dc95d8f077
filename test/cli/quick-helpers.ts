/**
 * Shared by the wgts up/down/save/strip tests: how to run the CLI (`node dist/src/cli/main.js`
 * once its dispatch knows the wg-quick commands, else this file run as a tiny entry that calls
 * runQuick directly), config files, and the netns fixture:
 *
 *     ns [wgts up: IF inner 100.P.Y.1/24, fdXX:Y::1/64] ── veth 10.X.Y.1/24 ↔ .2 ── [wireguard-go] peerNs
 *                                                                        lo: 198.18.Y.1/32, fdXX:ff:Y::1/128
 *
 * The peer (Debian's wireguard-go, configured with the real `wg`) listens on 51821 with inner
 * 100.P.Y.2/24 and fdXX:Y::2/64 and allows our inner /32 and /128; its loopback holds the "far"
 * addresses, which our namespace can reach only through the tunnel (it has no other route there).
 * Our side is whatever the test's config file says, brought up by `wgts up` inside `ns`.
 */
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runQuick, type QuickCommand } from '../../src/cli/quick/index.js';
import { WGTSD_MAIN } from '../../src/cli/quick/link.js';
import {
  createNamespace,
  createVethPair,
  deleteNamespace,
  exec,
  execOk,
  trackPath,
  uniqueIfname,
  uniqueName,
  untrackPath,
  type ExecOptions,
  type ExecResult,
} from '../helpers/netns.js';
import {
  configureInterface,
  genKeyPair,
  startDaemon,
  UAPI_DIR,
  type Daemon,
  type KeyPair,
} from '../helpers/wg-peer.js';

/** The compiled CLI entry point (dist/src/cli/main.js). */
export const CLI_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/** This file, compiled: run as a script it behaves like `wgts COMMAND ARG`. */
const SELF = fileURLToPath(import.meta.url);

/** The node arguments that run `wgts …` (prepend process.execPath, append the command). */
export function quickCli(): string[] {
  if (process.env['WGTS_QUICK_DIRECT'] !== '1' && existsSync(CLI_MAIN)) {
    const text = readFileSync(CLI_MAIN, 'utf8');
    if (text.includes('runQuick')) return [CLI_MAIN];
  }
  return [SELF];
}

/** Writes `text` to `path` with mode 0600. */
export function writeConf(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
}

// ---------------------------------------------------------------------------------------------
// The fixture: our namespace (wgts runs here) and a wireguard-go peer in another

/** The environment for wgts and wg-quick: ours without LOG_LEVEL (a daemon would keep our pipes). */
export function quickEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env['LOG_LEVEL'];
  return env;
}

/** Pids of running daemons (wgtsd or wireguard-go) serving `ifname`, read from /proc. */
export function daemonPids(ifname: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${name}/cmdline`, 'latin1').split('\0');
    } catch {
      continue;
    }
    const daemon = argv.some((a) => a === WGTSD_MAIN || a.endsWith('/wireguard-go') || a === 'wireguard-go');
    if (daemon && argv.includes(ifname)) pids.push(Number(name));
  }
  return pids;
}

export interface QuickTopology {
  /** Where wgts runs. */
  readonly ns: string;
  readonly peerNs: string;
  readonly peer: Daemon;
  /** A 0700 directory for config files (removed at teardown). */
  readonly dir: string;
  readonly keys: KeyPair;
  readonly peerKeys: KeyPair;
  /** The veth end in `ns`. */
  readonly veth: string;
  readonly outer: { readonly self: string; readonly peer: string };
  /** Tunnel addresses (no prefix length); ours are in the config's Address, /24 and /64. */
  readonly inner: {
    readonly selfV4: string;
    readonly selfV6: string;
    readonly peerV4: string;
    readonly peerV6: string;
  };
  /** Addresses on the peer's loopback, reachable only through the tunnel. */
  readonly far: { readonly v4: string; readonly v6: string };
  readonly peerPort: number;
  /** A fresh unique interface name (and so config file name). */
  newIfname(): string;
  /** The standard client config for `ifname`, with extra [Interface] lines and AllowedIPs. */
  config(opts: { allowedIps: string; interfaceExtra?: string; address?: boolean }): string;
  /** Writes `text` as DIR/IFNAME.conf (0600); returns the path. */
  writeConf(ifname: string, text: string): string;
  /** `wgts COMMAND ARG` in `ns`. */
  wgts(command: string, arg: string, env?: Readonly<Record<string, string>>): Promise<ExecResult>;
  /** Runs a command in `ns`. */
  exec(cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  teardown(): Promise<void>;
}

let topoCount = 0;

/** Builds the fixture; see the module comment of quick-netns.test.ts. */
export async function createQuickTopology(): Promise<QuickTopology> {
  topoCount += 1;
  const x = (process.pid % 200) + 20;
  const y = topoCount % 250;
  const spaces: string[] = [];
  const ifnames: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), `wgts-${process.pid}-qconf-`));
  chmodSync(dir, 0o700);
  trackPath(dir);
  let peer: Daemon | null = null;
  const teardown = async (): Promise<void> => {
    // A daemonised wgtsd or wireguard-go of ours still running: stop it by pid.
    for (const ifname of ifnames) {
      for (const pid of daemonPids(ifname)) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // gone
        }
      }
    }
    await peer?.stop();
    for (const ns of spaces.splice(0)) await deleteNamespace(ns);
    for (const ifname of ifnames) rmSync(`${UAPI_DIR}/${ifname}.sock`, { force: true });
    rmSync(dir, { recursive: true, force: true });
    untrackPath(dir);
  };
  try {
    const ns = await createNamespace(uniqueName('q'));
    spaces.push(ns);
    const peerNs = await createNamespace(uniqueName('p'));
    spaces.push(peerNs);
    const outer = { self: `10.${x}.${y}.1`, peer: `10.${x}.${y}.2` };
    const veth = await createVethPair(ns, peerNs, { v4: [`${outer.self}/24`, `${outer.peer}/24`] });
    const inner = {
      selfV4: `100.${64 + (x % 64)}.${y}.1`,
      peerV4: `100.${64 + (x % 64)}.${y}.2`,
      selfV6: `fd${x.toString(16)}:${y.toString(16)}::1`,
      peerV6: `fd${x.toString(16)}:${y.toString(16)}::2`,
    };
    const far = { v4: `198.18.${y}.1`, v6: `fd${x.toString(16)}:ff:${y.toString(16)}::1` };
    await execOk(peerNs, 'ip', ['-4', 'addr', 'add', `${far.v4}/32`, 'dev', 'lo']);
    await execOk(peerNs, 'ip', ['-6', 'addr', 'add', `${far.v6}/128`, 'dev', 'lo']);
    const [keys, peerKeys] = await Promise.all([genKeyPair(), genKeyPair()]);
    peer = await startDaemon(peerNs, { impl: 'wireguard-go' });
    const peerPort = 51821;
    await configureInterface(peer, {
      privateKey: peerKeys.privateKey,
      listenPort: peerPort,
      addresses: [`${inner.peerV4}/24`, `${inner.peerV6}/64`],
      peers: [{ publicKey: keys.publicKey, allowedIps: [`${inner.selfV4}/32`, `${inner.selfV6}/128`] }],
    });
    const env = quickEnv();
    const self: QuickTopology = {
      ns,
      peerNs,
      peer,
      dir,
      keys,
      peerKeys,
      veth: veth.ifA,
      outer,
      inner,
      far,
      peerPort,
      newIfname() {
        const name = uniqueIfname('q');
        ifnames.push(name);
        trackPath(`${UAPI_DIR}/${name}.sock`);
        return name;
      },
      config({ allowedIps, interfaceExtra = '', address = true }) {
        return (
          `[Interface]\nPrivateKey = ${keys.privateKey}\n` +
          (address ? `Address = ${inner.selfV4}/24, ${inner.selfV6}/64\n` : '') +
          interfaceExtra +
          `\n[Peer]\nPublicKey = ${peerKeys.publicKey}\nEndpoint = ${outer.peer}:${peerPort}\n` +
          `AllowedIPs = ${allowedIps}\n`
        );
      },
      writeConf(ifname, text) {
        const path = join(dir, `${ifname}.conf`);
        writeConf(path, text);
        return path;
      },
      wgts(command, arg, extra = {}) {
        return exec(ns, process.execPath, [...quickCli(), command, arg], {
          env: { ...env, ...extra },
          timeoutMs: 60_000,
        });
      },
      exec(cmd, args, opts) {
        return exec(ns, cmd, args, opts);
      },
      teardown,
    };
    return self;
  } catch (err) {
    await teardown();
    throw err;
  }
}

const commands: readonly string[] = ['up', 'down', 'save', 'strip'];
if (process.argv[1] === SELF) {
  const [command, ...args] = process.argv.slice(2);
  if (command === undefined || !commands.includes(command)) {
    process.stderr.write('usage: quick-helpers.js up|down|save|strip ARG\n');
    process.exit(1);
  }
  runQuick(command as QuickCommand, args).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exit(1);
    },
  );
}
