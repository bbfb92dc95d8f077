/**
 * How wgts learns that a UAPI socket is served by wgtsd, which speaks the wgts extensions
 * (docs/uapi-extensions.md), without ever sending wireguard-go anything it would refuse: the
 * cross-platform UAPI has no version handshake, `get=1` output must stay byte-identical to
 * wireguard-go's, and wireguard-go answers an unknown key with EINVAL and an unknown operation by
 * closing the connection. So the announcement is out of band, a file next to the socket:
 *
 *   /var/run/wireguard/IFNAME.wgts   {"daemon":"wgtsd","socketInode":N,"extensions":[...]}
 *
 * written by wgtsd once it listens, removed when it stops. wg(8), wg-quick and wireguard-go look
 * only at `*.sock` files there. The announcement counts only while `socketInode` is the inode of
 * IFNAME.sock now, so a file left by a wgtsd that died (no cleanup on SIGKILL) never makes wgts
 * send an extension to the wireguard-go that later took the name: its socket is another inode.
 */
import { readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import type { DeviceSet, PeerSet } from './types.js';

/** The extensions wgtsd speaks: `endpoint-hostname` is the peer key `wgts_endpoint_hostname`. */
export const WGTSD_EXTENSIONS: readonly string[] = ['endpoint-hostname'];

const NONE: ReadonlySet<string> = new Set();

/** The announcement's path for the socket at `socketPath` (`…/IFNAME.sock` → `…/IFNAME.wgts`). */
export function announcementPath(socketPath: string): string {
  return `${socketPath.replace(/\.sock$/, '')}.wgts`;
}

/** wgtsd: announces its extensions for the socket it listens on (inode `socketInode`). */
export function announceExtensions(socketPath: string, socketInode: number): void {
  const path = announcementPath(socketPath);
  const text = `${JSON.stringify({ daemon: 'wgtsd', socketInode, extensions: WGTSD_EXTENSIONS })}\n`;
  // Written aside and renamed, so a reader never sees half a file.
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: 0o644 });
  renameSync(temporary, path);
}

/** wgtsd, stopping: removes its announcement unless another daemon's has replaced it. */
export function withdrawExtensions(socketPath: string, socketInode: number): void {
  const path = announcementPath(socketPath);
  if (readAnnouncement(path)?.socketInode !== socketInode) return;
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}

function readAnnouncement(path: string): { socketInode: number; extensions: string[] } | null {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as { socketInode?: unknown; extensions?: unknown };
    if (typeof v.socketInode !== 'number' || !Array.isArray(v.extensions)) return null;
    return { socketInode: v.socketInode, extensions: v.extensions.filter((e) => typeof e === 'string') };
  } catch {
    return null;
  }
}

/** The extensions the daemon on `socketPath` announces now; empty for wireguard-go (or anyone else). */
export function daemonExtensions(socketPath: string): ReadonlySet<string> {
  const announced = readAnnouncement(announcementPath(socketPath));
  if (announced === null) return NONE;
  try {
    if (statSync(socketPath).ino !== announced.socketInode) return NONE;
  } catch {
    return NONE;
  }
  return new Set(announced.extensions);
}

/** `set` as a daemon announcing `extensions` may receive it: anything it would refuse removed. */
export function setForDaemon(set: DeviceSet, extensions: ReadonlySet<string>): DeviceSet {
  if (extensions.has('endpoint-hostname') || !set.peers.some((p) => p.endpointHostname !== undefined))
    return set;
  const peers = set.peers.map((p): PeerSet => {
    if (p.endpointHostname === undefined) return p;
    const { endpointHostname: _dropped, ...plain } = p;
    return plain;
  });
  return { ...set, peers };
}
