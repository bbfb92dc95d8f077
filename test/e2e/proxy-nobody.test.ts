/**
 * `wgts proxy -c FILE` (a wireproxy drop-in) run as user nobody, with no TUN and no capabilities,
 * against the real tunnel peer (wireguard-go with servers): curl through [Socks5] (RFC 1928, by
 * name with --socks5-hostname and by IPv6 literal), through [http] (RFC 9110 GET and CONNECT), a
 * [TCPClientTunnel], a [TCPServerTunnel] reached from the peer's side, a [STDIOTunnel] used
 * ssh-style, UDP through SOCKS5 UDP ASSOCIATE (RFC 1928 §7) and through [UDPProxyTunnel] and
 * [UDPServerTunnel], and the health endpoint `-i` (/metrics names the peer, /readyz reports the
 * CheckAlive address).
 *
 * Needs root (to build namespaces and to become nobody), wireguard-go, curl; skips otherwise.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn as spawnChild, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { cleanup, exec, waitFor, which } from '../helpers/netns.js';
import { asNobody, nobodyEnv, nobodyRuntime, spawnAsNobody, writeFileForNobody } from '../helpers/nobody.js';
import type { NobodyRuntime } from '../helpers/nobody.js';
import { genKeyPair } from '../helpers/wg-peer.js';
import {
  httpSection,
  socks5Section,
  startTunnelPeer,
  tcpClientTunnelSection,
} from '../helpers/tunnel-peer.js';
import type { TunnelPeer } from '../helpers/tunnel-peer.js';
import type { TrackedProcess } from '../helpers/netns.js';
import { probe } from '../helpers/tunnel-probe.js';
import { patternSha256 } from '../helpers/tunnel-servers.js';
import { socksHandshake, socksRequest, udpClient } from '../proxy/helpers.js';
import { userspaceSkipReason } from '../helpers/userspace-peer.js';

const skip = userspaceSkipReason() || (which('curl') === null ? 'curl missing' : false);

/** Local ports for this run, spread by pid so parallel runs rarely collide. */
const base = 20_000 + (process.pid % 400) * 100;
const P = { socks: base, http: base + 1, tcpc: base + 2, udpc: base + 3, info: base + 4 };
const SERVER_TCP_PORT = 2222;
const SERVER_UDP_PORT = 5353;

function curl(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return exec(null, 'curl', ['-sS', '--max-time', '30', ...args], { timeoutMs: 35_000 });
}

describe('wgts proxy as nobody against wireguard-go', { skip, timeout: 180_000 }, () => {
  let peer: TunnelPeer;
  let rt: NobodyRuntime;
  let proxy: TrackedProcess;
  let privateKey: string;
  const local = { tcp: createServer((s) => s.pipe(s)), udp: createSocket('udp4') };
  let localTcpPort = 0;
  let localUdpPort = 0;

  before(async () => {
    const r = await nobodyRuntime();
    if (typeof r === 'string') throw new Error(r);
    rt = r;
    const keys = await genKeyPair();
    privateKey = keys.privateKey;
    peer = await startTunnelPeer({ ourPublicKey: keys.publicKey });
    // Local echo servers that the server tunnels forward the peer's connections to.
    await new Promise<void>((res) => local.tcp.listen(0, '127.0.0.1', res));
    localTcpPort = (local.tcp.address() as { port: number }).port;
    local.udp.on('message', (m, ri) => local.udp.send(m, ri.port, ri.address));
    await new Promise<void>((res) => local.udp.bind(0, '127.0.0.1', res));
    localUdpPort = local.udp.address().port;
    const text = peer
      .wireproxyConfig(privateKey, [
        socks5Section(`127.0.0.1:${P.socks}`),
        httpSection(`127.0.0.1:${P.http}`),
        tcpClientTunnelSection(`127.0.0.1:${P.tcpc}`, `${peer.innerV4}:${peer.ports.echo}`),
        `[TCPServerTunnel]\nListenPort = ${SERVER_TCP_PORT}\nTarget = 127.0.0.1:${localTcpPort}`,
        `[UDPProxyTunnel]\nBindAddress = 127.0.0.1:${P.udpc}\nTarget = ${peer.innerV4}:${peer.ports.udpEcho}`,
        `[UDPServerTunnel]\nListenPort = ${SERVER_UDP_PORT}\nTarget = 127.0.0.1:${localUdpPort}`,
      ])
      .replace('[Interface]\n', `[Interface]\nCheckAlive = ${peer.innerV4}\nCheckAliveInterval = 1\n`);
    const file = writeFileForNobody('proxy.conf', text);
    proxy = spawnAsNobody(rt.node, [rt.cliMain, 'proxy', '-c', file, '-i', `127.0.0.1:${P.info}`]);
    // The health endpoint starts after every section, so its answer means the proxy is up.
    await waitFor(async () => (await curl([`http://127.0.0.1:${P.info}/metrics`])).code === 0, {
      timeoutMs: 20_000,
      what: `the proxy's health endpoint`,
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n${proxy.output()}`);
    });
  });

  after(async () => {
    await proxy?.stop();
    local.tcp.close();
    local.udp.close();
    await peer?.close();
    await cleanup();
  });

  test('runs as nobody without capabilities', async () => {
    const status = await exec(null, 'cat', [`/proc/${proxy.pid}/status`]);
    assert.match(status.stdout, /^Uid:\s+65534\s/m);
    assert.match(status.stdout, /^CapEff:\s+0+$/m);
  });

  test('SOCKS5 by name (--socks5-hostname): 4 MiB SHA-256 checked', async () => {
    const n = 4 * 1024 * 1024;
    const r = await exec(null, 'sh', [
      '-c',
      `curl -sS --max-time 30 --socks5-hostname 127.0.0.1:${P.socks} http://web.tunnel.test/bytes/${n} | sha256sum`,
    ]);
    assert.equal(r.stdout.split(' ')[0], patternSha256(n), `${r.stderr}\n${proxy.output()}`);
  });

  test('SOCKS5 to an IPv6 literal', async () => {
    const r = await curl(['--socks5-hostname', `127.0.0.1:${P.socks}`, `http://[${peer.innerV6}]/`]);
    assert.match(r.stdout, /tunnel peer/, r.stderr);
  });

  test('HTTP proxy: plain GET by name', async () => {
    const r = await curl(['-x', `http://127.0.0.1:${P.http}`, 'http://v4.tunnel.test/']);
    assert.match(r.stdout, /tunnel peer/, r.stderr);
  });

  test('HTTP proxy: CONNECT to HTTPS, certificate verified', async (t) => {
    if (peer.tls === null) return t.skip('fixture has no HTTPS');
    const r = await curl([
      '-x',
      `http://127.0.0.1:${P.http}`,
      '--cacert',
      peer.tls.certFile,
      'https://web.tunnel.test/',
    ]);
    assert.match(r.stdout, /tunnel peer/, r.stderr);
    const p = await curl(['-p', '-x', `http://127.0.0.1:${P.http}`, `http://[${peer.innerV6}]/`]);
    assert.match(p.stdout, /tunnel peer/, `CONNECT to an IPv6 literal: ${p.stderr}`);
  });

  test('TCPClientTunnel: 1 MiB echo', async () => {
    const data = randomBytes(1024 * 1024);
    const back = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = connect(P.tcpc, '127.0.0.1', () => s.end(data));
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('error', reject);
      s.on('close', () => resolve(Buffer.concat(chunks)));
      s.setTimeout(20_000, () => s.destroy(new Error('timed out')));
    });
    assert.ok(back.equals(data), `${back.length} bytes back`);
  });

  test('TCPServerTunnel: the peer connects to our tunnel address', async () => {
    const r = await probe(peer.ns, ['tcp-echo', peer.ourV4, String(SERVER_TCP_PORT), String(256 * 1024)]);
    assert.equal(r['ok'], true, JSON.stringify(r));
  });

  test('UDPServerTunnel: the peer sends datagrams to our tunnel address', async () => {
    const r = await probe(peer.ns, ['udp-echo', peer.ourV4, String(SERVER_UDP_PORT), '10']);
    assert.equal(r['ok'], true, JSON.stringify(r));
  });

  test('UDPProxyTunnel: datagrams to the peer echo', async () => {
    const sock = createSocket('udp4');
    try {
      const payload = randomBytes(500);
      const got = await new Promise<Buffer>((resolve, reject) => {
        const resend = setInterval(() => sock.send(payload, P.udpc, '127.0.0.1'), 300);
        const deadline = setTimeout(() => {
          clearInterval(resend);
          reject(new Error('no echo'));
        }, 10_000);
        sock.on('message', (m) => {
          clearInterval(resend);
          clearTimeout(deadline);
          resolve(m);
        });
        sock.send(payload, P.udpc, '127.0.0.1');
      });
      assert.ok(got.equals(payload));
    } finally {
      sock.close();
    }
  });

  test('SOCKS5 UDP ASSOCIATE: echo through the tunnel', async () => {
    const control = await socksHandshake(P.socks);
    const client = await udpClient('udp4');
    try {
      const rep = await socksRequest(control, 3, '0.0.0.0', 0);
      assert.equal(rep.rep, 0);
      const relayHost = rep.host === '0.0.0.0' ? '127.0.0.1' : rep.host;
      const payload = `hello-${randomBytes(8).toString('hex')}`;
      const reply = await waitFor(
        () => {
          client.send(rep.port, relayHost, peer.innerV4, peer.ports.udpEcho, payload);
          return client.received.find((m) => m.includes(Buffer.from(payload)));
        },
        { timeoutMs: 10_000, intervalMs: 300, what: 'a UDP ASSOCIATE echo' },
      );
      assert.equal(reply.subarray(reply.length - payload.length).toString(), payload);
    } finally {
      control.destroy();
      client.socket.close();
    }
  });

  test('health endpoint: /metrics names the peer, /readyz reports CheckAlive', async () => {
    const metrics = await curl([`http://127.0.0.1:${P.info}/metrics`]);
    const hex = Buffer.from(peer.peerPublicKey, 'base64').toString('hex');
    assert.match(metrics.stdout, new RegExp(`public_key=${hex}`));
    const ready = await waitFor(
      async () => {
        const r = await curl(['-w', '\\n%{http_code}', `http://127.0.0.1:${P.info}/readyz`]);
        return r.stdout.endsWith('\n200') ? r.stdout : null;
      },
      { timeoutMs: 15_000, intervalMs: 500, what: `/readyz 200\n${proxy.output()}` },
    );
    assert.ok(ready.includes(peer.innerV4), ready);
  });

  test('STDIOTunnel: ssh-style stdin/stdout to the echo server', async () => {
    const file = writeFileForNobody(
      'stdio.conf',
      peer.wireproxyConfig(privateKey, [`[STDIOTunnel]\nTarget = ${peer.innerV4}:${peer.ports.echo}`]),
    );
    const [cmd, argv] = asNobody(rt.node, [rt.cliMain, 'proxy', '-s', '-c', file]);
    const child: ChildProcess = spawnChild(cmd, argv, { env: nobodyEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    try {
      const data = randomBytes(64 * 1024);
      const chunks: Buffer[] = [];
      let got = 0;
      let err = '';
      child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
      const done = new Promise<void>((resolve, reject) => {
        child.stdout?.on('data', (c: Buffer) => {
          chunks.push(c);
          got += c.length;
          if (got >= data.length) resolve();
        });
        child.on('exit', () => reject(new Error(`exited early: ${err}`)));
      });
      child.stdin?.write(data);
      await Promise.race([
        done,
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error(`STDIO echo timed out: ${err}`)), 20_000).unref(),
        ),
      ]);
      assert.ok(Buffer.concat(chunks).equals(data));
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
    }
  });
});
