/**
 * Keeps the daemon's keys in its memory (issue 11, "Key material lingers"): prctl(PR_SET_DUMPABLE,
 * 0) at start, before any key arrives. A non-dumpable process writes no core dump (a crash must not
 * put the static private key, preshared keys and live transport keys in a file), and the kernel
 * closes its /proc/PID/mem, environ, maps and fd, and ptrace, to everyone without CAP_SYS_PTRACE,
 * including other processes of the same user. wireguard-go does not do this; the kernel module's
 * keys live in kernel memory, out of any core dump, which is the behaviour copied here.
 *
 * The flag resets on execve, so the daemonising parent's child sets it again itself (it runs this
 * from runDaemon).
 */
import { loadNative } from '../io/native.js';

/** Turns dumpable off; returns why it could not (the daemon still runs), or null. */
export function disableCoreDumps(): string | null {
  try {
    const native = loadNative();
    native.setDumpable(false);
    return native.dumpable() === 0 ? null : 'PR_SET_DUMPABLE did not take effect';
  } catch (err) {
    return (err as Error).message;
  }
}
