/**
 * `wgts up|down|save|strip CONFIG_FILE|INTERFACE`: wg-quick(8) for the wgts userspace
 * implementation (REFERENCE.md "wg-quick(8) surface"; wireguard-tools src/wg-quick/linux.bash).
 * This file is the entry the CLI's dispatch table calls: it locates and reads the file, splits it
 * into wg-quick keys and the wg(8) part, and runs the command. Every failure is printed as
 * `wgts: MESSAGE` (config problems as `FILE:LINE: …`) and gives exit status 1; success gives 0.
 *
 * `up` parses and validates the whole file, wg(8) part included, before it changes anything, so a
 * broken file leaves nothing behind. `down`, `save` and `strip` need only the wg-quick keys and,
 * like wg-quick, do not judge the rest.
 */
import { readFileSync } from 'node:fs';
import { parseWgConfig } from '../../config/wg-config.js';
import { parseQuickFile, validateExtras, type QuickFile } from './config-extras.js';
import type { QuickContext } from './context.js';
import { cmdDown, requireInterface } from './down.js';
import { QuickError, Runner } from './exec.js';
import { locateConfig } from './locate.js';
import { saveConfig } from './save.js';
import { stripOutput } from './strip.js';
import { cmdUp } from './up.js';
import { hasNetAdmin, needsNetAdmin } from '../../io/privilege.js';
import { commandHelp } from '../help.js';
import { IpcError } from '../ipc.js';

export type QuickCommand = 'up' | 'down' | 'save' | 'strip';

export const QUICK_USAGE = `Usage: wgts [ up | down | save | strip ] [ CONFIG_FILE | INTERFACE ]

  CONFIG_FILE is a configuration file named after its interface, followed by
  \`.conf'; INTERFACE alone means /etc/wireguard/INTERFACE.conf. The file is in
  the format of \`wgts setconf', plus these [Interface] keys, as wg-quick(8) has:

  - Address: one or more IP addresses (with an optional /CIDR); repeatable.
  - DNS: DNS servers and search domains while the interface is up (resolvconf).
  - MTU: the interface MTU; by default the route MTU to the peers minus 80.
  - Table: off, auto (the default), or the routing table for the routes.
  - PreUp, PostUp, PreDown, PostDown: bash snippets run at those points; %i is
    the interface name.
  - SaveConfig: true saves the running configuration on \`down'.

  The userspace daemon is wgtsd, or WG_QUICK_USERSPACE_IMPLEMENTATION if set.
`;

function readConfig(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new QuickError(`Could not read \`${file}': ${(err as Error).message}`);
  }
}

/** What `up` and `down` do to the system, for the message when the privilege is missing. */
const PRIVILEGED: Partial<Record<QuickCommand, string>> = {
  up: 'create a network interface',
  down: 'remove a network interface',
};

async function dispatch(command: QuickCommand, arg: string): Promise<void> {
  // Before anything runs (wg-quick re-executes itself under sudo at this point): without the
  // privilege, `ip` and the daemon would fail halfway with raw EPERM/EACCES.
  const action = PRIVILEGED[command];
  if (action !== undefined && !hasNetAdmin()) throw new QuickError(needsNetAdmin(`\`${command}'`, action));
  const target = locateConfig(arg);
  if (target.warning !== null) process.stderr.write(`${target.warning}\n`);
  const parsed: QuickFile = parseQuickFile(readConfig(target.file), target.file);
  const abort = new AbortController();
  const ctx: QuickContext = {
    ifname: target.ifname,
    file: target.file,
    extras: parsed.extras,
    run: new Runner(abort.signal),
  };
  switch (command) {
    case 'strip':
      process.stdout.write(stripOutput(parsed));
      return;
    case 'up': {
      validateExtras(parsed.extras, target.file);
      const wg = parseWgConfig(parsed.wgText, target.file, { kind: 'wg-quick' });
      for (const warning of wg.warnings) process.stderr.write(`${warning}\n`);
      const teardown = { ...ctx, wg, run: new Runner(new AbortController().signal) };
      await cmdUp({ ...ctx, wg }, abort, teardown);
      return;
    }
    case 'down':
      await cmdDown(ctx);
      return;
    case 'save':
      await requireInterface(ctx);
      await saveConfig(ctx);
      return;
  }
}

/** Runs `wgts COMMAND ARGS…`; resolves with the exit status. */
export async function runQuick(command: QuickCommand, args: string[]): Promise<number> {
  if (args.length === 1 && (args[0] === '--help' || args[0] === '-h' || args[0] === 'help')) {
    process.stdout.write(commandHelp(command, QUICK_USAGE));
    return 0;
  }
  if (args.length !== 1) {
    process.stderr.write(QUICK_USAGE);
    return 1;
  }
  try {
    await dispatch(command, args[0]!);
    return 0;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`wgts: ${message}\n`);
    if (err instanceof IpcError && err.hint !== null) process.stderr.write(`wgts: ${err.hint}\n`);
    return 1;
  }
}
