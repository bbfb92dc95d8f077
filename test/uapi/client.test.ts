/**
 * The UAPI client against scripted servers: replies split anywhere, malformed or cut-short replies
 * (EPROTO, as wg reports them), daemon errnos, an absent or stale socket (−ENOENT, −ECONNREFUSED),
 * a daemon that never answers (−ETIMEDOUT), and set bodies with a blank line (TypeError).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { uapiGet, uapiGetText, uapiSet } from '../../src/uapi/client.js';
import { formatGet } from '../../src/uapi/codec.js';
import { EPROTO, UAPI_ERRNO, UapiError } from '../../src/uapi/errno.js';
import { which } from '../helpers/netns.js';
import { SAMPLE_SNAPSHOT, tempDir } from './helpers.js';

const tmp = tempDir('client');
after(() => tmp.remove());
let n = 0;

/** A one-shot server: `script` gets the request text once it ends with a blank line. */
async function scripted(
  script: (request: string, socket: Socket) => void,
): Promise<{ path: string; requests: string[]; close: () => Promise<void> }> {
  const path = join(tmp.dir, `s${++n}.sock`);
  const requests: string[] = [];
  const server = createServer((socket) => {
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (text.endsWith('\n\n')) {
        requests.push(text);
        script(text, socket);
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { path, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const isErrno = (errno: number) => (e: unknown) => e instanceof UapiError && e.errno === errno;

test('uapiGet reads a reply delivered a byte at a time', async () => {
  const reply = formatGet(SAMPLE_SNAPSHOT);
  const s = await scripted((_req, socket) => {
    let i = 0;
    const tick = (): void => {
      if (i < reply.length) {
        socket.write(reply[i++]!);
        setImmediate(tick);
      }
    };
    tick();
  });
  assert.deepEqual(await uapiGet(s.path), SAMPLE_SNAPSHOT);
  assert.deepEqual(s.requests, ['get=1\n\n']);
  await s.close();
});

test('uapiGetText stops at the blank line even if the server keeps the connection open', async () => {
  const s = await scripted((_req, socket) => socket.write('listen_port=7\nerrno=0\n\nextra'));
  assert.equal(await uapiGetText(s.path), 'listen_port=7\nerrno=0\n\n');
  await s.close();
});

test('uapiGet: a reply cut short, or a bare blank line, is EPROTO; a daemon errno is thrown', async () => {
  const cut = await scripted((_req, socket) => socket.end('listen_port=7\n'));
  await assert.rejects(uapiGet(cut.path), isErrno(EPROTO));
  await cut.close();
  const blank = await scripted((_req, socket) => socket.write('\n'));
  await assert.rejects(uapiGet(blank.path), isErrno(EPROTO));
  await blank.close();
  const failed = await scripted((_req, socket) => socket.write('errno=-5\n\n'));
  await assert.rejects(uapiGet(failed.path), isErrno(-5));
  await failed.close();
});

test('uapiSet sends set=1, the body and a blank line; errno=0 resolves, others throw', async () => {
  const ok = await scripted((_req, socket) => socket.write('errno=0\n\n'));
  await uapiSet(ok.path, 'listen_port=1');
  await uapiSet(ok.path, '');
  await uapiSet(ok.path, { fwmark: 0, replacePeers: true, peers: [] });
  assert.deepEqual(ok.requests, [
    'set=1\nlisten_port=1\n\n',
    'set=1\n\n',
    'set=1\nfwmark=0\nreplace_peers=true\n\n',
  ]);
  await ok.close();
  const inval = await scripted((_req, socket) => socket.write('errno=-22\n\n'));
  await assert.rejects(
    uapiSet(inval.path, 'bogus=1\n'),
    (e: unknown) => isErrno(-22)(e) && (e as UapiError).code === 'EINVAL',
  );
  await inval.close();
  const junk = await scripted((_req, socket) => socket.write('listen_port=1\nerrno=0\n\n'));
  await assert.rejects(uapiSet(junk.path, 'listen_port=1\n'), isErrno(EPROTO));
  await junk.close();
  const closes = await scripted((_req, socket) => socket.destroy());
  await assert.rejects(uapiSet(closes.path, 'listen_port=1\n'), isErrno(EPROTO));
  await closes.close();
});

test('uapiSet refuses a body holding a blank line', async () => {
  await assert.rejects(uapiSet('/nonexistent', 'listen_port=1\n\nget=1\n'), TypeError);
  await assert.rejects(uapiSet('/nonexistent', '\nlisten_port=1\n'), TypeError);
});

test('no socket is −ENOENT, a stale one −ECONNREFUSED, a silent daemon −ETIMEDOUT', async () => {
  await assert.rejects(uapiGet(join(tmp.dir, 'absent.sock')), isErrno(UAPI_ERRNO.ENOENT));
  if (which('python3') !== null) {
    // A socket file nobody listens on, as a crashed daemon leaves it.
    const stalePath = join(tmp.dir, 'stale.sock');
    execFileSync('python3', [
      '-c',
      `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(stalePath)})`,
    ]);
    await assert.rejects(uapiGet(stalePath), isErrno(UAPI_ERRNO.ECONNREFUSED));
  }
  const silent = await scripted(() => {});
  await assert.rejects(uapiGet(silent.path, { timeoutMs: 200 }), isErrno(UAPI_ERRNO.ETIMEDOUT));
  await silent.close();
});
