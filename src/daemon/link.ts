/**
 * Whether the daemon's network link still exists: its current ifindex, asked of the kernel with
 * SIOCGIFINDEX on a socket of the daemon's own network namespace. (Reading /sys/class/net would
 * answer for whichever namespace sysfs was mounted in: right under `ip netns exec`, which remounts
 * it, but wrong under `nsenter --net` or `unshare --net`, where the daemon would then believe its
 * link deleted at once.) `ip link del` makes the name vanish, and a new link of the same name gets
 * a new index, so comparing indices catches both.
 */
import { loadNative } from '../io/native.js';

/**
 * The link's current ifindex; null when no link has that name (ENODEV); undefined when the
 * kernel could not be asked (no socket, say: out of descriptors), so the caller tries again later
 * instead of mistaking it for a deleted link.
 */
export function linkIndex(ifname: string): number | null | undefined {
  try {
    return loadNative().linkIndex(ifname);
  } catch (err) {
    return (err as { code?: unknown }).code === 'ENODEV' ? null : undefined;
  }
}

const IFF_UP = 0x1;

/** Whether the link is administratively up; undefined when the kernel could not be asked. */
export function linkIsUp(ifname: string): boolean | undefined {
  try {
    return (loadNative().linkFlags(ifname) & IFF_UP) !== 0;
  } catch {
    return undefined;
  }
}
