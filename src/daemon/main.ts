#!/usr/bin/env node
/**
 * wgtsd: the Linux userspace WireGuard daemon, invoked exactly like wireguard-go
 * (`wgtsd [-f|--foreground] IFNAME`; REFERENCE.md "Daemon"). It creates the TUN, binds UDP,
 * serves the cross-platform UAPI on /var/run/wireguard/IFNAME.sock, and exits cleanly — socket
 * removed — on SIGTERM/SIGINT, when its link is deleted, or when its socket file is removed.
 * Arguments and environment are read by options.ts (which also writes `--help`). The daemon's
 * modules load only once the arguments are good, so usage errors, `--version` and the daemonising
 * parent start fast. Two diagnostic variables are read here, before the daemon's code loads:
 * WGTS_V8_FLAGS (V8 flags, e.g. `--trace-deopt`, which NODE_OPTIONS does not take) and
 * WGTS_CPU_PROF (a CPU profile file, see startProfile); bench/hops.mjs uses both.
 */
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { daemonArgv, daemonHelp, parseDaemonArgs, USAGE } from './options.js';

/**
 * V8 flags of the daemon, set before its code loads. `--interrupt-budget` (V8's default 67,584
 * bytes of bytecode) is how much unoptimized work a function does before V8 considers optimizing
 * it again. The data path is optimized by the warm-up (device/warm-up.ts), but the real device's
 * first packets and the end of a bulk transfer take branches and call targets the warm-up did not
 * (V8's --trace-deopt shows routeOutbound, receivingKeypair, capFor, fits, #fromNetwork going
 * back to the interpreter); an idle ping then runs interpreted for hundreds of packets. At 8,192
 * it is optimized again within a few: bench/hops.mjs, 50 pings at 20 ms, 4 alternating rounds,
 * median RTT after a TCP load 0.515-0.590 ms against 0.607-0.784 ms with the default (fresh
 * pairs 0.66-0.89 against 0.72-1.19). Optimized code does not spend the budget, so a busy data
 * path is not slowed.
 */
const DAEMON_V8_FLAGS = '--interrupt-budget=8192';

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
  setFlagsFromString(DAEMON_V8_FLAGS);
  const extra = process.env['WGTS_V8_FLAGS'];
  if (extra !== undefined && extra !== '') setFlagsFromString(extra); // later flags win
  const profile = process.env['WGTS_CPU_PROF'];
  if (profile !== undefined && profile !== '') await startProfile(profile);
  const { runDaemon } = await import('./run.js');
  return runDaemon(ifname, options);
}

/**
 * WGTS_CPU_PROF=FILE: a V8 CPU profile of the daemon written to FILE.PID.cpuprofile at exit
 * (what `node --cpu-prof` gives, which NODE_OPTIONS does not allow), sampled every
 * WGTS_CPU_PROF_INTERVAL microseconds (default 100): for finding where the data path's time goes.
 */
async function startProfile(file: string): Promise<void> {
  const { Session } = await import('node:inspector');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  const interval = Number(process.env['WGTS_CPU_PROF_INTERVAL'] ?? 100);
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval });
  session.post('Profiler.start');
  process.on('exit', () => {
    // The session is on this thread: post dispatches synchronously, so the file is written here.
    session.post('Profiler.stop', (err, result) => {
      if (err === null) writeFileSync(`${file}.${process.pid}.cpuprofile`, JSON.stringify(result.profile));
    });
  });
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
