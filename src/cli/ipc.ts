/**
 * How wgts reaches an interface: the cross-platform UAPI socket /var/run/wireguard/IFNAME.sock of
 * a userspace daemon (wgtsd, wireguard-go), following wireguard-tools src/ipc.c and
 * src/ipc-uapi-unix.h step by step so that errors read as wg's do:
 *
 * - an interface "exists" when its socket path is a socket that accepts a connection; a socket that
 *   refuses (its daemon died) is unlinked, as wg does;
 * - otherwise wg would ask the kernel over netlink. wgts speaks no netlink, so it reports what wg
 *   reports when the kernel has no such WireGuard interface: ENODEV ("No such device") when the
 *   wireguard module is loaded, EPROTONOSUPPORT ("Protocol not supported") when it is not;
 * - interfaces are listed in the directory's own order (readdir, not sorted), as `wg show all`
 *   lists them, and a socket counts as an interface unless connecting is refused: a non-root user
 *   (EACCES on a root-owned socket) sees every interface listed and each one reported as
 *   `Permission denied`, as with wg. Kernel WireGuard interfaces are not listed (deliberate:
 *   userspace only).
 *
 * Failures are IpcError, whose message is wg's line (`Unable to access interface: No such device`).
 * Deliberately better than wg: where wg's line hides the cause, the error carries a `hint`, printed
 * as a second line `wgts: HINT` (ipcErrorLines): a missing interface (no socket), a stale socket
 * (its daemon died; removed, as wg removes it), a path that is not a socket, all of which wg reports
 * alike as the kernel's answer, and a listen port already in use (wg: `Address already in use`),
 * where the hint names the port.
 */
import { existsSync, opendirSync, statSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { SOCKET_DIRECTORY, socketPath } from '../daemon/socket-path.js';
import { uapiGetText, uapiSet } from '../uapi/client.js';
import { daemonExtensions, setForDaemon } from '../uapi/extensions.js';
import { EADDRINUSE, UapiError } from '../uapi/errno.js';
import type { DeviceSet } from '../uapi/types.js';
import { DeviceReadError, parseDeviceReply, type WgDevice } from './device.js';
import { errnoOf, strerror } from './errno-text.js';

const ENODEV = 19;
const EPROTONOSUPPORT = 93;
const ECONNREFUSED = 111;

export type IpcOperation = 'access' | 'modify' | 'retrieve' | 'list';

const PREFIX: Readonly<Record<IpcOperation, string>> = {
  access: 'Unable to access interface',
  modify: 'Unable to modify interface',
  retrieve: 'Unable to retrieve current interface configuration',
  list: 'Unable to list interfaces',
};

/** An interface could not be read, configured or listed; `message` is wg's whole line. */
export class IpcError extends Error {
  /** Positive errno. */
  readonly errno: number;
  readonly reason: string;
  readonly operation: IpcOperation;
  readonly code = 'EIPC';
  /** What wg's line does not say (the real cause, what to do); null when it says it all. */
  readonly hint: string | null;

  constructor(operation: IpcOperation, errno: number, options?: { cause?: unknown; hint?: string }) {
    const reason = strerror(errno);
    super(`${PREFIX[operation]}: ${reason}`, options);
    this.name = 'IpcError';
    this.errno = Math.abs(errno);
    this.reason = reason;
    this.operation = operation;
    this.hint = options?.hint ?? null;
  }
}

/** What a command prints for `err`: wg's line, then the hint (if any) as `wgts: HINT`. */
export function ipcErrorLines(err: IpcError): string {
  return `${err.message}\n${err.hint === null ? '' : `wgts: ${err.hint}\n`}`;
}

/** The directory the sockets live in (overridable for tests with WGTS_UAPI_DIR). */
export function uapiDirectory(env: NodeJS.ProcessEnv = process.env): string {
  return env['WGTS_UAPI_DIR'] ?? SOCKET_DIRECTORY;
}

function tryConnect(path: string): Promise<number> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(0);
    });
    s.once('error', (err) => {
      s.destroy();
      resolve(errnoOf(err));
    });
  });
}

/** Why there is no userspace interface to talk to (where wg would go on to ask the kernel). */
type Absence = 'missing' | 'stale' | 'stale-kept' | 'not-a-socket' | 'bad-name';

/**
 * wg's userspace_has_wireguard_interface then userspace_interface_file: 0 when the daemon answers,
 * the errno of a failed connect (EACCES for a non-root user, say), or why there is no interface.
 */
async function probe(ifname: string, dir: string): Promise<number | Absence> {
  if (ifname.includes('/')) return 'bad-name';
  const path = socketPath(ifname, dir);
  try {
    if (!statSync(path).isSocket()) return 'not-a-socket';
  } catch {
    return 'missing';
  }
  const errno = await tryConnect(path);
  if (errno === ECONNREFUSED) {
    try {
      unlinkSync(path);
      return 'stale';
    } catch {
      return 'stale-kept';
    }
  }
  return errno;
}

/** The error wg reports for an interface that does not exist, with the hint wg lacks. */
function absent(op: IpcOperation, ifname: string, dir: string, why: Absence): IpcError {
  // wg's kernel fallback: ENODEV with the wireguard module loaded, EPROTONOSUPPORT without.
  const errno = existsSync('/sys/module/wireguard') ? ENODEV : EPROTONOSUPPORT;
  const path = socketPath(ifname, dir);
  const start = `start it with \`wgts up ${ifname}' or \`wgtsd ${ifname}'`;
  const hints: Record<Absence, string> = {
    missing: existsSync(`/sys/class/net/${ifname}`)
      ? `${ifname} has no userspace daemon (no ${path}); wgts reaches userspace interfaces only`
      : `no interface ${ifname}: no daemon serves it (${path} does not exist); ${start}`,
    stale: `the daemon of ${ifname} is gone: nothing listens on ${path} (now removed); ${start}`,
    'stale-kept': `the daemon of ${ifname} is gone: nothing listens on ${path} (remove it as root)`,
    'not-a-socket': `${path} is not a socket, so no daemon serves ${ifname}`,
    'bad-name': `'${ifname}' is not an interface name (it contains '/')`,
  };
  return new IpcError(op, errno, { hint: hints[why] });
}

function fromUapi(op: IpcOperation, err: unknown): IpcError {
  if (err instanceof UapiError) return new IpcError(op, Math.abs(err.errno), { cause: err });
  if (err instanceof DeviceReadError) return new IpcError(op, err.errno, { cause: err });
  return new IpcError(op, errnoOf(err), { cause: err });
}

/** The userspace interfaces, in directory order. Throws IpcError('list'). */
export async function listInterfaces(dir = uapiDirectory()): Promise<string[]> {
  let handle;
  try {
    handle = opendirSync(dir);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return [];
    throw new IpcError('list', errnoOf(err), { cause: err });
  }
  const names: string[] = [];
  try {
    for (let ent = handle.readSync(); ent !== null; ent = handle.readSync()) {
      const n = ent.name;
      if (n.length <= 5 || !n.endsWith('.sock')) continue;
      names.push(n.slice(0, -5));
    }
  } finally {
    handle.closeSync();
  }
  // As wg: listed unless it is gone or refuses connections (stale sockets are removed here).
  const live: string[] = [];
  for (const name of names) if (typeof (await probe(name, dir)) === 'number') live.push(name);
  return live;
}

/** Reads an interface. Throws IpcError(`op`, default 'access'). */
export async function getDevice(
  ifname: string,
  op: IpcOperation = 'access',
  dir = uapiDirectory(),
): Promise<WgDevice> {
  const errno = await probe(ifname, dir);
  if (typeof errno !== 'number') throw absent(op, ifname, dir, errno);
  if (errno !== 0) throw new IpcError(op, errno);
  try {
    return parseDeviceReply(ifname, await uapiGetText(socketPath(ifname, dir)));
  } catch (err) {
    throw fromUapi(op, err);
  }
}

/**
 * Sends one `set=1` request. Throws IpcError('modify'). The wgts extensions in `set` (endpoint
 * hostnames) go only to a daemon that announces them (uapi/extensions.ts); to wireguard-go the
 * request is what wg would send.
 */
export async function setDevice(ifname: string, set: DeviceSet, dir = uapiDirectory()): Promise<void> {
  const errno = await probe(ifname, dir);
  if (typeof errno !== 'number') throw absent('modify', ifname, dir, errno);
  if (errno !== 0) throw new IpcError('modify', errno);
  const path = socketPath(ifname, dir);
  try {
    await uapiSet(path, setForDaemon(set, daemonExtensions(path)));
  } catch (err) {
    if (err instanceof UapiError && err.errno === EADDRINUSE && set.listenPort !== undefined) {
      const port = set.listenPort;
      throw new IpcError('modify', -EADDRINUSE, {
        cause: err,
        hint:
          `UDP port ${port} is already in use by another socket (\`ss -ulpn sport = :${port}' shows which); ` +
          'choose another port (ListenPort, listen-port), or 0 for a random one',
      });
    }
    throw fromUapi('modify', err);
  }
}
