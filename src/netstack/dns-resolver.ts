/**
 * A stub resolver over the tunnel (RFC 1035 section 7, RFC 1123 section 6.1.3.1): A and/or AAAA
 * queries over UDP to the configured servers in turn, each attempt bounded by a timeout and every
 * server tried `attempts` times, as glibc's resolver does with `options timeout:2 attempts:2`.
 * Each query binds its own ephemeral port and a random id, and ignores anything that is not the
 * answer from the server it asked (RFC 5452 section 9). Errors carry Node's dns codes: ENOTFOUND
 * (no such name, or no address), ESERVFAIL, EREFUSED, EBADRESP, ETIMEOUT, EBADNAME. IP literals
 * resolve to themselves without a query. Timers are unref'd: a lookup never keeps Node alive.
 * A truncated (TC) answer is used as far as it goes: there is no fallback to DNS over TCP, since
 * the A and AAAA answers of a host name fit in 512 bytes in practice.
 */
import { randomBytes } from 'node:crypto';
import { parseIP } from '../routing/ip.js';
import {
  buildQuery,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  parseResponse,
  RCODE_NXDOMAIN,
  RCODE_SERVFAIL,
  type DnsResponse,
} from './dns-message.js';
import type { IpFamily, UdpApi } from './types.js';

export interface ResolvedAddress {
  readonly address: Uint8Array;
  readonly family: IpFamily;
}

export interface ResolveOptions {
  /** Per attempt, ms; default 2000. */
  readonly timeoutMs?: number;
  /** Rounds over the server list; default 2. */
  readonly attempts?: number;
  /** Random bytes (query ids); default node:crypto. */
  readonly random?: (n: number) => Uint8Array;
}

const DNS_PORT = 53;

function dnsError(code: string, name: string): Error {
  return Object.assign(new Error(`query ${code} ${name}`), { code, hostname: name });
}

function sameAddress(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

type Outcome =
  { kind: 'addresses'; list: Uint8Array[] } | { kind: 'nxdomain' } | { kind: 'error'; code: string };

/** One query to one server: the outcome, or 'timeout'. */
function ask(
  udp: UdpApi,
  server: Uint8Array,
  name: string,
  type: number,
  timeoutMs: number,
  random: (n: number) => Uint8Array,
): Promise<Outcome | 'timeout'> {
  return new Promise((resolve) => {
    const r = random(2);
    const id = (r[0]! << 8) | r[1]!;
    const query = buildQuery(id, name, type);
    if (query === null) return resolve({ kind: 'error', code: 'EBADNAME' });
    let done = false;
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    timer.unref();
    let binding: ReturnType<UdpApi['bind']> | null = null;
    const finish = (outcome: Outcome | 'timeout'): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      binding?.close();
      resolve(outcome);
    };
    try {
      binding = udp.bind(server.length === 4 ? 4 : 6, null, 0, (data, from) => {
        if (from.port !== DNS_PORT || !sameAddress(from.address, server)) return;
        const response: DnsResponse = parseResponse(data, id, name, type);
        if (!response.ok) {
          // A wrong id or question may be a stray or a spoof: keep waiting for the real answer.
          if (response.error === 'id mismatch' || response.error === 'question mismatch') return;
          return finish({ kind: 'error', code: 'EBADRESP' });
        }
        if (response.rcode === RCODE_NXDOMAIN) return finish({ kind: 'nxdomain' });
        if (response.rcode === RCODE_SERVFAIL) return finish({ kind: 'error', code: 'ESERVFAIL' });
        if (response.rcode !== 0) return finish({ kind: 'error', code: 'EREFUSED' });
        finish({ kind: 'addresses', list: response.addresses.map((a) => a.address) });
      });
    } catch {
      return finish({ kind: 'error', code: 'ECONNREFUSED' });
    }
    if (!binding.send(query, { address: server, port: DNS_PORT }))
      finish({ kind: 'error', code: 'ECONNREFUSED' });
  });
}

/** The addresses of `type` for `name`, trying the servers in turn; rejects with a coded Error. */
async function query(
  udp: UdpApi,
  servers: readonly Uint8Array[],
  name: string,
  type: number,
  options: ResolveOptions,
): Promise<Uint8Array[] | null> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const attempts = options.attempts ?? 2;
  const random = options.random ?? ((n: number) => new Uint8Array(randomBytes(n)));
  let lastError = 'ETIMEOUT';
  for (let round = 0; round < attempts; round++) {
    for (const server of servers) {
      const outcome = await ask(udp, server, name, type, timeoutMs, random);
      if (outcome === 'timeout') continue;
      if (outcome.kind === 'addresses') return outcome.list;
      if (outcome.kind === 'nxdomain') return null;
      if (outcome.code === 'EBADNAME') throw dnsError('EBADNAME', name);
      lastError = outcome.code;
    }
  }
  throw dnsError(lastError, name);
}

/**
 * Resolves `name` to addresses: family 4 asks A, 6 asks AAAA, 0 asks both (IPv4 answers first).
 * An IP literal of a fitting family comes back as itself.
 */
export async function resolve(
  name: string,
  family: IpFamily | 0,
  servers: readonly Uint8Array[],
  udp: UdpApi,
  options: ResolveOptions = {},
): Promise<ResolvedAddress[]> {
  const literal = parseIP(name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name);
  if (literal !== null) {
    if (family !== 0 && family !== literal.family) throw dnsError('ENOTFOUND', name);
    return [{ address: literal.bytes, family: literal.family }];
  }
  if (servers.length === 0) throw dnsError('ENOTFOUND', name);
  const types = family === 4 ? [DNS_TYPE_A] : family === 6 ? [DNS_TYPE_AAAA] : [DNS_TYPE_A, DNS_TYPE_AAAA];
  const settled = await Promise.allSettled(types.map((t) => query(udp, servers, name, t, options)));
  const out: ResolvedAddress[] = [];
  let firstError: unknown = null;
  settled.forEach((s, i) => {
    if (s.status === 'rejected') firstError ??= s.reason;
    else for (const address of s.value ?? []) out.push({ address, family: types[i] === DNS_TYPE_A ? 4 : 6 });
  });
  if (out.length > 0) return out;
  if (firstError !== null) throw firstError;
  throw dnsError('ENOTFOUND', name);
}
