/**
 * The metrics listen address, `HOST:PORT` as wgtsd's `--metrics` and WGTS_METRICS take it: an
 * IPv4 address or host name, or an IPv6 address in brackets (`[::1]:9586`), and a decimal port
 * 1-65535. An empty host (`:9586`) listens on every address, as Go's and Node's listeners do.
 * A bad value is an error that names it, so the daemon refuses to start rather than run without
 * the endpoint it was asked for.
 */
import { isIP } from 'node:net';

export interface ListenAddress {
  /** '' for every address; an IPv6 address without brackets. */
  readonly host: string;
  readonly port: number;
}

export class ListenAddressError extends Error {
  readonly code = 'EINVAL';
}

const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export function parseListenAddress(text: string, what = 'metrics address'): ListenAddress {
  const bad = (why: string): ListenAddressError =>
    new ListenAddressError(
      `invalid ${what} '${text}': ${why} (expected HOST:PORT, e.g. 127.0.0.1:9586 or [::1]:9586)`,
    );
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':')
      throw bad('an IPv6 address in brackets must be followed by :PORT');
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (isIP(host) !== 6) throw bad(`'${host}' is not an IPv6 address`);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) throw bad('no port');
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) throw bad('an IPv6 address must be in brackets');
    if (host !== '' && isIP(host) !== 4 && !HOST_NAME.test(host))
      throw bad(`'${host}' is not an address or host name`);
  }
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) throw bad(`'${portText}' is not a port number 1-65535`);
  return { host, port };
}

/** The address as it was given, for messages: IPv6 in brackets. */
export function formatListenAddress(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
