/**
 * PreUp, PostUp, PreDown and PostDown (wg-quick(8); linux.bash `execute_hooks`): each hook, in
 * file order, with every `%i` replaced by the interface name, is echoed as `[#] HOOK` and run by
 * bash. A hook that fails stops the operation, as `set -e` does in wg-quick.
 *
 * wg-quick evaluates hooks in a subshell of itself, so they can read its variables; here they run
 * under `bash -c` with INTERFACE and CONFIG_FILE exported, the two a hook may use. Their stdin,
 * stdout and stderr are ours, and the hook is done when bash exits (a background job it starts
 * may keep running), as with `(eval "$hook")`.
 */
import type { QuickContext } from './context.js';
import { QuickError } from './exec.js';

/** `%i` → the interface name, every occurrence (bash's `${hook//%i/$INTERFACE}`). */
export function expandHook(hook: string, ifname: string): string {
  return hook.split('%i').join(ifname);
}

export async function runHooks(ctx: QuickContext, hooks: readonly string[]): Promise<void> {
  for (const hook of hooks) {
    ctx.run.checkAborted();
    const text = expandHook(hook, ctx.ifname);
    ctx.run.echo(text);
    const r = await ctx.run.run(['bash', '-c', text], {
      inherit: true,
      timeoutMs: 0,
      env: { INTERFACE: ctx.ifname, CONFIG_FILE: ctx.file },
    });
    if (r.code !== 0) {
      throw new QuickError(`hook \`${text}' failed (${r.failure ?? `exit status ${r.code}`})`);
    }
  }
}
