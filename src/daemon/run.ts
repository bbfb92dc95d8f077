/**
 * The foreground daemon: the embed API's device on a kernel TUN (src/embed/kernel-device.ts, as
 * the `tun` backend builds it) + UAPI server + socket file + metrics + logs + the three ways to
 * stop (signal, link deleted, socket removed). WG_TUN_FD and WG_UAPI_FD hand in already-open descriptors, as
 * wireguard-go accepts them. A name the kernel completes (`wg%d`) is resolved by opening the TUN
 * first; the socket, the logs and the link watch then use the real name (wireguard-go does the
 * same). Startup failures are logged (LOG_LEVEL) and reported to a daemonising parent.
 */
import { unlinkSync, watch, type FSWatcher } from 'node:fs';
import type { Device } from '../device/device.js';
import { createLogger, parseLogLevel, type Logger } from '../device/logger.js';
import type { LinuxTun } from '../io/tun.js';
import { followLink, openKernelTun, startKernelDevice } from '../embed/kernel-device.js';
import { warmUpEnabled } from '../device/warm-up.js';
import { UapiServer } from '../uapi/server.js';
import { signalFailure, signalReady, takeDetached } from './daemonize.js';
import { disableCoreDumps } from './harden.js';
import { daemonLogOutput, type LogOutput } from './log-sink.js';
import { ensureSocketDirectory, inodeOf, probeSocket, socketPath } from './socket-path.js';
import { announceExtensions, withdrawExtensions } from '../uapi/extensions.js';
import { resolveIntervalMsFromEnv } from './resolve-interval.js';
import { isPermissionError, needsNetAdmin } from '../io/privilege.js';
import { formatListenAddress, parseListenAddress, type ListenAddress } from '../metrics/listen-address.js';
import { sharedScrape } from '../metrics/scrape.js';
import { MetricsServer } from '../metrics/server.js';

/** How often the daemon checks that its socket file still exists where inotify cannot tell it. */
const WATCH_MS = 250;
/**
 * How long a start waits for another daemon's socket of the same name to go away, when our TUN
 * opened (so that daemon's link is not in our namespace): long enough for a daemon whose link was
 * just deleted to notice (at once, on its TUN read) and exit on a busy machine.
 */
const RESTART_GRACE_MS = 2_000;
const RESTART_POLL_MS = 10;
/** After a stop, exit even if some handle would keep the event loop alive. */
const EXIT_GRACE_MS = 2_000;

export interface DaemonOptions {
  /** Serve Prometheus metrics at http://HOST:PORT/metrics (`--metrics`); else WGTS_METRICS. */
  readonly metrics?: ListenAddress;
  /** Log to this file (`--log-file`); default WGTS_LOG_FILE, else syslog when detached, else stderr. */
  readonly logFile?: string;
}

export async function runDaemon(requested: string, options: DaemonOptions = {}): Promise<number> {
  const level = parseLogLevel(process.env.LOG_LEVEL);
  let output: LogOutput;
  const logFile = options.logFile ?? process.env.WGTS_LOG_FILE;
  try {
    output = daemonLogOutput(level, logFile, takeDetached());
  } catch (err) {
    const message = `cannot open log file ${logFile}: ${(err as Error).message}`;
    createLogger(requested, level).error(message);
    signalFailure(message);
    return 1;
  }
  let log: Logger = createLogger(requested, level, output.sink, output.stamped);
  // No core dump and no /proc/PID/mem for others: keys arrive later and must stay in memory.
  const dumpable = disableCoreDumps();
  if (dumpable !== null) log.error(`cannot turn core dumps off (keys could reach a dump): ${dumpable}`);
  const fail = (message: string): number => {
    log.error(message);
    signalFailure(message);
    return 1;
  };
  // A bad metrics address stops the start before anything is created.
  let metricsAt: ListenAddress | null;
  try {
    metricsAt = options.metrics ?? metricsFromEnv();
  } catch (err) {
    return fail((err as Error).message);
  }

  let uapiFd: number | null;
  let tunFd: number | null;
  let resolveIntervalMs: number;
  try {
    uapiFd = fdFromEnv('WG_UAPI_FD');
    tunFd = fdFromEnv('WG_TUN_FD');
    resolveIntervalMs = resolveIntervalMsFromEnv();
  } catch (err) {
    return fail((err as Error).message);
  }

  // Another daemon serving this name (from any namespace: the socket directory is shared) makes
  // us refuse, without disturbing it. The TUN is opened first, as wireguard-go does: while the
  // other daemon's link is in our namespace, TUNSETIFF fails with EBUSY and we refuse at once. If
  // the TUN opens, the other daemon's link is elsewhere (moved to another namespace) or gone, and
  // its daemon is on its way out (`ip link del wg0 && wgtsd wg0`): its socket is given
  // RESTART_GRACE_MS to disappear before we conclude it is a live daemon elsewhere.
  const inUse = (name: string): string =>
    `interface ${name} is already run by another daemon (${socketPath(name)} is in use)`;
  const refusal = async (name: string): Promise<string | null> => {
    if (uapiFd !== null) return null;
    const path = socketPath(name);
    try {
      ensureSocketDirectory();
    } catch (err) {
      return `cannot create the socket directory for ${path}: ${(err as Error).message}`;
    }
    const deadline = performance.now() + RESTART_GRACE_MS;
    while ((await probeSocket(path)) === 'live') {
      if (performance.now() >= deadline) return inUse(name);
      await new Promise((resolve) => setTimeout(resolve, RESTART_POLL_MS));
    }
    return null;
  };

  let tun: LinuxTun;
  try {
    tun = openKernelTun(requested, { mtu: 1420, fd: tunFd, offload: offloadEnabled() });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'EBUSY' && uapiFd === null && (await probeSocket(socketPath(requested))) === 'live')
      return fail(inUse(requested));
    const hint = isPermissionError(err) ? `; ${needsNetAdmin('wgtsd')}` : '';
    return fail(`cannot create TUN device ${requested}: ${(err as Error).message}${hint}`);
  }
  const ifname = tun.name;
  if (ifname !== requested || tunFd !== null) log = createLogger(ifname, level, output.sink, output.stamped);
  const why = await refusal(ifname);
  if (why !== null) {
    tun.close();
    return fail(why);
  }
  const path = socketPath(ifname);

  // Set once the daemon runs: a TUN read failing with EBADFD (the link deleted) stops it at once.
  let linkGone: ((why: string) => void) | null = null;
  // The device the embed API's tun backend runs (src/embed/kernel-device.ts), with the data path
  // compiled before the socket appears, so nobody configures or pings a daemon still interpreting it.
  let device: Device;
  try {
    ({ device } = await startKernelDevice(tun, {
      logger: log,
      listenPort: 0,
      warmUp: warmUpEnabled(),
      onTunError: (err) => {
        if (err.code === 'EBADFD' || err.code === 'EBADF') linkGone?.(`link ${ifname} deleted`);
      },
      resolveIntervalMs,
      // followLink below tells the device of MTU changes from netlink link events.
      linkEvents: true,
    }));
  } catch (err) {
    return fail(`cannot open the UDP sockets: ${(err as Error).message}`);
  }

  // Metrics listen before the UAPI socket appears: a port in use fails the start as a whole.
  let metrics: MetricsServer | null = null;
  if (metricsAt !== null) {
    metrics = new MetricsServer(
      sharedScrape(device, () => ifname),
      (err) => log.error(`metrics scrape failed: ${err.message}`),
    );
    try {
      await metrics.listen(metricsAt);
    } catch (err) {
      device.close();
      return fail((err as Error).message);
    }
    log.verbose(`metrics on http://${formatListenAddress(metricsAt)}/metrics`);
  }

  const server = new UapiServer(device, { logger: log });
  try {
    if (uapiFd !== null) await server.listenFd(uapiFd);
    else {
      const old = process.umask(0o077);
      try {
        await server.listen(path);
      } finally {
        process.umask(old);
      }
    }
  } catch (err) {
    device.close();
    void metrics?.close();
    return fail(`cannot listen on ${uapiFd !== null ? `fd ${uapiFd}` : path}: ${(err as Error).message}`);
  }
  // The socket file to watch (and remove on exit): ours, or with WG_UAPI_FD the one at the
  // standard path if there is one (wireguard-go watches that path whatever the descriptor).
  const socketInode = inodeOf(path);
  // wgts sends its UAPI extensions only to a socket announced as ours (uapi/extensions.ts); an
  // inherited descriptor may not be the socket at `path`, so it is not announced.
  const announced = uapiFd === null && socketInode !== null;
  if (announced) {
    try {
      announceExtensions(path, socketInode);
    } catch (err) {
      log.error(`cannot announce the wgts UAPI extensions: ${(err as Error).message}`);
    }
  }
  log.verbose('UAPI listener started');
  log.verbose(`device started (TUN ${ifname}, UDP port ${device.listenPort})`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string): void => {
      if (stopping) return;
      stopping = true;
      log.verbose(`shutting down: ${why}`);
      socketWatch.close();
      linkFollow.close();
      void server.close();
      void metrics?.close();
      if (socketInode !== null && inodeOf(path) === socketInode) {
        try {
          unlinkSync(path);
        } catch {
          // Already removed.
        }
      }
      if (announced) withdrawExtensions(path, socketInode);
      device.close();
      setTimeout(() => process.exit(0), EXIT_GRACE_MS).unref();
      resolve(0);
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    linkGone = stop;
    // The device follows the link's up/down state and MTU wherever the link is now, on netlink
    // link events (kernel-device.ts followLink); the socket file is watched with inotify.
    const linkFollow = followLink(tun, device, log, () => stop(`link ${ifname} deleted`));
    const socketWatch = watchSocketFile(path, socketInode, () => stop(`socket ${path} removed`));
    // WGTS_STATS=1: a JSON line of the device's counters on stderr every WGTS_STATS_MS (default
    // 1000), for the hostile-input tests and for watching a flood. Off by default.
    if (process.env.WGTS_STATS === '1') {
      const every = Number(process.env.WGTS_STATS_MS ?? '1000');
      // `seq` numbers the lines, so a reader can wait for one printed after a given moment.
      let seq = 0;
      const statsTimer = setInterval(
        () => {
          // Run with NODE_OPTIONS=--expose-gc (scripts/soak.mjs does) to sample the heap after a
          // full collection, so the soak compares live data rather than garbage not yet collected.
          (globalThis as { gc?: () => void }).gc?.();
          const { rss, heapUsed } = process.memoryUsage();
          // Handles and timers for the soak (scripts/soak.mjs): growth would mean a leak.
          const resources = process.getActiveResourcesInfo();
          const timers = resources.filter((r) => r === 'Timeout' || r === 'Immediate').length;
          const line = {
            seq: ++seq,
            ...device.stats,
            drops: device.drops.nonZero(),
            queueLength: device.queue.length,
            rss,
            heapUsed,
            handles: resources.length - timers,
            timers,
            indices: device.indices.size,
            peers: device.peers.size,
          };
          process.stderr.write(`STATS: ${JSON.stringify(line)}\n`);
        },
        Number.isFinite(every) && every >= 50 ? every : 1000,
      );
      statsTimer.unref();
    }
    signalReady();
  });
}

/**
 * Tells `onRemoved` when the socket file at `path` (inode `inode`; null: none to watch) is
 * removed or replaced: on inotify events of the file itself (fs.watch: an unlink changes its link
 * count, IN_ATTRIB, then IN_DELETE_SELF), so an idle daemon does not wake to look, nor for other
 * daemons' sockets in the shared directory; every WATCH_MS where the file cannot be watched.
 */
function watchSocketFile(path: string, inode: number | null, onRemoved: () => void): { close(): void } {
  if (inode === null) return { close: () => {} };
  let done = false;
  const look = (): void => {
    if (done || inodeOf(path) === inode) return;
    done = true;
    onRemoved();
  };
  let poll: NodeJS.Timeout | null = null;
  const startPoll = (): void => {
    poll ??= setInterval(look, WATCH_MS);
  };
  let watcher: FSWatcher | null = null;
  try {
    // Not persistent: the UAPI server keeps the daemon alive, not this watch.
    watcher = watch(path, { persistent: false }, look);
    watcher.on('error', () => {
      // The watch broke: look now, then keep looking.
      watcher?.close();
      watcher = null;
      look();
      startPoll();
    });
  } catch {
    startPoll();
  }
  // A removal between the listen and the watch would otherwise go unseen.
  look();
  return {
    close(): void {
      done = true;
      watcher?.close();
      if (poll !== null) clearInterval(poll);
    },
  };
}

/** WGTS_OFFLOAD=0 turns the batched data path and its TUN/UDP offloads off (default on). */
function offloadEnabled(): boolean {
  return process.env.WGTS_OFFLOAD !== '0';
}

/** WGTS_METRICS=HOST:PORT (the environment's `--metrics`); null when unset or empty. */
function metricsFromEnv(): ListenAddress | null {
  const v = process.env.WGTS_METRICS;
  return v === undefined || v === '' ? null : parseListenAddress(v, 'WGTS_METRICS value');
}

/** An inherited descriptor named by `name` (a decimal fd number), null when unset. */
function fdFromEnv(name: string): number | null {
  const v = process.env[name];
  if (v === undefined || v === '') return null;
  const n = /^\d{1,9}$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n)) throw new Error(`${name}=${v} is not a file descriptor number`);
  return n;
}
