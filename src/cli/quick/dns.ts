/**
 * DNS through resolvconf(8) (wg-quick(8) DNS; linux.bash `set_dns`, `unset_dns`,
 * `resolvconf_iface_prefix`, and the DNS half of `save_config`).
 *
 * Up: `nameserver X` per server and one `search A B` line, piped to
 * `resolvconf -a PREFIXIF -m 0 -x`; down: `resolvconf -d PREFIXIF -f`. PREFIX is Debian
 * resolvconf's interface-order convention: when /etc/resolvconf/interface-order exists and
 * resolvconf is not a symlink (systemd's resolvectl shim), the first `NAME*` pattern there gives
 * `NAME.` (Debian ships `tun*`, hence `tun.wg0`).
 *
 * As in wg-quick, nothing happens without at least one server (search domains alone are ignored:
 * we say so). Unlike wg-quick, whose `up` fails halfway with "resolvconf: command not found" and
 * then tears down, `up` checks for resolvconf before changing anything (requireResolvconf). `save`
 * reads back the search domains too, which wg-quick drops.
 */
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import type { QuickContext, UpState } from './context.js';
import { QuickError, which } from './exec.js';

export const INTERFACE_ORDER = '/etc/resolvconf/interface-order';
export const RESOLVCONF_RUN_DIR = '/etc/resolvconf/run/interface';

/** `NAME.` from the first `NAME*` line of the interface-order file, or ''. */
export function resolvconfPrefix(
  orderFile: string = INTERFACE_ORDER,
  resolvconf: string | null = which('resolvconf'),
): string {
  if (!existsSync(orderFile)) return '';
  try {
    if (resolvconf !== null && lstatSync(resolvconf).isSymbolicLink()) return '';
  } catch {
    // unreadable: treat as not a symlink, as `[[ ! -L … ]]` does
  }
  for (const raw of readFileSync(orderFile, 'utf8').split('\n')) {
    const m = /^([A-Za-z0-9-]+)\*$/.exec(raw.replace(/^[ \t]+|[ \t]+$/g, ''));
    if (m !== null) return `${m[1]}.`;
  }
  return '';
}

/** The text set_dns pipes into resolvconf. */
export function resolvconfInput(servers: readonly string[], search: readonly string[]): string {
  let s = servers.map((x) => `nameserver ${x}\n`).join('');
  if (search.length > 0) s += `search ${search.join(' ')}\n`;
  return s;
}

/** Before `up` changes anything: DNS servers are set and resolvconf is missing → a clear error. */
export function requireResolvconf(ctx: QuickContext): void {
  const first = ctx.extras.dns[0];
  if (first === undefined || which('resolvconf') !== null) return;
  throw new QuickError(
    `${ctx.file}:${first.line}: DNS is set but resolvconf(8) is not on PATH; ` +
      'install resolvconf or openresolv, or remove the DNS line',
  );
}

/** set_dns. */
export async function setDns(ctx: QuickContext, state: UpState): Promise<void> {
  const servers = ctx.extras.dns.map((d) => d.value);
  const search = ctx.extras.dnsSearch.map((d) => d.value);
  if (servers.length === 0) {
    if (search.length > 0) ctx.run.say('Warning: DNS search domains without a DNS server are ignored');
    return;
  }
  const name = `${resolvconfPrefix()}${ctx.ifname}`;
  state.dns = true;
  await ctx.run.cmd(['resolvconf', '-a', name, '-m', '0', '-x'], { input: resolvconfInput(servers, search) });
}

/** unset_dns. */
export async function unsetDns(ctx: QuickContext): Promise<void> {
  if (ctx.extras.dns.length === 0) return;
  await ctx.run.cmd(['resolvconf', '-d', `${resolvconfPrefix()}${ctx.ifname}`, '-f']);
}

/** The DNS entries in resolvconf's record for IF (`nameserver X` and, beyond wg-quick, `search`). */
export function dnsFromResolvconf(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^[ \t]+|[ \t]+$/g, '');
    const ns = /^nameserver ([a-zA-Z0-9_=+:%.-]+)$/.exec(line);
    if (ns !== null) out.push(ns[1]!);
    const search = /^search (.+)$/.exec(line);
    if (search !== null) out.push(...search[1]!.split(/[ \t]+/).filter((w) => w !== ''));
  }
  return out;
}

/** What save_config reads back: `resolvconf -l NAME`, or resolvconf's run file. */
export async function currentDns(ctx: QuickContext): Promise<string[]> {
  const name = `${resolvconfPrefix()}${ctx.ifname}`;
  if (which('resolvconf') !== null) {
    const r = await ctx.run.run(['resolvconf', '-l', name]);
    if (r.code === 0) return dnsFromResolvconf(r.stdout);
  }
  try {
    return dnsFromResolvconf(readFileSync(`${RESOLVCONF_RUN_DIR}/${name}`, 'utf8'));
  } catch {
    return [];
  }
}
