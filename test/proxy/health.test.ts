/**
 * The health endpoint (`-i ADDR`, wireproxy's README "Health endpoint"): /metrics is the UAPI dump
 * with private and preshared keys redacted; /readyz maps each CheckAlive address to the Unix time
 * of its last echo reply (0 before any) with 200 while all are fresher than CheckAliveInterval +
 * 2 s and 503 otherwise; unknown paths are 404 and other methods 405. Pings go through the network's
 * ping() (the real `ping` command to the loopback here).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readyz, redactUapi } from '../../src/proxy/health.js';
import { waitFor, which } from '../helpers/netns.js';
import { startInProcess } from './helpers.js';

const noPing = which('ping') === null ? 'ping is not installed' : false;

async function get(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  return { status: r.status, body: await r.text() };
}

const UAPI =
  'private_key=e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a\nlisten_port=51820\n' +
  'public_key=b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33\n' +
  'preshared_key=188515093e952f5f22e865cef3012e72f8b5f0b598ac0309d5dacce3b70fcf52\nerrno=0\n\n';

test('/metrics is the UAPI dump with keys redacted; unknown paths 404; POST 405', async () => {
  const p = await startInProcess('', { info: '127.0.0.1:0', uapi: UAPI });
  try {
    const port = p.port(p.proxy.routines.length - 1);
    const m = await get(port, '/metrics');
    assert.equal(m.status, 200);
    assert.equal(m.body, redactUapi(UAPI));
    assert.match(m.body, /^private_key=REDACTED$/m);
    assert.match(m.body, /^preshared_key=REDACTED$/m);
    assert.match(m.body, /^public_key=b859/m);
    assert.equal((await get(port, '/nope')).status, 404);
    assert.equal((await get(port, '/metrics', 'POST')).status, 405);
    // No CheckAlive: nothing to be stale, so ready.
    assert.deepEqual(await get(port, '/readyz'), { status: 200, body: '{}\n' });
  } finally {
    await p.close();
  }
});

test('/readyz turns 200 once every CheckAlive address answered', { skip: noPing }, async () => {
  const p = await startInProcess('', {
    info: '127.0.0.1:0',
    interfaceExtra: 'CheckAlive = 127.0.0.1, ::1\nCheckAliveInterval = 2\n',
  });
  try {
    const port = p.port(p.proxy.routines.length - 1);
    const r = await waitFor(
      async () => {
        const x = await get(port, '/readyz');
        return x.status === 200 ? x : null;
      },
      { timeoutMs: 10_000, what: '/readyz 200' },
    );
    const body = JSON.parse(r.body) as Record<string, number>;
    assert.deepEqual(Object.keys(body).sort(), ['127.0.0.1', '::1']);
    for (const t of Object.values(body)) assert.ok(Math.abs(t - Date.now() / 1000) < 10);
  } finally {
    await p.close();
  }
});

test('/readyz is 503 with 0 for an address that never answered', async () => {
  const p = await startInProcess('', {
    info: '127.0.0.1:0',
    interfaceExtra: 'CheckAlive = 10.200.200.9\n',
    pingable: () => false,
  });
  try {
    const port = p.port(p.proxy.routines.length - 1);
    await waitFor(() => p.network.pings > 0, { timeoutMs: 5000, what: 'a ping' });
    assert.deepEqual(await get(port, '/readyz'), { status: 503, body: '{"10.200.200.9":0}\n' });
  } finally {
    await p.close();
  }
});

test('readyz: fresh within CheckAliveInterval + 2 s, stale after', () => {
  const record = new Map([
    ['10.0.0.1', 100_000],
    ['10.0.0.2', 101_000],
  ]);
  assert.equal(readyz(record, 5, 107_000).status, 200);
  assert.equal(readyz(record, 5, 107_001).status, 503);
  assert.equal(readyz(record, 5, 107_000).body, '{"10.0.0.1":100,"10.0.0.2":101}\n');
});
