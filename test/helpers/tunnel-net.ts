/**
 * The network plumbing of the tunnel peer fixture (tunnel-peer.ts): interface names with the
 * fixture's `tf` prefix, the choice of a free 10.N.0.0/24 (and fdNN::/64) for the veth between
 * the host namespace and the peer's (claimed by a lock file when that is the shared root
 * namespace), and that veth itself (one end in a namespace or in this
 * process's, the other in the peer's; both families, v6 with nodad; tracked by netns.ts so cleanup
 * deletes it by name if the namespace deletion did not take it along).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execOk, trackLink, trackPath, untrackPath, waitLinkReady } from './netns.js';

let planCount = 0;
let ifCount = 0;

/** A unique interface name with this fixture's prefix: `tf<pid base 36><tag><n base 36>` (≤ 15). */
export function tfIfname(tag: string): string {
  ifCount += 1;
  const name = `tf${process.pid.toString(36)}${tag}${ifCount.toString(36)}`;
  if (name.length > 15) throw new Error(`interface name too long: ${name}`);
  return name;
}

/** Where N is claimed across processes sharing the root namespace (one file per N, holding a pid). */
export const N_LOCK_DIR = '/run/wgts-tunnel-peer';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Claims N for this process (O_EXCL), taking over a claim whose process is gone. */
function claim(n: number): (() => void) | null {
  mkdirSync(N_LOCK_DIR, { recursive: true });
  const path = join(N_LOCK_DIR, `${n}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
      trackPath(path);
      return () => {
        rmSync(path, { force: true });
        untrackPath(path);
      };
    } catch {
      let owner = NaN;
      try {
        owner = Number(readFileSync(path, 'utf8').trim());
      } catch {
        // vanished meanwhile: try again
      }
      if (Number.isInteger(owner) && alive(owner)) return null;
      rmSync(path, { force: true });
    }
  }
  return null;
}

/**
 * A free N: no address of `hostNs` in 10.N.0.0/24 (or fdNN::/64) and, for the root namespace
 * (shared by every test process), claimed in N_LOCK_DIR so two processes never take the same N.
 * `release()` gives the claim back (cleanup() also removes it).
 */
export async function pickN(hostNs: string | null): Promise<{ n: number; release: () => void }> {
  const r = await execOk(hostNs, 'ip', ['-o', 'addr', 'show']);
  for (let i = 0; i < 250; i++) {
    planCount += 1;
    const n = ((process.pid * 7 + planCount * 13) % 250) + 1;
    const hh = n.toString(16).padStart(2, '0');
    if (r.stdout.includes(` 10.${n}.0.`) || r.stdout.includes(` fd${hh}::`)) continue;
    if (hostNs !== null) return { n, release: () => undefined };
    const release = claim(n);
    if (release !== null) return { n, release };
  }
  throw new Error('no free 10.N.0.0/24 in the host namespace');
}

/** A veth with one end in `hostNs` (null: this process's namespace) and the other in `peerNs`. */
export async function joinVeth(
  hostNs: string | null,
  peerNs: string,
  cidrs: readonly [string, string, string, string],
): Promise<{ hostIf: string; peerIf: string }> {
  const hostIf = tfIfname('v');
  const peerIf = tfIfname('v');
  await execOk(hostNs, 'ip', [
    'link',
    'add',
    hostIf,
    'type',
    'veth',
    'peer',
    'name',
    peerIf,
    'netns',
    peerNs,
  ]);
  trackLink(hostNs, hostIf);
  for (const [ns, dev, v4, v6] of [
    [hostNs, hostIf, cidrs[0], cidrs[2]],
    [peerNs, peerIf, cidrs[1], cidrs[3]],
  ] as const) {
    await execOk(ns, 'ip', ['-4', 'addr', 'add', v4, 'dev', dev]);
    await execOk(ns, 'ip', ['-6', 'addr', 'add', v6, 'dev', dev, 'nodad']);
    await execOk(ns, 'ip', ['link', 'set', 'dev', dev, 'up']);
  }
  await waitLinkReady(peerNs, peerIf);
  return { hostIf, peerIf };
}
