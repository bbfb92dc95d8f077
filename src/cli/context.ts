/**
 * What a wgts subcommand may touch of the outside world, passed in so tests can run commands in
 * process: its program name (wg prints `argv[0]` in usage lines), environment, the two output
 * streams, whether stdout is a terminal (colours), stdout's file mode (genkey's warning) and
 * standard input (pubkey). Every subcommand is `(args, ctx) => Promise<exit status>`, with
 * `args[0]` the subcommand's own name, as wg's `*_main(argc, argv)` receive it.
 */
import { fstatSync } from 'node:fs';

export interface CliContext {
  readonly prog: string;
  readonly env: NodeJS.ProcessEnv;
  out(text: string): void;
  err(text: string): void;
  readonly stdoutIsTTY: boolean;
  /** stdout's st_mode when it is a regular file, else null. */
  stdoutFileMode(): number | null;
  readStdin(): Promise<Buffer>;
}

export type Command = (args: readonly string[], ctx: CliContext) => Promise<number>;

/** The context of the real process. */
export function processContext(prog = 'wgts'): CliContext {
  return {
    prog,
    env: process.env,
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    stdoutIsTTY: process.stdout.isTTY === true,
    stdoutFileMode: () => {
      try {
        const st = fstatSync(1);
        return st.isFile() ? st.mode : null;
      } catch {
        return null;
      }
    },
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },
  };
}

/** True for the arguments every subcommand treats as a request for its usage. */
export function isHelp(arg: string | undefined): boolean {
  return arg === '--help' || arg === '-h';
}
