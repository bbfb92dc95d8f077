/**
 * Scenarios for the native TUN and UDP tests, run by test/io/harness.ts as
 * `ip netns exec NS node netns-child.js SCENARIO` inside a namespace of their own, so that links,
 * addresses, sockets and nftables rules never touch the host. Each scenario checks what it can
 * with node:assert and returns a JSON summary for the parent test to assert on; the child prints
 * `@@result <json>` and exits 0, or prints the failure and exits 1.
 *
 * Run without a scenario (e.g. picked up by a test runner) it does nothing.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createBind, openDualStack, type Endpoint, type LinuxBind } from '../../src/io/bind.js';
import { loadNative } from '../../src/io/native.js';
import { openTun } from '../../src/io/tun.js';
import { echoReply, echoRequest, formatAddress } from './packets.js';

function sh(cmd: string, ...args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function shFails(cmd: string, ...args: string[]): boolean {
  try {
    sh(cmd, ...args);
    return false;
  } catch {
    return true;
  }
}

function linkMtu(name: string): number {
  const m = /\bmtu (\d+)/.exec(sh('ip', '-o', 'link', 'show', 'dev', name));
  assert.ok(m, `no mtu in ip link show ${name}`);
  return Number(m[1]);
}

async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function settle(ms = 100): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

function codeOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    return failureCode(err);
  }
}

async function rejectionOf(p: Promise<unknown>): Promise<{ code: string; errno: number | null } | null> {
  try {
    await p;
    return null;
  } catch (err) {
    return { code: failureCode(err), errno: (err as NodeJS.ErrnoException).errno ?? null };
  }
}

/** A system error's code ('EADDRINUSE'); for argument errors the class name ('RangeError'). */
function failureCode(err: unknown): string {
  if (err instanceof RangeError || err instanceof TypeError) return err.name;
  return String((err as NodeJS.ErrnoException).code);
}

// ---- TUN -----------------------------------------------------------------------------------------

async function tunOpen(): Promise<unknown> {
  const tun = openTun('wgtsio0');
  const result = {
    name: tun.name,
    defaultMtu: linkMtu('wgtsio0'),
    propertyMtu: tun.mtu,
    ifindex: tun.ifindex,
    sysIfindex: Number(readFileSync('/sys/class/net/wgtsio0/ifindex', 'utf8')),
    isDown: !/[<,]UP[,>]/.test(sh('ip', '-o', 'link', 'show', 'dev', 'wgtsio0')),
    setMtu: 0,
    mtuAfterIpLink: 0,
    autoName: '',
    optionMtu: 0,
    numberMtu: 0,
    attachedName: '',
    attachedMtu: 0,
    duplicateCode: null as string | null,
    longNameCode: null as string | null,
    goneAfterClose: false,
  };
  tun.setMtu(1380);
  result.setMtu = linkMtu('wgtsio0');
  sh('ip', 'link', 'set', 'dev', 'wgtsio0', 'mtu', '1300');
  result.mtuAfterIpLink = tun.mtu;

  const auto = openTun('');
  result.autoName = auto.name;
  const withOption = openTun('wgtsio1', { mtu: 1280 });
  result.optionMtu = linkMtu('wgtsio1');
  const withNumber = openTun('wgtsio2', 1400);
  result.numberMtu = linkMtu('wgtsio2');

  // WG_TUN_FD: adopt a TUN fd opened elsewhere.
  const raw = loadNative().tunOpen('wgtsio3', 0);
  const attached = openTun('ignored', { fd: raw.fd, mtu: 1360 });
  result.attachedName = attached.name;
  result.attachedMtu = linkMtu('wgtsio3');

  result.duplicateCode = codeOf(() => openTun('wgtsio0'));
  result.longNameCode = codeOf(() => openTun('a-name-longer-than-15'));
  for (const t of [auto, withOption, withNumber, attached]) t.close();
  tun.close();
  tun.close(); // idempotent
  result.goneAfterClose = shFails('ip', 'link', 'show', 'dev', 'wgtsio0');
  return result;
}

interface PingSetup {
  readonly family: 4 | 6;
  readonly local: string;
  readonly peer: string;
  readonly prefix: string;
}

const PING4: PingSetup = { family: 4, local: '10.77.0.1', peer: '10.77.0.2', prefix: '24' };
const PING6: PingSetup = { family: 6, local: 'fd77::1', peer: 'fd77::2', prefix: '64' };

/**
 * Writes echo requests "from the peer" into the TUN (one batch, plus a malformed packet that
 * the kernel must refuse), and reads the kernel's replies back from the TUN.
 */
async function tunPing(setup: PingSetup): Promise<unknown> {
  const tun = openTun('wgtsio0');
  sh(
    'ip',
    'addr',
    'add',
    `${setup.local}/${setup.prefix}`,
    'dev',
    'wgtsio0',
    ...(setup.family === 6 ? ['nodad'] : []),
  );
  sh('ip', 'link', 'set', 'dev', 'wgtsio0', 'up');
  const id = process.pid & 0xffff;
  const batches: number[] = [];
  const replies: { seq: number; src: string; dst: string; payloadOk: boolean }[] = [];
  const errors: string[] = [];
  const payloadFor = (seq: number): Uint8Array => new Uint8Array(56 + seq).fill(seq + 1);
  tun.start(
    (packets) => {
      batches.push(packets.length);
      for (const p of packets) {
        const r = echoReply(p, id);
        if (r === null) continue; // router solicitations, MLD reports, ...
        const expected = payloadFor(r.seq);
        replies.push({
          seq: r.seq,
          src: formatAddress(r.src),
          dst: formatAddress(r.dst),
          payloadOk: Buffer.from(r.payload).equals(Buffer.from(expected)),
        });
      }
    },
    (err) => errors.push(String((err as NodeJS.ErrnoException).code)),
  );
  const requests = Array.from({ length: 8 }, (_, seq) =>
    echoRequest(setup.family, setup.peer, setup.local, id, seq, payloadFor(seq)),
  );
  const malformed = Uint8Array.of(0x00, 0x01, 0x02, 0x03); // IP version 0: EINVAL
  tun.write([requests[0]!, malformed, ...requests.slice(1)]);
  await waitFor('8 echo replies', () => replies.length >= 8);
  const afterList = { ...tun.stats };

  // The same through writeBatch: four more requests laid out in one buffer.
  const more = Array.from({ length: 4 }, (_, k) =>
    echoRequest(setup.family, setup.peer, setup.local, id, 8 + k, payloadFor(8 + k)),
  );
  const buffer = new Uint8Array(more.reduce((n, p) => n + p.length + 7, 0));
  const offsets = new Uint32Array(more.length);
  const lengths = new Uint32Array(more.length);
  let off = 3;
  more.forEach((p, k) => {
    buffer.set(p, off);
    offsets[k] = off;
    lengths[k] = p.length;
    off += p.length + 7;
  });
  tun.writeBatch(buffer, offsets, lengths, more.length);
  await waitFor('12 echo replies', () => replies.length >= 12);
  const afterBatch = { ...tun.stats };
  tun.close();
  return {
    replies: replies.sort((a, b) => a.seq - b.seq),
    batches,
    errors,
    afterList,
    afterBatch,
  };
}

/** `ip link del` while reading: the reader reports the error and stops. */
async function tunDeleted(): Promise<unknown> {
  const tun = openTun('wgtsio0');
  const errors: { code: string; errno: number | null }[] = [];
  tun.start(
    () => {},
    (err) => {
      const e = err as NodeJS.ErrnoException;
      errors.push({ code: String(e.code), errno: e.errno ?? null });
    },
  );
  const ifindex = tun.ifindex;
  sh('ip', 'link', 'del', 'dev', 'wgtsio0');
  await waitFor('a read error after ip link del', () => errors.length > 0);
  await settle(100); // no error storm: the reader stopped
  const linkGone = shFails('ip', 'link', 'show', 'dev', 'wgtsio0');
  tun.write([echoRequest(4, '10.77.0.2', '10.77.0.1', 1, 1, new Uint8Array(8))]);
  const stats = { ...tun.stats };
  tun.close();
  return { errors, ifindex, linkGone, stats, mtuAfterDelete: tun.mtu };
}

// ---- UDP -----------------------------------------------------------------------------------------

const LOOP4 = Uint8Array.of(127, 0, 0, 1);
const LOOP6 = Uint8Array.from([...new Array<number>(15).fill(0), 1]);
const MAPPED_LOOP4 = Uint8Array.from([...new Array<number>(10).fill(0), 0xff, 0xff, 127, 0, 0, 1]);

interface Received {
  readonly batches: number[];
  readonly datagrams: { bytes: Buffer; from: string; sameObjectAsPrevious: boolean }[];
}

function collector(bind: LinuxBind): Received {
  const rx: Received = { batches: [], datagrams: [] };
  bind.start((datagrams, sources) => {
    rx.batches.push(datagrams.length);
    let prev: Endpoint | null = null;
    datagrams.forEach((d, i) => {
      const s = sources[i]!;
      rx.datagrams.push({
        bytes: Buffer.from(d),
        from: `${formatAddress(s.address)}:${s.port}`,
        sameObjectAsPrevious: prev === s,
      });
      prev = s;
    });
  });
  return rx;
}

/** Datagram k of a test batch: distinct length and content. */
function datagram(tag: number, k: number, size = 20 + k * 37): Uint8Array {
  const d = new Uint8Array(size);
  for (let i = 0; i < size; i++) d[i] = (tag * 31 + k * 7 + i) & 0xff;
  return d;
}

function checkReceived(rx: Received, start: number, tag: number, sizes: number[], from: string): void {
  const got = rx.datagrams.slice(start, start + sizes.length);
  assert.equal(got.length, sizes.length);
  got.forEach((g, k) => {
    assert.equal(g.from, from, `datagram ${k} source`);
    assert.ok(g.bytes.equals(Buffer.from(datagram(tag, k, sizes[k]))), `datagram ${k} content`);
  });
}

function ssLines(port: number): string[] {
  return sh('ss', '-Huane')
    .split('\n')
    .filter((l) => l.includes(`:${port} `));
}

async function udpExchange(): Promise<unknown> {
  const a = createBind();
  const b = createBind();
  const pa = await a.open(0);
  const pb = await b.open(0);
  const sockets = ssLines(pa);
  const native = loadNative();
  const bufferSizes = native.socketBufferSizes(a.fds.v4!);
  const rxA = collector(a);
  const rxB = collector(b);

  // v4, A -> B: 20 datagrams in one send, one of them 60000 bytes.
  const sizes4 = Array.from({ length: 20 }, (_, k) => (k === 13 ? 60000 : 20 + k * 37));
  a.send(
    sizes4.map((s, k) => datagram(1, k, s)),
    { address: LOOP4, port: pb },
  );
  await waitFor('20 v4 datagrams at B', () => rxB.datagrams.length >= 20);
  checkReceived(rxB, 0, 1, sizes4, `127.0.0.1:${pa}`);

  // v6, B -> A.
  const sizes6 = Array.from({ length: 20 }, (_, k) => 20 + k * 37);
  b.send(
    sizes6.map((s, k) => datagram(2, k, s)),
    { address: LOOP6, port: pa },
  );
  await waitFor('20 v6 datagrams at A', () => rxA.datagrams.length >= 20);
  checkReceived(rxA, 0, 2, sizes6, `::1:${pb}`);

  // A v4-mapped v6 destination goes out of the v4 socket.
  a.send([datagram(3, 0), datagram(3, 1)], { address: MAPPED_LOOP4, port: pb });
  await waitFor('2 mapped datagrams at B', () => rxB.datagrams.length >= 22);
  checkReceived(rxB, 20, 3, [20, 57], `127.0.0.1:${pa}`);

  // A big batch: 300 datagrams in one send, read back in batches of at most 64, in order.
  const sizesBig = Array.from({ length: 300 }, (_, k) => 64 + (k % 50));
  a.send(
    sizesBig.map((s, k) => datagram(4, k, s)),
    { address: LOOP4, port: pb },
  );
  await waitFor('300 datagrams at B', () => rxB.datagrams.length >= 322);
  checkReceived(rxB, 22, 4, sizesBig, `127.0.0.1:${pa}`);

  const sharedSources = rxB.datagrams.filter((d) => d.sameObjectAsPrevious).length;
  const result = {
    pa,
    pb,
    sockets,
    bufferSizes,
    batchesA: rxA.batches,
    batchesB: rxB.batches,
    sharedSources,
    statsA: { ...a.stats },
    statsB: { ...b.stats },
  };
  a.close();
  b.close();
  assert.equal(a.port, 0);
  return result;
}

async function udpPorts(): Promise<unknown> {
  const a = createBind();
  const pa = await a.open(0);
  const b = createBind();
  const taken = await rejectionOf(b.open(pa));
  const portAfterFailure = b.port;

  // Only the v6 half of a port is taken: the fixed-port open fails and leaves nothing bound.
  const v6Only = dgram.createSocket({ type: 'udp6', ipv6Only: true });
  await new Promise<void>((resolve) => v6Only.bind(0, '::', resolve));
  const q = v6Only.address().port;
  const v6Taken = await rejectionOf(b.open(q));
  const v4 = dgram.createSocket('udp4');
  const v4FreeAfter = await new Promise<boolean>((resolve) => {
    v4.once('error', () => resolve(false));
    v4.bind(q, '0.0.0.0', () => resolve(true));
  });
  v4.close();
  v6Only.close();

  // A fixed port works once free.
  a.close();
  const again = await b.open(pa);

  // Port change while reading: the new port receives, the old one is released.
  const rx = collector(b);
  const sender = createBind();
  await sender.open(0);
  const pc = await b.open(0);
  sender.send([datagram(5, 0)], { address: LOOP4, port: pc });
  sender.send([datagram(5, 1)], { address: LOOP6, port: pc });
  await waitFor('datagrams on the new port', () => rx.datagrams.length >= 2);
  const c = createBind();
  const oldPortReusable = (await c.open(pa)) === pa;

  // A failed port change keeps the old sockets.
  const failedChange = await rejectionOf(b.open(pa));
  const portAfterFailedChange = b.port;
  sender.send([datagram(5, 2)], { address: LOOP4, port: pc });
  await waitFor('a datagram after the failed change', () => rx.datagrams.length >= 3);

  // Same port again: a no-op.
  const same = await b.open(pc);
  const badPort = await rejectionOf(b.open(70000));
  for (const x of [b, c, sender]) x.close();
  return {
    pa,
    taken,
    portAfterFailure,
    v6Taken,
    v4FreeAfter,
    again,
    pc,
    received: rx.datagrams.length,
    oldPortReusable,
    failedChange,
    portAfterFailedChange,
    same,
    badPort,
  };
}

function nftCounter(table: string): number {
  const out = sh('nft', 'list', 'table', 'inet', table);
  const m = /packets (\d+)/.exec(out);
  assert.ok(m, `no counter in ${out}`);
  return Number(m[1]);
}

async function udpMark(): Promise<unknown> {
  const b = createBind();
  const pb = await b.open(0);
  let nft = true;
  try {
    sh('nft', 'add', 'table', 'inet', 'wgtsio');
    sh(
      'nft',
      'add',
      'chain',
      'inet',
      'wgtsio',
      'out',
      '{ type filter hook output priority 0; policy accept; }',
    );
    sh(
      'nft',
      'add',
      'rule',
      'inet',
      'wgtsio',
      'out',
      'meta',
      'mark',
      '0x2a',
      'udp',
      'dport',
      String(pb),
      'counter',
    );
  } catch {
    nft = false;
  }
  const a = createBind();
  a.setMark(0x2a); // before open: applied when the sockets are made
  const pa = await a.open(0);
  const marks = a.marks();
  const ssMarked = ssLines(pa);
  const rx = collector(b);
  a.send([datagram(6, 0), datagram(6, 1), datagram(6, 2)], { address: LOOP4, port: pb });
  a.send([datagram(6, 3), datagram(6, 4)], { address: LOOP6, port: pb });
  await waitFor('5 marked datagrams', () => rx.datagrams.length >= 5);
  const countedMarked = nft ? nftCounter('wgtsio') : null;

  // Changing the port keeps the mark.
  await a.open(0);
  const marksAfterReopen = a.marks();

  a.setMark(0);
  const cleared = a.marks();
  const ssCleared = ssLines(a.port);
  a.send([datagram(6, 5), datagram(6, 6)], { address: LOOP4, port: pb });
  await waitFor('2 unmarked datagrams', () => rx.datagrams.length >= 7);
  const countedAfterClear = nft ? nftCounter('wgtsio') : null;
  const badMark = codeOf(() => a.setMark(-1));
  a.close();
  b.close();
  if (nft) sh('nft', 'delete', 'table', 'inet', 'wgtsio');
  return { marks, ssMarked, countedMarked, marksAfterReopen, cleared, ssCleared, countedAfterClear, badMark };
}

async function udpFamilies(): Promise<unknown> {
  const only4 = createBind({ families: [4] });
  const p = await only4.open(0);
  const fds = only4.fds;
  only4.send([datagram(7, 0)], { address: LOOP6, port: 9 });
  const afterV6Send = { ...only4.stats };
  const peer = createBind();
  const rx = collector(peer);
  const pp = await peer.open(0);
  only4.send([datagram(7, 1)], { address: LOOP4, port: pp });
  await waitFor('a datagram from the v4-only bind', () => rx.datagrams.length >= 1);
  only4.close();
  only4.send([datagram(7, 2)], { address: LOOP4, port: pp });
  const afterClose = { ...only4.stats };
  peer.close();

  // The real dual-stack opener when the kernel has no IPv6 (EAFNOSUPPORT), over real sockets.
  const native = loadNative();
  const noV6 = openDualStack(
    (family, port) => {
      if (family === 6) throw Object.assign(new Error('no IPv6'), { code: 'EAFNOSUPPORT' });
      return native.udpOpen(family, port, 1 << 20);
    },
    (s) => native.closeFd(s.fd),
    0,
  );
  const noV6Result = { v4: noV6.v4 !== null, v6: noV6.v6 !== null, port: noV6.port };
  if (noV6.v4 !== null) native.closeFd(noV6.v4.fd);
  return { p, fds, afterV6Send, afterClose, noV6: noV6Result };
}

const SCENARIOS: Record<string, () => Promise<unknown>> = {
  'tun-open': tunOpen,
  'tun-ping4': () => tunPing(PING4),
  'tun-ping6': () => tunPing(PING6),
  'tun-deleted': tunDeleted,
  'udp-exchange': udpExchange,
  'udp-ports': udpPorts,
  'udp-mark': udpMark,
  'udp-families': udpFamilies,
};

const name = process.argv[2];
if (name !== undefined) {
  const scenario = SCENARIOS[name];
  if (scenario === undefined) {
    process.stderr.write(`unknown scenario ${name}\n`);
    process.exit(2);
  }
  scenario().then(
    (result) => {
      process.stdout.write(`@@result ${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
