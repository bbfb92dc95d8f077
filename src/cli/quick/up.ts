/**
 * `wgts up` (wg-quick(8) "up"; linux.bash `cmd_up`): refuse when IF already exists; then PreUp
 * hooks, the daemon, `wg addconf` of the stripped config, addresses, MTU and link up, DNS, one route
 * per allowed IP, PostUp hooks. On any failure, and on SIGINT/SIGTERM, everything done so far is
 * undone (wg-quick's `trap 'del_if; exit' INT TERM EXIT`) and the error is rethrown.
 *
 * Order: PreUp runs before the daemon starts, as in wireguard-tools 1.0.20210914 (the wg-quick
 * installed here) and as our brief asks; upstream has since moved it after `add_if` so that PreUp
 * may touch the interface. Before any of it, `index.ts` has parsed and validated the whole file
 * (FILE:LINE errors change nothing) and `requireResolvconf` has checked that DNS can be set.
 */
import { applyWgConfig } from '../apply-config.js';
import { freshUpState, type UpContext } from './context.js';
import { requireResolvconf, setDns } from './dns.js';
import { QuickError } from './exec.js';
import { runHooks } from './hooks.js';
import { addAddress, addInterface, linkExists } from './link.js';
import { setMtuUp } from './mtu.js';
import { addRoutes } from './routes.js';
import { delIf } from './teardown.js';

/**
 * Runs `up`. `abort` is the controller whose signal `ctx.run` obeys; SIGINT and SIGTERM fire it
 * while `up` runs. `teardownCtx` is the same context with a Runner that is never aborted, for the
 * rollback.
 */
export async function cmdUp(ctx: UpContext, abort: AbortController, teardownCtx: UpContext): Promise<void> {
  requireResolvconf(ctx);
  if (await linkExists(ctx)) throw new QuickError(`\`${ctx.ifname}' already exists`);
  const state = freshUpState();
  let interrupted: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted ??= signal;
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await runHooks(ctx, ctx.extras.preUp);
    // A daemon that fails to start may still leave a link behind; del_if looks for one.
    await addInterface(ctx);
    state.daemon = true;
    ctx.run.checkAborted();
    ctx.run.echo(`wg addconf ${ctx.ifname} <(wgts strip ${ctx.file})`);
    await applyWgConfig(ctx.ifname, ctx.wg, 'add');
    for (const address of ctx.extras.addresses) await addAddress(ctx, address.value);
    await setMtuUp(ctx);
    await setDns(ctx, state);
    await addRoutes(ctx, state);
    await runHooks(ctx, ctx.extras.postUp);
    ctx.run.checkAborted();
  } catch (err) {
    try {
      await delIf(teardownCtx, state);
    } catch (undoErr) {
      teardownCtx.run.say(`wgts: while undoing \`up': ${(undoErr as Error).message}`);
    }
    if (interrupted !== null) throw new QuickError(`interrupted by ${interrupted}; \`${ctx.ifname}' removed`);
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
