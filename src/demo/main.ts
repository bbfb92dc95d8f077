/**
 * Entry point of `npm run demo`: the README's first quick-start line. Runs the in-memory two-peer
 * exchange and exits non-zero if the packet did not arrive intact.
 */
import { runMemoryDemo } from './memory.js';

process.exitCode = runMemoryDemo() ? 0 : 1;
