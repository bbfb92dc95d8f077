/**
 * The glue between a parsed proxy configuration and the userspace WireGuard device (the embeddable
 * device API over the userspace network stack). The integrator writes it; until then `wgts proxy`
 * reports that the device is missing, and tests inject their own opener (a host-backed network).
 */
import type { ProxyConfig } from './config-types.js';
import type { ProxyDevice } from './types.js';

export function openDevice(config: ProxyConfig): Promise<ProxyDevice> {
  void config;
  return Promise.reject(
    new Error('the userspace WireGuard device is not built into this wgts yet (src/proxy/open-device.ts)'),
  );
}
