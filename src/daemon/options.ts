/**
 * wgtsd's command line and environment (REFERENCE.md "Daemon"; wireguard-go's main.go for the
 * part it shares: `[-f/--foreground] INTERFACE-NAME`, WG_PROCESS_FOREGROUND, WG_TUN_FD,
 * WG_UAPI_FD, LOG_LEVEL). One table of options and one of environment variables produce both the
 * parsed options and `wgtsd --help`, so an option cannot exist without its help line, nor the
 * other way round. The man page (man/wgtsd.8) and a test compare against these tables.
 *
 * Options take their value as `--opt VALUE` or `--opt=VALUE`; a bad value is refused naming the
 * option before anything is created. The command line wins over the environment variable of the
 * same meaning: WG_PROCESS_FOREGROUND is read here; WGTS_METRICS and WGTS_LOG_FILE where they are
 * used (run.ts, daemonize.ts), when the command line left them out.
 */
import { resolve as resolvePath } from 'node:path';
import { ValueError } from '../config/values.js';
import { helpEntry } from '../help-format.js';
import { formatListenAddress, ListenAddressError, parseListenAddress } from '../metrics/listen-address.js';
import type { DaemonOptions as RunOptions } from './run.js';

/** The wgtsd the caller asked for; the rest of its configuration comes over the UAPI. */
export interface DaemonOptions extends RunOptions {
  readonly foreground: boolean;
  readonly ifname: string;
}

export type ParsedArgs =
  | { readonly kind: 'run'; readonly options: DaemonOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'error'; readonly message: string };

type Draft = { -readonly [K in keyof DaemonOptions]?: DaemonOptions[K] };

interface OptionSpec {
  readonly long: string;
  readonly short?: string;
  /** The value's placeholder in the help; absent for a flag. */
  readonly value?: string;
  /** The environment variable with the same meaning, if any. */
  readonly env?: string;
  readonly help: string;
  /** Stores the value; throws ValueError (its message says what is expected) for a bad one. */
  readonly set?: (draft: Draft, value: string) => void;
  /** Instead of running: print the help or the version. */
  readonly exits?: 'help' | 'version';
}

const OPTIONS: readonly OptionSpec[] = [
  {
    long: 'foreground',
    short: 'f',
    env: 'WG_PROCESS_FOREGROUND',
    help: 'Stay in the foreground and log to stderr. Without it, wgtsd daemonises and returns once the interface and its socket exist.',
    set: (d) => {
      d.foreground = true;
    },
  },
  {
    long: 'metrics',
    value: 'HOST:PORT',
    env: 'WGTS_METRICS',
    help: 'Serve Prometheus metrics at http://HOST:PORT/metrics (IPv6 in brackets). Default: off.',
    set: (d, v) => {
      d.metrics = parseListenAddress(v, '--metrics value');
    },
  },
  {
    long: 'log-file',
    value: 'PATH',
    env: 'WGTS_LOG_FILE',
    help: 'Where a daemonised wgtsd writes its log. Default: syslog/journald (in the foreground: stderr).',
    set: (d, v) => {
      if (v === '') throw new ValueError("invalid --log-file value '': expected a file name");
      d.logFile = resolvePath(v);
    },
  },
  { long: 'help', short: 'h', help: 'Print this help and exit.', exits: 'help' },
  { long: 'version', short: 'v', help: 'Print the version and exit.', exits: 'version' },
];

/** Variables only the environment sets; those with an option are described by OPTIONS. */
const ENVIRONMENT: readonly { readonly name: string; readonly value: string; readonly help: string }[] = [
  {
    name: 'LOG_LEVEL',
    value: 'verbose|debug|error|silent',
    help: 'How much to log (default: error).',
  },
  { name: 'WG_TUN_FD', value: 'FD', help: 'Use this already-open TUN descriptor instead of creating one.' },
  {
    name: 'WG_UAPI_FD',
    value: 'FD',
    help: 'Serve the UAPI on this already-listening unix socket descriptor.',
  },
  {
    name: 'WGTS_RESOLVE_INTERVAL',
    value: 'SECONDS',
    help: 'Re-resolve hostname endpoints this often (default 120; 0 turns it off).',
  },
  {
    name: 'WGTS_OFFLOAD',
    value: '0',
    help: 'Turn the batched data path off: plain TUN, one datagram per packet, no UDP GSO/GRO.',
  },
  {
    name: 'WGTS_THREADS',
    value: 'N',
    help: 'Threads for the transport crypto of big batches (default: one per CPU, at most 8).',
  },
  {
    name: 'WGTS_THREAD_GATE',
    value: 'on|off',
    help: 'on (default): crypto threads are woken only while the machine has idle CPU for them.',
  },
  {
    name: 'WGTS_AEAD',
    value: 'ENGINE',
    help: 'ChaCha20-Poly1305 of the batched data path: direct (default where node allows) or evp.',
  },
  {
    name: 'WGTS_WARMUP',
    value: '0',
    help: 'Skip the 0.3 s JIT warm-up of the data path before the socket appears.',
  },
  { name: 'WGTS_STATS', value: '1', help: 'Print a JSON line of counters on stderr every WGTS_STATS_MS.' },
  { name: 'WGTS_STATS_MS', value: 'MS', help: 'The period of WGTS_STATS lines (default 1000, at least 50).' },
];

export const USAGE = `Usage: wgtsd ${OPTIONS.filter((o) => o.exits === undefined)
  .map((o) => (o.short !== undefined ? `[-${o.short}/--${o.long}]` : `[--${o.long} ${o.value}]`))
  .join(' ')} INTERFACE-NAME\n`;

function optionTerm(o: OptionSpec): string {
  const long = `--${o.long}${o.value !== undefined ? ` ${o.value}` : ''}`;
  return o.short !== undefined ? `-${o.short}, ${long}` : `    ${long}`;
}

/** `wgtsd --help`. */
export function daemonHelp(): string {
  let text = `${USAGE}
The wgts userspace WireGuard daemon, invoked as wireguard-go is. It creates the TUN interface
INTERFACE-NAME, binds UDP, and serves the UAPI on /var/run/wireguard/INTERFACE-NAME.sock, through
which wg, wg-quick and wgts configure it. It exits, removing the socket, on SIGTERM or SIGINT, when
the link is deleted, or when the socket file is removed. It needs root or CAP_NET_ADMIN.

Options:
`;
  for (const o of OPTIONS) text += helpEntry(optionTerm(o), o.help);
  text += '\nEnvironment:\n';
  for (const o of OPTIONS) {
    if (o.env === undefined) continue;
    const value = o.value ?? '1';
    text += helpEntry(
      `${o.env}=${value}`,
      `As --${o.long}${o.value !== undefined ? '; the option wins' : ''}.`,
    );
  }
  for (const e of ENVIRONMENT) text += helpEntry(`${e.name}=${e.value}`, e.help);
  return text;
}

/** Every environment variable wgtsd reads, for tests and the man page check. */
export function daemonEnvironmentNames(): string[] {
  return [...OPTIONS.flatMap((o) => (o.env === undefined ? [] : [o.env])), ...ENVIRONMENT.map((e) => e.name)];
}

/** The kernel's dev_valid_name: 1-15 bytes, not . or .., no '/', ':' or whitespace. */
function validInterfaceName(name: string): boolean {
  const bytes = Buffer.byteLength(name, 'utf8');
  return bytes >= 1 && bytes <= 15 && name !== '.' && name !== '..' && !/[/:\s]/.test(name);
}

function findOption(arg: string): { spec: OptionSpec; inline: string | null } | null {
  if (arg.startsWith('--')) {
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const spec = OPTIONS.find((o) => o.long === name);
    return spec === undefined ? null : { spec, inline: eq < 0 ? null : arg.slice(eq + 1) };
  }
  const spec = OPTIONS.find((o) => o.short !== undefined && arg === `-${o.short}`);
  return spec === undefined ? null : { spec, inline: null };
}

/** Parses wgtsd's arguments (without the program) and its environment. */
export function parseDaemonArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ParsedArgs {
  const draft: Draft = {};
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-') || arg === '-') {
      names.push(arg);
      continue;
    }
    const found = findOption(arg);
    if (found === null) return { kind: 'error', message: `unknown option '${arg}'` };
    const { spec, inline } = found;
    if (spec.exits !== undefined) return { kind: spec.exits };
    let value = '';
    if (spec.value === undefined) {
      if (inline !== null) return { kind: 'error', message: `option '--${spec.long}' takes no value` };
    } else if (inline !== null) value = inline;
    else if (i + 1 < argv.length) value = argv[++i]!;
    else return { kind: 'error', message: `option '--${spec.long}' needs a value (${spec.value})` };
    try {
      spec.set?.(draft, value);
    } catch (err) {
      if (!(err instanceof ValueError || err instanceof ListenAddressError)) throw err;
      return { kind: 'error', message: err.message };
    }
  }
  // A flag's variable is on only as `1`, as wireguard-go reads WG_PROCESS_FOREGROUND.
  for (const spec of OPTIONS) {
    if (spec.value === undefined && spec.env !== undefined && env[spec.env] === '1') spec.set?.(draft, '');
  }
  if (names.length !== 1) {
    return {
      kind: 'error',
      message:
        names.length === 0 ? 'no interface name given' : `one interface name expected, got ${names.length}`,
    };
  }
  const ifname = names[0]!;
  if (!validInterfaceName(ifname)) {
    return {
      kind: 'error',
      message: `invalid interface name '${ifname}' (1-15 bytes, not . or .., no '/', ':' or spaces)`,
    };
  }
  return { kind: 'run', options: { foreground: draft.foreground ?? false, ifname, ...draft } };
}

/**
 * The arguments that give a re-executed daemon these options (the daemonising parent's child),
 * the interface name last, as wireguard-go's child has it (tests find daemons by that). The log
 * file travels in the child's environment (daemonize.ts), not here.
 */
export function daemonArgv(options: DaemonOptions): string[] {
  const argv = ['-f'];
  if (options.metrics !== undefined) argv.push('--metrics', formatListenAddress(options.metrics));
  argv.push(options.ifname);
  return argv;
}
