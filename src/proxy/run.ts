/**
 * Starts everything a parsed configuration asks for on an opened device, in file order: each
 * routine, then the CheckAlive pinger and (with `-i`) the health endpoint. A routine that cannot
 * start (address in use, unreadable certificate) stops the ones already running and rejects, so a
 * half-working proxy never runs. The result closes them all, and for a [STDIOTunnel] says when its
 * connection has ended.
 */
import type { Readable, Writable } from 'node:stream';
import type { ProxyConfig, ProxyRoutine } from './config-types.js';
import type { HostPort } from './config-values.js';
import { startCheckAlive, startHealth, type CheckAlive } from './health.js';
import { startHttpProxy } from './http.js';
import { startSocks5 } from './socks5.js';
import { startStdioTunnel, startTcpClientTunnel, startTcpServerTunnel } from './tunnels.js';
import type { ProxyDevice, ProxyLogger, RunningRoutine } from './types.js';
import { startUdpClientTunnel, startUdpServerTunnel } from './udp-tunnels.js';

export interface RunOptions {
  readonly log: ProxyLogger;
  /** `-i ADDR`: the health endpoint, or null. */
  readonly info: HostPort | null;
  readonly stdin?: Readable | undefined;
  readonly stdout?: Writable | undefined;
}

export interface RunningProxy {
  readonly routines: readonly RunningRoutine[];
  readonly checkAlive: CheckAlive;
  /** Settles when a [STDIOTunnel]'s connection ends; null without one. */
  readonly stdioDone: Promise<void> | null;
  close(): Promise<void>;
}

function start(
  r: ProxyRoutine,
  config: ProxyConfig,
  device: ProxyDevice,
  o: RunOptions,
): Promise<RunningRoutine> {
  const network = device.network;
  const log = o.log;
  switch (r.kind) {
    case 'socks5':
      return startSocks5({ bind: r.bind, username: r.username, password: r.password, network, log });
    case 'http':
      return startHttpProxy({ ...r, network, log });
    case 'tcp-client':
      return startTcpClientTunnel(r.bind, r.target, network, log);
    case 'tcp-server':
      return startTcpServerTunnel(r.listenPort, r.target, network, log);
    case 'stdio':
      return startStdioTunnel(r.target, network, {
        input: o.stdin ?? process.stdin,
        output: o.stdout ?? process.stdout,
      });
    case 'udp-client':
      return startUdpClientTunnel(r.bind, r.target, r.inactivityTimeout, network);
    case 'udp-server': {
      const v6 = config.interface.addresses.some((a) => a.includes(':'));
      const v4 = config.interface.addresses.some((a) => !a.includes(':'));
      const families: ('udp4' | 'udp6')[] = v4 || !v6 ? ['udp4'] : [];
      if (v6) families.push('udp6');
      return startUdpServerTunnel(r.listenPort, r.target, r.inactivityTimeout, network, families);
    }
  }
}

export async function runProxy(
  config: ProxyConfig,
  device: ProxyDevice,
  o: RunOptions,
): Promise<RunningProxy> {
  const routines: RunningRoutine[] = [];
  const checkAlive = startCheckAlive({
    addresses: config.interface.checkAlive,
    intervalSeconds: config.interface.checkAliveInterval,
    network: device.network,
    log: o.log,
  });
  const closeAll = async (): Promise<void> => {
    checkAlive.stop();
    await Promise.all(routines.map((r) => r.close().catch(() => {})));
  };
  let stdioDone: Promise<void> | null = null;
  try {
    for (const r of config.routines) {
      let running: RunningRoutine;
      try {
        running = await start(r, config, device, o);
      } catch (err) {
        throw new Error(`${config.file}:${r.line}: ${(err as Error).message}`);
      }
      routines.push(running);
      if ('done' in running) stdioDone = running.done as Promise<void>;
      o.log.info(`started ${running.name}`);
    }
    if (o.info !== null) {
      const health = await startHealth({
        bind: o.info,
        uapiGet: () => device.uapiGet(),
        checkAlive,
        intervalSeconds: config.interface.checkAliveInterval,
        log: o.log,
      });
      routines.push(health);
      o.log.info(`started ${health.name}`);
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  return { routines, checkAlive, stdioDone, close: closeAll };
}
