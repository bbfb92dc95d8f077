/**
 * The foreground daemon: TUN + Device + UAPI server + the three ways to stop (signal, link
 * deleted, socket removed). WG_TUN_FD and WG_UAPI_FD hand in already-open descriptors, as
 * wireguard-go accepts them.
 */
import { unlinkSync } from 'node:fs';
import { Device } from '../device/device.js';
import { createLogger, parseLogLevel } from '../device/logger.js';
import { createBind } from '../io/bind.js';
import { openTun, type TunDevice } from '../io/tun.js';
import { linkIndex } from './link.js';
import { UapiServer } from '../uapi/server.js';
import { signalReady } from './daemonize.js';
import { ensureSocketDirectory, inodeOf, probeSocket, socketPath } from './socket-path.js';

/** How often the daemon checks that its link and socket file still exist. */
const WATCH_MS = 250;

export async function runDaemon(ifname: string): Promise<number> {
  const log = createLogger(ifname, parseLogLevel(process.env.LOG_LEVEL));
  const uapiFd = numericEnv('WG_UAPI_FD');
  const tunFd = numericEnv('WG_TUN_FD');
  const path = socketPath(ifname);

  if (uapiFd === null) {
    ensureSocketDirectory();
    if ((await probeSocket(path)) === 'live') {
      log.error(`UAPI socket ${path} is in use: another daemon runs ${ifname}`);
      process.stderr.write(`wgtsd: interface ${ifname} is already run by another daemon (${path})\n`);
      return 1;
    }
  }

  let tun: TunDevice;
  try {
    tun = openTun(ifname, { mtu: 1420, ...(tunFd !== null ? { fd: tunFd } : {}) });
  } catch (err) {
    process.stderr.write(`wgtsd: cannot create TUN device ${ifname}: ${(err as Error).message}\n`);
    return 1;
  }

  const device = new Device({ tun, bind: createBind(), logger: log });
  await device.start(0);

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
    process.stderr.write(`wgtsd: cannot listen on ${path}: ${(err as Error).message}\n`);
    device.close();
    return 1;
  }
  const socketInode = uapiFd === null ? inodeOf(path) : null;
  log.verbose('UAPI listener started');
  log.verbose(`device started (TUN ${tun.name}, UDP port ${device.listenPort})`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string): void => {
      if (stopping) return;
      stopping = true;
      log.verbose(`shutting down: ${why}`);
      clearInterval(watcher);
      server.close();
      if (socketInode !== null && inodeOf(path) === socketInode) {
        try {
          unlinkSync(path);
        } catch {
          // Already removed.
        }
      }
      device.close();
      resolve(0);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    const watcher = setInterval(() => {
      if (linkIndex(ifname) !== tun.ifindex) stop(`link ${ifname} deleted`);
      else if (socketInode !== null && inodeOf(path) !== socketInode) stop(`socket ${path} removed`);
    }, WATCH_MS);
    signalReady();
  });
}

function numericEnv(name: string): number | null {
  const v = process.env[name];
  if (v === undefined || v === '') return null;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : null;
}
