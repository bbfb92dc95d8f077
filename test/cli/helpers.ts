/**
 * Helpers for the wgts CLI tests: run the built CLI (dist/src/cli/main.js) or the real `wg` as
 * child processes with a chosen environment, compare their outputs allowing for the clock ticking
 * between the two runs, and a scriptable UAPI target for UapiServer.
 */
import { fileURLToPath } from 'node:url';
import { exec, type ExecResult } from '../helpers/netns.js';
import type { DeviceSet, DeviceSnapshot, UapiTarget } from '../../src/uapi/types.js';

export const CLI_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface RunOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly input?: string | Uint8Array;
  readonly ns?: string | null;
  readonly timeoutMs?: number;
}

function envWith(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['WG_COLOR_MODE'];
  delete env['WG_HIDE_KEYS'];
  delete env['WG_ENDPOINT_RESOLUTION_RETRIES'];
  return { ...env, ...extra };
}

export function runWgts(args: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
  return exec(opts.ns ?? null, process.execPath, [CLI_MAIN, ...args], {
    env: envWith(opts.env),
    timeoutMs: opts.timeoutMs ?? 20_000,
    ...(opts.input === undefined ? {} : { input: opts.input }),
  });
}

export function runWg(args: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
  return exec(opts.ns ?? null, 'wg', args, {
    env: envWith(opts.env),
    timeoutMs: opts.timeoutMs ?? 20_000,
    ...(opts.input === undefined ? {} : { input: opts.input }),
  });
}

export interface Comparison {
  readonly same: boolean;
  readonly wg: ExecResult;
  readonly wgts: ExecResult;
  readonly attempts: number;
}

/**
 * Runs `wg ARGS` and `wgts ARGS` until stdout and exit status agree, at most `attempts` times
 * (the "N seconds ago" lines may straddle a second boundary; wireguard-go lists peers in random
 * order). `normalize` maps each stdout before comparing (identity by default).
 */
export async function compareWithWg(
  args: readonly string[],
  opts: RunOptions & { attempts?: number; normalize?: (s: string) => string } = {},
): Promise<Comparison> {
  const attempts = opts.attempts ?? 5;
  const norm = opts.normalize ?? ((s: string) => s);
  let last: Comparison | null = null;
  for (let i = 1; i <= attempts; i++) {
    const [wg, wgts] = await Promise.all([runWg(args, opts), runWgts(args, opts)]);
    const same = norm(wg.stdout) === norm(wgts.stdout) && wg.code === wgts.code;
    last = { same, wg, wgts, attempts: i };
    if (same) return last;
  }
  return last!;
}

export function describeDiff(c: Comparison): string {
  return (
    `after ${c.attempts} attempts:\n--- wg (exit ${c.wg.code}) ---\n${c.wg.stdout}${c.wg.stderr}` +
    `\n--- wgts (exit ${c.wgts.code}) ---\n${c.wgts.stdout}${c.wgts.stderr}`
  );
}

/** Splits peer blocks (pretty output) or lines and sorts them: order-insensitive comparison. */
export function sortBlocks(text: string): string {
  if (text.includes('\npeer: ') || text.startsWith('peer: ')) {
    return text
      .split(/\n\n/)
      .map((b) => b.trim())
      .sort()
      .join('\n\n');
  }
  return text.split('\n').sort().join('\n');
}

/** A UAPI target that serves `state` and records every request. */
export class RecordingTarget implements UapiTarget {
  readonly applied: DeviceSet[] = [];
  state: DeviceSnapshot;
  constructor(state: DeviceSnapshot) {
    this.state = state;
  }
  snapshot(): DeviceSnapshot {
    return this.state;
  }
  async apply(set: DeviceSet): Promise<number> {
    this.applied.push(set);
    return 0;
  }
}

export const key = (b64: string): Uint8Array => new Uint8Array(Buffer.from(b64, 'base64'));
