/**
 * SOCKS5 edges without curl: the address encoding of RFC 1928 §5 both ways (IPv4, IPv6 in its
 * RFC 5952 text form, domain names; short or unknown input is null, never a throw), a client that
 * stalls in the handshake is cut off at the deadline, connections beyond the limit are refused,
 * and a stranger's datagrams to a UDP relay are dropped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startSocks5 } from '../../src/proxy/socks5.js';
import { decodeAddress, encodeAddress, replyForError } from '../../src/proxy/socks5-wire.js';
import { quietLogger } from '../../src/proxy/types.js';
import { hostNetwork } from '../helpers/host-network.js';
import { waitFor } from '../helpers/netns.js';
import { closeAll, socksHandshake, socksRequest, udpClient, udpEcho } from './helpers.js';

test('addresses encode and decode both ways; bad input decodes to null', () => {
  for (const [host, atyp] of [
    ['192.0.2.7', 1],
    ['2001:db8::1', 4],
    ['::ffff:192.0.2.1', 4],
    ['example.com', 3],
  ] as const) {
    const wire = encodeAddress(host, 4242);
    assert.equal(wire[0], atyp);
    const back = decodeAddress(wire, 0);
    assert.deepEqual(back?.addr, { host, port: 4242, atyp });
    assert.equal(back?.end, wire.length);
  }
  assert.deepEqual([...encodeAddress('10.1.2.3', 80)], [1, 10, 1, 2, 3, 0, 80]);
  assert.equal(decodeAddress(Buffer.from([1, 10, 1]), 0), null);
  assert.equal(decodeAddress(Buffer.from([3, 9, 97]), 0), null);
  assert.equal(decodeAddress(Buffer.from([7, 0, 0, 0, 0, 0, 0]), 0), null);
  assert.equal(decodeAddress(Buffer.alloc(0), 0), null);
});

test('reply codes follow the connect error', () => {
  const code = (c: string): number => replyForError(Object.assign(new Error(c), { code: c }));
  assert.deepEqual(
    ['ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE'].map(code),
    [5, 3, 4, 4, 4, 1],
  );
});

test('a client that stalls in the handshake is cut off at the deadline', async () => {
  const socks = await startSocks5({
    bind: { host: '127.0.0.1', port: 0 },
    username: '',
    password: '',
    network: hostNetwork(),
    log: quietLogger,
    handshakeTimeoutMs: 300,
  });
  try {
    const s = connect(socks.address()!.port, '127.0.0.1');
    s.write(Buffer.from([5, 1])); // the method list never comes
    const started = Date.now();
    await new Promise<void>((resolve) => s.once('close', () => resolve()));
    assert.ok(Date.now() - started < 5000);
    assert.equal(s.bytesRead, 0);
  } finally {
    await socks.close();
  }
});

test('connections beyond maxConnections are refused', async () => {
  const socks = await startSocks5({
    bind: { host: '127.0.0.1', port: 0 },
    username: '',
    password: '',
    network: hostNetwork(),
    log: quietLogger,
    maxConnections: 1,
  });
  try {
    const first = await socksHandshake(socks.address()!.port);
    const second = connect(socks.address()!.port, '127.0.0.1');
    second.on('error', () => {});
    second.write(Buffer.from([5, 1, 0]));
    await new Promise<void>((resolve) => second.once('close', () => resolve()));
    assert.equal(second.bytesRead, 0);
    first.destroy();
  } finally {
    await socks.close();
  }
});

test("a stranger's datagrams to the UDP relay are dropped", async () => {
  const echo = await udpEcho('udp4');
  const socks = await startSocks5({
    bind: { host: '127.0.0.1', port: 0 },
    username: '',
    password: '',
    network: hostNetwork(),
    log: quietLogger,
  });
  try {
    const s = await socksHandshake(socks.address()!.port);
    const owner = await udpClient();
    const stranger = await udpClient();
    // The request names the owner's port, so only that source may use the relay.
    const reply = await socksRequest(s, 3, '127.0.0.1', owner.socket.address().port);
    assert.equal(reply.rep, 0);
    stranger.send(reply.port, reply.host, '127.0.0.1', echo.port, 'sneaky');
    await waitFor(() => socks.udp.dropped === 1, { timeoutMs: 5000, what: 'the drop' });
    owner.send(reply.port, reply.host, '127.0.0.1', echo.port, 'mine');
    await waitFor(() => owner.received.length === 1, { timeoutMs: 5000, what: "the owner's answer" });
    assert.equal(stranger.received.length, 0);
    assert.equal(socks.udp.forwarded, 1);
    s.destroy();
    owner.socket.close();
    stranger.socket.close();
  } finally {
    await socks.close();
    await closeAll(echo.socket);
  }
});
