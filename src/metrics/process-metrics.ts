/**
 * The standard process_* families every Prometheus client library exports (the Go client's names
 * and HELP text): CPU seconds, resident and virtual memory, open and maximum file descriptors,
 * and the start time. Linux only: /proc/self for descriptors, limits and virtual size; Node for
 * CPU time and RSS. A figure that cannot be read is left out rather than reported as 0.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Exposition } from './text-format.js';

/** performance.timeOrigin is when this process started, in wall-clock milliseconds. */
const START_SECONDS = Math.floor(performance.timeOrigin / 1000);

function tryRead<T>(read: () => T): T | null {
  try {
    return read();
  } catch {
    return null;
  }
}

export function writeProcessMetrics(out: Exposition): void {
  const cpu = process.cpuUsage();
  out.single(
    'process_cpu_seconds_total',
    'counter',
    'Total user and system CPU time spent in seconds.',
    '',
    (cpu.user + cpu.system) / 1e6,
  );
  out.single(
    'process_resident_memory_bytes',
    'gauge',
    'Resident memory size in bytes.',
    '',
    process.memoryUsage.rss(),
  );
  // /proc/self/stat field 23 is vsize in bytes; the command name (field 2) may hold spaces.
  const vsize = tryRead(() => {
    const stat = readFileSync('/proc/self/stat', 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[20]);
  });
  if (vsize !== null && Number.isFinite(vsize))
    out.single('process_virtual_memory_bytes', 'gauge', 'Virtual memory size in bytes.', '', vsize);
  // The listing itself holds one descriptor open while it reads.
  const fds = tryRead(() => readdirSync('/proc/self/fd').length - 1);
  if (fds !== null) out.single('process_open_fds', 'gauge', 'Number of open file descriptors.', '', fds);
  const maxFds = tryRead(() => {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'latin1'));
    return m === null ? null : Number(m[1]);
  });
  if (maxFds !== null)
    out.single('process_max_fds', 'gauge', 'Maximum number of open file descriptors.', '', maxFds);
  out.single(
    'process_start_time_seconds',
    'gauge',
    'Start time of the process since unix epoch in seconds.',
    '',
    START_SECONDS,
  );
}
