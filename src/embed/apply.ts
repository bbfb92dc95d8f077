/**
 * How an embedded interface applies a configuration, at open and on every setConfig: as
 * `wg syncconf` does (wireguard-tools src/setconf.c; src/config/device-set.ts syncToDeviceSet),
 * the difference between the device's current state and the configuration, through the device's
 * UAPI-target apply (src/device/apply.ts), which binds a new port first and changes nothing when
 * that fails. One rule, shared with `wgts syncconf`.
 */
import { syncToDeviceSet } from '../config/device-set.js';
import type { WgConfig } from '../config/wg-config.js';
import type { Device } from '../device/device.js';
import { errnoName } from '../uapi/errno.js';
import type { DeviceSet } from '../uapi/types.js';

function isEmpty(set: DeviceSet): boolean {
  return (
    set.privateKey === undefined &&
    set.listenPort === undefined &&
    set.fwmark === undefined &&
    !set.replacePeers &&
    set.peers.length === 0
  );
}

/**
 * Applies `config` (endpoints resolved) to `device`. Resolves to false when there was nothing to
 * change; rejects with an Error whose `code` is the errno's name (EADDRINUSE, EIO) when the device
 * refused it, in which case nothing was changed.
 */
export async function applyConfig(device: Device, config: WgConfig): Promise<boolean> {
  const set = syncToDeviceSet(config, device.snapshot());
  if (isEmpty(set)) return false;
  const errno = await device.apply(set);
  if (errno !== 0) {
    const code = errnoName(errno);
    throw Object.assign(new Error(`the device refused the configuration (${code})`), { code });
  }
  return true;
}
