/**
 * Applies a parsed wg(8) config file to a userspace daemon over the UAPI
 * (/var/run/wireguard/IFNAME.sock): what `setconf`, `addconf`, `syncconf` and wg-quick's `up`
 * share. Hostname endpoints are resolved first (with wg's retries), so a failure anywhere applies
 * nothing; then one `set=1` request carries the whole change (config/device-set.ts):
 *
 * - 'set'  (wg setconf): the file replaces the whole configuration;
 * - 'add'  (wg addconf): the file's settings and peers are added or updated;
 * - 'sync' (wg syncconf): the current state is read and only what differs is changed, so an
 *   unchanged private key and unchanged peers keep their sessions.
 *
 * Throws ConfigError (an endpoint could not be resolved, FILE:LINE) or IpcError (the interface
 * could not be read or configured; its message is wg's line, e.g. `Unable to modify interface:
 * Protocol not supported`).
 */
import { configToDeviceSet, syncToDeviceSet } from '../config/device-set.js';
import { resolveWgConfig, type ResolveOptions } from '../config/resolve.js';
import type { WgConfig } from '../config/wg-config.js';
import type { DeviceSet } from '../uapi/types.js';
import { getDevice, setDevice } from './ipc.js';

export type ApplyMode = 'set' | 'add' | 'sync';

function isEmpty(set: DeviceSet): boolean {
  return (
    set.privateKey === undefined &&
    set.listenPort === undefined &&
    set.fwmark === undefined &&
    !set.replacePeers &&
    set.peers.length === 0
  );
}

export async function applyWgConfig(
  ifname: string,
  config: WgConfig,
  mode: ApplyMode,
  options: ResolveOptions = {},
): Promise<void> {
  const resolved = await resolveWgConfig(config, options);
  let set: DeviceSet;
  if (mode === 'sync') {
    set = syncToDeviceSet(resolved, await getDevice(ifname, 'retrieve'));
    if (isEmpty(set)) return;
  } else set = configToDeviceSet(resolved, mode);
  await setDevice(ifname, set);
}
