/**
 * Runs the native I/O scenarios (test/io/netns-child.ts) inside a network namespace of their own.
 *
 * The addon's sockets and TUN links are created by the process that calls it, so each scenario
 * runs in a child Node process started with `ip netns exec NS node netns-child.js SCENARIO`: the
 * test process itself never changes namespace. The child prints one `@@result <json>` line and
 * exits 0, or prints the failure and exits 1.
 *
 * Cleanup is by name and pid only: namespaces are named `wgts-io-<pid>-<tag>` (a namespace whose
 * pid is no longer alive, left by a killed run, is removed on the next run); children are killed
 * by pid after their timeout or on exit. Deleting the namespace removes every link inside it.
 */
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./netns-child.js', import.meta.url));
const PREFIX = 'wgts-io-';

/** Why the namespace tests cannot run here, or false if they can. */
export function netnsUnavailable(): string | false {
  if (process.platform !== 'linux') return 'Linux only';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return 'needs root (network namespaces, /dev/net/tun, SO_MARK): run the suite as root';
  }
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'needs iproute2 (`ip`) on PATH';
  }
  return false;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes `wgts-io-<pid>-*` namespaces whose creating process is gone. */
function removeStaleNamespaces(): void {
  let list = '';
  try {
    list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  } catch {
    return;
  }
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = /^wgts-io-(\d+)-/.exec(name);
    if (m !== null && Number(m[1]) !== process.pid && !alive(Number(m[1]))) {
      try {
        execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
      } catch {
        // Already gone.
      }
    }
  }
}

const live = new Set<TestNetns>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const ns of live) ns.destroy();
  });
}

export interface ScenarioOptions {
  readonly timeoutMs?: number;
}

/** A network namespace with `lo` up, for one test file. */
export class TestNetns {
  readonly name: string;
  readonly #children = new Set<number>();

  private constructor(name: string) {
    this.name = name;
  }

  static create(tag: string): TestNetns {
    removeStaleNamespaces();
    installExitHook();
    const ns = new TestNetns(`${PREFIX}${process.pid}-${tag}`);
    execFileSync('ip', ['netns', 'add', ns.name]);
    live.add(ns);
    ns.ip('link', 'set', 'lo', 'up');
    return ns;
  }

  /** `ip -n NS ...`, returning stdout. */
  ip(...args: string[]): string {
    return execFileSync('ip', ['-n', this.name, ...args], { encoding: 'utf8' });
  }

  /** Runs a scenario of netns-child.ts in the namespace and resolves to its result. */
  run<T>(scenario: string, options: ScenarioOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? 15_000;
    return new Promise<T>((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', this.name, process.execPath, CHILD, scenario], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const pid = child.pid;
      if (pid !== undefined) this.#children.add(pid);
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
      child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
      const timer = setTimeout(() => {
        if (pid !== undefined) killPid(pid);
        reject(new Error(`scenario ${scenario} timed out after ${timeoutMs} ms\n${stdout}${stderr}`));
      }, timeoutMs);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        if (pid !== undefined) this.#children.delete(pid);
        const line = stdout.split('\n').find((l) => l.startsWith('@@result '));
        if (code !== 0 || line === undefined) {
          reject(new Error(`scenario ${scenario} failed (exit ${code}):\n${stderr}${stdout}`));
          return;
        }
        resolve(JSON.parse(line.slice('@@result '.length)) as T);
      });
    });
  }

  /** Kills remaining children (by pid) and deletes the namespace (by name). Idempotent. */
  destroy(): void {
    for (const pid of this.#children) killPid(pid);
    this.#children.clear();
    if (!live.delete(this)) return;
    try {
      execFileSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
    } catch {
      // Already gone.
    }
  }
}

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already exited.
  }
}
