/**
 * `wgts show { IFACE | all | interfaces } [FIELD] [--json]` (wg(8) `show`; wireguard-tools
 * src/show.c show_main), and showConf() for `showconf` and wg-quick's `save`. Output formats live
 * in show-format.ts; interface access in ipc.ts. As wg: no argument or `all` shows every
 * interface (a blank line between them; one that cannot be read is reported and skipped; the
 * status is 1 only when interfaces exist and none could be read); `interfaces` lists the names on
 * one line; a bad FIELD prints wg's usage and fails after the interface was read.
 */
import { serializeWgConfig } from '../config/serialize.js';
import type { CliContext } from './context.js';
import { commandHelp } from './help.js';
import { getDevice, IpcError, ipcErrorLines, listInterfaces } from './ipc.js';
import { deviceJson, stringifyJson } from './json.js';
import { colorMode } from './terminal.js';
import { dumpPrint, fieldPrint, isShowField, prettyPrint } from './show-format.js';
import type { WgDevice } from './device.js';

/** showconf's text for `ifname` (wg showconf). Throws IpcError. */
export async function showConf(ifname: string): Promise<string> {
  return serializeWgConfig(await getDevice(ifname));
}

export function showUsage(prog: string): string {
  return (
    `Usage: ${prog} show { <interface> | all | interfaces } [public-key | private-key | listen-port | ` +
    'fwmark | peers | preshared-keys | endpoints | allowed-ips | latest-handshakes | transfer | ' +
    'persistent-keepalive | dump] [--json]\n'
  );
}

/** The text for one device, or null for an invalid field (already reported). */
function render(
  dev: WgDevice,
  field: string | undefined,
  withInterface: boolean,
  ctx: CliContext,
): string | null {
  if (field === undefined) {
    return prettyPrint(dev, {
      color: colorMode(ctx.env, ctx.stdoutIsTTY),
      hideKeys: ctx.env['WG_HIDE_KEYS'] !== 'never',
      now: () => BigInt(Math.floor(Date.now() / 1000)),
    });
  }
  if (isShowField(field)) {
    return field === 'dump' ? dumpPrint(dev, withInterface) : fieldPrint(dev, field, withInterface);
  }
  ctx.err(`Invalid parameter: \`${field}'\n`);
  ctx.err(showUsage(ctx.prog));
  return null;
}

async function showJson(args: readonly string[], ctx: CliContext): Promise<number> {
  if (args.length > 2) {
    ctx.err(`${ctx.prog} show: --json takes no field argument; the JSON has every field\n`);
    return 1;
  }
  try {
    if (args[1] === 'interfaces') {
      ctx.out(`${stringifyJson(await listInterfaces())}\n`);
      return 0;
    }
    if (args.length === 1 || args[1] === 'all') {
      const list = [];
      for (const name of await listInterfaces()) {
        try {
          list.push(deviceJson(await getDevice(name)));
        } catch (err) {
          if (!(err instanceof IpcError)) throw err;
          ctx.err(`Unable to access interface ${name}: ${err.reason}\n`);
        }
      }
      ctx.out(`${stringifyJson(list)}\n`);
      return 0;
    }
    ctx.out(`${stringifyJson(deviceJson(await getDevice(args[1]!)))}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof IpcError)) throw err;
    ctx.err(ipcErrorLines(err));
    return 1;
  }
}

export async function showMain(argv: readonly string[], ctx: CliContext): Promise<number> {
  const json = argv.includes('--json');
  const args = argv.filter((a) => a !== '--json');
  if (args.length > 3) {
    ctx.err(showUsage(ctx.prog));
    return 1;
  }
  if (args.length === 2 && ['-h', '--help', 'help'].includes(args[1]!)) {
    ctx.out(commandHelp('show', showUsage(ctx.prog)));
    return 0;
  }
  if (json) return showJson(args, ctx);
  if (args.length === 1 || args[1] === 'all') {
    let names: string[];
    try {
      names = await listInterfaces();
    } catch (err) {
      if (!(err instanceof IpcError)) throw err;
      ctx.err(`${err.message}\n`);
      return 1;
    }
    let ret = names.length > 0 ? 1 : 0;
    for (let i = 0; i < names.length; i++) {
      let dev: WgDevice;
      try {
        dev = await getDevice(names[i]!);
      } catch (err) {
        if (!(err instanceof IpcError)) throw err;
        ctx.err(`Unable to access interface ${names[i]}: ${err.reason}\n`);
        continue;
      }
      const text = render(dev, args[2], true, ctx);
      if (text === null) return 1;
      ctx.out(args.length === 3 || i === names.length - 1 ? text : `${text}\n`);
      ret = 0;
    }
    return ret;
  }
  if (args[1] === 'interfaces') {
    if (args.length > 2) {
      ctx.err(showUsage(ctx.prog));
      return 1;
    }
    let names: string[];
    try {
      names = await listInterfaces();
    } catch (err) {
      if (!(err instanceof IpcError)) throw err;
      ctx.err(`${err.message}\n`);
      return 1;
    }
    if (names.length > 0) ctx.out(`${names.join(' ')}\n`);
    return 0;
  }
  let dev: WgDevice;
  try {
    dev = await getDevice(args[1]!);
  } catch (err) {
    if (!(err instanceof IpcError)) throw err;
    ctx.err(ipcErrorLines(err));
    return 1;
  }
  const text = render(dev, args[2], false, ctx);
  if (text === null) return 1;
  ctx.out(text);
  return 0;
}
