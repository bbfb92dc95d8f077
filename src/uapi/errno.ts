/**
 * The one errno table of the cross-platform UAPI (wireguard.com/xplatform, "errno=N" replies) and
 * the error type every UAPI failure travels in. Values are Linux's, negated, exactly as
 * wireguard-go's ipc/uapi_unix.go defines them: IpcErrorIO −EIO, IpcErrorProtocol −EPROTO,
 * IpcErrorInvalid −EINVAL, IpcErrorPortInUse −EADDRINUSE and IpcErrorUnknown −55. The other entries
 * are what a client meets before the daemon answers (no socket, refused, timed out), so the CLI can
 * report them through the same type, as wg(8) does with −errno.
 */
import { constants as osConstants } from 'node:os';

/** Negative errno values carried in `errno=N` (0 is success and has no entry). */
export const UAPI_ERRNO = {
  /** A read/write failed, a line or request was too long, or the server hit a bug. */
  EIO: -5,
  /** A line without `=`; also what wg(8) reports for a reply it cannot parse. */
  EPROTO: -71,
  /** Unknown key, key in the wrong section, or a bad value. */
  EINVAL: -22,
  /** listen_port (or fwmark) could not be applied to the socket. */
  EADDRINUSE: -98,
  /** wireguard-go's IpcErrorUnknown ("other UAPI error", 55 is ENOANO on Linux). */
  ENOANO: -55,
  /** Client side: no socket at the path (the interface does not exist). */
  ENOENT: -2,
  /** Client side: the socket's permissions refused us. */
  EACCES: -13,
  /** Client side: no such device. */
  ENODEV: -19,
  /** Client side: the daemon did not answer in time. */
  ETIMEDOUT: -110,
  /** Client side: a stale socket (nothing listens on it). */
  ECONNREFUSED: -111,
} as const;

export type UapiErrnoName = keyof typeof UAPI_ERRNO;

export const EIO = UAPI_ERRNO.EIO;
export const EPROTO = UAPI_ERRNO.EPROTO;
export const EINVAL = UAPI_ERRNO.EINVAL;
export const EADDRINUSE = UAPI_ERRNO.EADDRINUSE;
/** wireguard-go's IpcErrorUnknown: the errno for an error that carries none. */
export const EUNKNOWN = UAPI_ERRNO.ENOANO;

const NAMES = new Map<number, UapiErrnoName>(
  (Object.keys(UAPI_ERRNO) as UapiErrnoName[]).map((name) => [UAPI_ERRNO[name], name]),
);

/** `EINVAL` for −22; `E<n>` for a value outside the table. */
export function errnoName(errno: number): string {
  return NAMES.get(errno) ?? `E${Math.abs(errno)}`;
}

/**
 * A UAPI failure: `errno` is the negative value sent (or received) as `errno=N`; `code` is its
 * stable name (`EINVAL`); `message` explains it for logs and users and never contains key material.
 */
export class UapiError extends Error {
  readonly errno: number;
  readonly code: string;

  constructor(errno: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UapiError';
    this.errno = errno;
    this.code = errnoName(errno);
  }
}

/**
 * The negative errno for a Node system error (`err.code === 'ENOENT'` and the like, from connect or
 * write), or `fallback` when it is not one. Used by the client so `wg`-style callers get −errno.
 */
export function errnoFromSystemError(err: unknown, fallback: number = EIO): number {
  if (err instanceof UapiError) return err.errno;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    const table = osConstants.errno as Readonly<Record<string, number>>;
    const value = table[code];
    if (typeof value === 'number' && value > 0) return -value;
  }
  return fallback;
}
