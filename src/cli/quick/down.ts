/**
 * `wgts down` (wg-quick(8) "down"; linux.bash `cmd_down`): IF must be a running userspace WireGuard
 * interface; then PreDown hooks, save when SaveConfig is true, del_if (policy rules, then the
 * link, which stops the daemon), resolvconf's record and the firewall (failures there reported,
 * not fatal, as wg-quick's `|| true`), PostDown hooks.
 *
 * Beyond wg-quick's check (`wg show interfaces` lists IF, which for userspace means a live socket
 * in the shared /var/run/wireguard), the link must also exist in this network namespace, so that
 * `down` here never runs the hooks or deletes rules for a same-named interface elsewhere.
 */
import type { QuickContext } from './context.js';
import { unsetDns } from './dns.js';
import { isUserspaceInterface } from './device.js';
import { QuickError } from './exec.js';
import { runHooks } from './hooks.js';
import { linkExists } from './link.js';
import { removeFirewall } from './policy.js';
import { saveConfig } from './save.js';
import { delIf } from './teardown.js';

/** cmd_down/cmd_save's guard. */
export async function requireInterface(ctx: QuickContext): Promise<void> {
  if (!(await isUserspaceInterface(ctx.ifname)) || !(await linkExists(ctx))) {
    throw new QuickError(`\`${ctx.ifname}' is not a WireGuard interface`);
  }
}

export async function cmdDown(ctx: QuickContext): Promise<void> {
  await requireInterface(ctx);
  await runHooks(ctx, ctx.extras.preDown);
  if (ctx.extras.saveConfig) await saveConfig(ctx);
  await delIf(ctx, { daemon: true, dns: false, firewall: false, table: null });
  for (const step of [unsetDns, removeFirewall]) {
    try {
      await step(ctx);
    } catch (err) {
      ctx.run.say(`wgts: ${(err as Error).message}`);
    }
  }
  await runHooks(ctx, ctx.extras.postDown);
}
