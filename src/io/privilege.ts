/**
 * Whether this process may create and configure network interfaces: creating a TUN (TUNSETIFF),
 * adding addresses and routes all need CAP_NET_ADMIN (capabilities(7)) in the effective set, which
 * root has unless a container or a unit dropped it. Read from /proc/self/status (`CapEff`, a hex
 * mask), so a non-root user with the capability (systemd AmbientCapabilities, say) is let through
 * and root without it is not. The one sentence users see when it is missing lives here too, so
 * `wgts up` and wgtsd say the same thing.
 */
import { readFileSync } from 'node:fs';

/** capabilities(7): CAP_NET_ADMIN is bit 12. */
const CAP_NET_ADMIN = 12n;

/** CAP_NET_ADMIN in `status` (the text of /proc/self/status); true when it cannot be told. */
export function hasNetAdmin(status?: string): boolean {
  let text = status;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/status', 'utf8');
    } catch {
      return true; // No /proc: let the operation itself fail with its own error.
    }
  }
  const m = /^CapEff:\s*([0-9a-fA-F]+)$/m.exec(text);
  if (m === null) return true;
  return ((BigInt(`0x${m[1]}`) >> CAP_NET_ADMIN) & 1n) === 1n;
}

/**
 * What to tell a user who lacks the privilege: `who` is the command (`wgtsd`, `` `up' ``), `action`
 * what it was about to do.
 */
export function needsNetAdmin(who: string, action = 'create a network interface'): string {
  return (
    `${who} needs root or CAP_NET_ADMIN to ${action} ` +
    '(run it with sudo; in a container: --cap-add NET_ADMIN --device /dev/net/tun)'
  );
}

/** True for the errors a missing privilege gives: EACCES (/dev/net/tun) or EPERM (TUNSETIFF). */
export function isPermissionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'EACCES' || code === 'EPERM';
}
