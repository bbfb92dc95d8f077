/**
 * `wgts proxy` as a command: -n/--configtest through the real wgts binary (Config OK, or the
 * FILE:LINE error and status 1), `wgts help proxy`, -v, a missing file, and, as a process over the
 * host-backed network (host-proxy-main.ts): a [STDIOTunnel] talking over stdin/stdout and exiting
 * when its connection ends (ssh's ProxyCommand), a SOCKS5 proxy shut down cleanly by SIGTERM, and
 * a BindAddress in use failing the start with the section's line.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor, which } from '../helpers/netns.js';
import { closeAll, echoServer, readBytes, WG_PART } from './helpers.js';

const WGTS = 'dist/src/cli/main.js';
const HOST_PROXY = 'dist/test/proxy/host-proxy-main.js';
let dir = '';

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'wgts-proxy-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function run(script: string, args: readonly string[], input?: string) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(
      process.execPath,
      [script, ...args],
      { timeout: 15_000, env: { ...process.env, HOME: dir } },
      (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

test('wgts proxy -n prints Config OK for a valid file', async () => {
  const path = file('ok.conf', `${WG_PART}\n[Socks5]\nBindAddress = 127.0.0.1:25344\n`);
  const r = await run(WGTS, ['proxy', '-n', '-c', path]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Config OK\n');
  const long = await run(WGTS, ['proxy', '--configtest', `--config=${path}`]);
  assert.equal(long.stdout, 'Config OK\n');
});

test('wgts proxy -n names FILE:LINE and exits 1 for a broken file', async () => {
  const path = file('bad.conf', `${WG_PART}\n[Socks5]\nBindAddress = nowhere\n`);
  const r = await run(WGTS, ['proxy', '-n', '-c', path]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, new RegExp(`${path}:12: BindAddress = "nowhere" is not host:port`));
});

test('a missing file, an unknown flag and no file at all are errors', async () => {
  const missing = await run(WGTS, ['proxy', '-c', join(dir, 'nope.conf')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nope\.conf: cannot read the configuration/);
  const flag = await run(WGTS, ['proxy', '--frobnicate']);
  assert.equal(flag.code, 1);
  assert.match(flag.stderr, /unknown argument "--frobnicate"/);
  // HOME is the empty test directory, so only /etc/wireproxy/wireproxy.conf could be found.
  const none = await run(WGTS, ['proxy', '-n']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no configuration file|cannot read/);
});

test('wgts help proxy documents the flags and sections; -v prints the version', async () => {
  const help = await run(WGTS, ['help', 'proxy']);
  assert.equal(help.code, 0);
  for (const word of [
    '--config',
    '--silent',
    '--daemon',
    '--info',
    '--configtest',
    '--version',
    '[Socks5]',
    '[http]',
    '[TCPClientTunnel]',
    '[TCPServerTunnel]',
    '[STDIOTunnel]',
    '[UDPClientTunnel]',
    '[UDPServerTunnel]',
    'WGConfig',
    'CheckAlive',
  ]) {
    assert.ok(help.stdout.includes(word), `help mentions ${word}`);
  }
  const v = await run(WGTS, ['proxy', '-v']);
  assert.match(v.stdout, /^wgts proxy v\d+\.\d+\.\d+/);
});

test('wgts proxy with the real device: a section that cannot bind is an error naming its line, exit 1', async () => {
  // The userspace device opens (src/proxy/open-device.ts); the taken port then fails the start.
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as AddressInfo).port;
  try {
    const path = file('taken.conf', `${WG_PART}\n[Socks5]\nBindAddress = 127.0.0.1:${port}\n`);
    const r = await run(WGTS, ['proxy', '-c', path]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /EADDRINUSE|in use/);
  } finally {
    taken.close();
  }
});

test('[STDIOTunnel] talks over stdin/stdout and exits when the connection ends', async () => {
  const echo = await echoServer('via-tunnel:');
  const path = file('stdio.conf', `${WG_PART}\n[STDIOTunnel]\nTarget = 127.0.0.1:${echo.port}\n`);
  try {
    const r = await run(HOST_PROXY, ['-s', '-c', path], 'ssh-hello');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'via-tunnel:ssh-hello');
  } finally {
    await closeAll(echo.server);
  }
});

test('SIGTERM shuts the proxy down cleanly (status 0, port released)', async () => {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await closeAll(probe);
  const path = file('term.conf', `${WG_PART}\n[Socks5]\nBindAddress = 127.0.0.1:${port}\n`);
  const child = spawn(process.execPath, [HOST_PROXY, '-c', path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitFor(() => stderr.includes('started SOCKS5'), { timeoutMs: 10_000, what: 'the proxy to start' });
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(stderr, /shutting down/);
    const again = createServer();
    await new Promise<void>((resolve, reject) =>
      again.once('error', reject).listen(port, '127.0.0.1', resolve),
    );
    await closeAll(again);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('a BindAddress already in use fails the start, naming the section line', async () => {
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const port = (busy.address() as AddressInfo).port;
  const path = file('busy.conf', `${WG_PART}\n[http]\nBindAddress = 127.0.0.1:${port}\n`);
  try {
    const r = await run(HOST_PROXY, ['-c', path]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`busy\\.conf:11: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`),
    );
  } finally {
    await closeAll(busy);
  }
});

test(
  '-d detaches: the command returns once the proxy listens, and the proxy keeps running',
  { skip: which('ss') === null ? 'ss is not installed' : false },
  async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await closeAll(probe);
    const path = file('daemon.conf', `${WG_PART}\n[Socks5]\nBindAddress = 127.0.0.1:${port}\n`);
    const r = await run(HOST_PROXY, ['-d', '-c', path]);
    assert.equal(r.code, 0, r.stderr);
    // The detached child is found by the port it listens on, and stopped by its pid.
    const ss = await new Promise<string>((resolve) =>
      execFile('ss', ['-Htlnp', `sport = :${port}`], { timeout: 5000 }, (_e, out) => resolve(out)),
    );
    const pid = Number(/pid=(\d+)/.exec(ss)?.[1]);
    assert.ok(pid > 0, `a process listens on ${port}: ${ss}`);
    try {
      const s = connect(port, '127.0.0.1');
      s.write(Buffer.from([5, 1, 0]));
      assert.deepEqual([...(await readBytes(s, 2))], [5, 0]);
      s.destroy();
    } finally {
      process.kill(pid, 'SIGTERM');
    }
    await waitFor(
      () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      },
      { timeoutMs: 10_000, what: 'the daemon to exit' },
    );
  },
);

test('-d refuses a [STDIOTunnel], which needs the terminal', async () => {
  const path = file('dstdio.conf', `${WG_PART}\n[STDIOTunnel]\nTarget = 127.0.0.1:1\n`);
  const r = await run(HOST_PROXY, ['-d', '-c', path]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /-d cannot be used with a \[STDIOTunnel\]/);
});
