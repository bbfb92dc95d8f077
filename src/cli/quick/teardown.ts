/**
 * linux.bash `del_if`: what both `down` and a failed `up` run to take an interface away. In order:
 * resolvconf's record (when `up` got that far), the firewall (likewise), the policy rules (Table
 * unset or auto, the device has a fwmark and a /0 allowed IP), then `ip link delete dev IF`, which
 * takes its addresses and routes with it and makes the daemon exit.
 *
 * wg-quick stops at the first failing command (`set -e`). Here every step is tried and the first
 * failure is thrown at the end: a half-removed interface helps nobody, and `up`'s rollback must
 * undo as much as it can.
 */
import type { QuickContext, UpState } from './context.js';
import { unsetDns } from './dns.js';
import { deleteLink, linkExists } from './link.js';
import { deleteRules, policyTable, removeFirewall } from './policy.js';

export async function delIf(ctx: QuickContext, state: UpState): Promise<void> {
  let failure: unknown = null;
  const attempt = async (step: () => Promise<void>): Promise<void> => {
    try {
      await step();
    } catch (err) {
      failure ??= err;
    }
  };
  if (state.dns) await attempt(() => unsetDns(ctx));
  if (state.firewall) await attempt(() => removeFirewall(ctx));
  // Only ask the device when it is ours: a daemon we failed to start may have met a live socket of
  // the same name in another namespace (the socket directory is shared), whose fwmark is not ours.
  if (state.daemon) {
    await attempt(async () => {
      const table = await policyTable(ctx, state.table);
      if (table !== null) await deleteRules(ctx, table);
    });
  }
  await attempt(async () => {
    // A failed `up` may not have got as far as creating the link.
    if (state.daemon || (await linkExists(ctx))) await deleteLink(ctx);
  });
  if (failure !== null) throw failure;
}
