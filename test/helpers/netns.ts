/**
 * Network-namespace harness for the interop tests (test/interop/).
 *
 * Everything this module creates is named with a per-process unique prefix (`wgts-<pid>-<n>` for
 * namespaces, `wgts-<pid36><tag><n36>` for links, which must fit in 15 characters), is tracked here,
 * and is removed by its own name or pid in `cleanup()`. Cleanup is idempotent and also runs (in a
 * synchronous form) on process exit, SIGINT, SIGTERM and SIGHUP, registered when the first resource
 * is created. Nothing here sends traffic outside the namespaces it creates.
 *
 * Every command is bounded in time: `exec` kills the command when `timeoutMs` passes; `spawn`ed
 * processes are stopped (SIGTERM, then SIGKILL) by `stop()` or `cleanup()`.
 */
import { execFile, execFileSync, spawn as spawnChild, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_LOG_LIMIT = 256 * 1024;
const STOP_GRACE_MS = 2_000;

// ---------------------------------------------------------------------------------------------
// Small utilities

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True when running as root (the interop suite needs CAP_NET_ADMIN and /dev/net/tun). */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** The absolute path of an executable found on PATH (or given as a path), or null. */
export function which(cmd: string): string | null {
  const candidates = cmd.includes('/')
    ? [cmd]
    : (process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
        .split(delimiter)
        .filter((dir) => dir !== '')
        .map((dir) => join(dir, cmd));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** A reason to skip when not root or when any of the commands is missing; false when all is there. */
export function prerequisitesMissing(commands: readonly string[]): string | false {
  if (!isRoot()) return 'needs root (network namespaces, /dev/net/tun)';
  const missing = commands.filter((cmd) => which(cmd) === null);
  return missing.length > 0 ? `missing ${missing.join(', ')} on PATH` : false;
}

export interface WaitForOptions {
  /** Give up after this long (required: every wait is bounded). */
  readonly timeoutMs: number;
  /** Poll interval; default 50 ms. */
  readonly intervalMs?: number;
  /** Named in the timeout error. */
  readonly what?: string;
}

/**
 * Polls `condition` until it returns something other than null, undefined or false (which is
 * returned) or the deadline passes
 * (which throws, naming `what` and the condition's last error if it threw).
 */
export async function waitFor<T>(
  condition: () => T | null | undefined | false | Promise<T | null | undefined | false>,
  { timeoutMs, intervalMs = 50, what = 'condition' }: WaitForOptions,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = undefined;
  for (;;) {
    try {
      const value = await condition();
      if (value !== null && value !== undefined && value !== false) return value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      const cause = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await sleep(Math.min(intervalMs, left));
  }
}

// ---------------------------------------------------------------------------------------------
// Unique names

let counter = 0;

/** `wgts-<pid>-<n>` (plus `-tag`): unique among the processes running at once. For namespaces. */
export function uniqueName(tag = ''): string {
  counter += 1;
  return `wgts-${process.pid}-${counter}${tag === '' ? '' : `-${tag}`}`;
}

/**
 * A unique interface name of at most 15 characters (IFNAMSIZ − 1): `wgts-<pid base 36><tag><n
 * base 36>`. `tag` is one letter or digit, e.g. `v` for veth ends, `w` for WireGuard interfaces.
 * WireGuard interface names must be unique across all namespaces at once, because the UAPI socket
 * directory /var/run/wireguard is shared (it is the filesystem, not the network namespace).
 */
export function uniqueIfname(tag: string): string {
  if (!/^[a-z0-9]$/.test(tag)) throw new Error(`ifname tag must be one letter or digit: ${tag}`);
  counter += 1;
  const name = `wgts-${process.pid.toString(36)}${tag}${counter.toString(36)}`;
  if (name.length > 15) throw new Error(`interface name too long: ${name}`);
  return name;
}

// ---------------------------------------------------------------------------------------------
// Tracking and cleanup

interface TrackedLink {
  readonly ns: string | null;
  readonly name: string;
}

const namespaces = new Set<string>();
const links: TrackedLink[] = [];
const processes = new Set<TrackedProcess>();
const paths = new Set<string>();
const spawned: number[] = [];
let handlersInstalled = false;

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.once('exit', () => {
    cleanupSync();
  });
  const signals: readonly [NodeJS.Signals, number][] = [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ];
  for (const [signal, code] of signals) {
    process.once(signal, () => {
      cleanupSync();
      process.exit(code);
    });
  }
}

/** Every pid `spawn` ever started in this process (running or not), oldest first. */
export function spawnedPids(): number[] {
  return [...spawned];
}

/** Removes `path` (file or directory, recursively) during cleanup. */
export function trackPath(path: string): void {
  installExitHandlers();
  paths.add(path);
}

/** Forgets a path (e.g. after the test removed it itself). */
export function untrackPath(path: string): void {
  paths.delete(path);
}

/** What this module currently holds: for tests that check that teardown left nothing. */
export function tracked(): {
  namespaces: string[];
  links: { ns: string | null; name: string }[];
  pids: number[];
  paths: string[];
} {
  return {
    namespaces: [...namespaces],
    links: links.map((l) => ({ ns: l.ns, name: l.name })),
    pids: [...processes].filter((p) => !p.hasExited()).map((p) => p.pid),
    paths: [...paths],
  };
}

/**
 * Stops every tracked process (SIGTERM, SIGKILL after 2 s), deletes tracked links and namespaces
 * by name, removes tracked paths. Idempotent; never throws. Returns the problems it met (empty when
 * all went well); it also prints them to stderr.
 */
export async function cleanup(): Promise<string[]> {
  const problems: string[] = [];
  await Promise.all([...processes].map((p) => p.stop()));
  processes.clear();
  for (const link of links.splice(0)) {
    if (link.ns !== null && !namespaces.has(link.ns)) continue;
    const r = await exec(link.ns, 'ip', ['link', 'del', 'dev', link.name], { timeoutMs: 5_000 });
    if (r.code !== 0 && !/Cannot find device|does not exist/i.test(r.stderr)) {
      problems.push(`ip link del ${link.name}: ${r.stderr.trim()}`);
    }
  }
  for (const ns of [...namespaces]) {
    const problem = await removeNamespace(ns);
    if (problem !== null) problems.push(problem);
  }
  for (const path of [...paths]) {
    try {
      rmSync(path, { recursive: true, force: true });
    } catch (err) {
      problems.push(`rm ${path}: ${(err as Error).message}`);
    }
    paths.delete(path);
  }
  for (const problem of problems) process.stderr.write(`netns cleanup: ${problem}\n`);
  return problems;
}

/** The synchronous last resort used on exit and signals: SIGKILL, `ip netns del`, rm. */
export function cleanupSync(): void {
  for (const p of processes) {
    if (!p.hasExited()) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  processes.clear();
  links.splice(0);
  for (const ns of namespaces) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 5_000 });
    } catch {
      // already gone, or nothing more we can do at exit
    }
  }
  namespaces.clear();
  for (const path of paths) {
    try {
      rmSync(path, { recursive: true, force: true });
    } catch {
      // nothing more we can do at exit
    }
  }
  paths.clear();
}

// ---------------------------------------------------------------------------------------------
// Commands

export interface ExecOptions {
  /** Kill the command (SIGKILL) after this long; default 10 s. */
  readonly timeoutMs?: number;
  /** Written to the command's standard input, which is then closed. */
  readonly input?: string | Uint8Array;
  /** The whole environment of the command; default this process's. */
  readonly env?: NodeJS.ProcessEnv;
  /** Largest stdout or stderr kept; default 16 MiB. */
  readonly maxBuffer?: number;
}

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  /** Exit code, or null when killed by a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly durationMs: number;
}

function nsArgv(ns: string | null, cmd: string, args: readonly string[]): [string, string[]] {
  return ns === null ? [cmd, [...args]] : ['ip', ['netns', 'exec', ns, cmd, ...args]];
}

/**
 * Runs `cmd args` inside namespace `ns` (`ip netns exec`, which execs the command in place) or, for
 * `ns === null`, in this process's namespace. Bounded by `timeoutMs`. Resolves with the exit code
 * and output whatever the code; rejects only when the command cannot be started at all.
 */
export function exec(
  ns: string | null,
  cmd: string,
  args: readonly string[],
  opts: ExecOptions = {},
): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const [file, argv] = nsArgv(ns, cmd, args);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      argv,
      {
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: opts.maxBuffer ?? 16 * 1024 * 1024,
        encoding: 'utf8',
        env: opts.env ?? process.env,
      },
      (err, stdout, stderr) => {
        const durationMs = Date.now() - started;
        if (err === null) {
          resolve({ stdout, stderr, code: 0, signal: null, timedOut: false, durationMs });
          return;
        }
        const e = err as NodeJS.ErrnoException & {
          code?: number | string;
          signal?: NodeJS.Signals | null;
          killed?: boolean;
        };
        if (typeof e.code === 'string') {
          reject(new Error(`cannot run ${file}: ${e.message}`));
          return;
        }
        const signal = e.signal ?? null;
        resolve({
          stdout,
          stderr,
          code: typeof e.code === 'number' ? e.code : null,
          signal,
          timedOut: e.killed === true && durationMs >= timeoutMs - 50,
          durationMs,
        });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** `exec`, but throws (with the command line and its stderr) unless it exits 0. */
export async function execOk(
  ns: string | null,
  cmd: string,
  args: readonly string[],
  opts: ExecOptions = {},
): Promise<ExecResult> {
  const r = await exec(ns, cmd, args, opts);
  if (r.code !== 0) {
    const where = ns === null ? '' : `[${ns}] `;
    const why = r.timedOut ? `timed out after ${r.durationMs} ms` : `exit ${r.code ?? r.signal}`;
    throw new Error(`${where}${cmd} ${args.join(' ')}: ${why}: ${(r.stderr || r.stdout).trim()}`);
  }
  return r;
}

export interface SpawnOptions {
  /** The whole environment of the process; default this process's. */
  readonly env?: NodeJS.ProcessEnv;
  /** How much of the combined stdout+stderr to keep (the most recent bytes); default 256 KiB. */
  readonly logLimitBytes?: number;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface TrackedProcess {
  readonly ns: string | null;
  readonly pid: number;
  readonly command: string;
  readonly child: ChildProcess;
  /** Resolves when the process has exited. */
  readonly exited: Promise<ExitInfo>;
  hasExited(): boolean;
  exitInfo(): ExitInfo | null;
  /** The most recent combined stdout and stderr. */
  output(): string;
  /** Waits (bounded) until the output matches. Throws early if the process exits first. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** SIGTERM (or `signal`), then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(opts?: { signal?: NodeJS.Signals; graceMs?: number }): Promise<ExitInfo>;
}

/**
 * Starts a long-running process (a daemon, a server) in namespace `ns`, tracked by pid until it
 * exits; `cleanup()` stops whatever is still running. `ip netns exec` execs the command in place,
 * so the pid is the command's own.
 */
export function spawn(
  ns: string | null,
  cmd: string,
  args: readonly string[],
  opts: SpawnOptions = {},
): TrackedProcess {
  installExitHandlers();
  const [file, argv] = nsArgv(ns, cmd, args);
  const child = spawnChild(file, argv, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const limit = opts.logLimitBytes ?? DEFAULT_LOG_LIMIT;
  let log = '';
  const append = (chunk: Buffer): void => {
    log += chunk.toString('utf8');
    if (log.length > limit) log = log.slice(log.length - limit);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let info: ExitInfo | null = null;
  let stdioClosed = false;
  child.once('close', () => {
    stdioClosed = true;
  });
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('error', (err) => {
      append(Buffer.from(`\n[spawn error] ${err.message}\n`));
      info ??= { code: null, signal: null };
      resolve(info);
    });
    child.once('exit', (code, signal) => {
      info ??= { code, signal };
      resolve(info);
    });
  });
  if (child.pid === undefined) {
    throw new Error(`cannot spawn ${file} ${argv.join(' ')}`);
  }
  const pid = child.pid;
  spawned.push(pid);
  const handle: TrackedProcess = {
    ns,
    pid,
    command: `${cmd} ${args.join(' ')}`,
    child,
    exited,
    hasExited: () => info !== null,
    exitInfo: () => info,
    output: () => log,
    async waitForOutput(pattern, timeoutMs) {
      return waitFor(
        () => {
          const m = log.match(pattern);
          if (m !== null) return m;
          if (info !== null && stdioClosed) {
            throw new Error(`${handle.command} exited (${info.code ?? info.signal}): ${log.trim()}`);
          }
          return null;
        },
        { timeoutMs, intervalMs: 20, what: `${pattern} from ${handle.command}` },
      );
    },
    async stop({ signal = 'SIGTERM', graceMs = STOP_GRACE_MS } = {}) {
      if (info === null) {
        try {
          process.kill(pid, signal);
        } catch {
          // already gone
        }
        const timer = new Promise<null>((resolve) => setTimeout(() => resolve(null), graceMs));
        if ((await Promise.race([exited, timer])) === null) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
          await exited;
        }
      }
      processes.delete(handle);
      return info ?? { code: null, signal: null };
    },
  };
  processes.add(handle);
  void exited.then(() => processes.delete(handle));
  return handle;
}

// ---------------------------------------------------------------------------------------------
// Namespaces and links

/** `ip netns add` a uniquely named namespace (or `name`), with its loopback up. Tracked. */
export async function createNamespace(name: string = uniqueName()): Promise<string> {
  installExitHandlers();
  await execOk(null, 'ip', ['netns', 'add', name]);
  namespaces.add(name);
  await execOk(null, 'ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return name;
}

async function removeNamespace(ns: string): Promise<string | null> {
  const r = await exec(null, 'ip', ['netns', 'del', ns], { timeoutMs: 5_000 });
  namespaces.delete(ns);
  if (r.code !== 0 && !/No such file/i.test(r.stderr)) return `ip netns del ${ns}: ${r.stderr.trim()}`;
  return null;
}

/**
 * Stops the tracked processes running in `ns`, then `ip netns del` it. Links inside it go with
 * it (a veth's other end in another namespace too). Throws on failure.
 */
export async function deleteNamespace(ns: string): Promise<void> {
  const inside = [...processes].filter((p) => p.ns === ns);
  await Promise.all(inside.map((p) => p.stop()));
  for (let i = links.length - 1; i >= 0; i--) if (links[i]!.ns === ns) links.splice(i, 1);
  const problem = await removeNamespace(ns);
  if (problem !== null) throw new Error(problem);
}

/** Tracks a link created elsewhere (e.g. a TUN made by a daemon) so cleanup deletes it by name. */
export function trackLink(ns: string | null, name: string): void {
  installExitHandlers();
  links.push({ ns, name });
}

/** `ip link del` a link by name; a link already gone is fine. */
export async function deleteLink(ns: string | null, name: string): Promise<void> {
  for (let i = links.length - 1; i >= 0; i--) {
    if (links[i]!.ns === ns && links[i]!.name === name) links.splice(i, 1);
  }
  const r = await exec(ns, 'ip', ['link', 'del', 'dev', name], { timeoutMs: 5_000 });
  if (r.code !== 0 && !/Cannot find device|does not exist/i.test(r.stderr)) {
    throw new Error(`ip link del ${name}: ${r.stderr.trim()}`);
  }
}

export interface VethOptions {
  /** CIDR addresses for the two ends, e.g. ['10.1.2.1/24', '10.1.2.2/24']. */
  readonly v4?: readonly [string, string];
  /** CIDR addresses for the two ends; added with `nodad` so they are usable at once. */
  readonly v6?: readonly [string, string];
  /** MTU of both ends; default the kernel's (1500). */
  readonly mtu?: number;
}

export interface VethPair {
  readonly nsA: string;
  readonly nsB: string;
  /** The end inside nsA. */
  readonly ifA: string;
  /** The end inside nsB. */
  readonly ifB: string;
}

/** Adds `cidr` (v4, or v6 with `nodad`) to `dev` in `ns`. */
export async function addAddress(ns: string, dev: string, cidr: string): Promise<void> {
  const v6 = cidr.includes(':');
  await execOk(ns, 'ip', [v6 ? '-6' : '-4', 'addr', 'add', cidr, 'dev', dev, ...(v6 ? ['nodad'] : [])]);
}

/**
 * A veth pair born directly inside nsA and nsB (it never appears in this process's namespace),
 * with the given addresses, both ends up. Tracked (deleting either end, or either namespace,
 * removes both ends).
 */
export async function createVethPair(nsA: string, nsB: string, opts: VethOptions = {}): Promise<VethPair> {
  const ifA = uniqueIfname('v');
  const ifB = uniqueIfname('v');
  await execOk(null, 'ip', [
    '-n',
    nsA,
    'link',
    'add',
    ifA,
    'type',
    'veth',
    'peer',
    'name',
    ifB,
    'netns',
    nsB,
  ]);
  trackLink(nsA, ifA);
  for (const [ns, dev, i] of [[nsA, ifA, 0] as const, [nsB, ifB, 1] as const]) {
    if (opts.mtu !== undefined) await execOk(ns, 'ip', ['link', 'set', 'dev', dev, 'mtu', String(opts.mtu)]);
    if (opts.v4 !== undefined) await addAddress(ns, dev, opts.v4[i]);
    if (opts.v6 !== undefined) await addAddress(ns, dev, opts.v6[i]);
    await execOk(ns, 'ip', ['link', 'set', 'dev', dev, 'up']);
  }
  await Promise.all([waitLinkReady(nsA, ifA), waitLinkReady(nsB, ifB)]);
  return { nsA, nsB, ifA, ifB };
}

/**
 * Waits until `dev` in `ns` is operationally up and has a real qdisc. A veth gets its carrier only
 * when both ends are up, and the kernel activates its queue from the link-watch worker, which may
 * lag by up to a second; a packet sent before that is dropped (an IPv6 neighbour solicitation then
 * waits a full second to be retried).
 */
export async function waitLinkReady(ns: string, dev: string, timeoutMs = 5_000): Promise<void> {
  await waitFor(
    async () => {
      const r = await exec(ns, 'ip', ['-o', 'link', 'show', 'dev', dev], { timeoutMs: 2_000 });
      return r.code === 0 && /state (UP|UNKNOWN)/.test(r.stdout) && !/qdisc noop/.test(r.stdout);
    },
    { timeoutMs, intervalMs: 10, what: `${dev} in ${ns} to be up` },
  );
}

/** Waits until something listens on TCP `port` in `ns` (polls `ss`). */
export async function waitForTcpListen(ns: string, port: number, timeoutMs = 5_000): Promise<void> {
  await waitFor(
    async () => {
      const r = await exec(ns, 'ss', ['-Hltn', `sport = :${port}`], { timeoutMs: 2_000 });
      return r.code === 0 && r.stdout.trim() !== '';
    },
    { timeoutMs, what: `a TCP listener on port ${port} in ${ns}` },
  );
}

export interface PingOptions {
  /** Echo requests to send; default 1. */
  readonly count?: number;
  /** Seconds between requests; default 0.2 (below 0.2 needs root). */
  readonly intervalS?: number;
  /** ICMP payload bytes (`-s`). */
  readonly size?: number;
  /** Set DF and never fragment locally (`-M do`). */
  readonly dontFragment?: boolean;
  /** Seconds to wait for each reply (`-W`); default 2. */
  readonly waitS?: number;
  /**
   * `-w`: wait until `count` replies have come or this many seconds have passed. Without it, once
   * the last request is out, ping waits only max(2 × the largest RTT so far, the interval) before
   * exiting, so one reply delayed past that on a busy machine counts as lost. With it, ping also
   * sends more requests while replies are missing, so `transmitted` may exceed `count`.
   */
  readonly deadlineS?: number;
}

export interface PingResult {
  /** ping exited 0 (at least one reply). */
  readonly ok: boolean;
  readonly code: number | null;
  readonly transmitted: number;
  readonly received: number;
  readonly rttMs: {
    readonly min: number;
    readonly avg: number;
    readonly max: number;
    readonly mdev: number;
  } | null;
  readonly output: string;
}

/** iputils `ping` from `ns` to `address` (v4 or v6), bounded in time; never throws on loss. */
export async function ping(ns: string, address: string, opts: PingOptions = {}): Promise<PingResult> {
  const count = opts.count ?? 1;
  const intervalS = opts.intervalS ?? 0.2;
  const waitS = opts.waitS ?? 2;
  const args = ['-n', '-c', String(count), '-i', String(intervalS), '-W', String(waitS)];
  if (opts.size !== undefined) args.push('-s', String(opts.size));
  if (opts.dontFragment === true) args.push('-M', 'do');
  if (opts.deadlineS !== undefined) args.push('-w', String(opts.deadlineS));
  args.push(address);
  const r = await exec(ns, 'ping', args, {
    timeoutMs: Math.ceil((count * intervalS + Math.max(waitS, opts.deadlineS ?? 0)) * 1000) + 5_000,
  });
  const output = `${r.stdout}${r.stderr}`;
  const counts = /(\d+) packets transmitted, (\d+) received/.exec(output);
  const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(output);
  return {
    ok: r.code === 0,
    code: r.code,
    transmitted: counts === null ? 0 : Number(counts[1]),
    received: counts === null ? 0 : Number(counts[2]),
    rttMs:
      rtt === null
        ? null
        : { min: Number(rtt[1]), avg: Number(rtt[2]), max: Number(rtt[3]), mdev: Number(rtt[4]) },
    output,
  };
}
