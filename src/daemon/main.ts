#!/usr/bin/env node
/**
 * wgtsd: the Linux userspace WireGuard daemon, invoked exactly like wireguard-go
 * (`wgtsd [-f|--foreground] IFNAME`; REFERENCE.md "Daemon"). It creates the TUN, binds UDP,
 * serves the cross-platform UAPI on /var/run/wireguard/IFNAME.sock, and exits cleanly — socket
 * removed — on SIGTERM/SIGINT, when its link is deleted, or when its socket file is removed.
 */
import { fileURLToPath } from 'node:url';
import { daemonize } from './daemonize.js';
import { runDaemon } from './run.js';

const USAGE = 'Usage: wgtsd [-f/--foreground] INTERFACE-NAME\n';

function parseArgs(argv: readonly string[]): { foreground: boolean; ifname: string } | null {
  let foreground = false;
  const rest: string[] = [];
  for (const a of argv) {
    if (a === '-f' || a === '--foreground') foreground = true;
    else rest.push(a);
  }
  if (rest.length !== 1) return null;
  return { foreground, ifname: rest[0]! };
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    process.stdout.write('wgtsd v0.1.0\n');
    return 0;
  }
  const args = parseArgs(argv);
  if (args === null) {
    process.stderr.write(USAGE);
    return 1;
  }
  if (!/^[^\s/]{1,15}$/.test(args.ifname) || args.ifname === '.' || args.ifname === '..') {
    process.stderr.write(
      `wgtsd: invalid interface name '${args.ifname}' (1-15 characters, no '/' or spaces)\n`,
    );
    return 1;
  }
  const foreground = args.foreground || process.env.WG_PROCESS_FOREGROUND === '1';
  if (!foreground) return daemonize(fileURLToPath(import.meta.url), ['-f', args.ifname]);
  return runDaemon(args.ifname);
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
