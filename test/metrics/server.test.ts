/**
 * The metrics HTTP server under hostile clients (src/metrics/server.ts), on the loopback: only
 * GET /metrics is answered (404 and 405 otherwise), oversized headers are refused, a slowloris
 * connection neither blocks a scrape nor outlives the headers timeout, connections beyond the
 * limit are shed, and concurrent scrapes share one rendering.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { MetricsServer } from '../../src/metrics/server.js';
import { sharedScrape } from '../../src/metrics/scrape.js';
import { DeviceNet } from '../helpers/device-net.js';

const BODY = '# HELP x_total x\n# TYPE x_total counter\nx_total 1\n';
let renders = 0;
const server = new MetricsServer(async () => {
  renders++;
  return [BODY.slice(0, 20), BODY.slice(20)];
});
let port = 0;

before(async () => {
  await server.listen({ host: '127.0.0.1', port: 0 });
  port = server.port;
});
after(() => server.close());

interface RawReply {
  readonly status: number;
  readonly head: string;
  readonly body: string;
}

/** Sends `request` bytes as they are and reads the reply until the server closes or 5 s pass. */
function raw(request: string, timeoutMs = 5_000): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no reply within ${timeoutMs} ms to ${JSON.stringify(request.slice(0, 40))}`));
    }, timeoutMs);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', body = ''] = text.split('\r\n\r\n', 2);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body });
    });
    s.write(request);
  });
}

const get = (path: string, method = 'GET'): Promise<RawReply> =>
  raw(`${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);

test('GET /metrics answers the exposition with its content type', async () => {
  const r = await get('/metrics');
  assert.equal(r.status, 200);
  assert.match(r.head, /content-type: text\/plain; version=0\.0\.4; charset=utf-8/i);
  assert.match(r.head, /transfer-encoding: chunked/i);
  assert.ok(r.body.replace(/\r\n[0-9a-f]+\r\n/g, '').includes(BODY), r.body);
  assert.equal((await get('/metrics?name[]=x')).status, 200);
});

test('other paths are 404 and other methods on /metrics are 405 with Allow: GET', async () => {
  for (const path of ['/', '/metric', '/metrics/', '/metrics/../metrics', '/Metrics', '*']) {
    assert.equal((await get(path)).status, 404, path);
  }
  for (const method of ['POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH']) {
    const r = await get('/metrics', method);
    assert.equal(r.status, 405, method);
    assert.match(r.head, /\r\nallow: GET/i);
  }
  const post = await raw('POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello');
  assert.equal(post.status, 405);
});

test('malformed requests and oversized headers are refused', async () => {
  assert.equal((await raw('GARBAGE\r\n\r\n')).status, 400);
  const big = `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(16 * 1024)}\r\n\r\n`;
  assert.equal((await raw(big)).status, 431);
});

test('a slowloris connection does not block scrapes and is closed by the headers timeout', async () => {
  const slow: Socket = connect(port, '127.0.0.1');
  const closed = new Promise<number>((resolve) => slow.on('close', () => resolve(performance.now())));
  slow.on('error', () => {});
  slow.resume(); // read (and discard) the server's answer, so its close is seen
  const started = performance.now();
  slow.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
  // One header byte every 200 ms keeps the socket busy, never finishing the headers.
  const drip = setInterval(() => {
    if (!slow.destroyed) slow.write('X');
  }, 200);
  try {
    const t0 = performance.now();
    const r = await get('/metrics');
    assert.equal(r.status, 200);
    assert.ok(performance.now() - t0 < 2_000, 'the scrape waited behind the slow client');
    const at = await Promise.race([
      closed,
      new Promise<number>((resolve) => setTimeout(() => resolve(-1), 12_000)),
    ]);
    assert.notEqual(at, -1, 'the slow connection was still open after 12 s');
    // Headers timeout 5 s, checked every second: cut between 5 and ~7 s.
    assert.ok(at - started >= 4_500, `closed too early: ${at - started} ms`);
  } finally {
    clearInterval(drip);
    slow.destroy();
  }
});

test('connections beyond the limit are shed while scrapes still succeed afterwards', async () => {
  const idle: Socket[] = [];
  try {
    for (let i = 0; i < 40; i++) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => {});
      idle.push(s);
    }
    // The excess is closed by the server at once; the first 16 stay open.
    const deadline = performance.now() + 5_000;
    while (idle.filter((s) => s.destroyed || s.readyState === 'closed').length < 40 - 16) {
      if (performance.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const shed = idle.filter((s) => s.destroyed || s.readyState === 'closed').length;
    assert.ok(shed >= 40 - 16, `only ${shed} of 40 idle connections were shed`);
  } finally {
    for (const s of idle) s.destroy();
  }
  const deadline = performance.now() + 5_000;
  let status = 0;
  while (status !== 200 && performance.now() < deadline)
    status = (await get('/metrics').catch(() => ({ status: 0 }))).status;
  assert.equal(status, 200);
});

test('concurrent scrapes share one rendering of the device', async () => {
  const dn = new DeviceNet();
  try {
    const node = await dn.node(1);
    let calls = 0;
    const shared = sharedScrape(node.device, () => {
      calls++;
      return 'wgfake1';
    });
    const bodies = await Promise.all(Array.from({ length: 8 }, () => shared()));
    assert.equal(calls, 1);
    assert.ok(
      bodies.every((b) => b === bodies[0] && b.join('').includes('wgts_peers{interface="wgfake1"} 0')),
    );
    await shared();
    assert.equal(calls, 2, 'a later scrape renders afresh');
  } finally {
    dn.close();
  }
  assert.ok(renders > 0);
});
