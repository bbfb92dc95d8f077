/**
 * What a UAPI `set` changed, as verbose log lines (wireguard-go logs each UAPI operation the same
 * way). Lines say what changed, never a key's value: "updating private key", not the key. A
 * peer's allowed-IP changes become one summary line per request (a table of 100,000 prefixes
 * would otherwise be 100,000 lines), naming the first few.
 */
import { formatPrefix } from '../routing/ip-format.js';
import type { AllowedIPChange, PeerSet } from '../uapi/types.js';
import { formatEndpoint } from './peer-log.js';

/** Allowed-IP prefixes named in a summary line before the rest are only counted. */
const PREFIXES_SHOWN = 4;

/** The lines for the parts of peer request `p` that apply.ts applied (after its name). */
export function describePeerSet(p: PeerSet): string[] {
  const lines: string[] = [];
  if (p.presharedKey !== undefined)
    lines.push(p.presharedKey === null ? 'removing preshared key' : 'updating preshared key');
  if (p.endpoint !== undefined) lines.push(`updating endpoint to ${formatEndpoint(p.endpoint)}`);
  if (p.allowedIPs.length > 0) lines.push(describeAllowedIPs(p.allowedIPs));
  if (p.persistentKeepalive !== undefined)
    lines.push(
      p.persistentKeepalive === 0
        ? 'persistent keepalive off'
        : `updating persistent keepalive interval to ${p.persistentKeepalive} s`,
    );
  return lines;
}

function describeAllowedIPs(changes: readonly AllowedIPChange[]): string {
  const parts: string[] = [];
  if (changes.some((c) => c.kind === 'clear')) parts.push('removing all allowed IPs');
  for (const kind of ['add', 'remove'] as const) {
    const named: string[] = [];
    let n = 0;
    for (const c of changes) {
      if (c.kind !== kind) continue;
      if (++n <= PREFIXES_SHOWN) named.push(formatPrefix(c.prefix.bytes, c.prefix.cidr));
    }
    if (n === 0) continue;
    const more = n > PREFIXES_SHOWN ? `, and ${n - PREFIXES_SHOWN} more` : '';
    parts.push(
      `${kind === 'add' ? 'adding' : 'removing'} allowed IP${n === 1 ? '' : 's'} ${named.join(', ')}${more}`,
    );
  }
  return parts.join('; ');
}
