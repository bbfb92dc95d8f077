/**
 * Daemonising the way wireguard-go does: unless told to stay in the foreground, the process
 * re-executes itself detached with WG_PROCESS_FOREGROUND=1 and waits until the child reports that
 * the TUN exists and the UAPI socket listens, so that `wg-quick`, which runs `wg addconf` right
 * after starting the daemon, never races it. The child's readiness arrives on an extra pipe (fd 3).
 * As in wireguard-go, the child's output goes to our stdout/stderr only when LOG_LEVEL is set.
 */
import { spawn } from 'node:child_process';
import { openSync, writeSync, closeSync } from 'node:fs';

export const READY_FD_ENV = 'WGTSD_READY_FD';

/** Starts the detached child and resolves with the exit code the parent should use. */
export function daemonize(script: string, args: readonly string[]): Promise<number> {
  const quiet = process.env.LOG_LEVEL === undefined || process.env.LOG_LEVEL === 'silent';
  const devnull = openSync('/dev/null', 'r+');
  const child = spawn(process.execPath, [script, ...args], {
    detached: true,
    stdio: [devnull, quiet ? devnull : 'inherit', quiet ? devnull : 'inherit', 'pipe'],
    env: { ...process.env, WG_PROCESS_FOREGROUND: '1', [READY_FD_ENV]: '3' },
  });
  closeSync(devnull);
  return new Promise((resolve) => {
    let ready = false;
    const pipe = child.stdio[3] as NodeJS.ReadableStream;
    pipe.on('data', (chunk: Buffer) => {
      if (chunk.includes('R'.charCodeAt(0))) ready = true;
    });
    pipe.on('end', () => {
      if (ready) {
        child.unref();
        resolve(0);
      }
    });
    child.once('exit', (code) => {
      if (!ready) resolve(code === 0 || code === null ? 1 : code);
    });
  });
}

/** Called by the child once it is ready: tells the waiting parent and closes the pipe. */
export function signalReady(): void {
  const fd = Number(process.env[READY_FD_ENV]);
  if (!Number.isInteger(fd) || fd < 3) return;
  try {
    writeSync(fd, 'R');
    closeSync(fd);
  } catch {
    // The parent is gone; nothing to tell.
  }
  delete process.env[READY_FD_ENV];
}
