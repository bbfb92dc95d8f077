/**
 * wireproxy's static routines and our UDP ones, over the host-backed network with real sockets:
 * [TCPClientTunnel] (local listener → Target through the tunnel, IPv4 and bracketed IPv6),
 * [TCPServerTunnel] (tunnel listener → local Target), [UDPClientTunnel] and [UDPServerTunnel]
 * (per-source sessions: two clients get their own answers; idle sessions expire; the session
 * table is bounded).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect, createServer, type AddressInfo } from 'node:net';
import { UdpSessions } from '../../src/proxy/udp-sessions.js';
import { waitFor } from '../helpers/netns.js';
import { closeAll, echoServer, readBytes, startInProcess, udpEcho } from './helpers.js';

async function talk(port: number, host: string, text: string, expect: number): Promise<string> {
  const s = connect(port, host);
  s.write(text);
  const got = await readBytes(s, expect);
  s.destroy();
  return got.toString();
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

test('TCPClientTunnel joins local connections to Target through the tunnel (IPv4 and IPv6)', async () => {
  const echo4 = await echoServer('four:');
  const echo6 = await echoServer('six:', '::1');
  const p = await startInProcess(
    `[TCPClientTunnel]\nBindAddress = 127.0.0.1:0\nTarget = 127.0.0.1:${echo4.port}\n\n` +
      `[TCPClientTunnel]\nBindAddress = [::1]:0\nTarget = [::1]:${echo6.port}\n`,
  );
  try {
    assert.equal(await talk(p.port(0), '127.0.0.1', 'a', 6), 'four:a');
    assert.equal(await talk(p.port(1), '::1', 'b', 5), 'six:b');
    // Two connections at once stay separate.
    const [x, y] = await Promise.all([
      talk(p.port(0), '127.0.0.1', 'x', 6),
      talk(p.port(0), '127.0.0.1', 'y', 6),
    ]);
    assert.deepEqual([x, y], ['four:x', 'four:y']);
  } finally {
    await p.close();
    await closeAll(echo4.server, echo6.server);
  }
});

test('TCPServerTunnel joins tunnel connections at ListenPort to the local Target', async () => {
  const echo = await echoServer('srv:');
  const port = await freePort();
  const p = await startInProcess(
    `[TCPServerTunnel]\nListenPort = ${port}\nTarget = 127.0.0.1:${echo.port}\n`,
  );
  try {
    assert.equal(await talk(port, '127.0.0.1', 'hello', 9), 'srv:hello');
  } finally {
    await p.close();
    await closeAll(echo.server);
  }
});

test('TCPServerTunnel closes the tunnel connection when the local Target refuses', async () => {
  const port = await freePort();
  const dead = await freePort();
  const p = await startInProcess(`[TCPServerTunnel]\nListenPort = ${port}\nTarget = 127.0.0.1:${dead}\n`);
  try {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {});
    await new Promise<void>((resolve) => s.once('close', () => resolve()));
    assert.equal(s.bytesRead, 0);
  } finally {
    await p.close();
  }
});

test('UDPClientTunnel gives each local source its own session and answers', async () => {
  const echo = await udpEcho('udp4');
  const p = await startInProcess(
    `[UDPClientTunnel]\nBindAddress = 127.0.0.1:0\nTarget = 127.0.0.1:${echo.port}\n`,
  );
  const a = createSocket('udp4');
  const b = createSocket('udp4');
  const got: { a: string[]; b: string[] } = { a: [], b: [] };
  a.on('message', (m) => got.a.push(m.toString()));
  b.on('message', (m) => got.b.push(m.toString()));
  try {
    a.send('from-a', p.port(), '127.0.0.1');
    b.send('from-b', p.port(), '127.0.0.1');
    await waitFor(() => got.a.length === 1 && got.b.length === 1, { timeoutMs: 5000, what: 'both answers' });
    assert.deepEqual(got, { a: ['u:from-a'], b: ['u:from-b'] });
    const counters = (p.proxy.routines[0] as unknown as { counters: { sessions: number } }).counters;
    assert.equal(counters.sessions, 2);
  } finally {
    a.close();
    b.close();
    await p.close();
    await closeAll(echo.socket);
  }
});

test('UDPServerTunnel forwards tunnel datagrams at ListenPort to the local Target and back', async () => {
  const echo = await udpEcho('udp4');
  const probe = createSocket('udp4');
  await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
  const port = probe.address().port;
  probe.close();
  const p = await startInProcess(
    `[UDPServerTunnel]\nListenPort = ${port}\nTarget = 127.0.0.1:${echo.port}\n`,
  );
  const c = createSocket('udp4');
  const got: string[] = [];
  c.on('message', (m) => got.push(m.toString()));
  try {
    c.send('in', port, '127.0.0.1');
    await waitFor(() => got.length === 1, { timeoutMs: 5000, what: 'the answer' });
    assert.deepEqual(got, ['u:in']);
  } finally {
    c.close();
    await p.close();
    await closeAll(echo.socket);
  }
});

test('UDP sessions expire when idle and the table is bounded', () => {
  let now = 0;
  const closed: string[] = [];
  const counters = { forwarded: 0, returned: 0, dropped: 0, sessions: 0 };
  const table = new UdpSessions<{ close(): void }>(1000, counters, 2, () => now);
  const make = (name: string) => () => ({ close: () => void closed.push(name) });
  assert.ok(table.get('a', make('a')) !== null);
  assert.ok(table.get('b', make('b')) !== null);
  assert.equal(table.get('c', make('c')), null);
  assert.equal(counters.dropped, 1);
  now = 600;
  table.touch('a');
  now = 1200;
  table.sweep();
  assert.deepEqual(closed, ['b']);
  assert.equal(counters.sessions, 1);
  assert.ok(table.get('c', make('c')) !== null);
  table.closeAll();
  assert.deepEqual(closed.sort(), ['a', 'b', 'c']);
});
