/**
 * Running the external tools wg-quick(8) drives (`ip`, `nft`, `sysctl`, `resolvconf`,
 * `iptables-restore`, the userspace daemon, `bash` for hooks), the way linux.bash's `cmd()` does:
 * a command that changes state is first echoed to stderr as `[#] argv…`, and its failure stops the
 * operation (wg-quick runs under `set -e`). Queries run quietly and never throw on a non-zero exit.
 *
 * Every child gets `LC_ALL=C`, as wg-quick exports it, so the output we parse is not localised.
 * Every command is bounded in time (wg-quick has no bound; a hung `ip` would hang it) and is killed
 * when the operation is aborted (SIGINT/SIGTERM during `up`, wg-quick's trap). Hooks are not bounded:
 * they are the user's own scripts and may legitimately take long.
 */
import { spawn, type StdioOptions } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** What `die` throws: a message for the user (printed as `wgts: MESSAGE`), exit status 1. */
export class QuickError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QuickError';
  }
}

/** Default bound on one external command. */
export const COMMAND_TIMEOUT_MS = 30_000;

export interface RunOptions {
  /** Written to the command's stdin, which is then closed (wg-quick's `<(echo …)` and pipes). */
  readonly input?: string;
  /** Kill the command after this long; default COMMAND_TIMEOUT_MS. 0: no bound (hooks). */
  readonly timeoutMs?: number;
  /**
   * Give the command our stdin (unless `input`), stdout and stderr, and resolve on its exit, not
   * on its pipes closing (a hook may leave a background job holding them, as `(eval "$hook")`
   * allows).
   */
  readonly inherit?: boolean;
  /** Extra environment for the command. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface RunResult {
  /** Exit status; null when killed (timeout, abort) or when the command could not be started. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Why it did not run to an exit status: 'timeout', 'aborted' or the spawn error. */
  readonly failure: string | null;
}

/** The absolute path of `name` on PATH (or `name` itself when it contains a slash), or null. */
export function which(name: string): string | null {
  const candidates = name.includes('/')
    ? [name]
    : (process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
        .split(delimiter)
        .filter((dir) => dir !== '')
        .map((dir) => join(dir, name));
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

/** A shell-like rendering of argv for the `[#]` lines and error messages. */
export function formatArgv(argv: readonly string[]): string {
  return argv
    .map((a) => (a === '' || /[^\w@%+=:,./-]/.test(a) ? `'${a.replace(/'/g, `'\\''`)}'` : a))
    .join(' ');
}

/** Runs commands for one wg-quick operation; `signal` aborts whatever is running. */
export class Runner {
  readonly #signal: AbortSignal;
  readonly #log: (line: string) => void;

  constructor(signal: AbortSignal, log: (line: string) => void = (line) => process.stderr.write(line)) {
    this.#signal = signal;
    this.#log = log;
  }

  /** Writes `[#] text` to stderr, as wg-quick does before each command. */
  echo(text: string): void {
    this.#log(`[#] ${text}\n`);
  }

  /** Writes a line to stderr. */
  say(text: string): void {
    this.#log(`${text}\n`);
  }

  /** Throws QuickError('interrupted') once the operation has been aborted. */
  checkAborted(): void {
    if (this.#signal.aborted) throw new QuickError('interrupted');
  }

  /** Runs a query quietly; resolves whatever the exit status. */
  run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return runCommand(argv, opts, this.#signal);
  }

  /**
   * wg-quick's `cmd`: echo `[#] argv`, run, pass the command's stderr on to ours, and throw
   * QuickError unless it exits 0. Resolves with its stdout.
   */
  async cmd(argv: readonly string[], opts: RunOptions = {}): Promise<string> {
    this.checkAborted();
    this.echo(formatArgv(argv));
    const r = await runCommand(argv, opts, this.#signal);
    if (opts.inherit !== true && r.stderr !== '')
      this.#log(r.stderr.endsWith('\n') ? r.stderr : `${r.stderr}\n`);
    if (r.code !== 0) {
      const why = r.failure ?? `exit status ${r.code}`;
      throw new QuickError(`\`${formatArgv(argv)}' failed (${why})`);
    }
    return r.stdout;
  }
}

function runCommand(argv: readonly string[], opts: RunOptions, signal: AbortSignal): Promise<RunResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new TypeError('empty argv');
  if (signal.aborted) return Promise.resolve({ code: null, stdout: '', stderr: '', failure: 'aborted' });
  const timeoutMs = opts.timeoutMs ?? COMMAND_TIMEOUT_MS;
  const stdin = opts.input !== undefined ? 'pipe' : opts.inherit === true ? 'inherit' : 'ignore';
  const stdio: StdioOptions = opts.inherit === true ? [stdin, 'inherit', 'inherit'] : [stdin, 'pipe', 'pipe'];
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio, env: { ...process.env, ...opts.env, LC_ALL: 'C' } });
    let stdout = '';
    let stderr = '';
    let failure: string | null = null;
    let settled = false;
    child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const kill = (why: string): void => {
      failure ??= why;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 2_000).unref();
    };
    const timer = timeoutMs > 0 ? setTimeout(() => kill(`timed out after ${timeoutMs} ms`), timeoutMs) : null;
    const onAbort = (): void => kill('aborted');
    signal.addEventListener('abort', onAbort, { once: true });
    const finish = (code: number | null): void => {
      if (settled) return;
      settled = true;
      if (timer !== null) clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve({ code: failure === null ? code : null, stdout, stderr, failure });
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      failure ??= err.code === 'ENOENT' ? `${file}: command not found` : err.message;
      finish(null);
    });
    // With pipes, wait for them to drain ('close'); with inherited stdio, the exit is the end.
    child.once(opts.inherit === true ? 'exit' : 'close', (code: number | null) => finish(code));
    if (opts.input !== undefined) {
      child.stdin?.on('error', () => {
        // The command exited without reading all of its input; its exit status tells the story.
      });
      child.stdin?.end(opts.input);
    }
  });
}
