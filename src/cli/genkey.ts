/**
 * `wgts genkey` and `wgts genpsk` (wg(8); wireguard-tools src/genkey.c): 32 random bytes from the
 * system CSPRNG in base64, clamped for genkey, not for genpsk. As wg, a warning goes to stderr
 * when stdout is a regular file that others may access.
 */
import { PresharedKey, PrivateKey } from '../crypto/keys.js';
import { isHelp, type CliContext } from './context.js';
import { commandHelp } from './help.js';

export async function genkeyMain(argv: readonly string[], ctx: CliContext): Promise<number> {
  if (argv.length === 2 && isHelp(argv[1])) {
    ctx.out(commandHelp(argv[0]!, `Usage: ${ctx.prog} ${argv[0]}\n`));
    return 0;
  }
  if (argv.length !== 1) {
    ctx.err(`Usage: ${ctx.prog} ${argv[0]}\n`);
    return 1;
  }
  const mode = ctx.stdoutFileMode();
  if (mode !== null && (mode & 0o007) !== 0) {
    ctx.err(
      'Warning: writing to world accessible file.\nConsider setting the umask to 077 and trying again.\n',
    );
  }
  const key = argv[0] === 'genkey' ? PrivateKey.generate() : PresharedKey.generate();
  ctx.out(`${key.toBase64()}\n`);
  key.wipe();
  return 0;
}
