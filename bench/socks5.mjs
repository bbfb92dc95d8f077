#!/usr/bin/env node
// A tiny SOCKS5 server (RFC 1928: no authentication, CONNECT only; IPv4, IPv6 and domain-name
// targets, names through the system resolver) for the rootless benchmark's kernel baseline
// (bench/proxy.mjs): it runs inside the namespace of a kernel-TUN wgtsd so that the same
// `curl --socks5` measures "kernel TUN + wgtsd" next to a userspace proxy. Not a product: one job,
// no limits beyond the kernel's.
//
//   node bench/socks5.mjs --listen HOST:PORT
//
// Prints {"event":"listening",...} once bound; exits on SIGTERM/SIGINT.
import { Buffer } from 'node:buffer';
import { connect, createServer } from 'node:net';

const REPLY_OK = 0x00;
const REPLY_FAILURE = 0x01;
const REPLY_HOST_UNREACHABLE = 0x04;
const REPLY_REFUSED = 0x05;
const REPLY_CMD_UNSUPPORTED = 0x07;
const REPLY_ATYP_UNSUPPORTED = 0x08;

function reply(socket, code) {
  // BND.ADDR 0.0.0.0:0: clients (curl) do not use it for CONNECT.
  socket.write(Buffer.from([5, code, 0, 1, 0, 0, 0, 0, 0, 0]));
}

/** Parses the CONNECT request at the start of `buf`: {host, port, length} or null (need more) or 'bad'. */
function parseRequest(buf) {
  if (buf.length < 5) return null;
  if (buf[0] !== 5) return 'bad';
  const atyp = buf[3];
  let host;
  let at;
  if (atyp === 1) {
    if (buf.length < 10) return null;
    host = [...buf.subarray(4, 8)].join('.');
    at = 8;
  } else if (atyp === 4) {
    if (buf.length < 22) return null;
    const groups = [];
    for (let i = 4; i < 20; i += 2) groups.push(buf.readUInt16BE(i).toString(16));
    host = groups.join(':');
    at = 20;
  } else if (atyp === 3) {
    const len = buf[4];
    if (buf.length < 5 + len + 2) return null;
    host = buf.subarray(5, 5 + len).toString('latin1');
    at = 5 + len;
  } else {
    return { unsupportedAtyp: true };
  }
  return { cmd: buf[1], host, port: buf.readUInt16BE(at), length: at + 2 };
}

function handle(client) {
  let buf = Buffer.alloc(0);
  let stage = 'greeting';
  client.on('error', () => client.destroy());
  const onData = (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    if (stage === 'greeting') {
      if (buf.length < 2 || buf.length < 2 + buf[1]) return;
      if (buf[0] !== 5 || !buf.subarray(2, 2 + buf[1]).includes(0)) {
        client.end(Buffer.from([5, 0xff]));
        return;
      }
      client.write(Buffer.from([5, 0]));
      buf = buf.subarray(2 + buf[1]);
      stage = 'request';
    }
    if (stage !== 'request') return;
    const req = parseRequest(buf);
    if (req === null) return;
    client.off('data', onData);
    if (req === 'bad') return void client.destroy();
    if (req.unsupportedAtyp) return void (reply(client, REPLY_ATYP_UNSUPPORTED), client.end());
    if (req.cmd !== 1) return void (reply(client, REPLY_CMD_UNSUPPORTED), client.end());
    stage = 'connecting';
    const rest = buf.subarray(req.length);
    client.pause();
    const upstream = connect({ host: req.host, port: req.port, noDelay: true });
    upstream.once('connect', () => {
      reply(client, REPLY_OK);
      if (rest.length > 0) upstream.write(rest);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    upstream.once('error', (err) => {
      if (stage === 'connecting') {
        const code =
          err.code === 'ECONNREFUSED'
            ? REPLY_REFUSED
            : err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH' || err.code === 'ENOTFOUND'
              ? REPLY_HOST_UNREACHABLE
              : REPLY_FAILURE;
        reply(client, code);
        client.end();
      } else client.destroy();
    });
    upstream.once('close', () => client.destroy());
    client.once('close', () => upstream.destroy());
    upstream.once('connect', () => (stage = 'piping'));
  };
  client.on('data', onData);
}

const i = process.argv.indexOf('--listen');
const m = i < 0 ? null : /^\[?([^\]]+?)\]?:(\d+)$/.exec(process.argv[i + 1] ?? '');
if (m === null) {
  console.error('usage: node bench/socks5.mjs --listen HOST:PORT');
  process.exit(2);
}
const server = createServer({ noDelay: true }, handle);
server.listen({ host: m[1], port: Number(m[2]), backlog: 1024 }, () => {
  console.log(JSON.stringify({ event: 'listening', host: m[1], port: Number(m[2]) }));
});
for (const sig of ['SIGTERM', 'SIGINT']) process.once(sig, () => process.exit(0));
