/**
 * Value syntax of wireproxy's configuration: `$NAME` takes the value from the environment (`$$`
 * escapes a literal leading dollar), keys are 32-byte base64 (RFC 4648 §4), IP lists are comma
 * separated, and addresses are `host:port` with IPv6 literals bracketed (`[fd00::1]:80`, RFC 3986
 * §3.2.2). An empty host (`:1080`) means every local address, as in Go's net.Listen.
 */
import { isIP } from 'node:net';
import type { IniEntry } from './ini.js';
import { ProxyConfigError } from './config-error.js';

export interface HostPort {
  /** An IP literal (no brackets), a host name, or '' for "all local addresses". */
  readonly host: string;
  readonly port: number;
}

/** A value reader bound to one file, so every error says FILE:LINE. */
export class ValueReader {
  constructor(
    readonly file: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  fail(entry: { line: number }, problem: string, hint: string): never {
    throw new ProxyConfigError(this.file, entry.line, problem, hint);
  }

  /** The entry's value with `$NAME` expanded. */
  text(e: IniEntry): string {
    if (!e.value.startsWith('$')) return e.value;
    if (e.value.startsWith('$$')) return e.value.slice(1);
    const name = e.value.slice(1);
    const value = this.env[name];
    if (value === undefined) {
      this.fail(
        e,
        `${e.key} references the unset environment variable $${name}`,
        `export ${name} or write the value`,
      );
    }
    return value;
  }

  int(e: IniEntry, min: number, max: number): number {
    const s = this.text(e);
    if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max) {
      this.fail(e, `${e.key} = "${s}" is not a whole number from ${min} to ${max}`, 'fix the number');
    }
    return Number(s);
  }

  port(e: IniEntry): number {
    return this.int(e, 1, 65535);
  }

  key(e: IniEntry): string {
    const s = this.text(e);
    const bytes = Buffer.from(s, 'base64');
    if (!/^[A-Za-z0-9+/]{43}=$/.test(s) || bytes.length !== 32 || bytes.toString('base64') !== s) {
      this.fail(e, `${e.key} is not a 32-byte base64 key`, 'generate one with `wgts genkey` / `wgts pubkey`');
    }
    return s;
  }

  /** A comma-separated list of IP addresses. */
  ips(e: IniEntry): string[] {
    return this.list(e).map((s) => {
      if (isIP(s) === 0)
        this.fail(
          e,
          `${e.key}: "${s}" is not an IP address`,
          'write IPv4 or IPv6 addresses, comma separated',
        );
      return s;
    });
  }

  /** A comma-separated list of CIDR prefixes (`ip/len`); a bare address gets its full length. */
  prefixes(e: IniEntry): string[] {
    return this.list(e).map((s) => {
      const slash = s.indexOf('/');
      const ip = slash < 0 ? s : s.slice(0, slash);
      const family = isIP(ip);
      const max = family === 6 ? 128 : 32;
      const len = slash < 0 ? String(max) : s.slice(slash + 1);
      if (family === 0 || !/^\d+$/.test(len) || Number(len) > max) {
        this.fail(e, `${e.key}: "${s}" is not an address or prefix`, 'write e.g. 10.0.0.2/32 or fd00::2/128');
      }
      return `${ip}/${Number(len)}`;
    });
  }

  list(e: IniEntry): string[] {
    return this.text(e)
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }

  /** `host:port`, `[v6]:port` or `:port`; with `needHost`, the host must be given. */
  hostPort(e: IniEntry, needHost: boolean): HostPort {
    const s = this.text(e);
    const hp = splitHostPort(s);
    // A listener may ask for any free port (0); a target needs a real one.
    if (hp === null || (needHost && (hp.host === '' || hp.port === 0))) {
      this.fail(
        e,
        `${e.key} = "${s}" is not host:port`,
        'write host:port, with IPv6 in brackets: [fd00::1]:80',
      );
    }
    return hp;
  }
}

/** Splits `host:port` / `[v6]:port`; null when malformed. */
export function splitHostPort(s: string): HostPort | null {
  let host: string;
  let port: string;
  if (s.startsWith('[')) {
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(s);
    if (m === null || isIP(m[1]!) !== 6) return null;
    host = m[1]!;
    port = m[2]!;
  } else {
    const colon = s.lastIndexOf(':');
    if (colon < 0) return null;
    host = s.slice(0, colon);
    port = s.slice(colon + 1);
    if (host.includes(':')) return null; // an unbracketed IPv6 literal is ambiguous
    if (host !== '' && isIP(host) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9.])?$/.test(host))
      return null;
  }
  if (!/^\d+$/.test(port) || Number(port) > 65535) return null;
  return { host, port: Number(port) };
}

/** `host:port` back to text, bracketing IPv6. */
export function joinHostPort(hp: HostPort): string {
  return isIP(hp.host) === 6 ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}
