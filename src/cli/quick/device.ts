/**
 * The `wg show IF …` and `wg set IF fwmark` calls wg-quick makes, answered over the UAPI socket
 * (wireguard.com/xplatform) of the userspace daemon, wgtsd or wireguard-go alike: allowed IPs and
 * endpoints as `wg show` prints them, the fwmark, and whether IF is a running userspace WireGuard
 * interface (`wg show interfaces`: a socket in /var/run/wireguard that accepts a connection).
 */
import { connect } from 'node:net';
import { existsSync, lstatSync } from 'node:fs';
import { uapiGet, uapiSet } from '../../uapi/client.js';
import { uapiSocketPath } from '../../uapi/server.js';
import type { DeviceSnapshot } from '../../uapi/types.js';
import { formatAllowedIP, formatEndpoint } from '../../uapi/values.js';

const UAPI_TIMEOUT_MS = 10_000;

/** `get=1` on IF's socket. */
export function getDevice(ifname: string): Promise<DeviceSnapshot> {
  return uapiGet(uapiSocketPath(ifname), { timeoutMs: UAPI_TIMEOUT_MS });
}

/** `wg set IF fwmark MARK`. */
export function setFwmark(ifname: string, fwmark: number): Promise<void> {
  return uapiSet(
    uapiSocketPath(ifname),
    { fwmark, replacePeers: false, peers: [] },
    { timeoutMs: UAPI_TIMEOUT_MS },
  );
}

/** Every peer's allowed IPs, as `wg show IF allowed-ips` prints them (`addr/cidr`). */
export function allowedIpsOf(device: DeviceSnapshot): string[] {
  return device.peers.flatMap((p) => p.allowedIPs.map(formatAllowedIP));
}

/** Every known endpoint, as `wg show IF endpoints` prints them (`ip:port`, `[ip6]:port`). */
export function endpointsOf(device: DeviceSnapshot): string[] {
  return device.peers.flatMap((p) => (p.endpoint === null ? [] : [formatEndpoint(p.endpoint)]));
}

/** True when IF's UAPI socket exists and accepts a connection (wg's userspace interface test). */
export function isUserspaceInterface(ifname: string, timeoutMs = 2_000): Promise<boolean> {
  const path = uapiSocketPath(ifname);
  try {
    if (!lstatSync(path).isSocket()) return Promise.resolve(false);
  } catch {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    const socket = connect(path);
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Waits (bounded) until IF's UAPI socket is gone, i.e. its daemon has exited. */
export async function waitSocketGone(ifname: string, timeoutMs: number): Promise<boolean> {
  const path = uapiSocketPath(ifname);
  const deadline = Date.now() + timeoutMs;
  while (existsSync(path)) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return true;
}
