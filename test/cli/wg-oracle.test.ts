/**
 * The real `wg` (wireguard-tools 1.0.20210914) as the oracle for wgts, against UapiServer sockets
 * in /var/run/wireguard serving crafted states no live tunnel would produce on demand: every unit
 * of `N years, N days, ... ago`, a clock wound backward, B/KiB/MiB/GiB/TiB with glibc's tie
 * rounding, counters above 2^53, IPv4-mapped and IPv4-compatible addresses, handshake sort ties
 * broken by nanoseconds, no private key, fwmarks. Every `show` view (pretty with colours always
 * and never, hidden and shown keys, every field, dump, `all`) and `showconf` must equal wg's
 * byte for byte; the set requests `wg set/setconf/addconf` send must equal wgts's; genkey, genpsk
 * and pubkey must agree with wg; the TEST-PLAN config cases must fail with FILE:LINE and reach no
 * daemon. Needs root (the socket directory) and `wg`; no network traffic at all.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PresharedKey, PrivateKey, keyToBase64 } from '../../src/crypto/keys.js';
import { formatSet } from '../../src/uapi/codec.js';
import { UapiServer } from '../../src/uapi/server.js';
import type { DeviceSnapshot, PeerSnapshot } from '../../src/uapi/types.js';
import { SOCKET_DIRECTORY, ensureSocketDirectory } from '../../src/daemon/socket-path.js';
import { cleanup, prerequisitesMissing, trackPath, uniqueIfname } from '../helpers/netns.js';
import { filterAnsi } from '../../src/cli/terminal.js';
import { compareWithWg, describeDiff, RecordingTarget, runWg, runWgts } from './helpers.js';
import { SHOW_FIELDS } from '../../src/cli/show-format.js';

const skip = prerequisitesMissing(['wg']);
const FIELDS = SHOW_FIELDS;

const v4 = (...b: number[]): Uint8Array => new Uint8Array(b);
const v6 = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex.padStart(32, '0'), 'hex'));
const pub = (): Uint8Array => PrivateKey.generate().publicKey().bytes;

function richState(now: number): DeviceSnapshot {
  const peer = (p: Partial<PeerSnapshot>): PeerSnapshot => ({
    publicKey: pub(),
    presharedKey: null,
    endpoint: null,
    lastHandshake: null,
    txBytes: 0,
    rxBytes: 0,
    persistentKeepalive: 0,
    allowedIPs: [],
    ...p,
  });
  const long = 3 * 365 * 86400 + 2 * 86400 + 3600 + 60 + 1;
  return {
    privateKey: PrivateKey.generate().bytes,
    listenPort: 51820,
    fwmark: 0xdeadbeef,
    peers: [
      peer({
        allowedIPs: [
          { family: 4, bytes: v4(0, 0, 0, 0), cidr: 0 },
          { family: 6, bytes: v6('0'), cidr: 0 },
        ],
      }),
      peer({
        presharedKey: PresharedKey.generate().bytes,
        endpoint: { address: v4(192, 0, 2, 1), port: 51820 },
        lastHandshake: { sec: now - 5, nsec: 100 },
        rxBytes: 1152, // 1.125 KiB: glibc prints 1.12
        txBytes: 1536,
        persistentKeepalive: 25,
        allowedIPs: [
          { family: 4, bytes: v4(10, 0, 0, 0), cidr: 8 },
          { family: 6, bytes: v6('ffff01020304'), cidr: 128 },
          { family: 6, bytes: v6('01020304'), cidr: 128 },
          { family: 6, bytes: v6('20010db8000000000000000000000001'), cidr: 64 },
        ],
      }),
      peer({
        endpoint: { address: v6('20010db8000000010000000000000002'), port: 1 },
        lastHandshake: { sec: now - long, nsec: 0 },
        rxBytes: 5 * 1024 * 1024 + 5 * 1024,
        txBytes: 3 * 1024 ** 3,
        persistentKeepalive: 3661,
      }),
      peer({
        endpoint: { address: v6('ffff01020304'), port: 65535 },
        lastHandshake: { sec: now + 3600, nsec: 0 },
        rxBytes: 2 ** 60,
        txBytes: 1023,
        persistentKeepalive: 65535,
        allowedIPs: [{ family: 4, bytes: v4(192, 168, 1, 1), cidr: 32 }],
      }),
      peer({
        endpoint: { address: v6('01020304'), port: 2 },
        lastHandshake: { sec: now - 5, nsec: 900 },
        rxBytes: 1,
        txBytes: 0,
        persistentKeepalive: 1,
      }),
      peer({
        lastHandshake: { sec: now - 86400 - 1, nsec: 0 },
        rxBytes: 0,
        txBytes: 1024 ** 4 + 5 * 1024 ** 3,
      }),
    ],
  };
}

const EMPTY: DeviceSnapshot = { privateKey: null, listenPort: 0, fwmark: 0, peers: [] };

describe('wgts against the real wg on crafted UAPI states', { skip }, () => {
  const servers: UapiServer[] = [];
  const targets: RecordingTarget[] = [];
  const names: string[] = [];

  before(async () => {
    ensureSocketDirectory();
    const now = Math.floor(Date.now() / 1000);
    const states = [richState(now), EMPTY, { ...EMPTY, fwmark: 1, peers: richState(now).peers.slice(0, 1) }];
    for (const state of states) {
      const name = uniqueIfname('o');
      const path = join(SOCKET_DIRECTORY, `${name}.sock`);
      trackPath(path);
      const target = new RecordingTarget(state);
      const server = new UapiServer(target);
      await server.listen(path);
      servers.push(server);
      targets.push(target);
      names.push(name);
    }
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await cleanup();
  });

  const envs: Record<string, Record<string, string>> = {
    'colours never': { WG_COLOR_MODE: 'never' },
    'colours always': { WG_COLOR_MODE: 'always' },
    'colours always, keys shown': { WG_COLOR_MODE: 'always', WG_HIDE_KEYS: 'never' },
    'default (stdout is a pipe)': {},
  };

  for (const [label, env] of Object.entries(envs)) {
    test(`pretty \`show IF\`, ${label}`, async () => {
      for (const name of names) {
        const c = await compareWithWg(['show', name], { env });
        assert.ok(c.same, describeDiff(c));
      }
    });
  }

  test('every field view and dump, one interface', async () => {
    for (const name of names) {
      for (const field of FIELDS) {
        const c = await compareWithWg(['show', name, field]);
        assert.ok(c.same, `${name} ${field} ${describeDiff(c)}`);
        assert.equal(c.wgts.stderr, '');
      }
    }
  });

  test('showconf', async () => {
    for (const name of names) {
      const c = await compareWithWg(['showconf', name]);
      assert.ok(c.same, describeDiff(c));
    }
  });

  /** The interface named by a pretty view's `interface: NAME` line (escapes ignored), or null. */
  const headerName = (line: string): string | null => /^interface: (.*)$/.exec(filterAnsi(line))?.[1] ?? null;

  /** Keeps only our interfaces' blocks or lines: other tests may own sockets in the shared directory. */
  const ours = (text: string): string => {
    const lines = text.split('\n');
    if (lines.some((l) => headerName(l) !== null)) {
      let keep = false;
      return lines
        .filter((l) => {
          const name = headerName(l);
          if (name !== null) keep = names.includes(name);
          return keep;
        })
        .join('\n');
    }
    return lines.filter((l) => names.some((n) => l.startsWith(`${n}\t`))).join('\n');
  };

  test('`show all` in every form, and `show interfaces`', async () => {
    const views = [
      [],
      ['show'],
      ['show', 'all'],
      ...FIELDS.filter((f) => f !== 'endpoints').map((f) => ['show', 'all', f]),
    ];
    for (const args of views) {
      for (const env of [{ WG_COLOR_MODE: 'always' }, { WG_COLOR_MODE: 'never' }]) {
        const c = await compareWithWg(args, { env, normalize: ours });
        assert.ok(c.same, `${args.join(' ')} ${describeDiff(c)}`);
        assert.ok(c.wgts.stdout.includes(names[0]!), c.wgts.stdout);
      }
    }
    const list = await compareWithWg(['show', 'interfaces'], {
      normalize: (s) =>
        s
          .trim()
          .split(' ')
          .filter((n) => names.includes(n))
          .join(' '),
    });
    assert.ok(list.same, describeDiff(list));
    assert.ok(
      names.every((n) => list.wgts.stdout.includes(n)),
      list.wgts.stdout,
    );
  });

  test("`show all endpoints` keeps 1.0.20210914's name-once layout", async () => {
    const others = (await runWg(['show', 'interfaces'])).stdout.trim().split(' ');
    // Each of our interfaces' part: from `NAME\t` to where the next interface's name starts.
    const sections = (s: string): string =>
      names
        .map((n) => {
          const i = s.indexOf(`${n}\t`);
          if (i < 0) return `${n}: missing`;
          const rest = s.slice(i);
          let end = rest.length;
          for (const o of others) {
            const j = o === n ? -1 : rest.indexOf(`${o}\t`, 1);
            if (j > 0 && j < end) end = j;
          }
          return rest.slice(0, end);
        })
        .join('|');
    const c = await compareWithWg(['show', 'all', 'endpoints'], { normalize: sections });
    assert.ok(c.same, describeDiff(c));
    assert.equal(
      (await runWgts(['show', names[1]!, 'endpoints'])).stdout,
      '',
      'no peers: nothing without `all`',
    );
  });

  test("errors: missing interface, bad field, usage (exit status and stderr as wg; a missing interface's hint after wg's line)", async () => {
    const missing = uniqueIfname('m');
    const cases: [string[], 'same' | 'usage'][] = [
      [['show', missing], 'same'],
      [['showconf', missing], 'same'],
      [['show', missing, 'dump'], 'same'],
      [['set', missing, 'listen-port', '1'], 'same'],
      [['setconf', missing, '/dev/null'], 'same'],
      [['addconf', missing, '/dev/null'], 'same'],
      [['show', names[0]!, 'bogus'], 'usage'],
      [['show', 'a', 'b', 'c'], 'usage'],
      [['showconf'], 'usage'],
      [['set', missing], 'usage'],
      [['setconf', missing], 'usage'],
      [['genkey', 'x'], 'usage'],
      [['pubkey', 'x'], 'usage'],
      [['bogus-subcommand'], 'usage'],
    ];
    for (const [args, how] of cases) {
      const [wg, wgts] = await Promise.all([runWg(args), runWgts(args)]);
      const what = `${args.join(' ')}: wg ${JSON.stringify(wg.stderr)} wgts ${JSON.stringify(wgts.stderr)}`;
      assert.equal(wgts.code, wg.code, what);
      assert.equal(wgts.stdout, wg.stdout, what);
      if (how === 'same') {
        // wg's line exactly, then (deliberately, src/cli/ipc.ts) one `wgts:` hint line.
        assert.ok(wgts.stderr.startsWith(wg.stderr), what);
        assert.match(
          wgts.stderr.slice(wg.stderr.length),
          new RegExp(`^wgts: no interface ${missing}: .*\n$`),
          what,
        );
      } else {
        // Same first line up to the program name; wgts's usage lines name itself and its extras.
        const first = (t: string): string => t.split('\n')[0]!.replace(/^Usage: (wg|wgts) /, 'Usage: PROG ');
        assert.equal(first(wgts.stderr).slice(0, 20), first(wg.stderr).slice(0, 20), what);
      }
    }
  });

  test('genkey | pubkey agrees with wg pubkey; genpsk is 32 random bytes', async () => {
    for (let i = 0; i < 5; i++) {
      const priv = (await runWgts(['genkey'])).stdout;
      assert.match(priv, /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=\n$/);
      const raw = Buffer.from(priv.trim(), 'base64');
      assert.equal(raw[0]! & 7, 0, 'clamped');
      assert.equal(raw[31]! & 0xc0, 0x40, 'clamped');
      const [ours, theirs] = await Promise.all([
        runWgts(['pubkey'], { input: priv }),
        runWg(['pubkey'], { input: priv }),
      ]);
      assert.equal(ours.code, 0);
      assert.equal(ours.stdout, theirs.stdout);
      const wgPriv = (await runWg(['genkey'])).stdout;
      assert.equal(
        (await runWgts(['pubkey'], { input: wgPriv })).stdout,
        (await runWg(['pubkey'], { input: wgPriv })).stdout,
      );
    }
    const psk = (await runWgts(['genpsk'])).stdout;
    assert.match(psk, /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=\n$/);
  });

  test("pubkey rejects malformed keys with wg's message and exit status", async () => {
    const k = keyToBase64(PrivateKey.generate().bytes);
    const inputs = [
      '',
      k.slice(1),
      `${k.slice(0, 43)}`,
      `A${k}`,
      `${k}x`,
      ` ${k}`,
      `${k}\n\n  \t\n`,
      `${k}\0\0`,
      `${k}\0x`,
      k.replace(/[+/]/g, '-').replace(/^./, '_'),
      `${k.slice(0, 42)}B=`,
      '*'.repeat(43) + '=',
      `${k}\r\n`,
    ];
    for (const input of inputs) {
      const [wg, wgts] = await Promise.all([runWg(['pubkey'], { input }), runWgts(['pubkey'], { input })]);
      assert.equal(wgts.code, wg.code, JSON.stringify(input));
      assert.equal(wgts.stdout, wg.stdout, JSON.stringify(input));
      assert.equal(wgts.stderr.replace(/^wgts:/, 'wg:'), wg.stderr, JSON.stringify(input));
    }
  });

  test('set, setconf and addconf send the same requests as wg', async () => {
    const target = targets[1]!;
    const name = names[1]!;
    const dir = mkdtempSync(join(tmpdir(), `wgts-${process.pid}-oracle-`));
    trackPath(dir);
    const file = (n: string, text: string): string => {
      const p = join(dir, n);
      writeFileSync(p, text, { mode: 0o600 });
      return p;
    };
    const priv = keyToBase64(PrivateKey.generate().bytes);
    const [p1, p2, p3] = [pub(), pub(), pub()].map(keyToBase64);
    const psk = keyToBase64(PresharedKey.generate().bytes);
    const privFile = file('priv', `${priv}\n`);
    const pskFile = file('psk', psk);
    const conf = file(
      'full.conf',
      `[Interface]\nPrivateKey = ${priv}\nListenPort = 51999\nFwMark = 0x10\n\n[Peer]\nPublicKey = ${p1}\n` +
        `PresharedKey = ${psk}\nAllowedIPs = 10.0.0.0/8, fd00::/64\nAllowedIPs = 192.168.1.1\n` +
        `Endpoint = 192.0.2.1:51820\nPersistentKeepalive = 25\n\n[Peer]\nPublicKey = ${p2}\n` +
        'Endpoint = [2001:db8::1]:1\nPersistentKeepalive = off\n\n[Peer]\n' +
        `PublicKey = ${p3}\nEndpoint = localhost:9\n`,
    );
    const cases: string[][] = [
      ['setconf', name, conf],
      ['addconf', name, conf],
      ['setconf', name, file('empty.conf', '')],
      ['set', name, 'listen-port', '0', 'fwmark', 'off', 'private-key', privFile],
      ['set', name, 'private-key', '/dev/null', 'peer', p1, 'preshared-key', '/dev/null'],
      [
        'set',
        name,
        'fwmark',
        '0x1234',
        'peer',
        p1,
        'remove',
        'peer',
        p2,
        'allowed-ips',
        ' 10.0.0.1/32 , fd00::1 ',
        'allowed-ips',
        '10.1.0.0/16',
      ],
      [
        'set',
        name,
        'peer',
        p3,
        'allowed-ips',
        '',
        'endpoint',
        '[::ffff:192.0.2.9]:7',
        'persistent-keepalive',
        '65535',
        'preshared-key',
        pskFile,
      ],
      ['set', name, 'peer', p1, 'endpoint', 'localhost:1', 'persistent-keepalive', 'off'],
    ];
    for (const args of cases) {
      target.applied.length = 0;
      const wg = await runWg(args);
      const wgts = await runWgts(args);
      assert.equal(wg.code, 0, wg.stderr);
      assert.equal(wgts.code, 0, wgts.stderr);
      assert.equal(wgts.stderr, wg.stderr, args.join(' '));
      assert.equal(target.applied.length, 2, args.join(' '));
      assert.equal(formatSet(target.applied[1]!), formatSet(target.applied[0]!), args.join(' '));
    }
  });

  test("`set` argument errors: wg's messages and exit status, nothing sent", async () => {
    const target = targets[1]!;
    const name = names[1]!;
    const p1 = keyToBase64(pub());
    const dir = mkdtempSync(join(tmpdir(), `wgts-${process.pid}-oracle-`));
    trackPath(dir);
    const write = (n: string, t: string): string => {
      const p = join(dir, n);
      writeFileSync(p, t, { mode: 0o600 });
      return p;
    };
    const k = keyToBase64(PrivateKey.generate().bytes);
    const cases: string[][] = [
      ['set', name, 'listen-port', '1', 'peer', p1, 'listen-port', '2'],
      ['set', name, 'peer'],
      ['set', name, 'remove'],
      ['set', name, 'bogus', '1'],
      ['set', name, 'fwmark', '0X10'],
      ['set', name, 'fwmark', '4294967296'],
      ['set', name, 'peer', p1, 'persistent-keepalive', '65536'],
      ['set', name, 'peer', p1, 'allowed-ips', '10.0.0.0/33'],
      ['set', name, 'peer', p1, 'allowed-ips', '10.0.0.0/8,,10.1.0.0/16'],
      ['set', name, 'peer', p1, 'endpoint', '[::1'],
      ['set', name, 'peer', p1, 'endpoint', '1.2.3.4'],
      ['set', name, 'peer', p1, 'endpoint', ''],
      ['set', name, 'peer', `${p1}x`],
      ['set', name, 'private-key', '/nonexistent/key'],
      ['set', name, 'private-key', write('short', 'abc')],
      ['set', name, 'private-key', write('trailing', `${k}x`)],
      ['set', name, 'private-key', write('lead', ` ${k}`)],
      ['set', name, 'peer', p1, 'endpoint', 'nx.invalid:1'],
    ];
    for (const args of cases) {
      target.applied.length = 0;
      const [wg, wgts] = await Promise.all([
        runWg(args, { env: { WG_ENDPOINT_RESOLUTION_RETRIES: '0' } }),
        runWgts(args, { env: { WG_ENDPOINT_RESOLUTION_RETRIES: '0' } }),
      ]);
      assert.notEqual(wg.code, 0, `${args.join(' ')}: wg accepted it`);
      assert.equal(wgts.code, wg.code, args.join(' '));
      assert.equal(wgts.stderr, wg.stderr, args.join(' '));
      assert.equal(target.applied.length, 0, args.join(' '));
    }
  });

  test('TEST-PLAN config cases: FILE:LINE message, exit 1, nothing reaches the daemon', async () => {
    const target = targets[1]!;
    const name = names[1]!;
    const dir = mkdtempSync(join(tmpdir(), `wgts-${process.pid}-oracle-`));
    trackPath(dir);
    const priv = keyToBase64(PrivateKey.generate().bytes);
    const p1 = keyToBase64(pub());
    const good = `[Interface]\nPrivateKey = ${priv}\nListenPort = 51000\n\n[Peer]\nPublicKey = ${p1}\nAllowedIPs = 10.0.0.0/8\n`;
    const cases: [string, string, number][] = [
      ['key43', good.replace(p1, p1.slice(1)), 6],
      ['key45', good.replace(p1, `A${p1}`), 6],
      ['urlsafe', good.replace(p1, p1.replace(/^./, '-')), 6],
      ['noncanonical', good.replace(p1, `${p1.slice(0, 42)}B=`), 6],
      ['section', `${good}[Peers]\n`, 8],
      ['key', good.replace('ListenPort', 'ListenPorts'), 3],
      ['before', `PrivateKey = ${priv}\n${good}`, 1],
      ['nopubkey', `${good}\n[Peer]\nAllowedIPs = 10.1.0.0/16\n`, 9],
      ['duplicate', `${good}\n[Peer]\nPublicKey = ${p1}\n`, 10],
      ['crlf', good.replace(/\n/g, '\r\n'), 1],
      ['bom', `\uFEFF${good}`, 1],
      ['port', good.replace('51000', '65536'), 3],
      ['endpointport', `${good}Endpoint = 192.0.2.1:70000\n`, 8],
    ];
    const acceptedByWg: string[] = [];
    for (const [label, text, line] of cases) {
      const path = join(dir, `${label}.conf`);
      writeFileSync(path, text, { mode: 0o600 });
      for (const cmd of ['setconf', 'addconf', 'syncconf']) {
        target.applied.length = 0;
        const r = await runWgts([cmd, name, path]);
        assert.equal(r.code, 1, `${cmd} ${label}: ${r.stderr}`);
        assert.equal(r.stdout, '');
        assert.ok(r.stderr.startsWith(`${path}:${line}: `), `${cmd} ${label}: ${r.stderr}`);
        assert.equal(target.applied.length, 0, `${cmd} ${label} reached the daemon`);
      }
      // What the real wg does with the same file, for the record.
      if ((await runWg(['addconf', name, path])).code === 0) acceptedByWg.push(label);
    }
    // wg 1.0.20210914 drops CR as whitespace, merges duplicate peers, and lets getaddrinfo wrap
    // ports above 65535 (65536 becomes 0, a random port); it rejects all the others as wgts does.
    assert.deepEqual(acceptedByWg, ['duplicate', 'crlf', 'port', 'endpointport']);
  });
});
