/**
 * `wgts setconf|addconf|syncconf IFACE FILE` (wg(8); wireguard-tools src/setconf.c). The file is
 * read and parsed whole (config/wg-config.ts), every hostname resolved, and only then is one
 * request sent (apply-config.ts), so any error applies nothing. Config errors print as
 * `FILE:LINE: message`; warnings (allowed IPs with host bits set) go to stderr too.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, parseWgConfig } from '../config/wg-config.js';
import { ValueError } from '../config/values.js';
import { applyWgConfig, type ApplyMode } from './apply-config.js';
import { isHelp, type CliContext } from './context.js';
import { commandHelp } from './help.js';
import { systemErrorText } from './errno-text.js';
import { IpcError, ipcErrorLines } from './ipc.js';

const MODES: Readonly<Record<string, ApplyMode>> = { setconf: 'set', addconf: 'add', syncconf: 'sync' };

export function setconfUsage(prog: string, command: string): string {
  return `Usage: ${prog} ${command} <interface> <configuration filename>\n`;
}

export async function setconfMain(argv: readonly string[], ctx: CliContext): Promise<number> {
  const command = argv[0]!;
  if (argv.length === 2 && isHelp(argv[1])) {
    ctx.out(commandHelp(command, setconfUsage(ctx.prog, command)));
    return 0;
  }
  if (argv.length !== 3) {
    ctx.err(setconfUsage(ctx.prog, command));
    return 1;
  }
  const [, ifname, file] = argv as [string, string, string];
  let text: string;
  try {
    text = readFileSync(file).toString('utf8');
  } catch (err) {
    ctx.err(`fopen: ${systemErrorText(err)}\n`);
    return 1;
  }
  try {
    const config = parseWgConfig(text, file);
    for (const w of config.warnings) ctx.err(`${w}\n`);
    await applyWgConfig(ifname, config, MODES[command] ?? 'set');
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError) && !(err instanceof IpcError) && !(err instanceof ValueError))
      throw err;
    ctx.err(err instanceof IpcError ? ipcErrorLines(err) : `${err.message}\n`);
    return 1;
  }
}
