#!/usr/bin/env node
/**
 * wgtsd: the Linux userspace WireGuard daemon, invoked exactly like wireguard-go
 * (`wgtsd [-f|--foreground] IFNAME`; REFERENCE.md "Daemon"). It creates the TUN, binds UDP,
 * serves the cross-platform UAPI on /var/run/wireguard/IFNAME.sock, and exits cleanly — socket
 * removed — on SIGTERM/SIGINT, when its link is deleted, or when its socket file is removed.
 * Arguments and environment are read by options.ts (which also writes `--help`). The daemon's
 * modules load only once the arguments are good, so usage errors, `--version` and the daemonising
 * parent start fast.
 */
import { fileURLToPath } from 'node:url';
import { daemonArgv, daemonHelp, parseDaemonArgs, USAGE } from './options.js';

async function main(): Promise<number> {
  const args = parseDaemonArgs(process.argv.slice(2));
  switch (args.kind) {
    case 'version':
      process.stdout.write('wgtsd v0.1.0\n');
      return 0;
    case 'help':
      process.stdout.write(daemonHelp());
      return 0;
    case 'error':
      process.stderr.write(`wgtsd: ${args.message}\n${USAGE}Try 'wgtsd --help' for more information.\n`);
      return 1;
  }
  const { foreground, ifname, ...options } = args.options;
  if (!foreground) {
    const { daemonize } = await import('./daemonize.js');
    const logFile = options.logFile === undefined ? {} : { logFile: options.logFile };
    return daemonize(fileURLToPath(import.meta.url), daemonArgv(args.options), logFile);
  }
  const { runDaemon } = await import('./run.js');
  return runDaemon(ifname, options);
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
