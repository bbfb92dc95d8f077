/**
 * The skip reason of tests that need the native addon (the batched data path, the crypto pool):
 * false when it loads, else why not, for `{ skip: noNative }`.
 */
import { loadNative } from '../../src/io/native.js';

export const noNative = ((): string | false => {
  try {
    loadNative();
    return false;
  } catch (err) {
    return `native addon missing: ${(err as Error).message}`;
  }
})();
