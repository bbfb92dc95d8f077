/**
 * The default-route policy for a /0 allowed IP with Table unset or auto (wg-quick(8) "the fwmark
 * trick"; linux.bash `add_default`, `remove_firewall`, and the rule half of `del_if`):
 *
 *   - the device's fwmark (or the first table from 51820 up with no v4 or v6 routes, set as the
 *     fwmark through the UAPI: `wg set IF fwmark T`) names the table T;
 *   - `ip rule add not fwmark T table T`: everything but the tunnel's own UDP goes to table T;
 *   - `ip rule add table main suppress_prefixlength 0`: main's specific routes still win;
 *   - `ip route add 0.0.0.0/0 dev IF table T`;
 *   - net.ipv4.conf.all.src_valid_mark=1 (IPv4, when not already 1), so the marked replies pass
 *     reverse-path filtering;
 *   - nftables table `ip|ip6 wg-quick-IF`: drop packets for IF's addresses arriving from elsewhere
 *     (preraw) and carry the mark through conntrack for UDP (premangle/postmangle). Without `nft`,
 *     the same as iptables-restore rules tagged `wg-quick(8) rule for IF`.
 *
 * The commands, their order and the nft/iptables text are upstream linux.bash's (which puts the
 * rules before the route; 1.0.20210914, installed here, puts the route first, with the same end
 * state). Removal mirrors it: every rule naming T, and every `lookup main suppress_prefixlength 0`
 * rule, are deleted while `ip rule show` still lists one (bounded here), then every nft table
 * `wg-quick-IF` and every iptables rule tagged for IF.
 */
import type { QuickContext, UpState } from './context.js';
import { allowedIpsOf, getDevice, setFwmark } from './device.js';
import { QuickError, which } from './exec.js';

/** The first table tried when the device has no fwmark yet. */
export const DEFAULT_TABLE = 51820;
/** Bound on the rule-deleting loops (wg-quick loops until none is left). */
const MAX_RULE_DELETES = 256;

export type Proto = '-4' | '-6';

export function protoOf(prefix: string): Proto {
  return prefix.includes(':') ? '-6' : '-4';
}

/** The marker iptables rules carry so remove_firewall can find them. */
export function iptablesMarker(ifname: string): string {
  return `-m comment --comment "wg-quick(8) rule for ${ifname}"`;
}

/** The addresses in `ip -o -4|-6 addr show dev IF` output (linux.bash's `inet6? ADDR/N` match). */
export function addressesFromIpOutput(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    // bash's `.*inet6?\ ([0-9a-f:.]+)/[0-9]+.*` is greedy at the front: the last match on the line.
    const all = [...line.matchAll(/inet6? ([0-9a-f:.]+)\/[0-9]+/g)];
    const last = all[all.length - 1];
    if (last !== undefined) out.push(last[1]!);
  }
  return out;
}

/** The `nft -f` script add_default feeds nft for one family. */
export function nftAddScript(
  proto: Proto,
  ifname: string,
  table: number,
  addresses: readonly string[],
): string {
  const pf = proto === '-6' ? 'ip6' : 'ip';
  const t = `wg-quick-${ifname}`;
  let s = `add table ${pf} ${t}\n`;
  s += `add chain ${pf} ${t} preraw { type filter hook prerouting priority -300; }\n`;
  s += `add chain ${pf} ${t} premangle { type filter hook prerouting priority -150; }\n`;
  s += `add chain ${pf} ${t} postmangle { type filter hook postrouting priority -150; }\n`;
  for (const a of addresses) {
    s += `add rule ${pf} ${t} preraw iifname != "${ifname}" ${pf} daddr ${a} fib saddr type != local drop\n`;
  }
  s += `add rule ${pf} ${t} postmangle meta l4proto udp mark ${table} ct mark set mark \n`;
  s += `add rule ${pf} ${t} premangle meta l4proto udp meta mark set ct mark \n`;
  return s;
}

/** The iptables-restore input add_default uses when nft is missing. */
export function iptablesAddScript(ifname: string, table: number, addresses: readonly string[]): string {
  const marker = iptablesMarker(ifname);
  let s = '*raw\n';
  for (const a of addresses) {
    s += `-I PREROUTING ! -i ${ifname} -d ${a} -m addrtype ! --src-type LOCAL -j DROP ${marker}\n`;
  }
  s += 'COMMIT\n*mangle\n';
  s += `-I POSTROUTING -m mark --mark ${table} -p udp -j CONNMARK --save-mark ${marker}\n`;
  s += `-I PREROUTING -p udp -j CONNMARK --restore-mark ${marker}\n`;
  s += 'COMMIT\n';
  return s;
}

/** The `nft -f` script deleting every table named wg-quick-IF in `nft list tables` output. */
export function nftDeleteScript(listTables: string, ifname: string): string {
  let s = '';
  for (const line of listTables.split('\n')) {
    const table = line.replace(/^[ \t]+|[ \t]+$/g, '');
    if (table.endsWith(` wg-quick-${ifname}`)) s += `delete ${table}\n`;
  }
  return s;
}

/** The iptables-restore input deleting IF's rules from `iptables-save` output; '' when none. */
export function iptablesDeleteScript(save: string, ifname: string): string {
  const tagged = `-m comment --comment "wg-quick(8) rule for ${ifname}"`;
  let s = '';
  let found = false;
  for (const raw of save.split('\n')) {
    const line = raw.replace(/^[ \t]+|[ \t]+$/g, '');
    const rule = line.startsWith('-A ') && line.indexOf(tagged) > 2;
    if (!line.startsWith('*') && line !== 'COMMIT' && !rule) continue;
    if (rule) found = true;
    s += `${line.replace(/^-A/, '-D')}\n`;
  }
  return found ? s : '';
}

/** get_fwmark: the device's fwmark, or null when it has none. */
export async function deviceFwmark(ctx: QuickContext): Promise<number | null> {
  const mark = (await getDevice(ctx.ifname)).fwmark;
  return mark === 0 ? null : mark;
}

/** The first table from 51820 up with no IPv4 and no IPv6 routes. */
async function freeTable(ctx: QuickContext): Promise<number> {
  for (let table = DEFAULT_TABLE; table < DEFAULT_TABLE + 65536; table++) {
    const [v4, v6] = await Promise.all([
      ctx.run.run(['ip', '-4', 'route', 'show', 'table', String(table)]),
      ctx.run.run(['ip', '-6', 'route', 'show', 'table', String(table)]),
    ]);
    if (v4.stdout.trim() === '' && v6.stdout.trim() === '') return table;
  }
  throw new QuickError(`no free routing table from ${DEFAULT_TABLE} up`);
}

/** add_default: the policy above for one /0 allowed IP (called once per family). */
export async function addDefault(ctx: QuickContext, prefix: string, state: UpState): Promise<void> {
  let table = await deviceFwmark(ctx);
  if (table === null) {
    table = await freeTable(ctx);
    ctx.run.checkAborted();
    ctx.run.echo(`wg set ${ctx.ifname} fwmark ${table}`);
    await setFwmark(ctx.ifname, table);
  }
  state.table = table;
  const proto = protoOf(prefix);
  const t = String(table);
  await ctx.run.cmd(['ip', proto, 'rule', 'add', 'not', 'fwmark', t, 'table', t]);
  await ctx.run.cmd(['ip', proto, 'rule', 'add', 'table', 'main', 'suppress_prefixlength', '0']);
  await ctx.run.cmd(['ip', proto, 'route', 'add', prefix, 'dev', ctx.ifname, 'table', t]);

  const addrs = addressesFromIpOutput(
    (await ctx.run.run(['ip', '-o', proto, 'addr', 'show', 'dev', ctx.ifname])).stdout,
  );
  if (proto === '-4') {
    const current = await ctx.run.run(['sysctl', '-n', 'net.ipv4.conf.all.src_valid_mark']);
    if (current.stdout.trim() !== '1')
      await ctx.run.cmd(['sysctl', '-q', 'net.ipv4.conf.all.src_valid_mark=1']);
  }
  // From here on the firewall may be half there: del_if must try to remove it.
  state.firewall = true;
  if (which('nft') !== null) {
    await ctx.run.cmd(['nft', '-f', '/dev/stdin'], { input: nftAddScript(proto, ctx.ifname, table, addrs) });
  } else {
    const iptables = proto === '-6' ? 'ip6tables' : 'iptables';
    await ctx.run.cmd([`${iptables}-restore`, '-n'], { input: iptablesAddScript(ctx.ifname, table, addrs) });
  }
}

/**
 * remove_firewall: deletes IF's nft tables and tagged iptables rules. Runs every part it can and
 * throws the first failure at the end.
 */
export async function removeFirewall(ctx: QuickContext): Promise<void> {
  let failure: unknown = null;
  if (which('nft') !== null) {
    const tables = await ctx.run.run(['nft', 'list', 'tables']);
    const script = nftDeleteScript(tables.stdout, ctx.ifname);
    if (script !== '')
      await ctx.run
        .cmd(['nft', '-f', '/dev/stdin'], { input: script })
        .catch((e: unknown) => (failure ??= e));
  }
  if (which('iptables') !== null) {
    for (const iptables of ['iptables', 'ip6tables']) {
      const save = await ctx.run.run([`${iptables}-save`]);
      const script = iptablesDeleteScript(save.stdout, ctx.ifname);
      if (script !== '') {
        await ctx.run
          .cmd([`${iptables}-restore`, '-n'], { input: script })
          .catch((e: unknown) => (failure ??= e));
      }
    }
  }
  if (failure !== null) throw failure;
}

/**
 * The policy table del_if removes rules for: with Table unset or auto, the device's fwmark when
 * the device still has a /0 allowed IP; else `known` (the table `up` used, should the device no
 * longer answer); else null.
 */
export async function policyTable(ctx: QuickContext, known: number | null): Promise<number | null> {
  const t = ctx.extras.table?.value ?? '';
  if (t !== '' && t !== 'auto') return null;
  try {
    const device = await getDevice(ctx.ifname);
    if (device.fwmark === 0) return known;
    return allowedIpsOf(device).some((p) => p.endsWith('/0')) ? device.fwmark : known;
  } catch {
    return known;
  }
}

/** The rule half of del_if: every rule for `table`, every suppress_prefixlength 0 rule on main. */
export async function deleteRules(ctx: QuickContext, table: number): Promise<void> {
  let failure: unknown = null;
  for (const proto of ['-4', '-6'] as const) {
    const loops: [string, string[]][] = [
      [`lookup ${table}`, ['table', String(table)]],
      ['from all lookup main suppress_prefixlength 0', ['table', 'main', 'suppress_prefixlength', '0']],
    ];
    for (const [needle, selector] of loops) {
      for (let i = 0; i < MAX_RULE_DELETES; i++) {
        const rules = await ctx.run.run(['ip', proto, 'rule', 'show']);
        if (!rules.stdout.includes(needle)) break;
        try {
          await ctx.run.cmd(['ip', proto, 'rule', 'delete', ...selector]);
        } catch (err) {
          failure ??= err;
          break;
        }
      }
    }
  }
  if (failure !== null) throw failure;
}
