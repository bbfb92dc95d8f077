/**
 * The UAPI socket's place in the filesystem (wireguard.com/xplatform, wireguard-go's
 * ipc/uapi_unix.go): /var/run/wireguard/IFNAME.sock, the directory mode 0755, the socket created
 * under umask 077. A socket file that refuses connections is stale (its daemon died) and is
 * removed; one that accepts means a live daemon already owns the interface.
 */
import { mkdirSync, statSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';

export const SOCKET_DIRECTORY = '/var/run/wireguard';

export function socketPath(ifname: string, directory = SOCKET_DIRECTORY): string {
  return `${directory}/${ifname}.sock`;
}

export function ensureSocketDirectory(directory = SOCKET_DIRECTORY): void {
  mkdirSync(directory, { recursive: true, mode: 0o755 });
}

/** 'live' when a daemon answers on `path`, 'stale' when a dead socket was removed, 'absent' otherwise. */
export function probeSocket(path: string): Promise<'live' | 'stale' | 'absent'> {
  try {
    statSync(path);
  } catch {
    return Promise.resolve('absent');
  }
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve('live');
    });
    s.once('error', () => {
      try {
        unlinkSync(path);
      } catch {
        // Already gone: fine.
      }
      resolve('stale');
    });
  });
}

/** The inode of `path`, or null: lets the daemon notice its socket file was removed or replaced. */
export function inodeOf(path: string): number | null {
  try {
    return statSync(path).ino;
  } catch {
    return null;
  }
}
