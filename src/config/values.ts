/**
 * The value syntaxes of wg(8) (wg(8) "CONFIGURATION FILE FORMAT" and "COMMANDS"; wireguard-tools
 * src/config.c), shared by config files and `wgts set`: base64 keys, ports, fwmarks, persistent
 * keepalive intervals, allowed-IP lists and endpoints. Each parser returns the value or throws a
 * ValueError whose message is wg's own where wg has one (`Fwmark is neither 0/off nor
 * 0-0xffffffff: `x'`), so `wgts set` prints what `wg set` prints; config files add FILE:LINE.
 *
 * Deviations from wg 1.0.20210914, each stricter and deliberate:
 * - Ports are decimal 0-65535 (endpoints 1-65535). wg passes them to getaddrinfo(3), which also
 *   takes /etc/services names and silently turns 65536 into 0 (a random port).
 * - An endpoint's IPv6 address must be in brackets (`[2001:db8::1]:51820`); wg splits an
 *   unbracketed one at its last colon. Scope ids (`%eth0`) are refused: the UAPI endpoint types
 *   carry no scope. Hostnames are kept for resolve.ts.
 * - A private or preshared key that fails to parse is never echoed (wg echoes it).
 */
import { parseKeyBase64 } from '../crypto/keys.js';
import { maskPrefix, parseIP } from '../routing/ip.js';
import type { IpPrefix } from '../uapi/types.js';
import { isHostname } from '../uapi/values.js';

/** A bad value; `message` is ready to print (wg's wording where wg has one). */
export class ValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValueError';
  }
}

const KEY_CHARS = /^[A-Za-z0-9+/]*$/;

/** Why `text` is not a canonical 44-character base64 key, in a few words. */
export function keyProblem(text: string): string {
  if (text.length !== 44) return `${text.length} characters; a key is 44`;
  if (!text.endsWith('=')) return "a key ends with '='";
  const body = text.slice(0, 43);
  if (/[-_]/.test(body)) return "URL-safe base64 ('-' or '_'); keys use standard base64 ('+' and '/')";
  if (!KEY_CHARS.test(body)) return 'a character outside the base64 alphabet';
  return "the character before '=' is not canonical: its two low bits must be zero";
}

/**
 * A 32-byte key from wg's base64 form. `secret` keys are not echoed in the error. `detail` adds
 * keyProblem's explanation (config files do; `set` prints wg's message only).
 */
export function parseKey(text: string, opts: { secret: boolean; detail?: boolean }): Uint8Array {
  const key = parseKeyBase64(text);
  if (key !== null) return key;
  let message = 'Key is not the correct length or format';
  if (!opts.secret) message += `: \`${text}'`;
  if (opts.detail === true) message += ` (${keyProblem(text)})`;
  throw new ValueError(message);
}

function decimal(text: string, max: number): number | null {
  if (!/^[0-9]{1,10}$/.test(text)) return null;
  const n = Number(text);
  return n <= max ? n : null;
}

/** ListenPort / listen-port: decimal 0-65535 (0 = pick a random port). */
export function parsePort(text: string): number {
  if (text === '') throw new ValueError('Unable to parse empty port');
  const n = decimal(text, 0xffff);
  if (n === null) throw new ValueError(`Listen port is not a number from 0 to 65535: \`${text}'`);
  return n;
}

/** FwMark / fwmark: `off`, decimal, or 0x-prefixed hex, up to 0xffffffff (0 and off remove it). */
export function parseFwmark(text: string): number {
  if (text.toLowerCase() === 'off') return 0;
  let n: number | null = null;
  if (/^0x[0-9a-fA-F]+$/.test(text)) {
    const digits = text.slice(2).replace(/^0+(?=[0-9a-fA-F])/, '');
    n = digits.length <= 8 ? parseInt(digits, 16) : null;
  } else if (/^[0-9]+$/.test(text)) n = decimal(text.replace(/^0+(?=[0-9])/, ''), 0xffffffff);
  if (n === null) throw new ValueError(`Fwmark is neither 0/off nor 0-0xffffffff: \`${text}'`);
  return n;
}

/** PersistentKeepalive / persistent-keepalive: `off` or 0-65535 seconds (0 = off). */
export function parseKeepalive(text: string): number {
  if (text.toLowerCase() === 'off') return 0;
  const n = /^[0-9]+$/.test(text) ? decimal(text.replace(/^0+(?=[0-9])/, ''), 0xffff) : null;
  if (n === null) {
    throw new ValueError(`Persistent keepalive interval is neither 0/off nor 1-65535: \`${text}'`);
  }
  return n;
}

/** One entry of an allowed-IPs list, with the `+`/`-` of `wgts set` (config files refuse them). */
export interface AllowedIPEntry {
  readonly op: 'replace' | 'add' | 'remove';
  readonly prefix: IpPrefix;
  /** True when the address had bits set past the prefix (wg warns; the daemon masks them). */
  readonly hostBits: boolean;
  /** The entry as written, without its sign (for the warning). */
  readonly text: string;
}

/**
 * A comma-separated allowed-IPs list (whitespace already removed): `addr[/cidr]` each, a bare
 * address meaning /32 or /128. An empty string is an empty list. `signs` allows `+addr` and
 * `-addr` (newer wg(8)'s incremental changes).
 */
export function parseAllowedIPs(text: string, signs: boolean): AllowedIPEntry[] {
  if (text === '') return [];
  return text.split(',').map((raw): AllowedIPEntry => {
    let op: AllowedIPEntry['op'] = 'replace';
    let entry = raw;
    if (entry.startsWith('+') || entry.startsWith('-')) {
      if (!signs) {
        throw new ValueError(
          `AllowedIP is not in the correct format: \`${raw}' (+/- changes are only for \`set')`,
        );
      }
      op = entry.startsWith('+') ? 'add' : 'remove';
      entry = entry.slice(1);
    }
    const slash = entry.indexOf('/');
    const addrText = slash < 0 ? entry : entry.slice(0, slash);
    const ip = parseIP(addrText);
    if (ip === null) throw new ValueError(`Unable to parse IP address: \`${addrText}'`);
    const bits = ip.family === 4 ? 32 : 128;
    let cidr = bits;
    if (slash >= 0) {
      const c = entry.slice(slash + 1);
      // wg takes strtoul's digits (leading zeros allowed); anything else is malformed.
      const n = /^[0-9]{1,5}$/.test(c) ? Number(c) : Number.NaN;
      if (!(n <= bits)) throw new ValueError(`AllowedIP is not in the correct format: \`${entry}'`);
      cidr = n;
    }
    const masked = maskPrefix(ip.bytes, cidr);
    const hostBits = masked.some((b, i) => b !== ip.bytes[i]);
    return { op, prefix: { family: ip.family, bytes: masked, cidr }, hostBits, text: entry };
  });
}

/** wg's warning for an allowed IP with host bits set (`10.1.2.3/8`). */
export function hostBitsWarning(entry: AllowedIPEntry): string {
  const slash = entry.text.indexOf('/');
  const ip = slash < 0 ? entry.text : entry.text.slice(0, slash);
  const mask = slash < 0 ? '(null)' : entry.text.slice(slash + 1);
  return `Warning: AllowedIP has nonzero host part: ${ip}/${mask}`;
}

/** An endpoint as written: an address literal (already parsed) or a hostname to resolve. */
export interface EndpointSpec {
  /** The host without brackets. */
  readonly host: string;
  readonly port: number;
  /** The parsed literal; null for a hostname. */
  readonly address: Uint8Array | null;
  /** The text as written (for messages). */
  readonly text: string;
}

/** `host:port`, `a.b.c.d:port` or `[v6]:port`. */
export function parseEndpointSpec(text: string): EndpointSpec {
  if (text === '') throw new ValueError('Unable to parse empty endpoint');
  let host: string;
  let portText: string;
  let bracketed = false;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw new ValueError(`Unable to find matching brace of endpoint: \`${text}'`);
    host = text.slice(1, close);
    if (text[close + 1] !== ':' || close + 2 >= text.length) {
      throw new ValueError(`Unable to find port of endpoint: \`${text}'`);
    }
    portText = text.slice(close + 2);
    bracketed = true;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0 || colon === text.length - 1) {
      throw new ValueError(`Unable to find port of endpoint: \`${text}'`);
    }
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
  }
  const port = decimal(portText, 0xffff);
  if (port === null || port === 0) {
    throw new ValueError(`Endpoint port is not a number from 1 to 65535: \`${text}'`);
  }
  if (host.includes('%')) {
    throw new ValueError(`Endpoint scope ids (%interface) are not supported: \`${text}'`);
  }
  const ip = parseIP(host);
  if (bracketed) {
    if (ip === null || ip.family !== 6) {
      throw new ValueError(`Brackets in an endpoint must hold an IPv6 address: \`${text}'`);
    }
    return { host, port, address: ip.bytes, text };
  }
  if (host.includes(':')) {
    throw new ValueError(`An IPv6 endpoint address must be in brackets, as [address]:port: \`${text}'`);
  }
  if (ip !== null) return { host, port, address: ip.bytes, text };
  if (!isHostname(host)) throw new ValueError(`Endpoint host is not an address or a hostname: \`${text}'`);
  return { host, port, address: null, text };
}
