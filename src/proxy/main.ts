/**
 * `wgts proxy`: wireproxy's command line (its cmd/wireproxy/main.go flags) over the userspace
 * device. -c/--config FILE (default /etc/wireproxy/wireproxy.conf, then
 * $HOME/.config/wireproxy.conf), -s/--silent, -d/--daemon (detach as wgtsd does: re-run in a new
 * session and wait for it to report ready), -i/--info ADDR (health endpoint), -v/--version,
 * -n/--configtest (parse, print "Config OK", exit). Runs until SIGINT or SIGTERM, or until a
 * [STDIOTunnel]'s connection ends, then closes every routine and the device.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { CliContext } from '../cli/context.js';
import { daemonize, signalFailure, signalReady } from '../daemon/daemonize.js';
import { loadProxyConfig } from './config.js';
import { ProxyConfigError } from './config-error.js';
import { splitHostPort, type HostPort } from './config-values.js';
import { runProxy, type RunningProxy } from './run.js';
import type { OpenDevice, ProxyLogger } from './types.js';

export const PROXY_USAGE = 'Usage: wgts proxy [-c FILE] [-s] [-d] [-i ADDR] [-n] [-v]\n';

export interface ProxyDeps {
  readonly openDevice: OpenDevice;
  readonly version: string;
  readonly stdin?: Readable;
  readonly stdout?: Writable;
  /** Resolves to stop the proxy (default: SIGINT or SIGTERM). */
  readonly stop?: Promise<unknown>;
  /** Called once everything runs (tests read the bound addresses). */
  readonly onStarted?: (proxy: RunningProxy) => void;
  /** The script and arguments to re-run for -d (default: this process's). */
  readonly reexec?: { readonly script: string; readonly args: readonly string[] };
}

interface Flags {
  config: string | null;
  silent: boolean;
  daemon: boolean;
  info: HostPort | null;
  version: boolean;
  configtest: boolean;
  help: boolean;
}

function parseFlags(args: readonly string[]): Flags | string {
  const f: Flags = {
    config: null,
    silent: false,
    daemon: false,
    info: null,
    version: false,
    configtest: false,
    help: false,
  };
  for (let i = 0; i < args.length; i++) {
    let arg = args[i]!;
    let value: string | undefined;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    if (eq > 0) [arg, value] = [arg.slice(0, eq), arg.slice(eq + 1)];
    const take = (): string | null => value ?? args[++i] ?? null;
    switch (arg) {
      case '-c':
      case '--config':
        f.config = take();
        if (f.config === null) return `${arg} needs a file`;
        break;
      case '-i':
      case '--info': {
        const v = take();
        f.info = v === null ? null : splitHostPort(v);
        if (f.info === null) return `${arg} needs host:port (e.g. 127.0.0.1:9080)`;
        break;
      }
      case '-s':
      case '--silent':
        f.silent = true;
        break;
      case '-d':
      case '--daemon':
        f.daemon = true;
        break;
      case '-v':
      case '--version':
        f.version = true;
        break;
      case '-n':
      case '--configtest':
        f.configtest = true;
        break;
      case '-h':
      case '--help':
        f.help = true;
        break;
      default:
        return `unknown argument "${args[i]}"`;
    }
  }
  return f;
}

function defaultConfig(env: NodeJS.ProcessEnv): string | null {
  const candidates = ['/etc/wireproxy/wireproxy.conf'];
  if (env.HOME !== undefined) candidates.push(join(env.HOME, '.config', 'wireproxy.conf'));
  return candidates.find((p) => existsSync(p)) ?? null;
}

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

export async function proxyMain(args: readonly string[], ctx: CliContext, deps: ProxyDeps): Promise<number> {
  const flags = parseFlags(args);
  if (typeof flags === 'string') {
    ctx.err(`wgts proxy: ${flags}\n${PROXY_USAGE}`);
    return 1;
  }
  if (flags.version) {
    ctx.out(`wgts proxy v${deps.version} (wireproxy-compatible)\n`);
    return 0;
  }
  const path = flags.config ?? defaultConfig(ctx.env);
  if (path === null) {
    ctx.err(
      'wgts proxy: no configuration file: give one with -c FILE (or create /etc/wireproxy/wireproxy.conf)\n',
    );
    return 1;
  }
  const log: ProxyLogger = {
    info: (m) => (flags.silent ? undefined : ctx.err(`${new Date().toISOString()} ${m}\n`)),
    error: (m) => ctx.err(`${new Date().toISOString()} ERROR: ${m}\n`),
  };
  let config;
  try {
    config = loadProxyConfig(path, { env: ctx.env });
  } catch (err) {
    if (!(err instanceof ProxyConfigError)) throw err;
    ctx.err(`wgts proxy: ${err.message}\n`);
    signalFailure(err.message);
    return 1;
  }
  if (!flags.silent) for (const w of config.warnings) ctx.err(`wgts proxy: warning: ${w}\n`);
  if (flags.configtest) {
    ctx.out('Config OK\n');
    return 0;
  }
  if (flags.daemon && ctx.env.WG_PROCESS_FOREGROUND !== '1') {
    if (config.routines.some((r) => r.kind === 'stdio')) {
      ctx.err('wgts proxy: -d cannot be used with a [STDIOTunnel], which needs the terminal\n');
      return 1;
    }
    const re = deps.reexec ?? { script: process.argv[1] ?? '', args: process.argv.slice(2) };
    return daemonize(re.script, re.args);
  }
  let device;
  try {
    device = await deps.openDevice(config);
  } catch (err) {
    const message = `cannot open the WireGuard device: ${(err as Error).message}`;
    ctx.err(`wgts proxy: ${message}\n`);
    signalFailure(message);
    return 1;
  }
  let proxy: RunningProxy;
  try {
    proxy = await runProxy(config, device, { log, info: flags.info, stdin: deps.stdin, stdout: deps.stdout });
  } catch (err) {
    await device.close();
    ctx.err(`wgts proxy: ${(err as Error).message}\n`);
    signalFailure((err as Error).message);
    return 1;
  }
  signalReady();
  deps.onStarted?.(proxy);
  const stops: Promise<unknown>[] = [deps.stop ?? waitForSignal()];
  if (proxy.stdioDone !== null) stops.push(proxy.stdioDone);
  await Promise.race(stops);
  log.info('shutting down');
  await proxy.close();
  await device.close();
  return 0;
}
