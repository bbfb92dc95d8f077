/**
 * The `tun` backend's link (Documentation/networking/tuntap.rst; the addressing wg-quick(8) does
 * on `up`): the kernel TUN opened as wgtsd opens it (kernel-device.ts openKernelTun: IFF_TUN |
 * IFF_NO_PI, with offloads for the batched data path, MTU set, link down), then given the configuration's addresses and brought up with iproute2, so the
 * program can use Node's own `net` and `dgram` on it at once. Routes beyond each address's own
 * prefix are left to the caller, as are DNS settings: an embedded interface changes nothing of
 * the host's configuration but its own link (and the kernel deletes the link when it is closed).
 */
import { execFile } from 'node:child_process';
import type { LinuxTun } from '../io/tun.js';
import { formatPrefix, type IPPrefix } from '../routing/ip.js';
import { openKernelTun } from './kernel-device.js';

/** How long one `ip` command may take before the open is abandoned. */
const IP_TIMEOUT_MS = 10_000;

function ip(args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: IP_TIMEOUT_MS }, (err, _stdout, stderr) => {
      if (err === null) return resolve();
      const why = stderr.trim() !== '' ? stderr.trim() : err.message;
      reject(Object.assign(new Error(`ip ${args.join(' ')}: ${why}`), { code: 'ERR_WGTS_LINK_SETUP' }));
    });
  });
}

/**
 * Opens the TUN `name` (`wg%d` style names are completed by the kernel) with `mtu`, adds the
 * addresses and sets it up. On failure the TUN is closed (the link disappears) and the error thrown.
 */
export async function openKernelLink(
  name: string,
  mtu: number,
  addresses: readonly IPPrefix[],
): Promise<LinuxTun> {
  const tun = openKernelTun(name, { mtu });
  try {
    for (const a of addresses) {
      await ip([
        a.family === 6 ? '-6' : '-4',
        'address',
        'add',
        formatPrefix(a.bytes, a.cidr),
        'dev',
        tun.name,
      ]);
    }
    await ip(['link', 'set', 'dev', tun.name, 'up']);
  } catch (err) {
    tun.close();
    throw err;
  }
  return tun;
}
