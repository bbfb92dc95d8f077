/**
 * The [http] routine with curl over the host-backed network: plain absolute-URI GET and POST
 * forwarding, CONNECT (curl -p) to an HTTP and a TLS origin, 407 with Proxy-Authenticate without
 * or with wrong credentials, success with the right ones, 502 for a refused upstream, and an HTTPS
 * listener from CertFile/KeyFile (certificate made with openssl for the test, test/helpers/tunnel-tls.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { which } from '../helpers/netns.js';
import { closeAll, curl, httpOrigin, listenOn, noCurl, startInProcess, type Started } from './helpers.js';
import { makeCertificate } from '../helpers/tunnel-tls.js';

const noOpenssl = which('openssl') === null ? 'openssl is not installed' : false;
let dir = '';
let open: Started;
let authed: Started;
let origin: Awaited<ReturnType<typeof httpOrigin>>;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wgts-proxy-http-'));
  origin = await httpOrigin();
  open = await startInProcess('[http]\nBindAddress = 127.0.0.1:0\n', {
    lookupOverrides: { 'origin.test': '127.0.0.1' },
  });
  authed = await startInProcess('[http]\nBindAddress = 127.0.0.1:0\nUsername = bob\nPassword = pw\n');
});
after(async () => {
  await open.close();
  await authed.close();
  await closeAll(origin.server);
  rmSync(dir, { recursive: true, force: true });
});

test('plain GET and POST are forwarded to the origin named in the URI', { skip: noCurl }, async () => {
  const get = await curl([
    '-x',
    `http://127.0.0.1:${open.port()}`,
    '-i',
    `http://origin.test:${origin.port}/x?y=1`,
  ]);
  assert.equal(get.code, 0, get.stderr);
  assert.match(get.stdout, /^HTTP\/1\.1 200/);
  assert.match(get.stdout, /x-origin: yes/i);
  assert.match(get.stdout, /origin GET \/x\?y=1 $/);
  const post = await curl([
    '-x',
    `http://127.0.0.1:${open.port()}`,
    '-d',
    'hello',
    `http://127.0.0.1:${origin.port}/p`,
  ]);
  assert.equal(post.stdout, 'origin POST /p hello');
});

test('CONNECT (curl -p) tunnels to the origin', { skip: noCurl }, async () => {
  const r = await curl([
    '-p',
    '-x',
    `http://127.0.0.1:${open.port()}`,
    `http://127.0.0.1:${origin.port}/tunnelled`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'origin GET /tunnelled ');
});

test('CONNECT carries TLS to an HTTPS origin', { skip: noCurl || noOpenssl }, async () => {
  const made = (await makeCertificate(['localhost'], ['127.0.0.1']))!;
  const key = made.keyFile;
  const cert = made.certFile;
  const tls = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_req, res) =>
    res.end('secret origin'),
  );
  const port = await listenOn(tls);
  const r = await curl(['-k', '-x', `http://127.0.0.1:${open.port()}`, `https://127.0.0.1:${port}/`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'secret origin');
  await closeAll(tls);
});

test('without or with wrong credentials: 407 with Proxy-Authenticate', { skip: noCurl }, async () => {
  const none = await curl([
    '-i',
    '-x',
    `http://127.0.0.1:${authed.port()}`,
    `http://127.0.0.1:${origin.port}/`,
  ]);
  assert.match(none.stdout, /^HTTP\/1\.1 407/);
  assert.match(none.stdout, /proxy-authenticate: Basic realm="Proxy"/i);
  const wrong = await curl([
    '-i',
    '-x',
    `http://bob:nope@127.0.0.1:${authed.port()}`,
    `http://127.0.0.1:${origin.port}/`,
  ]);
  assert.match(wrong.stdout, /^HTTP\/1\.1 407/);
  const connect = await curl([
    '-p',
    '-x',
    `http://127.0.0.1:${authed.port()}`,
    `http://127.0.0.1:${origin.port}/`,
  ]);
  assert.notEqual(connect.code, 0);
  assert.match(connect.stderr, /407/);
});

test('with the right credentials: GET and CONNECT go through', { skip: noCurl }, async () => {
  const get = await curl([
    '-x',
    `http://bob:pw@127.0.0.1:${authed.port()}`,
    `http://127.0.0.1:${origin.port}/ok`,
  ]);
  assert.equal(get.stdout, 'origin GET /ok ', get.stderr);
  const con = await curl([
    '-p',
    '-x',
    `http://bob:pw@127.0.0.1:${authed.port()}`,
    `http://127.0.0.1:${origin.port}/ok2`,
  ]);
  assert.equal(con.stdout, 'origin GET /ok2 ', con.stderr);
});

test('IPv6 origins: plain GET and CONNECT to [::1]', { skip: noCurl }, async () => {
  const origin6 = await httpOrigin('::1');
  try {
    const get = await curl(['-x', `http://127.0.0.1:${open.port()}`, `http://[::1]:${origin6.port}/six`]);
    assert.equal(get.stdout, 'origin GET /six ', get.stderr);
    const con = await curl([
      '-p',
      '-x',
      `http://127.0.0.1:${open.port()}`,
      `http://[::1]:${origin6.port}/six-c`,
    ]);
    assert.equal(con.stdout, 'origin GET /six-c ', con.stderr);
  } finally {
    await closeAll(origin6.server);
  }
});

test('a refused upstream is 502, a non-absolute request 400', { skip: noCurl }, async () => {
  const closed = createServer();
  const port = await listenOn(closed);
  await closeAll(closed);
  const get = await curl([
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    '-x',
    `http://127.0.0.1:${open.port()}`,
    `http://127.0.0.1:${port}/`,
  ]);
  assert.equal(get.stdout, '502');
  const direct = await curl(['-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${open.port()}/`]);
  assert.equal(direct.stdout, '400');
});

test('CertFile and KeyFile make the proxy listen with HTTPS', { skip: noCurl || noOpenssl }, async () => {
  const made = (await makeCertificate(['localhost'], ['127.0.0.1']))!;
  const key = made.keyFile;
  const cert = made.certFile;
  const https = await startInProcess(
    `[http]\nBindAddress = 127.0.0.1:0\nCertFile = ${cert}\nKeyFile = ${key}\n`,
  );
  try {
    const r = await curl([
      '--proxy-insecure',
      '-x',
      `https://127.0.0.1:${https.port()}`,
      `http://127.0.0.1:${origin.port}/tls`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'origin GET /tls ');
    const plain = await curl(['-x', `http://127.0.0.1:${https.port()}`, `http://127.0.0.1:${origin.port}/`]);
    assert.notEqual(plain.stdout, 'origin GET / ');
  } finally {
    await https.close();
  }
});
