/**
 * UapiServer over a real unix socket in a temporary directory, with a fake target that records
 * what it applies: several requests per connection, every framing abuse of TEST-PLAN.md (empty
 * connection, unknown verb, get=1 without its blank line, trailing junk, a 1 MiB line, a slow
 * client, a client gone mid-set), target failures, serialisation, multi-megabyte replies, and
 * after all of it the server still answers. One server serves the whole file, so "still serves" is
 * checked against the accumulated abuse.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { UapiServer, uapiSocketPath } from '../../src/uapi/server.js';
import { EADDRINUSE, EINVAL, EIO, EPROTO, UapiError } from '../../src/uapi/errno.js';
import { formatGet } from '../../src/uapi/codec.js';
import { uapiGet, uapiSet } from '../../src/uapi/client.js';
import { which } from '../helpers/netns.js';
import { FakeTarget, SAMPLE_SNAPSHOT, errnos, rawExchange, sleep, tempDir } from './helpers.js';

const REQUEST_TIMEOUT_MS = 400;
const IDLE_TIMEOUT_MS = 800;
const GET_REPLY = formatGet(SAMPLE_SNAPSHOT);

const tmp = tempDir('server');
const path = join(tmp.dir, 'wgtest.sock');
const target = new FakeTarget();
const logged: string[] = [];
const server = new UapiServer(target, {
  requestTimeoutMs: REQUEST_TIMEOUT_MS,
  idleTimeoutMs: IDLE_TIMEOUT_MS,
  logger: { verbose: (m) => logged.push(`V ${m}`), error: (m) => logged.push(`E ${m}`) },
});

before(async () => {
  await server.listen(path);
});

after(async () => {
  await server.close();
  tmp.remove();
});

test('uapiSocketPath is where wireguard-go puts it', () => {
  assert.equal(uapiSocketPath('wg0'), '/var/run/wireguard/wg0.sock');
});

test('several requests on one connection, in one write, are answered in order', async () => {
  const before = target.applied.length;
  const r = await rawExchange(
    path,
    'get=1\n\nset=1\nlisten_port=1111\n\nget=1\n\nset=1\nbogus=1\n\nget=1\n\n',
  );
  assert.equal(r.closed, false);
  assert.equal(
    r.reply,
    GET_REPLY +
      'errno=0\n\n' +
      GET_REPLY.replace('51820', '1111') +
      'errno=-22\n\n' +
      GET_REPLY.replace('51820', '1111'),
  );
  assert.equal(target.applied.length, before + 1);
  target.state = SAMPLE_SNAPSHOT;
});

test('several requests on one connection, written piece by piece', async () => {
  const r = await rawExchange(path, '', {
    pieces: ['get', '=1\n', '\n', 'set=1\nlisten_', 'port=51820\r\n', '\r\n', 'get=1\n', '\n'],
  });
  assert.equal(r.closed, false);
  assert.deepEqual(errnos(r.reply), [0, 0, 0]);
  assert.equal(r.reply, GET_REPLY + 'errno=0\n\n' + GET_REPLY);
});

test('unknown verb: closed without a reply', async () => {
  for (const verb of ['bogus\n', 'set=1\r\n', 'get=2\n', '\n']) {
    const r = await rawExchange(path, `${verb}get=1\n\n`);
    assert.equal(r.reply, '', JSON.stringify(verb));
    assert.equal(r.closed, true, JSON.stringify(verb));
  }
});

test('empty connection: a client that ends at once is closed; one that says nothing meets the idle timeout', async () => {
  const ended = await rawExchange(path, '', { end: true });
  assert.deepEqual(ended, { ...ended, reply: '', closed: true });
  const silent = await rawExchange(path, '', { waitMs: IDLE_TIMEOUT_MS + 500 });
  assert.equal(silent.reply, '');
  assert.equal(silent.closed, true);
  assert.ok(silent.ms >= IDLE_TIMEOUT_MS - 50, `closed after ${silent.ms} ms`);
});

test('get=1 without its blank line, then the client closes: no reply, nothing happens', async () => {
  const snapshots = target.snapshots;
  const r = await rawExchange(path, 'get=1\n', { end: true });
  assert.equal(r.reply, '');
  assert.equal(r.closed, true);
  assert.equal(target.snapshots, snapshots);
});

test('get=1 followed by junk: EINVAL, then the junk is read as a verb and closes', async () => {
  const r = await rawExchange(path, 'get=1\nx\n\n');
  assert.equal(r.reply, 'errno=-22\n\n');
  assert.equal(r.closed, true);
});

test('trailing junk after a complete request: the reply, then a close', async () => {
  const r = await rawExchange(path, 'get=1\n\nthis is not a verb\n');
  assert.equal(r.reply, GET_REPLY);
  assert.equal(r.closed, true);
  // Junk without a newline is a partial verb: the request deadline closes it.
  const partial = await rawExchange(path, 'get=1\n\njunk', { waitMs: REQUEST_TIMEOUT_MS + 500 });
  assert.equal(partial.reply, GET_REPLY);
  assert.equal(partial.closed, true);
});

test('a line without = is EPROTO, an unknown key EINVAL; nothing is applied and the connection stays open', async () => {
  const before = target.applied.length;
  const r = await rawExchange(
    path,
    'set=1\nlisten_port=2\npublic_key=' +
      'ab'.repeat(32) +
      '\nendpoint\n\nset=1\nlisten_port=3\nwhat=1\n\nget=1\n\n',
  );
  assert.deepEqual(errnos(r.reply), [EPROTO, EINVAL, 0]);
  assert.ok(r.reply.endsWith(GET_REPLY));
  assert.equal(r.closed, false);
  assert.equal(target.applied.length, before);
});

test('a 1 MiB line: EIO, closed, nothing applied', async () => {
  const before = target.applied.length;
  const r = await rawExchange(path, `set=1\nlisten_port=3\nallowed_ip=${'1'.repeat(1 << 20)}\n\nget=1\n\n`);
  assert.equal(r.reply, 'errno=-5\n\n');
  assert.equal(r.closed, true);
  assert.equal(target.applied.length, before);
  // A 1 MiB verb line closes without a reply.
  const verb = await rawExchange(path, `${'g'.repeat(1 << 20)}\n`);
  assert.deepEqual([verb.reply, verb.closed], ['', true]);
});

test('a slow client that never finishes its request is cut off at the request deadline, applying nothing', async () => {
  const before = target.applied.length;
  const stalled = await rawExchange(path, 'set=1\nlisten_port=4\n', { waitMs: REQUEST_TIMEOUT_MS + 600 });
  assert.deepEqual([stalled.reply, stalled.closed], ['', true]);
  assert.ok(
    stalled.ms >= REQUEST_TIMEOUT_MS - 50 && stalled.ms < REQUEST_TIMEOUT_MS + 600,
    `${stalled.ms} ms`,
  );
  // Trickling bytes does not extend the deadline.
  const trickle = 'set=1\nlisten_port=5\nlisten_port=6\nlisten_port=7\n'.split('');
  const slow = await rawExchange(path, '', { pieces: trickle, pieceGapMs: 25, waitMs: 1000 });
  assert.equal(slow.reply, '');
  assert.equal(slow.closed, true);
  assert.ok(slow.ms < REQUEST_TIMEOUT_MS + 400, `closed after ${slow.ms} ms`);
  assert.equal(target.applied.length, before);
});

test('a client that disconnects mid-set applies nothing', async () => {
  const before = target.applied.length;
  const half = await rawExchange(path, 'set=1\nlisten_port=40000\n', { end: true });
  assert.deepEqual([half.reply, half.closed], ['', true]);
  const noNewline = await rawExchange(path, 'set=1\nlisten_port=40001', { end: true });
  assert.deepEqual([noNewline.reply, noNewline.closed], ['', true]);
  await new Promise<void>((resolve) => {
    // An abrupt reset rather than a FIN.
    void rawExchange(path, 'set=1\nlisten_port=40002\n', { waitMs: 10 }).then(() => resolve());
  });
  await sleep(50);
  assert.equal(target.applied.length, before);
  assert.ok(logged.some((l) => l.includes('mid-request')));
});

test('a client that half-closes after a complete request still gets its reply', async () => {
  const r = await rawExchange(path, 'get=1\n\n', { end: true });
  assert.equal(r.reply, GET_REPLY);
  assert.equal(r.closed, true);
});

test('target failures become errno replies, never a crash', async () => {
  const saved = target.onApply;
  try {
    target.onApply = () => Promise.resolve(EADDRINUSE);
    await assert.rejects(
      uapiSet(path, 'listen_port=53\n'),
      (e: unknown) => e instanceof UapiError && e.errno === EADDRINUSE,
    );
    target.onApply = () => Promise.reject(new Error('device bug'));
    await assert.rejects(
      uapiSet(path, 'listen_port=53\n'),
      (e: unknown) => e instanceof UapiError && e.errno === EIO,
    );
    target.onApply = () => {
      throw new UapiError(EADDRINUSE, 'thrown synchronously');
    };
    await assert.rejects(
      uapiSet(path, 'listen_port=53\n'),
      (e: unknown) => e instanceof UapiError && e.errno === EADDRINUSE,
    );
    target.onApply = () => Promise.resolve(22);
    await assert.rejects(
      uapiSet(path, 'listen_port=53\n'),
      (e: unknown) => e instanceof UapiError && e.errno === -22,
    );
    target.onApply = () => Promise.resolve(Number.NaN);
    await assert.rejects(
      uapiSet(path, 'listen_port=53\n'),
      (e: unknown) => e instanceof UapiError && e.errno === EIO,
    );
    target.onSnapshot = () => {
      throw new Error('snapshot bug');
    };
    const r = await rawExchange(path, 'get=1\n\nget=1\n\n');
    assert.equal(r.reply, 'errno=-5\n\nerrno=-5\n\n');
    assert.equal(r.closed, false);
    target.onSnapshot = () => ({ ...SAMPLE_SNAPSHOT, listenPort: -1 });
    assert.equal((await rawExchange(path, 'get=1\n\n')).reply, 'errno=-5\n\n');
  } finally {
    target.onApply = saved;
    target.onSnapshot = null;
  }
  assert.ok(logged.some((l) => l.startsWith('E UAPI set failed: Error: device bug')));
});

test('sets and gets from different connections never interleave', async () => {
  const saved = target.onApply;
  let release: (() => void) | null = null;
  const order: string[] = [];
  try {
    target.onApply = () =>
      new Promise<number>((resolve) => {
        order.push('apply-start');
        release = () => {
          order.push('apply-end');
          resolve(0);
        };
      });
    target.onSnapshot = () => {
      order.push('snapshot');
      return SAMPLE_SNAPSHOT;
    };
    const set = uapiSet(path, 'fwmark=7\n');
    await sleep(50);
    const get = uapiGet(path);
    await sleep(100);
    assert.deepEqual(order, ['apply-start']);
    release!();
    await set;
    await get;
    assert.deepEqual(order, ['apply-start', 'apply-end', 'snapshot']);
  } finally {
    target.onApply = saved;
    target.onSnapshot = null;
  }
});

test('a client that never reads a big reply is dropped at the idle timeout', async () => {
  const big = {
    ...SAMPLE_SNAPSHOT,
    peers: Array.from({ length: 20_000 }, (_, i) => ({
      publicKey: new Uint8Array(32).fill(i & 0xff),
      presharedKey: null,
      endpoint: null,
      lastHandshake: null,
      txBytes: i,
      rxBytes: i,
      persistentKeepalive: 0,
      allowedIPs: [],
    })),
  };
  target.onSnapshot = () => big;
  try {
    const idleBefore = logged.filter((l) => l.includes('idle too long')).length;
    const s = createConnection(path);
    s.on('error', () => {});
    await new Promise<void>((resolve) => s.on('connect', resolve));
    s.write('get=1\n\n'.repeat(20));
    s.pause(); // never read: the server's writes back up
    await sleep(200);
    assert.equal(server.connections, 1);
    await sleep(IDLE_TIMEOUT_MS + 300);
    assert.equal(server.connections, 0);
    assert.equal(logged.filter((l) => l.includes('idle too long')).length, idleBefore + 1);
    s.destroy();
  } finally {
    target.onSnapshot = null;
  }
});

test(
  'listenFd serves an inherited listening socket (WG_UAPI_FD)',
  { skip: which('python3') === null ? 'python3 is needed to hand over a listening fd' : false },
  async () => {
    const fdPath = join(tmp.dir, 'fd.sock');
    const serverUrl = new URL('../../src/uapi/server.js', import.meta.url).href;
    const script = [
      `const { UapiServer } = await import(${JSON.stringify(serverUrl)});`,
      `const target = { snapshot: () => ({ privateKey: null, listenPort: 4242, fwmark: 0, peers: [] }), apply: async () => 0 };`,
      `await new UapiServer(target).listenFd(Number(process.env.WG_UAPI_FD));`,
      `process.stdout.write('ready\\n');`,
    ].join('\n');
    const py = [
      'import os, socket, sys',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)',
      's.bind(sys.argv[1])',
      's.listen(8)',
      'fd = os.dup(s.fileno())',
      'os.set_inheritable(fd, True)',
      'os.environ["WG_UAPI_FD"] = str(fd)',
      'os.execv(sys.argv[2], [sys.argv[2], "--input-type=module", "-e", sys.argv[3]])',
    ].join('\n');
    const child = spawn('python3', ['-c', py, fdPath, process.execPath, script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      for (let i = 0; i < 100 && !out.includes('ready'); i++) await sleep(50);
      assert.ok(out.includes('ready'), out);
      assert.ok(existsSync(fdPath));
      const s = await uapiGet(fdPath);
      assert.equal(s.listenPort, 4242);
    } finally {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
    }
  },
);

test('a big reply arrives whole, and a snapshot carrying its own reply gets exactly that', async () => {
  const big = {
    ...SAMPLE_SNAPSHOT,
    peers: Array.from({ length: 20_000 }, (_, i) => ({
      publicKey: new Uint8Array(32).fill(i & 0xff),
      presharedKey: i % 3 === 0 ? new Uint8Array(32).fill(7) : null,
      endpoint: { address: Uint8Array.of(192, 0, 2, i & 0xff), port: i & 0xffff },
      lastHandshake: i % 2 === 0 ? null : { sec: 1_700_000_000 + i, nsec: i },
      txBytes: i * 1000,
      rxBytes: 2 ** 40 + i,
      persistentKeepalive: i % 60,
      allowedIPs: [{ family: 4 as const, bytes: Uint8Array.of(10, 0, i >> 8, i & 0xff), cidr: 32 }],
    })),
  };
  const want = formatGet(big);
  assert.ok(want.length > 5_000_000);
  target.onSnapshot = () => big;
  try {
    // Read as fast as possible (the server's idle timeout is short here), then compare.
    const reply = await new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let length = 0;
      const c = createConnection(path, () => c.write('get=1\n\nget=1\n\n'));
      c.on('data', (d: Buffer) => {
        chunks.push(d);
        length += d.length;
        if (length >= 2 * want.length) {
          c.destroy();
          resolve(Buffer.concat(chunks).toString('latin1'));
        }
      });
      c.on('error', reject);
      c.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    });
    assert.equal(reply.length, 2 * want.length);
    assert.ok(reply === want + want, 'both replies byte for byte');
    const own = { ...SAMPLE_SNAPSHOT, getReply: Uint8Array.from(Buffer.from('listen_port=7\nerrno=0\n\n')) };
    target.onSnapshot = () => own;
    const r2 = await rawExchange(path, 'get=1\n\n', { until: (reply) => reply.endsWith('\n\n') });
    assert.equal(r2.reply, 'listen_port=7\nerrno=0\n\n');
  } finally {
    target.onSnapshot = null;
  }
});

test('listen on a path already in use fails', async () => {
  const other = new UapiServer(target);
  await assert.rejects(other.listen(path), /EADDRINUSE/);
  await other.close();
});

test('after all of that the server still serves, and applied exactly the complete valid sets', async () => {
  assert.deepEqual(await uapiGet(path), {
    privateKey: SAMPLE_SNAPSHOT.privateKey,
    listenPort: SAMPLE_SNAPSHOT.listenPort,
    fwmark: 0,
    peers: [],
  });
  await uapiSet(path, { listenPort: 51820, replacePeers: false, peers: [] });
  const marks = target.applied.map((s) => s.listenPort ?? s.fwmark);
  assert.deepEqual(marks, [1111, 51820, 7, 51820]);
  await sleep(50);
  assert.ok(server.connections <= 1, `${server.connections} connections left open`);
});
