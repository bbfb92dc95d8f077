/**
 * The daemon's logger, levelled like wireguard-go's (LOG_LEVEL=verbose|debug|error|silent):
 * `verbose` and `debug` print everything, `error` only errors, `silent` nothing. Lines go to
 * stderr with the interface name, as wireguard-go prints them.
 */
export type LogLevel = 'verbose' | 'error' | 'silent';

export interface Logger {
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

export function createLogger(
  ifname: string,
  level: LogLevel,
  write: (line: string) => void = (l) => process.stderr.write(l),
): Logger {
  const stamp = (): string => new Date().toISOString().replace('T', ' ').slice(0, 19);
  return {
    verbose: (m) => {
      if (level === 'verbose') write(`DEBUG: (${ifname}) ${stamp()} ${m}\n`);
    },
    error: (m) => {
      if (level !== 'silent') write(`ERROR: (${ifname}) ${stamp()} ${m}\n`);
    },
  };
}

export const SILENT_LOGGER: Logger = { verbose: () => {}, error: () => {} };
