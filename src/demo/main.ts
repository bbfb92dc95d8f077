/**
 * Entry point of `npm run demo`, the README's first quick-start line: a live tunnel between two
 * wgtsd daemons in network namespaces on this machine. Where that cannot run (not root, no TUN),
 * it says why and runs the in-memory two-peer exchange instead. Exits non-zero on failure.
 */
import { liveDemoUnavailable, runLiveDemo } from './live.js';
import { runMemoryDemo } from './memory.js';

const why = liveDemoUnavailable();
if (why === null) {
  runLiveDemo().then(
    (ok) => (process.exitCode = ok ? 0 : 1),
    (err: Error) => {
      console.error(`demo failed: ${err.message}`);
      process.exitCode = 1;
    },
  );
} else {
  console.log(`live tunnel demo unavailable (${why}); running the in-memory exchange instead\n`);
  process.exitCode = runMemoryDemo() ? 0 : 1;
}
