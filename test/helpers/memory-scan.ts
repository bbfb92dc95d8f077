/**
 * Counts copies of secret byte strings in another process's memory, for the key-hygiene tests
 * (issue 11, "Key material lingers"): reads every readable mapping of /proc/PID/maps through
 * /proc/PID/mem and counts each needle's occurrences. The scan runs in a different process from
 * the one scanned, so the scanner's own copies of the needles and its read buffers are never
 * counted. Needs ptrace read access to the target (root, or the target's parent under Yama's
 * default ptrace_scope 1) and a dumpable target.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

const CHUNK = 1 << 20;

interface Region {
  readonly start: number;
  readonly end: number;
  readonly name: string;
}

function readableRegions(pid: number): Region[] {
  const out: Region[] = [];
  for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m === null || !m[3]!.startsWith('r')) continue;
    const name = m[4] ?? '';
    // The kernel's pages (vvar, vsyscall) fault on read and hold nothing of the process.
    if (name === '[vvar]' || name === '[vsyscall]' || name === '[vvar_vclock]') continue;
    out.push({ start: parseInt(m[1]!, 16), end: parseInt(m[2]!, 16), name });
  }
  return out;
}

/**
 * How many times each needle occurs in `pid`'s readable memory. Chunks overlap by one needle
 * length less one byte, so a copy straddling a chunk boundary is found exactly once.
 */
export function countCopies(pid: number, needles: ReadonlyMap<string, Uint8Array>): Map<string, number> {
  const counts = new Map<string, number>([...needles.keys()].map((k) => [k, 0]));
  const width = Math.max(1, ...[...needles.values()].map((n) => n.length));
  const list = [...needles].map(([k, v]): [string, Buffer] => [k, Buffer.from(v)]);
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  const buf = Buffer.alloc(CHUNK + width);
  try {
    for (const r of readableRegions(pid)) {
      for (let at = r.start; at < r.end; at += CHUNK) {
        const want = Math.min(CHUNK + width - 1, r.end - at);
        let got: number;
        try {
          got = readSync(fd, buf, 0, want, at);
        } catch {
          break; // a guard page or a mapping that went away: nothing readable there
        }
        const view = buf.subarray(0, got);
        for (const [k, needle] of list) {
          // Count only matches that start in this chunk's own CHUNK bytes (the overlap is the next chunk's).
          let n = 0;
          for (let i = view.indexOf(needle); i !== -1 && i < CHUNK; i = view.indexOf(needle, i + 1)) n++;
          counts.set(k, counts.get(k)! + n);
        }
      }
    }
  } finally {
    closeSync(fd);
    buf.fill(0);
  }
  return counts;
}
