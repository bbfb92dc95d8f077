/**
 * `wgts showconf IFACE [--json]` (wg(8) `showconf`; wireguard-tools src/showconf.c): the
 * interface's current configuration as a config file `setconf` accepts, byte for byte as wg prints
 * it (config/serialize.ts), or as JSON (json.ts). `--help` prints the usage (wg would look for an
 * interface called `--help`).
 */
import { serializeWgConfig } from '../config/serialize.js';
import { isHelp, type CliContext } from './context.js';
import { commandHelp } from './help.js';
import { getDevice, IpcError, ipcErrorLines } from './ipc.js';
import { configJson, stringifyJson } from './json.js';

export function showconfUsage(prog: string): string {
  return `Usage: ${prog} showconf <interface> [--json]\n`;
}

export async function showconfMain(argv: readonly string[], ctx: CliContext): Promise<number> {
  if (argv.length === 2 && isHelp(argv[1])) {
    ctx.out(commandHelp('showconf', showconfUsage(ctx.prog)));
    return 0;
  }
  const json = argv.includes('--json');
  const args = argv.filter((a) => a !== '--json');
  if (args.length !== 2) {
    ctx.err(showconfUsage(ctx.prog));
    return 1;
  }
  try {
    const dev = await getDevice(args[1]!);
    ctx.out(json ? `${stringifyJson(configJson(dev))}\n` : serializeWgConfig(dev));
    return 0;
  } catch (err) {
    if (!(err instanceof IpcError)) throw err;
    ctx.err(ipcErrorLines(err));
    return 1;
  }
}
