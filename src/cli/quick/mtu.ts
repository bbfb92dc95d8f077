/**
 * MTU and link up (linux.bash `set_mtu_up`, upstream version): the configured MTU, or else the
 * smallest MTU among the routes to the peers' endpoints (`ip route get ENDPOINT`: the route's own
 * `mtu N`, else its device's MTU), or else the default route's, or else 1500; minus 80 for the
 * WireGuard overhead (IPv6 40 + UDP 8 + WireGuard 32). So 1420 when nothing is known.
 *
 * wireguard-tools up to 1.0.20210914 (the wg-quick installed here) took the largest endpoint MTU;
 * upstream takes the smallest, which is the one that fits every path. We follow upstream.
 */
import type { QuickContext } from './context.js';
import { endpointsOf, getDevice } from './device.js';

/** Bytes WireGuard adds to a packet in the worst case: IPv6 header, UDP header, WireGuard framing. */
export const WG_OVERHEAD = 80;
const NOT_FOUND = 2147483647;

/** linux.bash's `^\[?([a-z0-9:.]+)\]?:[0-9]+$`: the host of an endpoint, or null. */
export function endpointHost(endpoint: string): string | null {
  return /^\[?([a-z0-9:.]+)\]?:[0-9]+$/.exec(endpoint)?.[1] ?? null;
}

/** The MTU in `ip route …` output: its `mtu N`, else its `dev X`'s MTU; null when neither. */
async function routeMtu(ctx: QuickContext, routeOutput: string): Promise<number | null> {
  const own = /mtu ([0-9]+)/.exec(routeOutput);
  if (own !== null) return Number(own[1]);
  const dev = /dev ([^ ]+)/.exec(routeOutput);
  if (dev === null) return null;
  const link = await ctx.run.run(['ip', 'link', 'show', 'dev', dev[1]!]);
  const mtu = /mtu ([0-9]+)/.exec(link.stdout);
  return mtu === null ? null : Number(mtu[1]);
}

/** The MTU wg-quick would pick for IF when the config names none. */
export async function autoMtu(ctx: QuickContext): Promise<number> {
  let mtu = NOT_FOUND;
  for (const endpoint of endpointsOf(await getDevice(ctx.ifname))) {
    const host = endpointHost(endpoint);
    if (host === null) continue;
    const route = await ctx.run.run(['ip', 'route', 'get', host]);
    const m = await routeMtu(ctx, route.stdout);
    if (m !== null && m < mtu) mtu = m;
  }
  if (mtu === NOT_FOUND) {
    const def = await ctx.run.run(['ip', 'route', 'show', 'default']);
    const first = def.stdout.split('\n')[0] ?? '';
    const m = await routeMtu(ctx, first);
    if (m !== null && m < mtu) mtu = m;
  }
  if (!(mtu > 0 && mtu < NOT_FOUND)) mtu = 1500;
  return mtu - WG_OVERHEAD;
}

/** set_mtu_up: `ip link set mtu N up dev IF`. */
export async function setMtuUp(ctx: QuickContext): Promise<void> {
  const mtu = ctx.extras.mtu?.value ?? String(await autoMtu(ctx));
  await ctx.run.cmd(['ip', 'link', 'set', 'mtu', mtu, 'up', 'dev', ctx.ifname]);
}
