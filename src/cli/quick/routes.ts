/**
 * One route per allowed IP (wg-quick(8); linux.bash `cmd_up`'s loop and `add_route`). The allowed
 * IPs of every peer, as `wg show IF allowed-ips` prints them, are taken most specific first (`sort
 * -nr -k 2 -t /` under LC_ALL=C: by prefix length, descending, ties by the whole text, descending
 * bytewise), and each is routed according to Table:
 *
 *   - `off`: no routes at all;
 *   - a number or name: `ip route add P dev IF table T`, /0 included, no policy;
 *   - unset or `auto`: a /0 goes through the fwmark policy (policy.ts); any other prefix gets
 *     `ip route add P dev IF` in main, unless `ip route show dev IF match P` already lists a route
 *     through IF that covers P (typically the connected route of one of IF's own addresses).
 */
import type { QuickContext, UpState } from './context.js';
import { allowedIpsOf, getDevice } from './device.js';
import { addDefault, protoOf } from './policy.js';

const ROUTABLE = /^[0-9a-z:.]+\/[0-9]+$/;

function cidrOf(prefix: string): number {
  return Number(prefix.slice(prefix.lastIndexOf('/') + 1));
}

/** The order wg-quick adds routes in: `sort -nr -k 2 -t /` in the C locale. */
export function routeOrder(prefixes: readonly string[]): string[] {
  return prefixes
    .filter((p) => ROUTABLE.test(p))
    .sort((a, b) => cidrOf(b) - cidrOf(a) || (a < b ? 1 : a > b ? -1 : 0));
}

/** add_route for one prefix. */
export async function addRoute(ctx: QuickContext, prefix: string, state: UpState): Promise<void> {
  const proto = protoOf(prefix);
  const table = ctx.extras.table?.value ?? '';
  if (table === 'off') return;
  if (table !== '' && table !== 'auto') {
    await ctx.run.cmd(['ip', proto, 'route', 'add', prefix, 'dev', ctx.ifname, 'table', table]);
  } else if (prefix.endsWith('/0')) {
    await addDefault(ctx, prefix, state);
  } else {
    const existing = await ctx.run.run(['ip', proto, 'route', 'show', 'dev', ctx.ifname, 'match', prefix]);
    if (existing.stdout.trim() === '')
      await ctx.run.cmd(['ip', proto, 'route', 'add', prefix, 'dev', ctx.ifname]);
  }
}

/** The route loop of cmd_up: reads the allowed IPs from the device, routes each. */
export async function addRoutes(ctx: QuickContext, state: UpState): Promise<void> {
  const prefixes = routeOrder(allowedIpsOf(await getDevice(ctx.ifname)));
  for (const prefix of prefixes) await addRoute(ctx, prefix, state);
}
