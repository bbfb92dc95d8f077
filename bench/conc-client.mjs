#!/usr/bin/env node
// The concurrency round's client for bench/proxy.mjs: opens --conns TCP connections through a
// SOCKS5 proxy (RFC 1928 CONNECT, no authentication) to --target (the tunnel peer's TCP echo), all
// at once, each proving itself with one echoed line, and holds them open until SIGTERM, so the
// harness can read the proxy's memory with that many live connections.
//
//   node bench/conc-client.mjs --socks HOST:PORT --target IP:PORT [--conns 500] [--timeout-ms 30000]
//
// Prints {"event":"open","opened":N,"failed":F,"ms":T} once every connection has either echoed
// or failed (or the timeout passed: the rest count as failed), then on SIGTERM closes them all and
// prints {"event":"closed"}. Bounded: it exits by itself after twice the timeout.
import { Buffer } from 'node:buffer';
import { connect, isIPv6 } from 'node:net';
import { setTimeout } from 'node:timers';
import { URL } from 'node:url';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function hostPort(text) {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(text ?? '');
  if (m === null) throw new Error(`bad HOST:PORT ${text}`);
  return { host: m[1], port: Number(m[2]) };
}

function connectRequest(target) {
  const port = Buffer.alloc(2);
  port.writeUInt16BE(target.port);
  if (isIPv6(target.host)) {
    const full = new URL(`http://[${target.host}]`).hostname.slice(1, -1);
    const [head, tail = ''] = full.split('::');
    const h = head === '' ? [] : head.split(':');
    const t = full.includes('::') && tail !== '' ? tail.split(':') : [];
    const groups = [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t];
    const addr = Buffer.alloc(16);
    groups.forEach((g, i) => addr.writeUInt16BE(parseInt(g, 16), i * 2));
    return Buffer.concat([Buffer.from([5, 1, 0, 4]), addr, port]);
  }
  return Buffer.concat([Buffer.from([5, 1, 0, 1, ...target.host.split('.').map(Number)]), port]);
}

const socks = hostPort(arg('socks'));
const target = hostPort(arg('target'));
const conns = Number(arg('conns', '500'));
const timeoutMs = Number(arg('timeout-ms', '30000'));
const request = connectRequest(target);
const sockets = [];
let opened = 0;
let failed = 0;
let reported = false;
const t0 = Date.now();

function settle(ok) {
  if (ok) opened += 1;
  else failed += 1;
  if (!reported && opened + failed === conns) report();
}

function report() {
  reported = true;
  console.log(JSON.stringify({ event: 'open', opened, failed: conns - opened, ms: Date.now() - t0 }));
}

function one(i) {
  const line = Buffer.from(`conn ${i}\n`);
  let buf = Buffer.alloc(0);
  let stage = 'greeting';
  let done = false;
  const finish = (ok) => {
    if (done) return;
    done = true;
    settle(ok);
  };
  const s = connect({ host: socks.host, port: socks.port, noDelay: true }, () =>
    s.write(Buffer.from([5, 1, 0])),
  );
  sockets.push(s);
  s.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    if (stage === 'greeting' && buf.length >= 2) {
      if (buf[1] !== 0) return finish(false);
      buf = buf.subarray(2);
      stage = 'reply';
      s.write(request);
    }
    if (stage === 'reply' && buf.length >= 10) {
      // IPv4 BND.ADDR is 10 bytes, IPv6 22; both proxies here answer with IPv4 or IPv6 forms.
      const len = buf[3] === 4 ? 22 : buf[3] === 3 ? 7 + buf[4] : 10;
      if (buf.length < len) return;
      if (buf[1] !== 0) return finish(false);
      buf = buf.subarray(len);
      stage = 'echo';
      s.write(line);
    }
    if (stage === 'echo' && buf.length >= line.length) finish(buf.subarray(0, line.length).equals(line));
  });
  s.on('error', () => finish(false));
  s.on('close', () => finish(false));
}

for (let i = 0; i < conns; i++) one(i);
setTimeout(() => {
  if (!reported) {
    failed = conns - opened;
    report();
  }
}, timeoutMs).unref();
const stop = () => {
  for (const s of sockets) s.destroy();
  console.log(JSON.stringify({ event: 'closed' }));
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
setTimeout(stop, 2 * timeoutMs);
