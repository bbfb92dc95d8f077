/**
 * Whether the daemon's network link still exists: its ifindex from sysfs (/sys/class/net/IFNAME/
 * ifindex, which `ip netns exec` remounts per namespace). `ip link del` makes it vanish, and a new
 * link of the same name gets a new index, so comparing indices catches both.
 */
import { readFileSync } from 'node:fs';

export function linkIndex(ifname: string): number | null {
  try {
    return Number(readFileSync(`/sys/class/net/${ifname}/ifindex`, 'utf8').trim());
  } catch {
    return null;
  }
}
