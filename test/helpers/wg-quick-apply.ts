/**
 * Applies a wg-quick(8) file to a kernel-TUN daemon's interface inside a test namespace, doing what
 * wg-quick's `up` does for a narrow tunnel: `wgts strip` then `wg setconf` (the wg(8) keys), the
 * Address lines (`ip addr add`, v6 with nodad), MTU and link up, one route per AllowedIPs entry.
 * Unlike wg-quick it never hands DNS to resolvconf (that would change the host's resolver) and
 * sets no policy routing, so it is only for AllowedIPs narrower than a default route. Used by
 * the tunnel peer fixture's test and by the rootless benchmark's kernel baseline.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execOk, trackPath } from './netns.js';
import { WGTSD_MAIN } from './wg-peer.js';

/** The compiled `wgts` CLI, beside the daemon in dist/src. */
export const WGTS_CLI = join(WGTSD_MAIN, '..', '..', 'cli', 'main.js');

/** The comma-separated values of `key` in the [Interface] or [Peer] lines of `text`. */
export function wgQuickValues(text: string, key: string): string[] {
  const m = new RegExp(`^\\s*${key}\\s*=\\s*(.*)$`, 'im').exec(text);
  return m === null
    ? []
    : m[1]!
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
}

/** See the header. `ifname` is the daemon's (already running) interface in `ns`. */
export async function applyWgQuick(ns: string, ifname: string, text: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nspf-conf-'));
  trackPath(dir);
  const file = join(dir, `${ifname}.conf`);
  writeFileSync(file, text, { mode: 0o600 });
  const stripped = await execOk(null, process.execPath, [WGTS_CLI, 'strip', file]);
  // A file, not /dev/stdin: Node's stdin pipe is a socket, which wg cannot fopen.
  writeFileSync(`${file}.stripped`, stripped.stdout, { mode: 0o600 });
  await execOk(ns, 'wg', ['setconf', ifname, `${file}.stripped`]);
  for (const cidr of wgQuickValues(text, 'Address')) {
    const v6 = cidr.includes(':');
    await execOk(ns, 'ip', [v6 ? '-6' : '-4', 'addr', 'add', cidr, 'dev', ifname, ...(v6 ? ['nodad'] : [])]);
  }
  const mtu = wgQuickValues(text, 'MTU')[0] ?? '1420';
  await execOk(ns, 'ip', ['link', 'set', 'dev', ifname, 'mtu', mtu, 'up']);
  for (const cidr of wgQuickValues(text, 'AllowedIPs')) {
    await execOk(ns, 'ip', [cidr.includes(':') ? '-6' : '-4', 'route', 'add', cidr, 'dev', ifname]);
  }
}
