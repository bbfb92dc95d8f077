/**
 * Where a detached wgtsd's log lines go: a file (`--log-file PATH` or WGTS_LOG_FILE=PATH), else
 * syslog/journald through a util-linux `logger` child fed by a pipe (Node has no AF_UNIX datagram
 * socket to reach /dev/log itself; `logger` is in bsdutils, essential on Debian). A foreground daemon keeps stderr (under systemd, the journal).
 *
 * Neither sink may block the daemon or let a stalled disk or syslog grow its memory: lines wait in
 * at most PENDING_MAX characters, and beyond that are dropped and counted; the count is written
 * once the sink keeps up again. A `logger` that dies is restarted, at most once per RESPAWN_MS;
 * lines in between are counted as dropped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, write } from 'node:fs';
import type { Writable } from 'node:stream';
import { STDERR_SINK, type LogLevel, type LogPriority, type LogSink } from '../device/logger.js';

/** Characters of log lines waiting for a slow sink before new lines are dropped. */
export const PENDING_MAX = 256 * 1024;
/** The least time between two starts of the `logger` child. */
export const RESPAWN_MS = 5_000;
/** syslog(3) facility LOG_DAEMON, and the severities our two kinds of line map to. */
const LOG_DAEMON = 3 << 3;
const SEVERITY: Readonly<Record<LogPriority, number>> = { error: 3, verbose: 6 };

/** Counts lines a sink had to drop, and says so once it can write again. */
class Dropped {
  count = 0;

  /** The line reporting drops since the last report, or null when there were none. */
  take(): string | null {
    if (this.count === 0) return null;
    const line = `wgtsd: ${this.count} log line${this.count === 1 ? '' : 's'} dropped: the log sink did not keep up\n`;
    this.count = 0;
    return line;
  }
}

/** Appends lines to a file, one asynchronous write at a time, never more than PENDING_MAX waiting. */
export class FileSink {
  readonly #fd: number;
  readonly #dropped = new Dropped();
  #queue: string[] = [];
  /** Characters queued or being written. */
  #pending = 0;
  #writing = false;

  /** Opens (creating, mode 0600) `path` for appending; throws when it cannot. */
  constructor(readonly path: string) {
    this.#fd = openSync(path, 'a', 0o600);
  }

  readonly write: LogSink = (line) => {
    if (this.#pending + line.length > PENDING_MAX) {
      this.#dropped.count++;
      return;
    }
    const report = this.#dropped.take();
    if (report !== null) this.#enqueue(report);
    this.#enqueue(line);
    if (!this.#writing) this.#flush();
  };

  #enqueue(line: string): void {
    this.#queue.push(line);
    this.#pending += line.length;
  }

  #flush(): void {
    const text = this.#queue.join('');
    this.#queue = [];
    this.#writing = true;
    this.#writeOut(Buffer.from(text, 'utf8'), text.length);
  }

  /** Writes `data` (the rest of `chars` queued characters) to the end, then any lines queued since. */
  #writeOut(data: Buffer, chars: number): void {
    write(this.#fd, data, 0, data.length, null, (err, n) => {
      if (err === null && n < data.length) return this.#writeOut(data.subarray(n), chars);
      if (err !== null) this.#dropped.count++; // a full disk, say: the batch is lost, and counted
      this.#pending -= chars;
      this.#writing = false;
      if (this.#queue.length > 0) this.#flush();
    });
  }
}

/**
 * Sends lines to syslog through `logger --prio-prefix` (each line carries its priority), tagged
 * `wgtsd` with our pid. The pipe is non-blocking: a stalled syslog fills it, then PENDING_MAX of
 * Node's buffer, then lines are dropped and counted.
 */
export class SyslogSink {
  readonly #dropped = new Dropped();
  #child: ChildProcess | null = null;
  #startedAt = -Infinity;

  /**
   * `command`: the logger program. It starts with the first line, so a daemon that logs nothing
   * (LOG_LEVEL=error in normal operation) runs no extra process.
   */
  constructor(readonly command = 'logger') {}

  readonly write: LogSink = (line, priority) => {
    const stdin = this.#stdin();
    if (stdin === null || stdin.writableLength + line.length > PENDING_MAX) {
      this.#dropped.count++;
      return;
    }
    const report = this.#dropped.take();
    if (report !== null) stdin.write(`<${LOG_DAEMON | SEVERITY.error}>${report}`);
    stdin.write(`<${LOG_DAEMON | SEVERITY[priority]}>${line}`);
  };

  /** The live child's stdin, starting one (again) when none runs and RESPAWN_MS have passed. */
  #stdin(): Writable | null {
    if (this.#child === null && performance.now() - this.#startedAt >= RESPAWN_MS) this.#start();
    return this.#child?.stdin ?? null;
  }

  #start(): void {
    this.#startedAt = performance.now();
    let child: ChildProcess;
    try {
      child = spawn(this.command, ['--prio-prefix', '-t', 'wgtsd', `--id=${process.pid}`], {
        stdio: ['pipe', 'ignore', 'ignore'],
      });
    } catch {
      return;
    }
    const gone = (): void => {
      if (this.#child === child) this.#child = null;
    };
    child.once('error', gone); // not found, say
    child.once('exit', gone);
    child.stdin?.on('error', gone); // EPIPE: it died
    // Neither the child nor its pipe keeps the daemon's event loop alive.
    child.unref();
    (child.stdin as { unref?: () => void } | null)?.unref?.();
    this.#child = child;
  }
}

/** A daemon's log output: the sink, and whether lines carry their own time. */
export interface LogOutput {
  readonly sink: LogSink;
  readonly stamped: boolean;
}

/**
 * The output for a daemon at `level`: the file `logFile` when given (throws when it cannot be
 * opened), else syslog when `detached` (stderr is /dev/null then), else stderr.
 */
export function daemonLogOutput(level: LogLevel, logFile: string | undefined, detached: boolean): LogOutput {
  if (logFile !== undefined && logFile !== '') return { sink: new FileSink(logFile).write, stamped: true };
  if (!detached) return { sink: STDERR_SINK, stamped: true };
  if (level === 'silent') return { sink: () => {}, stamped: false };
  return { sink: new SyslogSink().write, stamped: false };
}
