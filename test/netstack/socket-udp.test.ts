/**
 * UdpSocket (RFC 768 datagrams in dgram.Socket's shape) and ping (ICMP echo, RFC 792 / RFC 4443)
 * over the fake stack: datagrams both ways with Node's rinfo, the implicit bind on first send,
 * EADDRINUSE on bind, datagrams leaving through the tunnel and arriving from beyond it, and
 * pings that are answered, multiplexed, and timed out (ETIMEDOUT).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { TunnelRemoteInfo } from '../../src/netstack/network-types.js';
import type { NodeSystemError } from '../../src/netstack/socket-errors.js';
import { Pinger } from '../../src/netstack/ping.js';
import { FakeStack, ip } from '../helpers/fake-stack.js';

async function withStack(fn: (stack: FakeStack) => Promise<void>): Promise<void> {
  const stack = new FakeStack();
  try {
    await fn(stack);
  } finally {
    stack.close();
  }
}

test('udp4 both ways with rinfo; send binds implicitly; close', () =>
  withStack(async (stack) => {
    const server = stack.network.createSocket('udp4');
    server.bind(5353, '10.0.0.2');
    await once(server, 'listening');
    assert.deepEqual(server.address(), { address: '10.0.0.2', family: 'IPv4', port: 5353 });
    server.on('message', (msg: Buffer, rinfo: TunnelRemoteInfo) => {
      server.send(Buffer.concat([Buffer.from('re: '), msg]), rinfo.port, rinfo.address);
    });

    const client = stack.network.createSocket('udp4');
    const reply = once(client, 'message');
    const sent = new Promise<number>((resolve, reject) =>
      client.send('question', 5353, '10.0.0.2', (err, bytes) =>
        err === null ? resolve(bytes) : reject(err),
      ),
    );
    assert.equal(await sent, 8);
    const [msg, rinfo] = (await reply) as [Buffer, TunnelRemoteInfo];
    assert.equal(msg.toString(), 're: question');
    assert.deepEqual(rinfo, { address: '10.0.0.2', family: 'IPv4', port: 5353, size: 12 });
    assert.ok(client.address().port > 0, 'the first send bound an ephemeral port');
    assert.equal(stack.driver.refs, 2);

    const closed = once(client, 'close');
    client.close();
    await closed;
    server.close();
    assert.equal(stack.driver.refs, 0);
    assert.throws(() => client.address(), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
  }));

test('udp6 through the tunnel: outbound datagrams and a reply from a peer', () =>
  withStack(async (stack) => {
    const messages: [string, TunnelRemoteInfo][] = [];
    const socket = stack.network.createSocket('udp6', (msg, rinfo) => messages.push([msg.toString(), rinfo]));
    socket.bind(4000);
    await once(socket, 'listening');
    socket.send(Buffer.from('ping'), 53, 'fd00::53');
    const [out] = stack.udp.outbound;
    assert.ok(out !== undefined);
    assert.equal(Buffer.from(out.data).toString(), 'ping');
    assert.deepEqual(out.to, { address: ip('fd00::53'), port: 53 });
    assert.equal(out.from.port, 4000);
    const arrived = once(socket, 'message');
    stack.udp.inject(
      { address: ip('fd00::53'), port: 53 },
      { address: ip('fd00::1'), port: 4000 },
      Buffer.from('pong'),
    );
    await arrived;
    assert.deepEqual(messages, [['pong', { address: 'fd00::53', family: 'IPv6', port: 53, size: 4 }]]);
    socket.close();
  }));

test('udp: EADDRINUSE on bind, EMSGSIZE and ENETUNREACH on send', () =>
  withStack(async (stack) => {
    const a = stack.network.createSocket('udp4');
    a.bind(6000);
    await once(a, 'listening');
    const b = stack.network.createSocket('udp4');
    b.bind(6000);
    const [error] = (await once(b, 'error')) as [NodeSystemError];
    assert.equal(error.code, 'EADDRINUSE');
    assert.equal(error.syscall, 'bind');
    assert.equal(error.message, 'bind EADDRINUSE 0.0.0.0:6000');
    const send = (size: number): Promise<Error | null> =>
      new Promise((resolve) => a.send(Buffer.alloc(size), 9, '10.0.0.2', (err) => resolve(err)));
    assert.equal(((await send(70_000)) as NodeSystemError).code, 'EMSGSIZE');
    assert.equal(((await send(5000)) as NodeSystemError).code, 'ENETUNREACH', 'larger than the MTU');
    assert.equal(await send(100), null);
    a.close();
    b.close();
  }));

test('ping: answered, by name, concurrent, and ETIMEDOUT for silence', () =>
  withStack(async (stack) => {
    stack.names.set('gw.tunnel', [ip('10.0.0.2')]);
    const rtt = await stack.network.ping('10.0.0.2', 1000);
    assert.ok(rtt >= 0 && rtt < 1000);
    assert.ok((await stack.network.ping('gw.tunnel')) >= 0);
    const many = await Promise.all(
      ['10.0.0.1', '10.0.0.2', 'fd00::1', '10.0.0.2'].map((a) => stack.network.ping(a)),
    );
    assert.equal(many.length, 4);
    stack.icmp.silent.push(ip('10.0.0.1'));
    const started = performance.now();
    await assert.rejects(stack.network.ping('10.0.0.1', 100), {
      code: 'ETIMEDOUT',
      message: 'ping ETIMEDOUT 10.0.0.1',
    });
    assert.ok(performance.now() - started >= 90);
  }));

test('Pinger ignores replies that are late, foreign or forged, and frees sequence numbers', () =>
  withStack(async (stack) => {
    let bytes = 0;
    const pinger = new Pinger(stack.icmp, { random: (n) => new Uint8Array(n).fill(++bytes) });
    const first = pinger.ping(ip('10.0.0.2'), 1000);
    // Same sequence, wrong identifier; wrong data; wrong source: none may resolve the ping.
    stack.icmp.injectReply(ip('10.0.0.2'), (pinger.identifier + 1) & 0xffff, 0, new Uint8Array(16).fill(2));
    stack.icmp.injectReply(ip('10.0.0.2'), pinger.identifier, 0, new Uint8Array(16).fill(9));
    stack.icmp.injectReply(ip('10.0.0.9'), pinger.identifier, 0, new Uint8Array(16).fill(2));
    assert.ok((await first) >= 0);
    assert.equal(pinger.unmatchedReplies, 3);
    assert.equal(pinger.outstanding, 0);
  }));

test('ping fails with EHOSTUNREACH when the stack cannot send it (no IPv6 address)', async () => {
  const stack = new FakeStack(['10.0.0.1']);
  try {
    await assert.rejects(stack.network.ping('fd00::9', 100), {
      code: 'EHOSTUNREACH',
      message: 'ping EHOSTUNREACH fd00::9',
    });
  } finally {
    stack.close();
  }
});
