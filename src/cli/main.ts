#!/usr/bin/env node
/**
 * wgts: the wg(8)-compatible command line (wireguard-tools src/wg.c), talking the cross-platform
 * UAPI to any userspace daemon in /var/run/wireguard (wgtsd, wireguard-go), plus wg-quick's
 * up/down/save/strip (src/cli/quick/). One table maps each subcommand to its file; bare `wgts` is
 * `wgts show`; `help`, `--help`, `-h` print the list; `--version` the version. Output matches wg's
 * byte for byte (see each subcommand's file for the few deliberate differences).
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { processContext, type CliContext, type Command } from './context.js';
import { genkeyMain } from './genkey.js';
import { proxyCommand } from './proxy.js';
import { pubkeyMain } from './pubkey.js';
import { setMain } from './set.js';
import { setconfMain } from './setconf.js';
import { showMain } from './show.js';
import { showconfMain } from './showconf.js';

type QuickName = 'up' | 'down' | 'save' | 'strip';

const quick =
  (name: QuickName): Command =>
  async (argv) => {
    const mod = await import('./quick/index.js');
    return mod.runQuick(name, argv.slice(1));
  };

export const COMMANDS: readonly {
  readonly name: string;
  readonly run: Command;
  readonly description: string;
}[] = [
  { name: 'show', run: showMain, description: 'Shows the current configuration and device information' },
  {
    name: 'showconf',
    run: showconfMain,
    description: "Shows the current configuration of a given WireGuard interface, for use with `setconf'",
  },
  {
    name: 'set',
    run: setMain,
    description: 'Change the current configuration, add peers, remove peers, or change peers',
  },
  { name: 'setconf', run: setconfMain, description: 'Applies a configuration file to a WireGuard interface' },
  { name: 'addconf', run: setconfMain, description: 'Appends a configuration file to a WireGuard interface' },
  {
    name: 'syncconf',
    run: setconfMain,
    description: 'Synchronizes a configuration file to a WireGuard interface',
  },
  { name: 'genkey', run: genkeyMain, description: 'Generates a new private key and writes it to stdout' },
  { name: 'genpsk', run: genkeyMain, description: 'Generates a new preshared key and writes it to stdout' },
  {
    name: 'pubkey',
    run: pubkeyMain,
    description: 'Reads a private key from stdin and writes a public key to stdout',
  },
  {
    name: 'up',
    run: quick('up'),
    description: 'Brings up an interface from a wg-quick(8) configuration file',
  },
  { name: 'down', run: quick('down'), description: "Takes down an interface brought up with `up'" },
  { name: 'save', run: quick('save'), description: "Saves an interface's running configuration to its file" },
  { name: 'strip', run: quick('strip'), description: 'Prints a wg-quick(8) file without its wg-quick keys' },
  {
    name: 'proxy',
    run: (argv, ctx) => proxyCommand(version())(argv, ctx),
    description:
      'Runs a wireproxy-compatible SOCKS5/HTTP proxy and tunnels over a userspace WireGuard device',
  },
];

export function mainUsage(prog: string): string {
  let text = `Usage: ${prog} <cmd> [<args>]\n\nAvailable subcommands:\n`;
  for (const c of COMMANDS) text += `  ${c.name}: ${c.description}\n`;
  return `${text}You may pass \`--help' to any of these subcommands to view usage.\n`;
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Runs `wgts ARGV…` (without the program name); resolves with the exit status. */
export async function runCli(argv: readonly string[], ctx: CliContext): Promise<number> {
  const first = argv[0];
  if (argv.length === 1 && (first === '-v' || first === '--version' || first === 'version')) {
    ctx.out(`wgts v${version()} - WireGuard in TypeScript\n`);
    return 0;
  }
  if (argv.length === 1 && (first === '-h' || first === '--help' || first === 'help')) {
    ctx.out(mainUsage(ctx.prog));
    return 0;
  }
  if (first === undefined) return showMain(['show'], ctx);
  // `wgts help COMMAND` is `wgts COMMAND --help`: each command prints its own full help.
  const helpFor = argv.length === 2 && first === 'help' ? argv[1]! : null;
  const command = COMMANDS.find((c) => c.name === (helpFor ?? first));
  if (command !== undefined && helpFor !== null) return command.run([command.name, '--help'], ctx);
  if (command === undefined) {
    ctx.err(`Invalid subcommand: \`${helpFor ?? first}'\n`);
    ctx.err(mainUsage(ctx.prog));
    return 1;
  }
  return command.run(argv, ctx);
}

/** Waits until stdout and stderr have flushed, then exits with `code`. */
function exitAfterFlush(code: number): void {
  let pending = 2;
  const done = (): void => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(1);
  });
  runCli(process.argv.slice(2), processContext('wgts')).then(exitAfterFlush, (err: unknown) => {
    process.stderr.write(`wgts: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    exitAfterFlush(1);
  });
}
