/**
 * TcpSocket and TcpServer over the fake stack: net.Socket's events and properties, end() as a
 * half close with allowHalfOpen's rule, flow control both ways (a reader that stops closes the
 * window; a writer waits for 'drain'), and errors with Node's codes, messages and fields
 * (ECONNREFUSED, ETIMEDOUT on a connect timeout, ECONNRESET mid-stream, EADDRINUSE, ENOTFOUND).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { TunnelSocket } from '../../src/netstack/network-types.js';
import { TcpServer } from '../../src/netstack/socket-server.js';
import type { TcpSocket } from '../../src/netstack/socket.js';
import type { NodeSystemError } from '../../src/netstack/socket-errors.js';
import { FakeStack, ip } from '../helpers/fake-stack.js';
import { waitFor } from '../helpers/netns.js';
import { drain, listening, pattern, sha256 } from './socket-helpers.js';

async function withStack(fn: (stack: FakeStack) => Promise<void>): Promise<void> {
  const stack = new FakeStack();
  try {
    await fn(stack);
  } finally {
    stack.close();
  }
}

test('connect: events, addresses and an echo round trip; end() closes in order without RST', () =>
  withStack(async (stack) => {
    const server = stack.network.createServer((socket) => socket.pipe(socket));
    const port = await listening(server, 7, '10.0.0.2');
    const socket = stack.network.createConnection({ host: '10.0.0.2', port });
    assert.equal(socket.connecting, true);
    const events: string[] = [];
    for (const name of ['connect', 'ready', 'end', 'finish']) socket.on(name, () => events.push(name));
    await once(socket, 'connect');
    assert.equal(socket.connecting, false);
    assert.equal(socket.remoteAddress, '10.0.0.2');
    assert.equal(socket.remotePort, port);
    assert.equal(socket.remoteFamily, 'IPv4');
    assert.equal(socket.localAddress, '10.0.0.1');
    assert.ok(socket.localPort! > 0);
    socket.end('hello through the tunnel');
    const [got, [hadError]] = await Promise.all([drain(socket), once(socket, 'close')]);
    assert.equal(got.hash, sha256(Buffer.from('hello through the tunnel')));
    assert.equal(hadError, false);
    assert.deepEqual(events, ['connect', 'ready', 'finish', 'end']);
    assert.equal(socket.bytesWritten, 24);
    assert.equal(socket.bytesRead, 24);
    await waitFor(() => stack.tcp.connections.length === 0, { timeoutMs: 5000, what: 'both ends closed' });
    assert.equal(stack.tcp.aborts, 0, 'an orderly close sends no RST');
    server.close();
    await once(server, 'close');
    assert.equal(stack.driver.refs, 0);
  }));

test('allowHalfOpen false (the default): the server ends once it read our FIN', () =>
  withStack(async (stack) => {
    const server = stack.network.createServer((socket) => socket.resume());
    const port = await listening(server, 9000);
    const socket = await stack.network.connect({ host: 'fd00::1', port });
    assert.equal(socket.remoteFamily, 'IPv6');
    socket.end(pattern(300_000));
    const reply = await drain(socket);
    assert.equal(reply.bytes, 0);
    await waitFor(() => stack.tcp.connections.length === 0, { timeoutMs: 5000, what: 'both ends closed' });
    assert.equal(stack.tcp.aborts, 0);
    server.close();
  }));

test("allowHalfOpen true: the server may keep writing after the client's FIN", () =>
  withStack(async (stack) => {
    const server = new TcpServer({ tcp: stack.tcp, keeper: stack.driver, allowHalfOpen: true }, (socket) => {
      let bytes = 0;
      socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
      socket.on('end', () => socket.end(`got ${bytes}`));
    });
    const port = await listening(server, 9001);
    const socket = await stack.network.connect({ host: 'fd00::1', port });
    socket.end(pattern(300_000));
    const reply = await drain(socket);
    assert.equal(reply.hash, sha256(Buffer.from('got 300000')));
    server.close();
  }));

test('hostnames resolve through the network; unknown names fail like getaddrinfo', () =>
  withStack(async (stack) => {
    stack.names.set('svc.tunnel', [ip('10.0.0.2')]);
    const server = stack.network.createServer((s) => s.end('hi'));
    const port = await listening(server, 80);
    const socket = await stack.network.connect({ host: 'svc.tunnel', port });
    assert.equal(socket.remoteAddress, '10.0.0.2');
    await drain(socket);
    assert.deepEqual(await stack.network.lookup('svc.tunnel'), [{ address: '10.0.0.2', family: 4 }]);
    assert.deepEqual(await stack.network.lookup('fd00::1'), [{ address: 'fd00::1', family: 6 }]);
    await assert.rejects(stack.network.connect({ host: 'nope.tunnel', port }), {
      code: 'ENOTFOUND',
      syscall: 'getaddrinfo',
      message: 'getaddrinfo ENOTFOUND nope.tunnel',
    });
    server.close();
  }));

test('ECONNREFUSED with net.Socket fields', () =>
  withStack(async (stack) => {
    const socket = stack.network.createConnection({ host: '10.0.0.2', port: 81 });
    const [error] = (await once(socket, 'error')) as [NodeSystemError];
    assert.equal(error.message, 'connect ECONNREFUSED 10.0.0.2:81');
    assert.equal(error.code, 'ECONNREFUSED');
    assert.equal(error.errno, -111);
    assert.equal(error.syscall, 'connect');
    assert.equal(error.address, '10.0.0.2');
    assert.equal(error.port, 81);
    const [hadError] = (await once(socket, 'close')) as [boolean];
    assert.equal(hadError, true);
    assert.equal(stack.driver.refs, 0);
  }));

test('ETIMEDOUT when the connect timeout passes without an answer', () =>
  withStack(async (stack) => {
    const started = performance.now();
    await assert.rejects(stack.network.connect({ host: '10.9.9.9', port: 80, timeout: 150 }), {
      code: 'ETIMEDOUT',
      syscall: 'connect',
      message: 'connect ETIMEDOUT 10.9.9.9:80',
      address: '10.9.9.9',
      port: 80,
    });
    assert.ok(performance.now() - started >= 140);
    // The half-open attempt was aborted, not left behind.
    assert.equal(stack.tcp.aborts, 1);
  }));

test('ECONNRESET mid-stream when the peer resets', () =>
  withStack(async (stack) => {
    const server = stack.network.createServer((socket) => {
      socket.write('partial');
      socket.once('data', () => (socket as TcpSocket).resetAndDestroy());
    });
    const port = await listening(server, 8081);
    const socket = await stack.network.connect({ host: '10.0.0.1', port });
    const [first] = (await once(socket, 'data')) as [Buffer];
    assert.equal(first.toString(), 'partial');
    socket.write('go');
    const [error] = (await once(socket, 'error')) as [NodeSystemError];
    assert.equal(error.code, 'ECONNRESET');
    assert.equal(error.message, 'read ECONNRESET');
    assert.equal(error.syscall, 'read');
    assert.equal(error.errno, -104);
    const [hadError] = (await once(socket, 'close')) as [boolean];
    assert.equal(hadError, true);
    server.close();
  }));

test('EADDRINUSE on listen, in the event and the message Node uses', () =>
  withStack(async (stack) => {
    const a = stack.network.createServer();
    await listening(a, 80);
    const b = stack.network.createServer();
    b.listen(80);
    const [error] = (await once(b, 'error')) as [NodeSystemError];
    assert.equal(error.code, 'EADDRINUSE');
    assert.equal(error.syscall, 'listen');
    assert.equal(error.message, 'listen EADDRINUSE: address already in use :::80');
    assert.equal(error.port, 80);
    assert.equal(b.listening, false);
    a.close();
    const closed = new Promise<Error | undefined>((resolve) => b.close(resolve));
    assert.equal(((await closed) as { code?: string }).code, 'ERR_SERVER_NOT_RUNNING');
  }));

test('a reader that stops closes the window; the writer then waits for drain', () =>
  withStack(async (stack) => {
    const total = 3 * 1024 * 1024;
    const data = pattern(total, 3);
    let drains = 0;
    let serverSocket: TunnelSocket | null = null;
    const writerDone = new Promise<void>((resolve) => {
      const server = stack.network.createServer(async (socket) => {
        serverSocket = socket;
        for (let off = 0; off < total; off += 32 * 1024) {
          if (!socket.write(data.subarray(off, off + 32 * 1024))) {
            drains++;
            await once(socket, 'drain');
          }
        }
        socket.end();
        server.close();
        resolve();
      });
      server.listen(5001);
    });
    const socket = await stack.network.connect({ host: '10.0.0.2', port: 5001 });
    socket.pause();
    // Nothing can move any more: the client's window is full and nobody reads.
    await waitFor(() => serverSocket !== null && stack.tcp.nextDeadline() === Infinity && drains > 0, {
      timeoutMs: 5000,
      what: 'the transfer to stall',
    });
    const client = stack.tcp.connections.find((c) => c.local.port === socket.localPort)!;
    assert.ok(client.unconsumed <= stack.tcp.receiveWindow, 'never more than the window unconsumed');
    assert.ok(client.unconsumed > 0);
    assert.ok(socket.readableLength <= socket.readableHighWaterMark + stack.tcp.receiveWindow);
    assert.ok(serverSocket!.bytesWritten < total, 'the writer is held back');
    const got = await drain(socket);
    await writerDone;
    assert.equal(got.bytes, total);
    assert.equal(got.hash, sha256(data));
    assert.ok(drains > 0);
    assert.ok(client.maxUnconsumed <= stack.tcp.receiveWindow);
  }));

test('setTimeout emits timeout when idle; setKeepAlive/setNoDelay reach the connection', () =>
  withStack(async (stack) => {
    const server = stack.network.createServer((s) => s.on('error', () => undefined));
    const port = await listening(server, 22);
    const socket = stack.network.createConnection({ host: '10.0.0.2', port });
    socket.setKeepAlive(true, 30_000).setNoDelay(true);
    await once(socket, 'connect');
    const conn = stack.tcp.connections.find((c) => c.local.port === socket.localPort)!;
    assert.deepEqual(conn.keepAlive, [true, 30_000]);
    assert.equal(conn.noDelay, true);
    let fired = false;
    socket.setTimeout(50, () => (fired = true));
    await once(socket, 'timeout');
    assert.equal(fired, true);
    socket.destroy();
    await once(socket, 'close');
    server.close();
  }));

test("ref and unref: only ref'd open sockets hold the driver", () =>
  withStack(async (stack) => {
    const server = new TcpServer({ tcp: stack.tcp, keeper: stack.driver }, (s) =>
      s.resume().on('error', () => undefined),
    );
    const port = await listening(server, 23);
    assert.equal(stack.driver.refs, 1, 'a listening server holds the loop');
    server.unref();
    assert.equal(stack.driver.refs, 0);
    const socket = await stack.network.connect({ host: '10.0.0.2', port });
    assert.equal(stack.driver.refs, 2, "both ends are open and ref'd");
    socket.unref().unref();
    assert.equal(stack.driver.refs, 1);
    socket.ref();
    assert.equal(stack.driver.refs, 2);
    socket.destroy();
    await waitFor(() => stack.driver.refs === 0, { timeoutMs: 5000, what: 'all released' });
    server.close();
  }));

test('destroy() is close(2): FIN when everything was read, RST with unread data', () =>
  withStack(async (stack) => {
    const serverSides: TunnelSocket[] = [];
    const server = stack.network.createServer((s) => {
      serverSides.push(s);
      s.write('unsolicited');
    });
    const port = await listening(server, 4242);

    // Written before the handshake completes: held until 'connect', then sent.
    const clean = stack.network.createConnection({ host: '10.0.0.2', port });
    clean.write('early bytes');
    await once(clean, 'data');
    const [far] = serverSides;
    const [early] = (await once(far!, 'data')) as [Buffer];
    assert.equal(early.toString(), 'early bytes');
    const farEnded = once(far!, 'end');
    far!.resume();
    clean.destroy();
    await farEnded;
    assert.equal(stack.tcp.aborts, 0, 'nothing unread: an orderly FIN');

    const unread = await stack.network.connect({ host: '10.0.0.2', port });
    unread.pause();
    await waitFor(() => unread.readableLength > 0, { timeoutMs: 5000, what: 'unread data' });
    const reset = once(serverSides[1]!, 'error');
    unread.destroy();
    const [error] = (await reset) as [NodeSystemError];
    assert.equal(error.code, 'ECONNRESET');
    assert.equal(stack.tcp.aborts, 1);
    server.close();
  }));
