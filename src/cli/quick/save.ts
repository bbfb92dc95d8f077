/**
 * `wgts save` and SaveConfig (wg-quick(8) "save"; linux.bash `save_config`): the running
 * configuration written back to the file. The [Interface] header of `wg showconf IF` is replaced
 * by itself followed by the wg-quick keys: one Address per address on the link (`ip -brief address
 * show`), one DNS per entry in resolvconf's record, MTU (the link's, only when the file had an
 * MTU), Table (when the file had one), `SaveConfig = true` (when it was set), then every
 * PreUp, PostUp, PreDown and PostDown hook as written. The file is replaced atomically: written as
 * FILE.tmp with mode 0600 (wg-quick's umask 077), synced, renamed; the temporary file is removed on
 * failure.
 *
 * Differences from wg-quick: the IPv6 link-local address the kernel generates for a TUN is not
 * saved (generatedAddresses), search domains survive (wg-quick keeps only `nameserver` lines), and
 * a `&` in a hook is kept as is (bash 5.2's patsub_replacement makes wg-quick's
 * `${current_config/…/$new_config}` put `[Interface]` in its place).
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { showConf } from '../show.js';
import type { QuickExtras } from './config-extras.js';
import type { QuickContext } from './context.js';
import { currentDns } from './dns.js';
import { QuickError } from './exec.js';

export interface SavedState {
  /** The `wg showconf IF` text. */
  readonly showconf: string;
  readonly addresses: readonly string[];
  readonly dns: readonly string[];
  /** The link's MTU, or null when it is not to be saved. */
  readonly mtu: number | null;
}

/** The file save_config writes, from what it read. */
export function composeSavedConfig(extras: QuickExtras, state: SavedState): string {
  let head = '[Interface]\n';
  for (const a of state.addresses) head += `Address = ${a}\n`;
  for (const d of state.dns) head += `DNS = ${d}\n`;
  if (state.mtu !== null) head += `MTU = ${state.mtu}\n`;
  if (extras.table !== null) head += `Table = ${extras.table.value}\n`;
  if (extras.saveConfig) head += 'SaveConfig = true\n';
  for (const h of extras.preUp) head += `PreUp = ${h}\n`;
  for (const h of extras.postUp) head += `PostUp = ${h}\n`;
  for (const h of extras.preDown) head += `PreDown = ${h}\n`;
  for (const h of extras.postDown) head += `PostDown = ${h}\n`;
  // `$(wg showconf)` drops trailing newlines; `echo` adds one back.
  const current = state.showconf.replace(/\n+$/, '');
  return `${current.replace('[Interface]\n', () => head)}\n`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The addresses in `ip -brief address show dev IF` output for IF. */
export function addressesFromBrief(text: string, ifname: string): string[] {
  const m = new RegExp(`^${escapeRegExp(ifname)} + [A-Z]+ +(.+)$`, 's').exec(text.replace(/\n+$/, ''));
  return m === null ? [] : m[1]!.split(/[ \t\n]+/).filter((w) => w !== '');
}

/**
 * The addresses the kernel made up itself in `ip -o -6 address show` output: IPv6 link-locals
 * flagged stable-privacy (IFA_F_STABLE_PRIVACY, which only the kernel's own address generation
 * sets; a TUN gets a random one as soon as it is up). Saving one would add it as an Address on the
 * next `up`, next to a fresh generated one, and the file would grow by one line per save.
 */
export function generatedAddresses(ipOutput: string): Set<string> {
  const out = new Set<string>();
  for (const line of ipOutput.split('\n')) {
    const m = /inet6 ([0-9a-f:]+\/[0-9]+) .*\bstable-privacy\b/.exec(line);
    if (m !== null) out.add(m[1]!);
  }
  return out;
}

/** Reads the running state of IF. */
async function readState(ctx: QuickContext): Promise<SavedState> {
  const brief = await ctx.run.run(['ip', '-all', '-brief', 'address', 'show', 'dev', ctx.ifname]);
  const v6 = await ctx.run.run(['ip', '-o', '-6', 'address', 'show', 'dev', ctx.ifname]);
  const generated = generatedAddresses(v6.stdout);
  const addresses = addressesFromBrief(brief.stdout, ctx.ifname).filter((a) => !generated.has(a));
  const dns = await currentDns(ctx);
  let mtu: number | null = null;
  if (ctx.extras.mtu !== null) {
    const link = await ctx.run.run(['ip', 'link', 'show', 'dev', ctx.ifname]);
    const m = /mtu ([0-9]+)/.exec(link.stdout);
    if (m !== null) mtu = Number(m[1]);
  }
  ctx.run.echo(`wg showconf ${ctx.ifname}`);
  const showconf = await showConf(ctx.ifname);
  return { showconf, addresses, dns, mtu };
}

/** save_config: writes the running configuration of IF back to its file. */
export async function saveConfig(ctx: QuickContext): Promise<void> {
  const text = composeSavedConfig(ctx.extras, await readState(ctx));
  const tmp = `${ctx.file}.tmp`;
  try {
    rmSync(tmp, { force: true });
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new QuickError(`Could not write configuration file: ${(err as Error).message}`);
  }
  try {
    renameSync(tmp, ctx.file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new QuickError(`Could not move configuration file: ${(err as Error).message}`);
  }
}
