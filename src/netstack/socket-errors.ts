/**
 * Errors in Node's own shape, so code written for net/dgram handles tunnel errors unchanged:
 * libuv's negative errno, `code`, `syscall`, and for connect/listen/bind the `address` and `port`
 * that Node's exceptionWithHostPort adds, with the same message layouts
 * ('connect ECONNREFUSED 10.0.0.2:80', 'read ECONNRESET',
 * 'listen EADDRINUSE: address already in use :::80').
 */
import { constants } from 'node:os';

export interface NodeSystemError extends Error {
  errno: number;
  code: string;
  syscall: string;
  address?: string;
  port?: number;
}

/** libuv's descriptions, which Node puts in listen errors. */
const DESCRIPTIONS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available',
};

function errnoOf(code: string): number {
  const table = constants.errno as Readonly<Record<string, number>>;
  const value = table[code];
  return value === undefined ? 0 : -value;
}

/**
 * An error as Node builds it for a failed system call. `describe` adds libuv's text after the
 * code, as Node does for listen ('listen EADDRINUSE: address already in use ...').
 */
export function systemError(
  syscall: string,
  code: string,
  address?: string,
  port?: number,
  describe = false,
): NodeSystemError {
  let message = `${syscall} ${code}`;
  const description = DESCRIPTIONS[code];
  if (describe && description !== undefined) message += `: ${description}`;
  if (address !== undefined) message += port !== undefined ? ` ${address}:${port}` : ` ${address}`;
  const error = new Error(message) as NodeSystemError;
  error.errno = errnoOf(code);
  error.code = code;
  error.syscall = syscall;
  if (address !== undefined) error.address = address;
  if (port !== undefined) error.port = port;
  return error;
}

/** Node's getaddrinfo failure ('getaddrinfo ENOTFOUND example.com'), for names the DNS lacks. */
export function lookupError(hostname: string, code = 'ENOTFOUND'): NodeSystemError {
  const error = new Error(`getaddrinfo ${code} ${hostname}`) as NodeSystemError & { hostname: string };
  error.errno = code === 'ENOTFOUND' ? -3008 : errnoOf(code);
  error.code = code;
  error.syscall = 'getaddrinfo';
  error.hostname = hostname;
  return error;
}
