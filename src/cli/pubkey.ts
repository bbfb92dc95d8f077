/**
 * `wgts pubkey` (wg(8); wireguard-tools src/pubkey.c): a base64 private key on stdin, its public
 * key on stdout. As wg: exactly 44 characters, then only whitespace or NUL bytes; otherwise
 * `PROG: Trailing characters found after key` or `PROG: Key is not the correct length or format`
 * and exit status 1. The key is clamped before use, as X25519 requires.
 */
import { parseKeyBase64, PrivateKey } from '../crypto/keys.js';
import { wipe } from '../crypto/bytes.js';
import { isHelp, type CliContext } from './context.js';
import { commandHelp } from './help.js';

export async function pubkeyMain(argv: readonly string[], ctx: CliContext): Promise<number> {
  if (argv.length === 2 && isHelp(argv[1])) {
    ctx.out(commandHelp(argv[0]!, `Usage: ${ctx.prog} ${argv[0]}\n`));
    return 0;
  }
  if (argv.length !== 1) {
    ctx.err(`Usage: ${ctx.prog} ${argv[0]}\n`);
    return 1;
  }
  const input = await ctx.readStdin();
  try {
    if (input.length < 44) {
      ctx.err(`${ctx.prog}: Key is not the correct length or format\n`);
      return 1;
    }
    for (let i = 44; i < input.length; i++) {
      const c = input[i]!;
      if (c === 0 || c === 0x20 || (c >= 0x09 && c <= 0x0d)) continue;
      ctx.err(`${ctx.prog}: Trailing characters found after key\n`);
      return 1;
    }
    const bytes = parseKeyBase64(input.subarray(0, 44).toString('latin1'));
    if (bytes === null) {
      ctx.err(`${ctx.prog}: Key is not the correct length or format\n`);
      return 1;
    }
    const key = new PrivateKey(bytes);
    wipe(bytes);
    ctx.out(`${key.publicKey().toBase64()}\n`);
    key.wipe();
    return 0;
  } finally {
    wipe(input);
  }
}
