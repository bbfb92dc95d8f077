/**
 * The UAPI client side (wireguard.com/xplatform; wireguard-tools' src/ipc-uapi.h): what the wgts
 * CLI uses to read and configure a userspace daemon, wgtsd or wireguard-go alike. One connection
 * per operation, as wg(8) does. A get reply is read up to its blank line and parsed by parseGet
 * (unknown keys skipped, as wg skips them); a set reply must be exactly `errno=N` and a blank line,
 * else EPROTO, as wg's fscanf demands. Failures are UapiError with a negative errno: the daemon's
 * own, −ENOENT/−ECONNREFUSED/−EACCES when the socket cannot be reached, −ETIMEDOUT when the daemon
 * does not answer within `timeoutMs`, −EPROTO for a reply cut short or malformed.
 */
import { connect } from 'node:net';
import { EPROTO, UAPI_ERRNO, UapiError, errnoFromSystemError } from './errno.js';
import { formatSet, parseGet } from './codec.js';
import type { DeviceSet, DeviceSnapshot } from './types.js';

export { formatSet, parseGet } from './codec.js';

export interface UapiClientOptions {
  /** Give up (−ETIMEDOUT) when the whole exchange takes longer; default 60 s. */
  readonly timeoutMs?: number;
}

const NL = 0x0a;

/**
 * Sends `request` and resolves with the reply up to and including its blank line (the first
 * `\n\n`, or a `\n` that starts the reply), decoded as latin1.
 */
function exchange(path: string, request: string, options: UapiClientOptions): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let last = NL; // a blank line at the very start ends the reply too
    let settled = false;
    const socket = connect(path);
    const finish = (err: UapiError | null, text?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err !== null) reject(err);
      else resolve(text ?? '');
    };
    const timer = setTimeout(
      () => finish(new UapiError(UAPI_ERRNO.ETIMEDOUT, `no reply from ${path} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on('connect', () => socket.write(request, 'latin1'));
    socket.on('data', (chunk: Buffer) => {
      let end = -1;
      if (last === NL && chunk[0] === NL) end = 0;
      else {
        const at = chunk.indexOf('\n\n', 0, 'latin1');
        if (at >= 0) end = at + 1;
      }
      if (end < 0) {
        chunks.push(chunk);
        total += chunk.length;
        last = chunk[chunk.length - 1] ?? last;
        return;
      }
      chunks.push(chunk.subarray(0, end + 1));
      finish(null, Buffer.concat(chunks, total + end + 1).toString('latin1'));
    });
    socket.on('error', (err) => {
      const errno = errnoFromSystemError(err);
      finish(new UapiError(errno, `UAPI socket ${path}: ${err.message}`, { cause: err }));
    });
    socket.on('close', () =>
      finish(new UapiError(EPROTO, `${path} closed the connection before its reply ended`)),
    );
  });
}

/** The raw `get=1` reply text (through `errno=N` and the blank line). */
export function uapiGetText(path: string, options: UapiClientOptions = {}): Promise<string> {
  return exchange(path, 'get=1\n\n', options);
}

/** Reads the device state; throws UapiError. */
export async function uapiGet(path: string, options: UapiClientOptions = {}): Promise<DeviceSnapshot> {
  return parseGet(await uapiGetText(path, options));
}

/**
 * Configures the device. `request` is a DeviceSet, or a set body as formatSet returns it (key=value
 * lines without `set=1` and without the final blank line; a blank line inside is a TypeError since
 * it would end the request early). Resolves on errno=0; throws UapiError otherwise.
 */
export async function uapiSet(
  path: string,
  request: string | DeviceSet,
  options: UapiClientOptions = {},
): Promise<void> {
  let body = typeof request === 'string' ? request : formatSet(request);
  if (body.startsWith('\n') || body.includes('\n\n')) {
    throw new TypeError('a UAPI set body must not contain a blank line');
  }
  if (body !== '' && !body.endsWith('\n')) body += '\n';
  const text = await exchange(path, `set=1\n${body}\n`, options);
  const m = /^errno=(-?[0-9]{1,10})\n\n$/.exec(text);
  if (m === null)
    throw new UapiError(EPROTO, `malformed set reply from ${path}: ${JSON.stringify(text.slice(0, 80))}`);
  const n = Number(m[1]);
  if (n !== 0) {
    const errno = n > 0 ? -n : n;
    throw new UapiError(errno, `set on ${path} failed with errno=${errno}`);
  }
}
