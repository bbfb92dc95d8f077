/**
 * `wgts strip` (wg-quick(8) "strip"; linux.bash `cmd_strip`): the config without the wg-quick keys,
 * as `wg setconf`/`wg addconf`/`wg syncconf` take it. Exactly wg-quick's output: the kept lines,
 * trimmed, each with its newline, then the newline `echo` adds.
 */
import type { QuickFile } from './config-extras.js';

export function stripOutput(file: QuickFile): string {
  return `${file.stripped}\n`;
}
