/**
 * Node's own HTTP client and server over the socket layer (TcpSocket, TcpServer) and the fake
 * stack: http.request({ createConnection }) against an http.Server fed through
 * server.emit('connection', socket). GET and POST with bodies of several MiB, checked by SHA-256,
 * exercise backpressure both ways across the fake's 64 KiB windows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { TcpServer } from '../../src/netstack/socket-server.js';
import type { TunnelNetwork } from '../../src/netstack/network-types.js';
import { FakeStack } from '../helpers/fake-stack.js';
import { waitFor } from '../helpers/netns.js';
import { listening, pattern, sha256 } from './socket-helpers.js';

const BIG = pattern(5 * 1024 * 1024, 7);

function startHttp(stack: FakeStack): Promise<{ port: number; close: () => void }> {
  const httpServer = http.createServer((req, res) => {
    if (req.method === 'GET') {
      res.setHeader('content-length', BIG.length);
      res.end(BIG);
      return;
    }
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    req.on('end', () => res.end(JSON.stringify({ bytes, hash: hash.digest('hex') })));
  });
  const server = stack.network.createServer((socket) => httpServer.emit('connection', socket));
  return listening(server, 8080, '10.0.0.2').then((port) => ({
    port,
    close: () => {
      server.close();
      httpServer.close();
    },
  }));
}

function request(
  network: TunnelNetwork,
  port: number,
  method: string,
  body?: Buffer,
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        method,
        host: '10.0.0.2',
        port,
        path: '/',
        createConnection: () => network.createConnection({ host: '10.0.0.2', port }),
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('http GET of 5 MiB through createConnection arrives intact', async () => {
  const stack = new FakeStack();
  try {
    const { port, close } = await startHttp(stack);
    const got = await request(stack.network, port, 'GET');
    assert.equal(got.status, 200);
    assert.equal(got.body.length, BIG.length);
    assert.equal(sha256(got.body), sha256(BIG));
    close();
    await waitFor(() => stack.tcp.connections.length === 0, { timeoutMs: 5000, what: 'connections gone' });
    await waitFor(() => stack.driver.refs === 0, { timeoutMs: 5000, what: 'no socket holding the loop' });
  } finally {
    stack.close();
  }
});

test('http POST of 4 MiB: the server hashes what it received', async () => {
  const stack = new FakeStack();
  try {
    const { port, close } = await startHttp(stack);
    const body = pattern(4 * 1024 * 1024, 99);
    const got = await request(stack.network, port, 'POST', body);
    assert.equal(got.status, 200);
    const summary = JSON.parse(got.body.toString()) as { bytes: number; hash: string };
    assert.equal(summary.bytes, body.length);
    assert.equal(summary.hash, sha256(body));
    close();
  } finally {
    stack.close();
  }
});

test('several requests at once share the stack without mixing bytes', async () => {
  const stack = new FakeStack();
  try {
    const { port, close } = await startHttp(stack);
    const results = await Promise.all([1, 2, 3].map(() => request(stack.network, port, 'GET')));
    for (const r of results) assert.equal(sha256(r.body), sha256(BIG));
    close();
  } finally {
    stack.close();
  }
});

test("http.Agent with keepAlive: one tunnel connection, unref'd while idle in the pool", async () => {
  const stack = new FakeStack();
  const network = stack.network;
  class TunnelAgent extends http.Agent {
    override createConnection(options: http.ClientRequestArgs): Duplex {
      return network.createConnection({ host: String(options.host), port: Number(options.port) });
    }
  }
  const agent = new TunnelAgent({ keepAlive: true });
  try {
    let connections = 0;
    const httpServer = http.createServer((req, res) => res.end(`hello ${req.url}`));
    const server = network.createServer((socket) => {
      connections++;
      httpServer.emit('connection', socket);
    });
    const port = await listening(server, 8088, '10.0.0.2');
    (server as TcpServer).unref();
    const get = (path: string): Promise<string> =>
      new Promise((resolve, reject) => {
        http
          .get({ host: '10.0.0.2', port, path, agent }, (res) => {
            const parts: Buffer[] = [];
            res.on('data', (c: Buffer) => parts.push(c));
            res.on('end', () => resolve(Buffer.concat(parts).toString()));
          })
          .on('error', reject);
      });
    assert.equal(await get('/a'), 'hello /a');
    await waitFor(() => stack.driver.refs === 1, { timeoutMs: 5000, what: "the pooled socket unref'd" });
    assert.equal(await get('/b'), 'hello /b');
    assert.equal(connections, 1);
    agent.destroy();
    server.close();
    httpServer.close();
  } finally {
    stack.close();
  }
});
