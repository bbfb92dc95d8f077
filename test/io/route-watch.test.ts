/**
 * RouteWatch (src/io/route-watch.ts): the NETLINK_ROUTE change watch read by the event loop,
 * behind the padding cap's route MTUs and the sticky source check. A change the kernel announces
 * (an address or a route added, in a namespace of the test's own) is seen without anyone
 * draining the socket; asking twice without a change answers "unchanged"; a closed watch answers
 * "changed" forever and keeps no handle open (the child process exits by itself).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadNative } from '../../src/io/native.js';
import { RouteWatch } from '../../src/io/route-watch.js';
import { cleanup, createNamespace, isRoot, uniqueName } from '../helpers/netns.js';

const skip = process.platform === 'linux' ? false : 'Linux only';
const WATCH_JS = fileURLToPath(new URL('../../src/io/route-watch.js', import.meta.url));
const NATIVE_JS = fileURLToPath(new URL('../../src/io/native.js', import.meta.url));

/**
 * Runs in the namespace: opens a watch, checks it is quiet, adds an address and a route with
 * `ip`, and waits (bounded) for each to be announced. Prints one JSON line; the process must then
 * exit on its own, which it cannot while a reader is still polling.
 */
const CHILD = `
import { execFileSync } from 'node:child_process';
import { RouteWatch } from ${JSON.stringify(WATCH_JS)};
import { loadNative } from ${JSON.stringify(NATIVE_JS)};
const ip = (...a) => execFileSync('ip', a, { stdio: 'ignore' });
const waitChange = async (w, seen) => {
  const deadline = Date.now() + 5000;
  while (!w.changedSince(seen)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
};
ip('link', 'set', 'lo', 'up');
const w = new RouteWatch(loadNative());
const start = w.generation;
const quiet = !w.changedSince(start) && !w.changedSince(start);
ip('addr', 'add', '10.231.7.1/32', 'dev', 'lo');
const sawAddress = await waitChange(w, start);
const afterAddress = w.generation;
ip('route', 'add', '10.231.8.0/24', 'dev', 'lo');
const sawRoute = await waitChange(w, afterAddress);
w.close();
w.close();
console.log(JSON.stringify({ quiet, sawAddress, sawRoute, closedChanged: w.changedSince(w.generation) }));
`;

describe('RouteWatch', { skip }, () => {
  it('answers "changed" once closed, and closing twice is harmless', () => {
    const w = new RouteWatch(loadNative());
    const g = w.generation;
    w.close();
    w.close();
    assert.equal(w.changedSince(g), true);
    assert.equal(w.changedSince(w.generation), true);
  });

  it(
    'sees an address and a route added in its namespace, with no drain by the caller',
    { skip: isRoot() ? false : 'needs root (a network namespace)' },
    async () => {
      const ns = await createNamespace(uniqueName('lt'));
      try {
        const out = execFileSync(
          'ip',
          ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', CHILD],
          { encoding: 'utf8', timeout: 20_000 },
        );
        const result = JSON.parse(out.trim().split('\n').pop()!) as Record<string, boolean>;
        assert.deepEqual(result, { quiet: true, sawAddress: true, sawRoute: true, closedChanged: true });
      } finally {
        await cleanup();
      }
    },
  );
});
