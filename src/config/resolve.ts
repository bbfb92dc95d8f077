/**
 * Endpoint hostname resolution as wg(8) does it (wireguard-tools src/config.c parse_endpoint):
 * getaddrinfo (here node:dns lookup, which calls it) with AF_UNSPEC, taking the first address;
 * permanent failures (no such name, non-recoverable) fail at once; transient ones are retried
 * WG_ENDPOINT_RESOLUTION_RETRIES times (default 15, `infinity` for ever), sleeping 1 s and then
 * 6/5 as long each time, at most 20 s, with wg's message on stderr:
 * "Temporary failure in name resolution: `host:51820'. Trying again in 1.20 seconds...".
 * Everything is resolved before anything is sent to the daemon, so a failure applies nothing.
 */
import { lookupFirstAddress } from '../io/host-lookup.js';
import { parseIP } from '../routing/ip.js';
import type { EndpointAddress } from '../uapi/types.js';
import { formatFixed2 } from './format.js';
import { ValueError, type EndpointSpec } from './values.js';
import { ConfigError } from './errors.js';
import type { WgConfig, WgPeerConfig } from './wg-config.js';

export interface ResolveOptions {
  /** Retries for transient failures; -1 = for ever. Default: endpointRetriesFromEnv(). */
  readonly retries?: number;
  /** Gets wg's "Trying again" lines; default: written to stderr. */
  readonly onRetry?: (message: string) => void;
  /** For tests: replaces node:dns lookup (resolve to an address string, or throw { code }). */
  readonly lookup?: (host: string) => Promise<string>;
  /** For tests: replaces the sleep between attempts. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** WG_ENDPOINT_RESOLUTION_RETRIES as wg reads it; throws ValueError with wg's message when malformed. */
export function endpointRetriesFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const v = env['WG_ENDPOINT_RESOLUTION_RETRIES'];
  if (v === undefined) return 15;
  if (v === 'infinity') return -1;
  // strtoul: an empty string is 0; digits only otherwise.
  if (/^[0-9]*$/.test(v) && (v === '' || Number(v) <= 0x7fffffff)) return v === '' ? 0 : Number(v);
  throw new ValueError(`Unable to parse WG_ENDPOINT_RESOLUTION_RETRIES: \`${v}'`);
}

const PERMANENT = new Set(['ENOTFOUND', 'EAI_NONAME', 'EAI_FAIL', 'EAI_NODATA', 'ENODATA', 'ESERVFAIL']);
const MESSAGES: Readonly<Record<string, string>> = {
  ENOTFOUND: 'Name or service not known',
  EAI_NONAME: 'Name or service not known',
  ENODATA: 'No address associated with hostname',
  EAI_NODATA: 'No address associated with hostname',
  EAI_AGAIN: 'Temporary failure in name resolution',
  EAI_FAIL: 'Non-recoverable failure in name resolution',
  ESERVFAIL: 'Non-recoverable failure in name resolution',
};

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'EAI_AGAIN';
}

/** The endpoint's address: the literal, or the hostname resolved with wg's retries. */
export async function resolveEndpoint(
  spec: EndpointSpec,
  opts: ResolveOptions = {},
): Promise<EndpointAddress> {
  if (spec.address !== null) return { address: spec.address, port: spec.port };
  let retries = opts.retries ?? endpointRetriesFromEnv();
  const find = opts.lookup ?? lookupFirstAddress;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const onRetry = opts.onRetry ?? ((m: string) => void process.stderr.write(`${m}\n`));
  for (let timeout = 1_000_000; ; timeout = Math.min(20_000_000, Math.floor((timeout * 6) / 5))) {
    let address: string;
    try {
      address = await find(spec.host);
    } catch (err) {
      const code = errorCode(err);
      const message = MESSAGES[code] ?? (err instanceof Error ? err.message : String(err));
      if (PERMANENT.has(code) || (retries >= 0 && retries-- === 0)) {
        throw new ValueError(`${message}: \`${spec.text}'`);
      }
      onRetry(`${message}: \`${spec.text}'. Trying again in ${formatFixed2(timeout / 1_000_000)} seconds...`);
      await sleep(timeout / 1000);
      continue;
    }
    const ip = parseIP(address.replace(/%.*$/, ''));
    if (ip === null) throw new ValueError(`Neither IPv4 nor IPv6 address found: \`${spec.text}'`);
    return { address: ip.bytes, port: spec.port };
  }
}

/**
 * A copy of `config` with every hostname endpoint resolved (`address` filled in). Throws
 * ConfigError `FILE:LINE: Name or service not known: `host:port'` on failure.
 */
export async function resolveWgConfig(config: WgConfig, opts: ResolveOptions = {}): Promise<WgConfig> {
  const peers: WgPeerConfig[] = [];
  for (const peer of config.peers) {
    const ep = peer.endpoint;
    if (ep === undefined || ep.address !== null) {
      peers.push(peer);
      continue;
    }
    try {
      const resolved = await resolveEndpoint(ep, opts);
      peers.push({ ...peer, endpoint: { ...ep, address: resolved.address } });
    } catch (err) {
      if (err instanceof ValueError)
        throw new ConfigError(config.file, ep.line, `Endpoint: ${err.message}`, 'ERESOLVE');
      throw err;
    }
  }
  return { ...config, peers };
}
