#!/usr/bin/env node
/**
 * wgtsd: the Linux userspace WireGuard daemon, invoked exactly like wireguard-go
 * (`wgtsd [-f|--foreground] IFNAME`; REFERENCE.md "Daemon"). It creates the TUN, binds UDP,
 * serves the cross-platform UAPI on /var/run/wireguard/IFNAME.sock, and exits cleanly — socket
 * removed — on SIGTERM/SIGINT, when its link is deleted, or when its socket file is removed.
 * The daemon's modules load only once the arguments are good, so usage errors, `--version` and
 * the daemonising parent start fast.
 */
import { fileURLToPath } from 'node:url';

const USAGE = 'Usage: wgtsd [-f/--foreground] INTERFACE-NAME\n';

function parseArgs(
  argv: readonly string[],
): { foreground: boolean; ifname: string; logFile: string | undefined } | null {
  let foreground = false;
  let logFile: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    // Anything else starting with '-' is an unknown option, not an interface name.
    if (a === '-f' || a === '--foreground') foreground = true;
    else if (a === '--log-file' && i + 1 < argv.length) logFile = argv[++i];
    else if (a.startsWith('--log-file=')) logFile = a.slice('--log-file='.length);
    else if (a.startsWith('-')) return null;
    else rest.push(a);
  }
  if (rest.length !== 1) return null;
  return { foreground, ifname: rest[0]!, logFile };
}

/** The kernel's dev_valid_name: 1-15 bytes, not . or .., no '/', ':' or whitespace. */
function validInterfaceName(name: string): boolean {
  const bytes = Buffer.byteLength(name, 'utf8');
  return bytes >= 1 && bytes <= 15 && name !== '.' && name !== '..' && !/[/:\s]/.test(name);
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    process.stdout.write('wgtsd v0.1.0\n');
    return 0;
  }
  if (argv.length === 1 && (argv[0] === '--help' || argv[0] === '-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const args = parseArgs(argv);
  if (args === null) {
    process.stderr.write(USAGE);
    return 1;
  }
  if (!validInterfaceName(args.ifname)) {
    process.stderr.write(
      `wgtsd: invalid interface name '${args.ifname}' (1-15 bytes, not . or .., no '/', ':' or spaces)\n`,
    );
    return 1;
  }
  const foreground = args.foreground || process.env.WG_PROCESS_FOREGROUND === '1';
  if (!foreground) {
    const { daemonize } = await import('./daemonize.js');
    return daemonize(
      fileURLToPath(import.meta.url),
      ['-f', args.ifname],
      args.logFile === undefined ? {} : { logFile: args.logFile },
    );
  }
  const { runDaemon } = await import('./run.js');
  return runDaemon(args.ifname, args.logFile === undefined ? {} : { logFile: args.logFile });
}

main().then(
  (code) => {
    if (code !== 0) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`wgtsd: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
