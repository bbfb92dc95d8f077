/**
 * The userspace stack against the real Linux kernel (test/helpers/tun-stack.ts): ping from a
 * namespace to the stack and from the stack to the kernel (both families), UDP both ways against
 * node dgram sockets inside the namespace, and DNS resolution against a tiny DNS server there.
 * Needs root (namespaces, /dev/net/tun); skipped otherwise.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { resolve } from '../../src/netstack/dns-resolver.js';
import {
  cleanup,
  exec,
  ping,
  prerequisitesMissing,
  spawn,
  tracked,
  waitFor,
  type TrackedProcess,
} from '../helpers/netns.js';
import { createTunStack, type TunStack } from '../helpers/tun-stack.js';

const skip = prerequisitesMissing(['ip', 'ping']);

/** UDP echo on port 7007 for both families, then a DNS server on port 53 for svc.test. */
const SERVER_SCRIPT = `
const dgram = require('node:dgram');
const [v4, v6] = process.argv.slice(1);
let ready = 0;
const up = () => { if (++ready === 4) console.log('ready'); };
for (const [type, addr] of [['udp4', v4], ['udp6', v6]]) {
  const echo = dgram.createSocket(type);
  echo.on('message', (m, r) => echo.send(m, r.port, r.address));
  echo.bind(7007, addr, up);
  const dns = dgram.createSocket(type);
  dns.on('message', (q, r) => {
    let at = 12; const labels = [];
    while (at < q.length && q[at] !== 0) { labels.push(q.subarray(at + 1, at + 1 + q[at]).toString()); at += 1 + q[at]; }
    const qtype = q[at + 2];
    const name = labels.join('.').toLowerCase();
    const question = q.subarray(12, at + 5);
    const rdata = qtype === 1 ? Buffer.from([10, 20, 30, 40]) : Buffer.from('fd0000000000000000000000000000ab', 'hex');
    const found = name === 'svc.test';
    const header = Buffer.from([q[0], q[1], 0x81, found ? 0x80 : 0x83, 0, 1, 0, found ? 1 : 0, 0, 0, 0, 0]);
    const answer = found ? Buffer.concat([Buffer.from([0xc0, 12, 0, qtype, 0, 1, 0, 0, 0, 60, 0, rdata.length]), rdata]) : Buffer.alloc(0);
    dns.send(Buffer.concat([header, question, answer]), r.port, r.address);
  });
  dns.bind(53, addr, up);
}
`;

/** Sends one datagram to the stack's echo port per family and prints what came back. */
const CLIENT_SCRIPT = `
const dgram = require('node:dgram');
const [v4, v6] = process.argv.slice(1);
const results = {};
let left = 2;
for (const [type, addr] of [['udp4', v4], ['udp6', v6]]) {
  const s = dgram.createSocket(type);
  const timer = setTimeout(() => { results[type] = 'timeout'; s.close(); if (--left === 0) console.log(JSON.stringify(results)); }, 5000);
  s.on('message', (m) => { clearTimeout(timer); results[type] = m.toString(); s.close(); if (--left === 0) console.log(JSON.stringify(results)); });
  s.send('ping-' + type, 9009, addr);
}
`;

describe('NetStack on a real TUN', { skip }, () => {
  let t: TunStack;
  let server: TrackedProcess;
  before(async () => {
    t = await createTunStack();
    server = spawn(t.ns, process.execPath, ['-e', SERVER_SCRIPT, t.kernelV4, t.kernelV6]);
    await server.waitForOutput(/ready/, 10_000);
  });
  after(async () => {
    await t?.close();
    await cleanup();
  });

  it('answers ping from the kernel over IPv4 and IPv6', async () => {
    for (const address of [t.stackV4, t.stackV6]) {
      const r = await ping(t.ns, address, { count: 3, intervalS: 0.2, deadlineS: 8 });
      assert.ok(r.ok, r.output);
      assert.ok(r.received >= 3, r.output);
    }
    assert.equal(t.readError(), null);
  });

  it('refuses the fragments of an oversized ping (counted, no reply), both families', async () => {
    for (const address of [t.stackV4, t.stackV6]) {
      const before = t.stack.drops.fragment;
      // 2000 bytes do not fit the 1420 link: the kernel fragments the request.
      const r = await ping(t.ns, address, { count: 1, size: 2000, waitS: 1 });
      assert.equal(r.received, 0, r.output);
      await waitFor(() => t.stack.drops.fragment >= before + 2, {
        timeoutMs: 5_000,
        what: `fragments to ${address} counted`,
      });
    }
    // A ping that fits still works afterwards.
    assert.ok((await ping(t.ns, t.stackV4, { count: 1, deadlineS: 5 })).ok);
  });

  it('gets echo replies from the kernel to its own echo requests', async () => {
    const replies: string[] = [];
    t.stack.icmp.onEchoReply = (from, id, seq, data) => {
      replies.push(`${from.length}:${id}:${seq}:${Buffer.from(data).toString()}`);
    };
    for (const [address, seq] of [
      [t.kernelV4Bytes, 1],
      [t.kernelV6Bytes, 2],
    ] as const) {
      // Resend now and then until answered: the first may race the link coming up.
      await waitFor(
        () => {
          if (replies.some((r) => r.endsWith(`:77:${seq}:hi`))) return true;
          t.stack.icmp.echoRequest(address, 77, seq, Buffer.from('hi'));
          return false;
        },
        { timeoutMs: 5_000, intervalMs: 200, what: `echo reply ${seq}` },
      );
    }
    assert.ok(replies.includes('4:77:1:hi'));
    assert.ok(replies.includes('16:77:2:hi'));
    t.stack.icmp.onEchoReply = null;
  });

  it('exchanges UDP with a kernel socket, both directions and both families', async () => {
    const got: string[] = [];
    for (const [family, address] of [
      [4, t.kernelV4Bytes],
      [6, t.kernelV6Bytes],
    ] as const) {
      const b = t.stack.udp.bind(family, null, 0, (data, from) => {
        assert.equal(from.port, 7007);
        got.push(Buffer.from(data).toString());
      });
      await waitFor(
        () => {
          if (got.includes(`hello${family}`)) return true;
          b.send(Buffer.from(`hello${family}`), { address, port: 7007 });
          return false;
        },
        { timeoutMs: 5_000, intervalMs: 200, what: `UDP echo over IPv${family}` },
      );
      b.close();
    }
    const echo4 = t.stack.udp.bind(4, null, 9009, (data, from) => echo4.send(data, from));
    const echo6 = t.stack.udp.bind(6, null, 9009, (data, from) => echo6.send(data, from));
    const r = await exec(t.ns, process.execPath, ['-e', CLIENT_SCRIPT, t.stackV4, t.stackV6], {
      timeoutMs: 15_000,
    });
    echo4.close();
    echo6.close();
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { udp4: 'ping-udp4', udp6: 'ping-udp6' });
  });

  it('resolves names through a DNS server in the namespace', async () => {
    const both = await resolve('svc.test', 0, [t.kernelV4Bytes], t.stack.udp, {
      timeoutMs: 1000,
      attempts: 3,
    });
    assert.deepEqual(
      both.map((r) => [r.family, Buffer.from(r.address).toString('hex')]),
      [
        [4, '0a141e28'],
        [6, 'fd0000000000000000000000000000ab'],
      ],
    );
    const v6 = await resolve('SVC.test', 6, [t.kernelV6Bytes], t.stack.udp, { timeoutMs: 1000, attempts: 3 });
    assert.equal(v6.length, 1);
    await assert.rejects(resolve('nope.test', 4, [t.kernelV6Bytes], t.stack.udp, { timeoutMs: 1000 }), {
      code: 'ENOTFOUND',
    });
    assert.equal(t.stack.udp.size, 0);
  });

  it('close() removes the namespace and the link, and is idempotent', async () => {
    await server.stop();
    await t.close();
    await t.close();
    const r = await exec(null, 'ip', ['netns', 'list']);
    assert.ok(!r.stdout.includes(t.ns), r.stdout);
    assert.ok(!tracked().namespaces.includes(t.ns));
    const link = await exec(null, 'ip', ['link', 'show', 'dev', t.ifname]);
    assert.notEqual(link.code, 0, 'the TUN link is gone');
  });
});
