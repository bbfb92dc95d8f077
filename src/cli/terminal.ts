/**
 * wg(8)'s terminal output (wireguard-tools src/terminal.c): ANSI colours when WG_COLOR_MODE is
 * `always`, none when `never`, otherwise only when stdout is a terminal. Without colours every
 * printf is filtered: each ESC [ … up to and including the next letter is dropped, from the whole
 * formatted text (so escapes inside an interface name go too), except an ESC [ that starts within
 * the last two characters of one printf's output, which wg's loop never looks at.
 */
export const RESET = '\x1b[0m';
export const BOLD = '\x1b[1m';
export const RED = '\x1b[31m';
export const GREEN = '\x1b[32m';
export const YELLOW = '\x1b[33m';
export const CYAN = '\x1b[36m';

export function colorMode(env: NodeJS.ProcessEnv, stdoutIsTTY: boolean): boolean {
  const v = env['WG_COLOR_MODE'];
  if (v === 'always') return true;
  if (v === 'never') return false;
  return stdoutIsTTY;
}

function isAlpha(c: string): boolean {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/** One printf's output with its escape sequences removed, as filter_ansi does it. */
export function filterAnsi(text: string): string {
  const n = text.length;
  let out = '';
  let i = 0;
  while (i < n) {
    if (i < n - 2 && text[i] === '\x1b' && text[i + 1] === '[') {
      let j = i + 2;
      while (j < n && !isAlpha(text[j]!)) j++;
      i = j + 1;
      continue;
    }
    out += text[i];
    i++;
  }
  return out;
}

/** Collects terminal_printf calls: each chunk is filtered separately when colours are off. */
export class TerminalText {
  #parts: string[] = [];
  constructor(private readonly color: boolean) {}
  printf(chunk: string): void {
    this.#parts.push(this.color ? chunk : filterAnsi(chunk));
  }
  toString(): string {
    return this.#parts.join('');
  }
}
