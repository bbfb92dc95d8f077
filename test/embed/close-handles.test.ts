/**
 * close() releases every handle (UDP sockets, timers, the stack): a child process that opens two
 * interfaces, pings through them, has one open refused, and closes them must then exit by itself,
 * with nothing left to keep its event loop alive. A child that does not exit within the deadline
 * is killed (by its pid) and the test fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const INDEX = fileURLToPath(new URL('../../src/index.js', import.meta.url));
const FAKE = fileURLToPath(new URL('./fake-stack.js', import.meta.url));
const EXIT_DEADLINE_MS = 20_000;

const child = `
import { WireGuard, generatePrivateKey, publicKeyOf, keyToBase64 } from ${JSON.stringify(INDEX)};
import { fakeStack } from ${JSON.stringify(FAKE)};
const ka = generatePrivateKey(), kb = generatePrivateKey();
const A = await WireGuard.open({
  config: { interface: { privateKey: keyToBase64(ka), addresses: ['10.8.0.1/32'] },
            peers: [{ publicKey: keyToBase64(publicKeyOf(kb)), allowedIPs: ['10.8.0.2/32'] }] },
  stack: fakeStack().factory,
});
const B = await WireGuard.open({
  config: { interface: { privateKey: keyToBase64(kb), addresses: ['10.8.0.2/32'] },
            peers: [{ publicKey: keyToBase64(publicKeyOf(ka)), allowedIPs: ['10.8.0.1/32'],
                      endpoint: '127.0.0.1:' + A.listenPort, persistentKeepalive: 1 }] },
  stack: fakeStack().factory,
});
await B.network.ping('10.8.0.1', 5000);
await WireGuard.open({ config: { interface: { privateKey: keyToBase64(ka), listenPort: A.listenPort } },
  stack: fakeStack().factory }).then(
  () => { throw new Error('a second interface on the same port opened'); },
  (err) => { if (err.code !== 'EADDRINUSE') throw err; },
);
await Promise.all([A.close(), B.close()]);
process.stdout.write('closed\\n');
`;

test('a process that closed its interfaces exits on its own', async () => {
  const proc = spawn(process.execPath, ['--input-type=module', '-e', child], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const started = Date.now();
  const code = await new Promise<number | string>((resolve) => {
    const timer = setTimeout(() => {
      if (proc.pid !== undefined) process.kill(proc.pid, 'SIGKILL');
      resolve('killed');
    }, EXIT_DEADLINE_MS);
    proc.on('exit', (c, signal) => {
      clearTimeout(timer);
      resolve(c ?? signal ?? 'unknown');
    });
  });
  assert.equal(code, 0, `child did not exit cleanly by itself (${code}):\n${out}`);
  assert.match(out, /^closed$/m);
  assert.ok(Date.now() - started < EXIT_DEADLINE_MS);
});
