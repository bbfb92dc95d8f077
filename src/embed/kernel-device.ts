/**
 * A Device on a kernel TUN (Documentation/networking/tuntap.rst) with its UDP bind and data path:
 * the one place both the embed API's `tun` backend (wireguard.ts) and wgtsd (src/daemon/run.ts)
 * build it, so the two run the same device. On a TUN opened with offloads (IFF_VNET_HDR), the
 * bind gets UDP GRO/GSO and the device the batched FastPath; an inherited WG_TUN_FD, or offloads
 * turned off, gives the per-packet path. Padding is capped by route MTUs (route-mtu.ts); the
 * device asks the link's up/down state through the TUN's fd, and followLink makes it follow
 * that state and the link's MTU on netlink link events (link-watch.ts). What a daemon adds (UAPI
 * server, socket file and its watch, metrics, logs) stays with the daemon.
 */
import { Device, type DeviceOptions } from '../device/device.js';
import { FastPath } from '../device/fast-path.js';
import type { Logger } from '../device/logger.js';
import { nativeRouteMtuSource, RouteMtus } from '../device/route-mtu.js';
import { currentThreads } from '../device/threads.js';
import { createBind, type LinuxBind } from '../io/bind.js';
import { openTun, type LinuxTun } from '../io/tun.js';
import { warmUp } from '../device/warm-up.js';
import { watchLink, type LinkWatch } from './link-watch.js';

export interface KernelTunOptions {
  /** MTU set on the link (not on an adopted fd's link if it cannot be). */
  readonly mtu: number;
  /** Adopt this already-open TUN fd (WG_TUN_FD); it never has offloads. */
  readonly fd?: number | null;
  /** Open with TUN offloads, for the batched data path; default true (ignored with `fd`). */
  readonly offload?: boolean;
}

/** Opens (creates) the TUN `name`, or adopts `fd`, as wgtsd and the tun backend do. */
export function openKernelTun(name: string, o: KernelTunOptions): LinuxTun {
  if (o.fd !== undefined && o.fd !== null) return openTun(name, { mtu: o.mtu, fd: o.fd });
  return openTun(name, { mtu: o.mtu, offload: o.offload ?? true });
}

export interface KernelDeviceOptions<D extends Device> {
  readonly logger?: Logger;
  /** The UDP port to listen on (0: a random free port). */
  readonly listenPort: number;
  /**
   * Compile the batched data path before the device exists (daemon/warm-up.ts): the first
   * packets then run at full speed, at the cost of up to WARMUP_MAX_MS at open. Default false.
   */
  readonly warmUp?: boolean;
  /** Told when reading the TUN fails for good ('EBADFD': the link was deleted). */
  readonly onTunError?: (err: Error & { code?: string }) => void;
  /** Re-resolution of hostname endpoints (DeviceOptions.resolveIntervalMs). */
  readonly resolveIntervalMs?: number;
  /**
   * The caller runs followLink on the device, which tells it of MTU changes: the device then
   * never polls the TUN's MTU (DeviceOptions.linkEvents). Default false.
   */
  readonly linkEvents?: boolean;
  /** Builds the device from its options (a Device subclass, say); default `new Device`. */
  readonly create?: (options: DeviceOptions) => D;
}

export interface KernelDevice<D extends Device> {
  readonly device: D;
  readonly bind: LinuxBind;
  /** Whether the batched data path (TUN offloads, FastPath) runs. */
  readonly fast: boolean;
}

/**
 * Builds and starts the device on `tun`. On failure everything, `tun` included, is closed and
 * the error thrown (EADDRINUSE for a taken port, say).
 */
export async function startKernelDevice<D extends Device = Device>(
  tun: LinuxTun,
  o: KernelDeviceOptions<D>,
): Promise<KernelDevice<D>> {
  const log = o.logger;
  // The batched data path needs the vnet-header TUN (not an inherited fd) and UDP GRO/GSO.
  const fast = tun.offload;
  // Compiled before the real device exists, so its objects are made with the final shapes.
  if (fast && o.warmUp === true) {
    const r = await warmUp(tun.offloadFlags);
    log?.verbose(
      `JIT warm-up: ${r.roundTrips} round trips (${r.bursts} bulk) in ${r.ms.toFixed(0)} ms` +
        (r.stopped !== null ? ` (stopped: ${r.stopped})` : ''),
    );
  }
  let device: D;
  let bind: LinuxBind;
  try {
    bind = createBind({ gro: fast });
    const options: DeviceOptions = {
      tun,
      bind,
      ...(log === undefined ? {} : { logger: log }),
      linkUp: () => {
        const state = tun.link();
        return typeof state === 'object' ? state.up : undefined;
      },
      ...(o.onTunError === undefined ? {} : { onTunError: o.onTunError }),
      ...(fast ? { fastPath: (d: Device) => new FastPath(d, tun, bind) } : {}),
      routeMtus: new RouteMtus(nativeRouteMtuSource()),
      ...(o.resolveIntervalMs === undefined ? {} : { resolveIntervalMs: o.resolveIntervalMs }),
      ...(o.linkEvents === true ? { linkEvents: true } : {}),
    };
    device = o.create !== undefined ? o.create(options) : (new Device(options) as D);
  } catch (err) {
    // No UDP socket (the native addon failed to load, say): nothing may stay open.
    tun.close();
    throw err;
  }
  try {
    await device.start(o.listenPort);
  } catch (err) {
    device.close();
    throw err;
  }
  log?.verbose(
    fast
      ? `data path: batched, TUN offloads 0x${tun.offloadFlags.toString(16)}, UDP GRO ${bind.groActive ? 'on' : 'off'}`
      : 'data path: per packet (WGTS_OFFLOAD=0 or an inherited TUN)',
  );
  log?.verbose(`wgts_native: threads ${currentThreads()}`);
  return { device, bind, fast };
}

/**
 * Makes `device` follow its link's up/down state (a new TUN starts down) and MTU, as
 * wireguard-go does, on each netlink link event of the link's namespace (link-watch.ts; a poll
 * where there is no netlink watch). The state is asked through the TUN's fd wherever the link is
 * now: `ip link set IFNAME netns X` moves it while the device and its UDP sockets stay here
 * (src/io/tun.ts link()); while it is away, it is asked every POLL_MS. `onDeleted` is told when
 * the link is gone. Looks once at the start; `close()` ends the watch.
 */
export function followLink(
  tun: LinuxTun,
  device: Device,
  log: Logger,
  onDeleted: () => void,
): { close(): void; readonly mode: 'netlink' | 'poll' } {
  let watch: LinkWatch | null = null;
  const check = linkFollower(tun, device, log, onDeleted, (netns) => watch?.follow(netns));
  watch = watchLink(() => {
    check();
    device.followTunMtu();
  });
  check();
  return watch;
}

/**
 * One look at the link for followLink: makes `device` follow its up/down state, tells `onNetns`
 * which namespace the link is in (null: could not tell), `onDeleted` when it is gone.
 */
export function linkFollower(
  tun: LinuxTun,
  device: Device,
  log: Logger,
  onDeleted: () => void,
  onNetns: (netns: number | null) => void = () => {},
): () => void {
  let netns: number | null = null;
  let linkUnknown: string | null = null;
  return () => {
    const state = tun.link();
    if (state === 'deleted') return onDeleted();
    if (state === undefined) {
      onNetns(null);
      // Between namespaces, say: ask again on the next poll. Said once per kind of failure.
      const why = tun.linkError?.message ?? 'unknown';
      if (why !== linkUnknown)
        log.verbose(`link state unknown, kept as ${device.up ? 'up' : 'down'}: ${why}`);
      linkUnknown = why;
      return;
    }
    linkUnknown = null;
    if (netns !== null && state.netns !== netns)
      log.verbose(`link ${state.name} moved to another network namespace`);
    netns = state.netns;
    onNetns(netns);
    device.setUp(state.up);
  };
}
