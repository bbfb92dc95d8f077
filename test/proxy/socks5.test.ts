/**
 * The [Socks5] routine with real clients over the host-backed network: curl's --socks5 (address
 * resolved by curl) and --socks5-hostname (name resolved through the tunnel's lookup), with and
 * without RFC 1929 credentials, a wrong password (status 0x01, then close), reply codes for a
 * refused port and an unknown name, BIND refused with 0x07, IPv6 targets, and UDP ASSOCIATE
 * (RFC 1928 §7) with a client written from the RFC: datagrams both ways, fragments dropped,
 * strangers dropped, the association ending with its TCP connection.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { waitFor } from '../helpers/netns.js';
import {
  closeAll,
  curl,
  echoServer,
  httpOrigin,
  listenOn,
  noCurl,
  readBytes,
  socksHandshake,
  socksRequest,
  startInProcess,
  udpClient,
  udpEcho,
  type Started,
} from './helpers.js';

let open: Started;
let authed: Started;
let origin: Awaited<ReturnType<typeof httpOrigin>>;
let origin6: Awaited<ReturnType<typeof httpOrigin>>;

before(async () => {
  origin = await httpOrigin();
  origin6 = await httpOrigin('::1');
  open = await startInProcess('[Socks5]\nBindAddress = 127.0.0.1:0\n', {
    lookupOverrides: { 'origin.test': '127.0.0.1', 'origin6.test': '::1' },
  });
  authed = await startInProcess(
    '[Socks5]\nBindAddress = 127.0.0.1:0\nUsername = alice\nPassword = $$ecret\n',
  );
});
after(async () => {
  await open.close();
  await authed.close();
  await closeAll(origin.server, origin6.server);
});

test('curl --socks5 reaches an IPv4 origin', { skip: noCurl }, async () => {
  const r = await curl(['--socks5', `127.0.0.1:${open.port()}`, `http://127.0.0.1:${origin.port}/a`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'origin GET /a ');
});

test('curl --socks5-hostname resolves the name through the tunnel', { skip: noCurl }, async () => {
  const before = open.network.lookups.length;
  const r = await curl([
    '--socks5-hostname',
    `127.0.0.1:${open.port()}`,
    `http://origin.test:${origin.port}/b`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'origin GET /b ');
  assert.deepEqual(open.network.lookups.slice(before), ['origin.test']);
});

test('curl --socks5 reaches an IPv6 origin, by address and by name', { skip: noCurl }, async () => {
  const byAddr = await curl(['--socks5', `127.0.0.1:${open.port()}`, `http://[::1]:${origin6.port}/v6`]);
  assert.equal(byAddr.stdout, 'origin GET /v6 ', byAddr.stderr);
  const byName = await curl([
    '--socks5-hostname',
    `127.0.0.1:${open.port()}`,
    `http://origin6.test:${origin6.port}/n6`,
  ]);
  assert.equal(byName.stdout, 'origin GET /n6 ', byName.stderr);
});

test('with credentials configured, curl with the right ones gets through', { skip: noCurl }, async () => {
  const r = await curl([
    '--socks5',
    `alice:$ecret@127.0.0.1:${authed.port()}`,
    `http://127.0.0.1:${origin.port}/c`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'origin GET /c ');
});

test('with credentials configured, curl without or with wrong ones fails', { skip: noCurl }, async () => {
  const none = await curl(['--socks5', `127.0.0.1:${authed.port()}`, `http://127.0.0.1:${origin.port}/`]);
  assert.notEqual(none.code, 0);
  const wrong = await curl([
    '--socks5',
    `alice:nope@127.0.0.1:${authed.port()}`,
    `http://127.0.0.1:${origin.port}/`,
  ]);
  assert.notEqual(wrong.code, 0);
  assert.equal(wrong.stdout, '');
});

test('a wrong password gets RFC 1929 status 0x01 and the connection closes', async () => {
  await assert.rejects(socksHandshake(authed.port(), { user: 'alice', pass: 'wrong' }), /auth status 1/);
  await assert.rejects(socksHandshake(authed.port()), /no acceptable method/);
});

test('CONNECT to a closed port answers 0x05, to an unknown name 0x04', async () => {
  const closed = createServer();
  const port = await listenOn(closed);
  await closeAll(closed);
  const s = await socksHandshake(open.port());
  assert.equal((await socksRequest(s, 1, '127.0.0.1', port)).rep, 0x05);
  s.destroy();
  const t = await socksHandshake(open.port());
  assert.equal((await socksRequest(t, 1, 'nothing.invalid', 80)).rep, 0x04);
  t.destroy();
});

test('CONNECT carries bytes both ways and reports the bound address', async () => {
  const echo = await echoServer('e:');
  const s = await socksHandshake(open.port());
  const reply = await socksRequest(s, 1, '127.0.0.1', echo.port);
  assert.equal(reply.rep, 0);
  assert.equal(reply.host, '127.0.0.1');
  assert.ok(reply.port > 0);
  s.write('ping');
  assert.equal((await readBytes(s, 6)).toString(), 'e:ping');
  s.destroy();
  await closeAll(echo.server);
});

test('BIND is answered "command not supported" (0x07)', async () => {
  const s = await socksHandshake(open.port());
  assert.equal((await socksRequest(s, 2, '0.0.0.0', 0)).rep, 0x07);
  s.destroy();
});

test('UDP ASSOCIATE relays datagrams both ways (IPv4 and IPv6 targets, by name)', async () => {
  const echo4 = await udpEcho('udp4');
  const echo6 = await udpEcho('udp6');
  const s = await socksHandshake(open.port());
  const reply = await socksRequest(s, 3, '0.0.0.0', 0);
  assert.equal(reply.rep, 0);
  const c = await udpClient();
  c.send(reply.port, reply.host, '127.0.0.1', echo4.port, 'one');
  await waitFor(() => c.received.length >= 1, { timeoutMs: 5000, what: 'the IPv4 answer' });
  c.send(reply.port, reply.host, '::1', echo6.port, 'two');
  await waitFor(() => c.received.length >= 2, { timeoutMs: 5000, what: 'the IPv6 answer' });
  c.send(reply.port, reply.host, 'origin.test', echo4.port, 'three');
  await waitFor(() => c.received.length >= 3, { timeoutMs: 5000, what: 'the answer to a name' });
  const texts = c.received.map((m) => m.toString('latin1'));
  // Header: RSV RSV FRAG=0, then the source address of the answer.
  assert.deepEqual([...c.received[0]!.subarray(0, 4)], [0, 0, 0, 1]);
  assert.ok(texts[0]!.endsWith('u:one'));
  assert.equal(c.received[1]![3], 4);
  assert.ok(texts[1]!.endsWith('u:two'));
  assert.ok(texts[2]!.endsWith('u:three'));
  s.destroy();
  c.socket.close();
  await closeAll(echo4.socket, echo6.socket);
});

test('UDP ASSOCIATE drops fragments and ends with the control connection', async () => {
  const echo = await udpEcho('udp4');
  const s = await socksHandshake(open.port());
  const reply = await socksRequest(s, 3, '0.0.0.0', 0);
  const c = await udpClient();
  const drops = open.proxy.routines[0]!;
  const counters = (drops as unknown as { udp: { dropped: number; active: number } }).udp;
  const dropped = counters.dropped;
  c.send(reply.port, reply.host, '127.0.0.1', echo.port, 'frag', 1);
  await waitFor(() => counters.dropped > dropped, { timeoutMs: 5000, what: 'the fragment drop' });
  c.send(reply.port, reply.host, '127.0.0.1', echo.port, 'whole');
  await waitFor(() => c.received.length === 1, { timeoutMs: 5000, what: 'the answer' });
  assert.ok(c.received[0]!.toString('latin1').endsWith('u:whole'));
  s.destroy();
  // Once the TCP connection is gone the association ends and its relay port is free again.
  await waitFor(() => counters.active === 0, { timeoutMs: 5000, what: 'the association to end' });
  const probe = createSocket('udp4');
  await new Promise<void>((resolve, reject) =>
    probe.once('error', reject).bind(reply.port, '127.0.0.1', resolve),
  );
  probe.close();
  c.socket.close();
  await closeAll(echo.socket);
});
