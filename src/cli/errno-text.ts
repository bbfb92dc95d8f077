/**
 * strerror(3) for the errnos the CLI can meet (glibc's wording), so `Unable to access interface:
 * No such device` reads exactly as wg(8) prints it. Unknown values print as glibc does:
 * `Unknown error N`.
 */
const TEXT: Readonly<Record<number, string>> = {
  1: 'Operation not permitted',
  2: 'No such file or directory',
  5: 'Input/output error',
  9: 'Bad file descriptor',
  11: 'Resource temporarily unavailable',
  12: 'Cannot allocate memory',
  13: 'Permission denied',
  17: 'File exists',
  19: 'No such device',
  20: 'Not a directory',
  21: 'Is a directory',
  22: 'Invalid argument',
  24: 'Too many open files',
  28: 'No space left on device',
  32: 'Broken pipe',
  36: 'File name too long',
  55: 'No anode',
  71: 'Protocol error',
  93: 'Protocol not supported',
  98: 'Address already in use',
  99: 'Cannot assign requested address',
  101: 'Network is unreachable',
  104: 'Connection reset by peer',
  110: 'Connection timed out',
  111: 'Connection refused',
};

/** errno (positive or negative) → glibc's message. */
export function strerror(errno: number): string {
  const n = Math.abs(errno);
  return TEXT[n] ?? `Unknown error ${n}`;
}

const BY_CODE: Readonly<Record<string, number>> = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EEXIST: 17,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EMFILE: 24,
  ENOSPC: 28,
  EPIPE: 32,
  ENAMETOOLONG: 36,
  EPROTO: 71,
  EPROTONOSUPPORT: 93,
  EADDRINUSE: 98,
  ENETUNREACH: 101,
  ECONNRESET: 104,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
};

/** The positive errno of a Node system error (`err.code`), or `fallback`. */
export function errnoOf(err: unknown, fallback = 5): number {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? (BY_CODE[code] ?? fallback) : fallback;
}

/** perror(3)-style text for a Node system error: glibc's message for its code. */
export function systemErrorText(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && BY_CODE[code] !== undefined) return strerror(BY_CODE[code]);
  return err instanceof Error ? err.message : String(err);
}
