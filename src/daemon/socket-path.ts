/**
 * The UAPI socket's place in the filesystem (wireguard.com/xplatform, wireguard-go's
 * ipc/uapi_unix.go): /var/run/wireguard/IFNAME.sock, the directory mode 0755, the socket created
 * under umask 077. A socket file that refuses connections is stale (its daemon died) and is
 * removed; one that accepts means a live daemon already owns the interface.
 */
import { chmodSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';

export const SOCKET_DIRECTORY = '/var/run/wireguard';

export function socketPath(ifname: string, directory = SOCKET_DIRECTORY): string {
  return `${directory}/${ifname}.sock`;
}

/**
 * Creates the socket directory if missing, mode 0755 exactly. (mkdir's mode passes through the
 * umask, and the daemon may run under umask 077, which would leave the directory 0700 and hide
 * every interface from non-root `wg show`; wireguard-go has that flaw.) An existing directory is
 * left as it is.
 */
export function ensureSocketDirectory(directory = SOCKET_DIRECTORY): void {
  const created = mkdirSync(directory, { recursive: true, mode: 0o755 });
  if (created !== undefined) chmodSync(directory, 0o755);
}

/**
 * 'live' when a daemon answers on `path` (or the answer is not a clear refusal: a full backlog,
 * say, which must not cost a live daemon its socket), 'stale' when a socket nobody listens on was
 * found and removed, 'absent' when there is nothing at `path`.
 */
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
    s.once('error', (err: NodeJS.ErrnoException) => {
      s.destroy();
      if (err.code === 'ENOENT') {
        resolve('absent');
        return;
      }
      if (err.code !== 'ECONNREFUSED' && err.code !== 'ENOTSOCK') {
        resolve('live');
        return;
      }
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
