/**
 * The interface itself (linux.bash `add_if`, `add_addr`, the end of `del_if`): start the userspace
 * daemon, add addresses, delete the link.
 *
 * wg-quick first tries the kernel (`ip link add IF type wireguard`) and falls back to
 * `${WG_QUICK_USERSPACE_IMPLEMENTATION:-wireguard-go} IF`. wgts is the userspace implementation, so
 * it always starts a daemon: WG_QUICK_USERSPACE_IMPLEMENTATION when set (a single executable name
 * or path, e.g. wireguard-go), otherwise the wgtsd that ships next to this CLI, run by this very
 * node. Either daemonises and returns once the TUN and the UAPI socket exist.
 *
 * Deleting the link makes the daemon exit and remove its socket. wg-quick returns at once; we wait
 * (bounded) for the socket to go, so that `down` really means the daemon is gone and an immediate
 * `up` does not meet a socket still in use.
 */
import { fileURLToPath } from 'node:url';
import type { QuickContext } from './context.js';
import { waitSocketGone } from './device.js';

/** The compiled wgtsd next to this file: dist/src/daemon/main.js. */
export const WGTSD_MAIN = fileURLToPath(new URL('../../daemon/main.js', import.meta.url));

/** How long the daemon may take to start (create the TUN, bind, listen on its socket). */
const DAEMON_START_TIMEOUT_MS = 30_000;
/** How long we wait for the daemon to exit after its link is deleted. */
const DAEMON_EXIT_TIMEOUT_MS = 5_000;

/** The daemon command for IF: WG_QUICK_USERSPACE_IMPLEMENTATION, or wgtsd under this node. */
export function daemonArgv(ifname: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const impl = env['WG_QUICK_USERSPACE_IMPLEMENTATION'];
  if (impl !== undefined && impl !== '') return [impl, ifname];
  return [process.execPath, WGTSD_MAIN, ifname];
}

/** `[[ -n $(ip link show dev IF 2>/dev/null) ]]`. */
export async function linkExists(ctx: QuickContext): Promise<boolean> {
  const r = await ctx.run.run(['ip', 'link', 'show', 'dev', ctx.ifname]);
  return r.code === 0 && r.stdout.trim() !== '';
}

/** add_if: starts the daemon, which creates the TUN and the UAPI socket. */
export async function addInterface(ctx: QuickContext): Promise<void> {
  // Inherited stdio: a daemon run with LOG_LEVEL keeps our stdout/stderr, as wireguard-go does.
  await ctx.run.cmd(daemonArgv(ctx.ifname), { inherit: true, timeoutMs: DAEMON_START_TIMEOUT_MS });
}

/** add_addr: `ip -4|-6 address add ADDR dev IF`. */
export async function addAddress(ctx: QuickContext, address: string): Promise<void> {
  const proto = address.includes(':') ? '-6' : '-4';
  await ctx.run.cmd(['ip', proto, 'address', 'add', address, 'dev', ctx.ifname]);
}

/** `ip link delete dev IF`, then wait for the daemon to exit. */
export async function deleteLink(ctx: QuickContext): Promise<void> {
  await ctx.run.cmd(['ip', 'link', 'delete', 'dev', ctx.ifname]);
  if (!(await waitSocketGone(ctx.ifname, DAEMON_EXIT_TIMEOUT_MS))) {
    ctx.run.say(
      `Warning: the daemon of \`${ctx.ifname}' still has its socket ${DAEMON_EXIT_TIMEOUT_MS} ms later`,
    );
  }
}
