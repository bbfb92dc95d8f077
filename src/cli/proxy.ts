/**
 * `wgts proxy`: the wireproxy-compatible proxy mode (src/proxy/main.ts) as a wgts subcommand, with
 * the real userspace device opener (src/proxy/open-device.ts) and the full help text.
 */
import { openDevice } from '../proxy/open-device.js';
import { PROXY_USAGE, proxyMain } from '../proxy/main.js';
import { isHelp, type CliContext } from './context.js';
import { commandHelp } from './help.js';

export function proxyCommand(version: string) {
  return async (argv: readonly string[], ctx: CliContext): Promise<number> => {
    if (argv.slice(1).some((a) => isHelp(a))) {
      ctx.out(commandHelp('proxy', PROXY_USAGE.replace('wgts', ctx.prog)));
      return 0;
    }
    return proxyMain(argv.slice(1), ctx, { openDevice, version });
  };
}
