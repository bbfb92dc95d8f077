/**
 * Daemonising the way wireguard-go does: unless told to stay in the foreground, the process
 * re-executes itself detached (a new session) with WG_PROCESS_FOREGROUND=1 and waits until the
 * child reports that the TUN exists and the UAPI socket listens, so that `wg-quick`, which runs
 * `wg addconf` right after starting the daemon, never races it. The child reports on an extra
 * pipe (its fd 3): `R` when ready, or `E` and a message when it gave up, which the parent prints
 * (when the child's own stderr went to /dev/null) and turns into its exit status.
 *
 * The child's stdout/stderr are /dev/null: it logs to syslog, or to the file `logFile` (passed
 * on as WGTS_LOG_FILE), never to the terminal that started it (src/daemon/log-sink.ts); a start
 * that fails is reported by the parent on its own stderr. Descriptors handed to us in WG_TUN_FD / WG_UAPI_FD are passed on
 * to the child at fds 4 and 5 (fd 3 is the pipe), with the variables rewritten to match, as
 * wireguard-go passes its own TUN and socket to its child at fixed positions.
 */
import { spawn, type StdioOptions } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';

export const READY_FD_ENV = 'WGTSD_READY_FD';
/** Set in the child's environment: it runs detached, so it logs to syslog by default. */
export const DETACHED_ENV = 'WGTSD_DETACHED';
/** Descriptors the daemon may inherit (as wireguard-go's ENV_WG_TUN_FD and ENV_WG_UAPI_FD). */
export const INHERITED_FD_ENVS = ['WG_TUN_FD', 'WG_UAPI_FD'] as const;

/** Starts the detached child and resolves with the exit code the parent should use. */
export function daemonize(
  script: string,
  args: readonly string[],
  options: { readonly logFile?: string } = {},
): Promise<number> {
  const level = process.env.LOG_LEVEL;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    WG_PROCESS_FOREGROUND: '1',
    [READY_FD_ENV]: '3',
    [DETACHED_ENV]: '1',
  };
  // The child's working directory is ours, but a relative path is resolved here all the same.
  if (options.logFile !== undefined) env.WGTS_LOG_FILE = resolvePath(options.logFile);
  let devnull: number;
  try {
    devnull = openSync('/dev/null', 'r+');
  } catch (err) {
    process.stderr.write(`wgtsd: cannot open /dev/null: ${(err as Error).message}\n`);
    return Promise.resolve(1);
  }
  const stdio: (number | 'pipe')[] = [devnull, devnull, devnull, 'pipe'];
  for (const name of INHERITED_FD_ENVS) {
    const value = process.env[name];
    if (value === undefined || value === '' || !/^\d+$/.test(value)) continue; // the child refuses it
    stdio.push(Number(value));
    env[name] = String(stdio.length - 1);
  }
  let child;
  try {
    child = spawn(process.execPath, [script, ...args], { detached: true, stdio: stdio as StdioOptions, env });
  } catch (err) {
    process.stderr.write(`wgtsd: cannot start the daemon process: ${(err as Error).message}\n`);
    return Promise.resolve(1);
  } finally {
    closeSync(devnull);
  }
  return new Promise((resolve) => {
    let said = '';
    const pipe = child.stdio[3] as NodeJS.ReadableStream;
    pipe.on('data', (chunk: Buffer) => {
      said += chunk.toString('utf8');
    });
    pipe.on('end', () => {
      if (said.startsWith('R')) {
        child.unref();
        resolve(0);
      }
    });
    pipe.on('error', () => {
      // The child died: 'close' below reports it.
    });
    child.once('error', (err) => {
      process.stderr.write(`wgtsd: cannot start the daemon process: ${err.message}\n`);
      resolve(1);
    });
    child.once('close', (code) => {
      if (said.startsWith('R')) return;
      if (said.startsWith('E') && level !== 'silent') {
        process.stderr.write(`wgtsd: ${said.slice(1).trimEnd()}\n`);
      }
      resolve(code === 0 || code === null ? 1 : code);
    });
  });
}

function tell(message: string): void {
  const fd = Number(process.env[READY_FD_ENV]);
  if (!Number.isInteger(fd) || fd < 3) return;
  delete process.env[READY_FD_ENV];
  try {
    writeSync(fd, message);
  } catch {
    // The parent is gone; nothing to tell.
  }
  try {
    closeSync(fd);
  } catch {
    // Already closed.
  }
}

/** Called by the child once it is ready: tells the waiting parent and closes the pipe. */
export function signalReady(): void {
  tell('R');
}

/** Called by the child when it gives up starting: the parent prints `message` and fails. */
export function signalFailure(message: string): void {
  tell(`E${message}`);
}

/** Whether this process is a daemonised child (read once: its own children are not). */
export function takeDetached(): boolean {
  const detached = process.env[DETACHED_ENV] === '1';
  delete process.env[DETACHED_ENV];
  return detached;
}
