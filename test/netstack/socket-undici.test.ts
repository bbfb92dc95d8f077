/**
 * undici (the engine of Node's fetch) over the socket layer: an Agent whose `connect` opens a
 * TcpSocket through the fake stack, against Node's http.Server fed through
 * emit('connection'). Requests reuse the kept-alive connection, as undici pools them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Socket } from 'node:net';
import { Agent, request } from 'undici';
import { FakeStack, ip } from '../helpers/fake-stack.js';
import { listening, pattern, sha256 } from './socket-helpers.js';

test('undici Agent({ connect }) requests through the tunnel', async () => {
  const stack = new FakeStack();
  stack.names.set('app.tunnel', [ip('10.0.0.2')]);
  const body = pattern(2 * 1024 * 1024, 5);
  let connections = 0;
  const httpServer = http.createServer((req, res) => {
    if (req.url === '/big') res.end(body);
    else res.end(`hello ${req.url}`);
  });
  const server = stack.network.createServer((socket) => {
    connections++;
    httpServer.emit('connection', socket);
  });
  const agent = new Agent({
    connect: (options, callback) => {
      const socket = stack.network.createConnection({ host: options.hostname, port: Number(options.port) });
      socket.once('connect', () => callback(null, socket as unknown as Socket));
      socket.once('error', (error) => callback(error, null));
    },
  });
  try {
    const port = await listening(server, 8080);
    const first = await request(`http://app.tunnel:${port}/one`, { dispatcher: agent });
    assert.equal(first.statusCode, 200);
    assert.equal(await first.body.text(), 'hello /one');
    // undici hands a socket back to its pool one event-loop turn after a response.
    await new Promise((resolve) => setImmediate(resolve));
    const big = await request(`http://app.tunnel:${port}/big`, { dispatcher: agent });
    const bytes = Buffer.from(await big.body.arrayBuffer());
    assert.equal(sha256(bytes), sha256(body));
    assert.equal(connections, 1, 'the pooled connection was reused');
    await assert.rejects(request(`http://10.0.0.2:${port + 1}/`, { dispatcher: agent }), {
      code: 'ECONNREFUSED',
    });
  } finally {
    await agent.close();
    server.close();
    httpServer.close();
    stack.close();
  }
});
