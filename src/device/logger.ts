/**
 * The daemon's logger, levelled like wireguard-go's (LOG_LEVEL=verbose|debug|error|silent):
 * `verbose` and `debug` print everything, `error` only errors, `silent` nothing. Each line names
 * the interface, as wireguard-go prints them, and goes to a sink (stderr by default; the daemon
 * picks a file or syslog when detached, src/daemon/log-sink.ts).
 */
export type LogLevel = 'verbose' | 'error' | 'silent';

/** Which kind of line it is, for sinks that keep a priority (syslog). */
export type LogPriority = 'error' | 'verbose';

/** Takes finished lines (newline included). Must neither block nor throw. */
export type LogSink = (line: string, priority: LogPriority) => void;

export interface Logger {
  /**
   * Whether verbose lines are written: the one cheap check a hot path makes before it builds a
   * message (or an event) that would only be thrown away.
   */
  readonly verboseEnabled: boolean;
  verbose(message: string): void;
  error(message: string): void;
}

export function parseLogLevel(value: string | undefined): LogLevel {
  switch (value) {
    case 'verbose':
    case 'debug':
      return 'verbose';
    case 'silent':
      return 'silent';
    default:
      return 'error';
  }
}

export const STDERR_SINK: LogSink = (line) => {
  process.stderr.write(line);
};

/**
 * `stamped`: each line carries the time, as wireguard-go's do; syslog stamps lines itself, so its
 * sink asks for none.
 */
export function createLogger(
  ifname: string,
  level: LogLevel,
  sink: LogSink = STDERR_SINK,
  stamped = true,
): Logger {
  const stamp = (): string => (stamped ? `${new Date().toISOString().replace('T', ' ').slice(0, 19)} ` : '');
  const verboseEnabled = level === 'verbose';
  return {
    verboseEnabled,
    verbose: (m) => {
      if (verboseEnabled) sink(`DEBUG: (${ifname}) ${stamp()}${m}\n`, 'verbose');
    },
    error: (m) => {
      if (level !== 'silent') sink(`ERROR: (${ifname}) ${stamp()}${m}\n`, 'error');
    },
  };
}

export const SILENT_LOGGER: Logger = { verboseEnabled: false, verbose: () => {}, error: () => {} };
