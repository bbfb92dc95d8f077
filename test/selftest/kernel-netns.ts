/**
 * Our port of the sections of the Linux kernel's `tools/testing/selftests/wireguard/netns.sh`
 * that apply to a userspace daemon and that wireguard-go's `tests/netns.sh` does not have (that
 * one is test/selftest/wggo-netns.ts). Same steps and oracles as the script, written as Node tests
 * and run against one implementation per file (kernel-netns-*.test.ts: wgtsd with offloads on,
 * wgtsd with offloads off, Debian's wireguard-go 0.0.20220316 as the control).
 *
 * Topology: the script's addresses, ports and keys, inside namespaces of our own (names contain
 * `krn`). Where the script reaches the peers over ns0's loopback with TUNs moved out of it, we
 * start each daemon in the namespace of its TUN and join ns1 and ns2 with a veth (10.0.0.1/24,
 * fd00:aa::1/96 ↔ .2 / ::2, as the script's own later veth topology): moving TUNs is
 * wggo-netns.ts's subject, and this keeps every section independent of it.
 *
 *     ns1: wg0 192.168.241.1/24 fd00::1/112 :1 ── veth 10.0.0.1 ↔ 10.0.0.2 ── :2 wg0 192.168.241.2/24 fd00::2/112 :ns2
 *
 * Sections, one test each, in the script's order within each topology. Three pairs: the first
 * shared by route MTU, outer MTU, sk_bound_dev_if, ICMP, onion routing and policy routing (each
 * puts back what it changed, policy routing last); a second for key change then the loop; a third for wg
 * over wg then the loop through both tunnels; single namespaces for the rest:
 * - route MTU and padding: wg0 MTU 1300, a 1299-byte route MTU to the peer and a filter dropping
 *   1360-byte outer packets; a 1297-byte ping must come back, so padding stops at the route MTU
 *   (1299 + 60 = 1359 on the wire, counted) rather than at the device MTU (1360, dropped);
 * - (ours) an outer path MTU below the tunnel's: the veths at 1400 bytes, so full-size outer
 *   datagrams (1420 + 60) must be fragmented; a TCP transfer must complete;
 * - sk_bound_dev_if and mark rerouting: `ping -I wg0`, then with an nftables mangle mark on every
 *   output packet, with and without -I;
 * - ICMP unreachable: a packet for which no peer exists (and one for a peer without an endpoint)
 *   draws an ICMP host unreachable (v4) / address unreachable (v6) from the daemon, so ping fails
 *   at once (within 1.5 s; the control waits out ping's 2 s); rate-limited (a flood of 50 draws at
 *   most the kernel's burst of 6 plus 1 a second);
 * - onion routing, even when it loops: a peer reached through another peer's tunnel, then its
 *   endpoint moved inside its own allowed IPs: the ping fails, the daemon survives, and (ours)
 *   the echo request goes out once: under 1,024 bytes of tx in the following second;
 * - wg-quick(8)-style policy routing: fwmark 51820, a default route into wg0 in table 51820 with
 *   the `not fwmark` and `suppress_prefixlength 0` rules, 100 flood pings v4 and v6;
 * - key change: change ns1's private key, replace the peer in ns2, ping at once (-W 1);
 * - routing loop, an endpoint routed into its own tunnel: ns1's endpoint for ns2 set to an address
 *   inside that peer's own allowed IPs (192.168.241.2:7) after a session exists, ns2's daemon
 *   gone: ten flood pings must fail and the peer's tx grow by less than 70,000 bytes within the
 *   following second (the script's bound);
 * - wg over wg: a second tunnel (wg1, MTU 1340, port 5) whose endpoints are wg0's inner v6
 *   addresses; ping floods v4/v6 both ways and a bounded TCP transfer v4 and v6 through both;
 * - the script's own loop, through both tunnels: wg0's endpoint moved inside wg1's subnet, ns2's
 *   daemons gone, ten flood pings through wg1; the script's bound (under 70,000 bytes of wg1 tx
 *   in the second after) and the loop's end (nothing more in the next half second). Neither
 *   device sees its own datagrams, so the guard does not apply: a `todo` for wgtsd, whose loop
 *   runs away as the control's does (see src/device/loop-guard.ts); the script only warns when
 *   this bound is missed (cross-namespace loops are unsolved in the kernel on some architectures);
 * - ICMP unreachable through a NAT router, the script's own case: a router (ns2) that SNATs
 *   ns0's traffic into wg0 returns the error to ns0 through conntrack. The script expects "From
 *   10.0.0.100" (the kernel answers from its own address); a daemon writing into a TUN answers
 *   from the unreachable destination instead (see src/device/icmp-unreachable.ts), so we expect
 *   "From 192.168.241.1", and leave out the script's manual rp-filter in ns0 that drops it;
 * - persistent keepalive when the adapter comes up, and "even if the private key is set later"
 *   (`ka_key`): no tx while down, tx after `up`; with no key, no tx after `up`, tx within 1 s of
 *   setting the key. The interval is 25 s, not the script's 1 s, so "at once" cannot be the
 *   next keepalive timer;
 * - low-order public keys: seven peers with persistent keepalive and an endpoint, link up, and
 *   nothing sent to them (an ordinary peer next to them proves the daemon did send);
 * - configuration semantics: private and preshared keys cleared with /dev/null, a peer equal to
 *   our own public key dropped and refused, the private key stored clamped, overlapping
 *   allowed-ips lists, an empty peer next to one with 197 allowed IPs.
 *
 * Where the control (wireguard-go) fails a section, the test says so and asserts what it does
 * instead, so the difference stays visible: it pads to the device MTU, sends no ICMP, has no loop
 * guard (both loops run away: tens of MB a second), and sends handshakes while the link is down
 * and even before it has a private key.
 *
 * Not ported, with the reason:
 * - the `tests` rounds of the first topology (ping floods, iperf3 v4/v6, big MTU, parallel
 *   streams), counters, roaming, the crypto-RP filter, NAT with keepalive, "not too sticky",
 *   reply to sender and the IPC sizes: wireguard-go's script has them (wggo-netns.ts,
 *   sticky-source.test.ts);
 * - "inbound destination on another interface than the default route" and "another interface
 *   route takes precedence": sticky source addresses, test/selftest/sticky-*.test.ts's subject;
 * - removing single allowed IPs (`allowed-ips -a.b.c.d/32`): the installed wg(8), 1.0.20210914,
 *   predates the syntax;
 * - the counters' exact kernel figures (rx 1372 / tx 1428 or 1460) count skb lengths of the
 *   kernel device; a TUN's counters are the kernel's own and wggo-netns.ts checks ours;
 * - dst_cache references outliving a namespace, circular namespace references and the
 *   /dev/kmsg "created/destroyed" accounting: kernel-module object lifetimes;
 * - /proc/sys/net/core/message_cost: kernel log rate limiting.
 *
 * Deviations, each for determinism on a busy 2-core machine: waits are for events with deadlines
 * (the daemon's socket, `ss` listeners, counters), not the script's `sleep`; v6 addresses use
 * `nodad`; nftables replaces iptables; the iperf3 runs move a few MiB instead of 3 s at full
 * speed; wgtsd runs without its JIT warm-up (WGTS_WARMUP=0), which only speeds first packets.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  addAddress,
  cleanup,
  createNamespace,
  exec,
  execOk,
  trackLink,
  waitFor,
  waitForTcpListen,
  waitLinkReady,
  type ExecResult,
} from '../helpers/netns.js';
import {
  genKeyPair,
  genPsk,
  interopSkipReason,
  startDaemon,
  writeSecretFile,
  type Daemon,
  type KeyPair,
} from '../helpers/wg-peer.js';
import {
  IN1_V4 as IN1,
  IN1_V6 as IN1_6,
  IN2_V4 as IN2,
  IN2_V6 as IN2_6,
  type SelftestVariant,
} from './script.js';

export type KernelVariant = SelftestVariant;

// The script's addresses and ports.
const OUT1 = '10.0.0.1';
const OUT2 = '10.0.0.2';
const PORT1 = 1;
const PORT2 = 2;
/** The kernel's loop oracle: less than this many bytes sent in the second after ten flood pings. */
const LOOP_TX_LIMIT = 70_000;
/**
 * Persistent keepalive of the ka_key section: 25 s rather than the script's 1 s, so that "sent at
 * once" (the script reads the counters immediately) cannot be the next keepalive timer instead.
 */
const KA_INTERVAL = '25';
/** The kernel's per-destination ICMP burst (XRLIM_BURST_FACTOR). */
const ICMP_BURST = 6;
const LOW_ORDER_POINTS = [
  'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
  'AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
  '4Ot6fDtBuK4WVuP68Z/EatoJjeucMrH9hmIFFl9JuAA=',
  'X5yVvKNQjCSx0LFVnIPvWwREXMRYHI6G2CJO3dCfEVc=',
  '7P///////////////////////////////////////38=',
  '7f///////////////////////////////////////38=',
  '7v///////////////////////////////////////38=',
];

// ---------------------------------------------------------------------------------------------
// Names, namespaces, daemons

let counter = 0;

/** An interface name with `krn`, the file's letter and a per-process counter (≤ 15 characters). */
function ifname(v: KernelVariant): string {
  counter += 1;
  return `krn${process.pid.toString(36)}${v.letter}${counter.toString(36)}`;
}

async function namespace(v: KernelVariant, tag: string): Promise<string> {
  counter += 1;
  return createNamespace(`krn-${process.pid}-${v.letter}${counter}-${tag}`);
}

function ip(ns: string, args: readonly string[]): Promise<ExecResult> {
  return execOk(ns, 'ip', args);
}

function wg(ns: string, args: readonly string[]): Promise<string> {
  return execOk(ns, 'wg', args).then((r) => r.stdout);
}

function sysctl(ns: string, key: string, value: string): Promise<ExecResult> {
  return execOk(ns, 'sysctl', ['-q', '-w', `${key}=${value}`]);
}

/** A veth with both ends born in their namespaces, tracked for cleanup, both ends up and ready. */
async function veth(v: KernelVariant, nsA: string, nsB: string): Promise<[string, string]> {
  const a = ifname(v);
  const b = ifname(v);
  await ip(nsA, ['link', 'add', a, 'type', 'veth', 'peer', 'name', b, 'netns', nsB]);
  trackLink(nsA, a);
  return [a, b];
}

async function up(ns: string, dev: string): Promise<void> {
  await ip(ns, ['link', 'set', 'dev', dev, 'up']);
  await waitLinkReady(ns, dev);
}

function daemonEnv(v: KernelVariant): Record<string, string> {
  return { WGTS_WARMUP: '0', ...v.env };
}

async function daemon(v: KernelVariant, ns: string): Promise<Daemon> {
  return startDaemon(ns, { impl: v.impl, ifname: ifname(v), env: daemonEnv(v) });
}

/** `wg set IF private-key FILE …` with the key written to a 0600 file. */
function keyFile(key: string): string {
  return writeSecretFile(key);
}

/** The tx bytes `wg show IF transfer` reports for `pub`. */
async function txOf(ns: string, dev: string, pub: string): Promise<number> {
  const out = await wg(ns, ['show', dev, 'transfer']);
  for (const line of out.split('\n')) {
    const [key, , tx] = line.split('\t');
    if (key === pub) return Number(tx);
  }
  throw new Error(`no peer ${pub} in wg show ${dev} transfer:\n${out}`);
}

async function pingOut(ns: string, args: readonly string[], timeoutMs = 20_000): Promise<ExecResult> {
  return exec(ns, 'ping', ['-n', ...args], { timeoutMs });
}

async function pingOk(ns: string, args: readonly string[]): Promise<void> {
  const r = await pingOut(ns, args);
  assert.equal(r.code, 0, `ping ${args.join(' ')} in ${ns} failed:\n${r.stdout}${r.stderr}`);
}

/** Pings until the first reply: a new session's handshake may take a few tries on a busy machine. */
async function firstReply(ns: string, address: string): Promise<void> {
  await waitFor(async () => (await pingOut(ns, ['-c', '1', '-W', '1', address])).code === 0, {
    timeoutMs: 15_000,
    intervalMs: 0,
    what: `a first reply from ${address} in ${ns}`,
  });
}

/** The packet count of nftables counter `name` in `table` (family inet) of `ns`. */
async function nftCount(ns: string, table: string, name: string): Promise<number> {
  const out = (await execOk(ns, 'nft', ['list', 'counter', 'inet', table, name])).stdout;
  const m = /packets (\d+)/.exec(out);
  if (m === null) throw new Error(`no counter ${name}: ${out}`);
  return Number(m[1]);
}

async function nft(ns: string, script: string): Promise<void> {
  await execOk(ns, 'nft', ['-f', '-'], { input: script });
}

// ---------------------------------------------------------------------------------------------
// The two-node topology

interface Side {
  readonly ns: string;
  readonly wg: Daemon;
  readonly dev: string;
  readonly veth: string;
}

interface Pair {
  readonly n1: Side;
  readonly n2: Side;
  readonly key1: KeyPair;
  readonly key2: KeyPair;
  readonly key3: KeyPair;
  readonly key4: KeyPair;
  readonly psk: string;
  logs(): string;
}

interface PairOptions {
  /** wg0 addresses in ns1 and ns2; default the script's configure_peers. */
  readonly addresses?: readonly [readonly string[], readonly string[]];
  /** Allowed IPs of each side's peer; default the other side's inner /32 and /128. */
  readonly allowed?: readonly [string, string];
  readonly mtu?: number;
}

/**
 * The script's `wg set wg0 private-key … [listen-port …] peer … preshared-key … allowed-ips …
 * [endpoint …]` on one side.
 */
function setPeer(
  side: Side,
  key: KeyPair,
  port: number | null,
  peer: KeyPair,
  pskFile: string,
  allowed: string,
  endpoint: string | null,
): Promise<string> {
  return wg(side.ns, [
    'set',
    side.dev,
    'private-key',
    keyFile(key.privateKey),
    ...(port === null ? [] : ['listen-port', String(port)]),
    'peer',
    peer.publicKey,
    'preshared-key',
    pskFile,
    'allowed-ips',
    allowed,
    ...(endpoint === null ? [] : ['endpoint', endpoint]),
  ]);
}

/** ns1 ↔ ns2 over a veth, wg0 in each configured as the script's configure_peers, endpoints set. */
async function pair(v: KernelVariant, opts: PairOptions = {}): Promise<Pair> {
  const [ns1, ns2] = await Promise.all([namespace(v, '1'), namespace(v, '2')]);
  const [v1, v2] = await veth(v, ns1, ns2);
  for (const [ns, dev, o4, o6] of [
    [ns1, v1, OUT1, 'fd00:aa::1'],
    [ns2, v2, OUT2, 'fd00:aa::2'],
  ] as const) {
    await addAddress(ns, dev, `${o4}/24`);
    await addAddress(ns, dev, `${o6}/96`);
  }
  await Promise.all([up(ns1, v1), up(ns2, v2)]);
  const [key1, key2, key3, key4, psk, d1, d2] = await Promise.all([
    genKeyPair(),
    genKeyPair(),
    genKeyPair(),
    genKeyPair(),
    genPsk(),
    daemon(v, ns1),
    daemon(v, ns2),
  ]);
  const n1: Side = { ns: ns1, wg: d1, dev: d1.ifname, veth: v1 };
  const n2: Side = { ns: ns2, wg: d2, dev: d2.ifname, veth: v2 };
  const addresses = opts.addresses ?? [
    [`${IN1}/24`, `${IN1_6}/112`],
    [`${IN2}/24`, `${IN2_6}/112`],
  ];
  const allowed = opts.allowed ?? [`${IN2}/32,${IN2_6}/128`, `${IN1}/32,${IN1_6}/128`];
  const pskFile = keyFile(psk);
  await setPeer(n1, key1, PORT1, key2, pskFile, allowed[0], `${OUT2}:${PORT2}`);
  await setPeer(n2, key2, PORT2, key1, pskFile, allowed[1], `${OUT1}:${PORT1}`);
  for (const [side, list] of [
    [n1, addresses[0]],
    [n2, addresses[1]],
  ] as const) {
    for (const cidr of list) await addAddress(side.ns, side.dev, cidr);
    await ip(side.ns, ['link', 'set', 'dev', side.dev, 'mtu', String(opts.mtu ?? 1420), 'up']);
  }
  const logs = (): string =>
    [n1, n2]
      .map((s) => `--- ${v.impl} ${s.dev} in ${s.ns} ---\n${s.wg.output().trim().slice(-6000)}`)
      .join('\n');
  return { n1, n2, key1, key2, key3, key4, psk, logs };
}

/**
 * One pair for consecutive sections, as the script runs them on one topology: made on first use,
 * removed by `done()`. Each section leaves it as it found it, except the last of a group.
 */
function sharedPair(v: KernelVariant): {
  run(fn: (p: Pair) => Promise<void>): Promise<void>;
  done(): Promise<void>;
} {
  let made: Promise<Pair> | null = null;
  return {
    async run(fn) {
      made ??= pair(v);
      const p = await made;
      try {
        await fn(p);
      } catch (err) {
        if (err instanceof Error) err.message += `\n${p.logs()}`;
        throw err;
      }
    },
    async done() {
      made = null;
      await cleanup();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Sections

export function defineKernelSuite(v: KernelVariant): void {
  const skip = interopSkipReason([v.impl], ['ping', 'nft', 'iperf3', 'ss', 'sysctl']);
  const control = v.impl === 'wireguard-go';
  const first = sharedPair(v);
  const second = sharedPair(v);

  after(async () => {
    await cleanup();
  });

  describe(`kernel netns.sh sections: ${v.title}`, { skip }, () => {
    describe('the first topology, shared as the script shares it', () => {
      after(async () => {
        await first.done();
      });

      test('route MTU and padding: padding stops at the route MTU, not the device MTU', async (t) => {
        await first.run(async ({ n1, n2 }) => {
          for (const side of [n1, n2]) await ip(side.ns, ['link', 'set', 'dev', side.dev, 'mtu', '1300']);
          await firstReply(n2.ns, IN1);
          // The script drops 1360-byte packets (a 1300-byte padded inner packet + 60) on the way;
          // we count the 1359-byte ones (padded only to the 1299-byte route MTU) as well.
          for (const side of [n1, n2]) {
            await nft(
              side.ns,
              `table inet krn {
                counter dropped {}
                counter capped {}
                chain in {
                  type filter hook input priority 0;
                  iifname "${side.veth}" ip length 1360 counter name dropped drop
                  iifname "${side.veth}" ip length 1359 counter name capped
                }
              }`,
            );
          }
          await ip(n1.ns, ['route', 'add', `${IN2}/32`, 'dev', n1.dev, 'mtu', '1299']);
          await ip(n2.ns, ['route', 'add', `${IN1}/32`, 'dev', n2.dev, 'mtu', '1299']);
          const r = await pingOut(n2.ns, ['-c', '1', '-W', '1', '-s', '1269', IN1]);
          const dropped =
            (await nftCount(n1.ns, 'krn', 'dropped')) + (await nftCount(n2.ns, 'krn', 'dropped'));
          const capped = [await nftCount(n1.ns, 'krn', 'capped'), await nftCount(n2.ns, 'krn', 'capped')];
          // Back as it was, for the next sections.
          for (const [side, to] of [
            [n1, IN2],
            [n2, IN1],
          ] as const) {
            await ip(side.ns, ['route', 'del', `${to}/32`, 'dev', side.dev]);
            await execOk(side.ns, 'nft', ['delete', 'table', 'inet', 'krn']);
            await ip(side.ns, ['link', 'set', 'dev', side.dev, 'mtu', '1420']);
          }
          t.diagnostic(
            `ping ${r.code === 0 ? 'ok' : 'failed'}; 1360-byte drops ${dropped}; 1359-byte ${capped}`,
          );
          if (control) {
            // wireguard-go pads to the device MTU whatever the route says: 1360 bytes, dropped.
            assert.notEqual(r.code, 0, 'the control was expected to pad past the route MTU');
            assert.ok(dropped >= 1);
            return;
          }
          assert.equal(r.code, 0, `1297-byte ping over a 1299-byte route MTU:\n${r.stdout}`);
          assert.equal(dropped, 0);
          assert.deepEqual(capped, [1, 1], 'request and reply padded to exactly the route MTU');
        });
      });

      test('an outer path MTU below the tunnel’s: datagrams are fragmented, not dropped (ours)', async () => {
        await first.run(async ({ n1, n2 }) => {
          // wg0's 1420 plus 60 bytes of v4 outer headers do not fit a 1400-byte veth: the kernel
          // and wireguard-go fragment the outer datagrams. A run of them sent with UDP GSO is
          // refused (EMSGSIZE) and must go out one by one instead, or TCP stalls.
          for (const side of [n1, n2]) await ip(side.ns, ['link', 'set', 'dev', side.veth, 'mtu', '1400']);
          try {
            await firstReply(n1.ns, IN2);
            await iperfTcp(n2.ns, IN2, n1.ns);
          } finally {
            for (const side of [n1, n2]) await ip(side.ns, ['link', 'set', 'dev', side.veth, 'mtu', '1500']);
          }
        });
      });

      test('sk_bound_dev_if and mark rerouting', async () => {
        await first.run(async ({ n1 }) => {
          await firstReply(n1.ns, IN2);
          await pingOk(n1.ns, ['-I', n1.dev, '-c', '1', '-W', '1', IN2]);
          await nft(
            n1.ns,
            `table ip krnmark {
              chain out { type route hook output priority mangle; meta mark set 1; }
            }`,
          );
          await pingOk(n1.ns, ['-c', '1', '-W', '1', IN2]);
          await pingOk(n1.ns, ['-I', n1.dev, '-c', '1', '-W', '1', IN2]);
          await execOk(n1.ns, 'nft', ['delete', 'table', 'ip', 'krnmark']);
        });
      });

      test('ICMP unreachable for a packet no peer can carry', async (t) => {
        await first.run(async ({ n1 }) => {
          await firstReply(n1.ns, IN2);
          const nobody = await genKeyPair();
          // A peer without an endpoint: the kernel answers as for no peer at all.
          await wg(n1.ns, ['set', n1.dev, 'peer', nobody.publicKey, 'allowed-ips', '192.168.241.77/32']);
          const cases = [
            ['192.168.241.99', /From 192\.168\.241\.99 icmp_seq=1 Destination Host Unreachable/],
            ['192.168.241.77', /From 192\.168\.241\.77 icmp_seq=1 Destination Host Unreachable/],
            ['fd00::99', /From fd00::99 icmp_seq=1 Destination unreachable: Address unreachable/],
          ] as const;
          for (const [to, expected] of cases) {
            const r = await pingOut(n1.ns, ['-c', '1', '-W', '2', to]);
            const out = `${r.stdout}${r.stderr}`;
            t.diagnostic(`ping ${to}: exit ${r.code} after ${r.durationMs} ms`);
            assert.notEqual(r.code, 0);
            if (control) {
              // wireguard-go drops the packet silently: ping waits out its 2 s.
              assert.doesNotMatch(out, /nreachable/);
              assert.ok(r.durationMs >= 1_800, `the control answered in ${r.durationMs} ms`);
              continue;
            }
            assert.match(out, expected);
            assert.ok(r.durationMs < 1_500, `ping waited ${r.durationMs} ms for its error`);
          }
          // A flood draws at most the per-destination burst plus one a second.
          const started = Date.now();
          const r = await pingOut(n1.ns, ['-f', '-c', '50', '-W', '1', '192.168.241.99']);
          const seconds = (Date.now() - started) / 1000;
          const errors = Number(/\+(\d+) errors/.exec(r.stdout)?.[1] ?? 0);
          t.diagnostic(`flood of 50: ${errors} errors in ${seconds.toFixed(1)} s`);
          await wg(n1.ns, ['set', n1.dev, 'peer', nobody.publicKey, 'remove']);
          if (control) assert.equal(errors, 0);
          else {
            assert.ok(errors >= 1, r.stdout);
            assert.ok(errors <= ICMP_BURST + Math.ceil(seconds) + 1, `${errors} errors in ${seconds} s`);
          }
        });
      });

      test('onion routing works, and does not run away when it loops', async (t) => {
        await first.run(async ({ n1, n2, key1, key3 }) => {
          await firstReply(n1.ns, IN2);
          await wg(n1.ns, [
            'set',
            n1.dev,
            'peer',
            key3.publicKey,
            'allowed-ips',
            '192.168.242.2/32',
            'endpoint',
            `${IN2}:5`,
          ]);
          await addAddress(n1.ns, n1.dev, '192.168.242.1/24');
          const inner = await daemon(v, n2.ns);
          await addAddress(n2.ns, inner.ifname, '192.168.242.2/24');
          await wg(n2.ns, [
            'set',
            inner.ifname,
            'private-key',
            keyFile(key3.privateKey),
            'listen-port',
            '5',
            'peer',
            key1.publicKey,
            'allowed-ips',
            '192.168.242.1/32',
          ]);
          await ip(n2.ns, ['link', 'set', inner.ifname, 'up']);
          await firstReply(n1.ns, '192.168.242.2');
          await inner.stop(); // the script's `ip2 link del wg1`
          await wg(n1.ns, ['set', n1.dev, 'peer', key3.publicKey, 'endpoint', '192.168.242.2:5']);
          const before = await txOf(n1.ns, n1.dev, key3.publicKey);
          const r = await pingOut(n1.ns, ['-W', '1', '-c', '1', '192.168.242.2']);
          assert.notEqual(r.code, 0);
          await sleepObserved(1_000);
          const sent = (await txOf(n1.ns, n1.dev, key3.publicKey)) - before;
          t.diagnostic(`tx to the looping peer in the ping and 1 s after: ${sent} bytes`);
          await wg(n1.ns, ['set', n1.dev, 'peer', key3.publicKey, 'remove']);
          await ip(n1.ns, ['addr', 'del', '192.168.242.1/24', 'dev', n1.dev]);
          // The script's oracle: the daemon is still there ("should not crash").
          assert.equal(n1.wg.proc.hasExited(), false);
          await firstReply(n1.ns, IN2);
          // The script's bound, and ours: the one echo request went out once (the guard drops our own
          // datagram when it comes back), where without the guard it grows to the MTU (~16 KB).
          if (!control) assert.ok(sent < 1_024, `${sent} bytes to the looping peer`);
        });
      });

      test('wg-quick-style policy routing with fwmark (last on this topology: it keeps its rules)', async () => {
        await first.run(async ({ n1, n2, key2 }) => {
          await addAddress(n1.ns, n1.veth, 'fc00::9/96');
          await ip(n1.ns, ['-6', 'route', 'add', 'default', 'via', 'fc00::1']);
          await addAddress(n2.ns, n2.dev, '192.168.99.7/32');
          await addAddress(n2.ns, n2.dev, 'abab::1111/128');
          await wg(n1.ns, [
            'set',
            n1.dev,
            'fwmark',
            '51820',
            'peer',
            key2.publicKey,
            'allowed-ips',
            '192.168.99.7,abab::1111',
          ]);
          for (const fam of ['-4', '-6']) {
            await ip(n1.ns, [fam, 'route', 'add', 'default', 'dev', n1.dev, 'table', '51820']);
            await ip(n1.ns, [fam, 'rule', 'add', 'not', 'fwmark', '51820', 'table', '51820']);
            await ip(n1.ns, [fam, 'rule', 'add', 'table', 'main', 'suppress_prefixlength', '0']);
          }
          await sysctl(n1.ns, `net.ipv4.conf.${n1.veth}.rp_filter`, '0');
          await firstReply(n1.ns, '192.168.99.7');
          await pingOk(n1.ns, ['-W', '1', '-c', '100', '-f', '192.168.99.7']);
          await pingOk(n1.ns, ['-W', '1', '-c', '100', '-f', 'abab::1111']);
        });
      });
    });

    describe('key change, then the loop on the same topology', () => {
      after(async () => {
        await second.done();
      });

      test('key change: a new private key handshakes at once', async () => {
        await second.run(async ({ n1, n2, key1, key2, key3, psk }) => {
          const pskFile = keyFile(psk);
          await setPeer(n1, key1, null, key2, pskFile, `${IN2}/32`, `${OUT2}:${PORT2}`);
          await setPeer(n2, key2, PORT2, key1, pskFile, `${IN1}/32`, null);
          await firstReply(n1.ns, IN2);
          await wg(n1.ns, ['set', n1.dev, 'private-key', keyFile(key3.privateKey)]);
          await wg(n2.ns, [
            'set',
            n2.dev,
            'peer',
            key3.publicKey,
            'preshared-key',
            pskFile,
            'allowed-ips',
            `${IN1}/32`,
            'peer',
            key1.publicKey,
            'remove',
          ]);
          await pingOk(n1.ns, ['-W', '1', '-c', '1', IN2]);
          assert.equal((await wg(n1.ns, ['show', n1.dev, 'public-key'])).trim(), key3.publicKey);
          assert.match(
            await wg(n2.ns, ['show', n2.dev, 'endpoints']),
            new RegExp(`^${escape(key3.publicKey)}\t${OUT1}:${PORT1}$`, 'm'),
          );
        });
      });

      test('routing loop: an endpoint routed into its own tunnel does not run away', async (t) => {
        await second.run(async ({ n1, n2, key2 }) => {
          await firstReply(n1.ns, IN2);
          // The session stays; the endpoint moves inside the peer's own allowed IPs, and nothing
          // answers any more (the script deletes ns2's devices).
          await wg(n1.ns, ['set', n1.dev, 'peer', key2.publicKey, 'endpoint', `${IN2}:7`]);
          await n2.wg.stop();
          const before = await txOf(n1.ns, n1.dev, key2.publicKey);
          const r = await pingOut(n1.ns, ['-W', '1', '-c', '10', '-f', IN2]);
          assert.notEqual(r.code, 0, 'nothing can answer through the loop');
          await sleepObserved(1_000); // the script's oracle is the bytes sent in this second
          const sent = (await txOf(n1.ns, n1.dev, key2.publicKey)) - before;
          t.diagnostic(`tx during the pings and 1 s after: ${sent} bytes`);
          // Stop a runaway before anything else (the control's) by removing the peer.
          await wg(n1.ns, ['set', n1.dev, 'peer', key2.publicKey, 'remove']);
          if (control) {
            // wireguard-go seals its own datagrams again and again: they grow past the MTU, the
            // kernel fragments them, and the fragments loop too.
            assert.ok(sent >= LOOP_TX_LIMIT, `the control was expected to run away, sent ${sent}`);
            return;
          }
          assert.ok(sent < LOOP_TX_LIMIT, `${sent} bytes in the loop second`);
          assert.ok(sent > 0, 'the echo requests themselves were sent once');
        });
      });
    });

    describe('wg over wg, then the script’s loop through both tunnels', () => {
      let made: { p: Pair; w1: Daemon; w2: Daemon } | null = null;
      after(async () => {
        made = null;
        await cleanup();
      });

      test('wg over wg: a tunnel whose endpoints are another tunnel’s addresses', async () => {
        const p = await pair(v, {
          addresses: [['fd00::5:1/112'], ['fd00::5:2/112']],
          allowed: ['fd00::5:2/128', 'fd00::5:1/128'],
        });
        const { n1, n2, key3, key4 } = p;
        const [w1, w2] = await Promise.all([daemon(v, n1.ns), daemon(v, n2.ns)]);
        try {
          for (const [ns, dev, key, peer, allowed, endpoint] of [
            [n1.ns, w1.ifname, key3, key4, `${IN2}/32,${IN2_6}/128`, '[fd00::5:2]:5'],
            [n2.ns, w2.ifname, key4, key3, `${IN1}/32,${IN1_6}/128`, '[fd00::5:1]:5'],
          ] as const) {
            await wg(ns, [
              'set',
              dev,
              'listen-port',
              '5',
              'private-key',
              keyFile(key.privateKey),
              'peer',
              peer.publicKey,
              'allowed-ips',
              allowed,
              'endpoint',
              endpoint,
            ]);
          }
          for (const [ns, dev, a4, a6] of [
            [n1.ns, w1.ifname, IN1, IN1_6],
            [n2.ns, w2.ifname, IN2, IN2_6],
          ] as const) {
            await addAddress(ns, dev, `${a4}/24`);
            await addAddress(ns, dev, `${a6}/112`);
            await ip(ns, ['link', 'set', 'mtu', '1340', 'up', 'dev', dev]);
          }
          await firstReply(n1.ns, IN2);
          // The script's `tests`: ping floods both ways over v4 and v6, then TCP over v4 and v6.
          for (const [ns, to] of [
            [n2.ns, IN1],
            [n1.ns, IN2],
            [n2.ns, IN1_6],
            [n1.ns, IN2_6],
          ] as const) {
            await pingOk(ns, ['-c', '10', '-f', '-W', '1', to]);
          }
          await iperfTcp(n2.ns, IN2, n1.ns);
          await iperfTcp(n1.ns, IN1_6, n2.ns);
          made = { p, w1, w2 };
        } catch (err) {
          if (err instanceof Error)
            err.message += `\n${p.logs()}\n${w1.output().slice(-4000)}\n${w2.output().slice(-4000)}`;
          throw err;
        }
      });

      // Not met by wgtsd yet (see src/device/loop-guard.ts): neither device ever reads its own
      // datagram here, so the loop guard does not apply. Each pass grows the packet by both
      // tunnels' overhead until it outgrows the other tunnel's MTU; the kernel then fragments our
      // datagrams and the fragments loop on, as the control's do. The script itself does not fail
      // on this bound: where it is exceeded it prints that the architecture "does not do the right
      // thing with cross-namespace routing loops" and goes on, the problem being unsolved there
      // too. A `todo`, so the runaway stays measured and visible in every run.
      const todo = v.impl === 'wgtsd' ? 'no rule yet for a loop through two devices: it runs away' : false;
      test('routing loop through two tunnels (the script’s loop)', { todo }, async (t) => {
        assert.ok(made !== null, 'needs the wg-over-wg topology of the previous test');
        const { p, w1, w2 } = made;
        const { n1, n2, key2, key4 } = p;
        // wg0's endpoint moves inside wg1's subnet: wg1 sends through wg0, wg0 through wg1. The
        // script deletes ns2's devices, so nothing answers; it pings from ns0, where it moved wg1
        // (its socket stayed in ns1); we ping from ns1 itself, which makes the same loop.
        await wg(n1.ns, ['set', n1.dev, 'peer', key2.publicKey, 'endpoint', `${IN2}:7`]);
        await Promise.all([w2.stop(), n2.wg.stop()]);
        const before = await txOf(n1.ns, w1.ifname, key4.publicKey);
        const r = await pingOut(n1.ns, ['-W', '1', '-c', '10', '-f', IN2]);
        assert.notEqual(r.code, 0, 'nothing can answer through the loop');
        await sleepObserved(1_000);
        const sent = (await txOf(n1.ns, w1.ifname, key4.publicKey)) - before;
        await sleepObserved(500);
        const later = (await txOf(n1.ns, w1.ifname, key4.publicKey)) - before - sent;
        await wg(n1.ns, ['set', w1.ifname, 'peer', key4.publicKey, 'remove']);
        await wg(n1.ns, ['set', n1.dev, 'peer', key2.publicKey, 'remove']);
        t.diagnostic(`wg1 tx during the pings and 1 s after: ${sent} bytes; in the next 0.5 s: ${later}`);
        if (control) {
          // wireguard-go: a runaway, still growing after the second the script measures.
          assert.ok(
            sent >= LOOP_TX_LIMIT && later > LOOP_TX_LIMIT,
            `the control sent ${sent}, then ${later}`,
          );
          return;
        }
        assert.ok(sent < LOOP_TX_LIMIT, `${sent} bytes in the loop second`);
        assert.equal(later, 0, 'the loop has died out');
      });
    });

    test('ICMP unreachable returns through a NAT router (the script’s icmp case)', async (t) => {
      const ns0 = await namespace(v, '0');
      const ns2 = await namespace(v, '2');
      try {
        const [vr, vs] = await veth(v, ns0, ns2);
        await addAddress(ns0, vr, '10.0.0.1/24');
        await addAddress(ns2, vs, '10.0.0.100/24');
        await Promise.all([up(ns0, vr), up(ns2, vs)]);
        const d = await daemon(v, ns2);
        const [k1, k2] = await Promise.all([genKeyPair(), genKeyPair()]);
        await wg(ns2, [
          'set',
          d.ifname,
          'private-key',
          keyFile(k2.privateKey),
          'listen-port',
          String(PORT2),
          'peer',
          k1.publicKey,
          'allowed-ips',
          `${IN1}/32`,
        ]);
        await addAddress(ns2, d.ifname, `${IN2}/24`);
        await ip(ns2, ['link', 'set', d.ifname, 'up']);
        await nft(
          ns2,
          `table ip krnnat {
            chain post { type nat hook postrouting priority srcnat; ip saddr 10.0.0.0/24 ip daddr 192.168.241.0/24 snat to ${IN2}; }
          }`,
        );
        await sysctl(ns2, 'net.ipv4.ip_forward', '1');
        await ip(ns0, ['-4', 'route', 'add', IN1, 'via', '10.0.0.100']);
        await wg(ns2, ['set', d.ifname, 'peer', k1.publicKey, 'remove']);
        const r = await pingOut(ns0, ['-W', '2', '-c', '1', IN1]);
        const out = `${r.stdout}${r.stderr}`;
        t.diagnostic(out.split('\n').find((l) => /From|bytes from/.test(l)) ?? '(no reply line)');
        assert.notEqual(r.code, 0);
        if (control) assert.doesNotMatch(out, /nreachable/);
        else assert.match(out, /From 192\.168\.241\.1 icmp_seq=1 Destination Host Unreachable/);
      } finally {
        await cleanup();
      }
    });

    test('persistent keepalive at link up, and when the private key is set later (ka_key)', async () => {
      const ns = await namespace(v, 'k');
      try {
        const peer = await genKeyPair();
        const key = await genKeyPair();
        /** The peer with an endpoint and persistent keepalive, and our key if `withKey`. */
        const configure = (dev: string, withKey: boolean): Promise<string> =>
          wg(ns, [
            'set',
            dev,
            ...(withKey ? ['private-key', keyFile(key.privateKey)] : []),
            'peer',
            peer.publicKey,
            'endpoint',
            '127.0.0.1:1',
            'persistent-keepalive',
            KA_INTERVAL,
          ]);
        const sends = (dev: string, what: string, timeoutMs = 3_000): Promise<boolean> =>
          waitFor(async () => (await txOf(ns, dev, peer.publicKey)) > 0, { timeoutMs, what });
        // With a key: nothing while down, a handshake once up.
        const a = await daemon(v, ns);
        await configure(a.ifname, true);
        // wireguard-go 0.0.20220316 sends its handshake while the link is still down.
        if (control) await sends(a.ifname, 'the control’s handshake while down');
        else assert.equal(await txOf(ns, a.ifname, peer.publicKey), 0);
        await ip(ns, ['link', 'set', 'dev', a.ifname, 'up']);
        await sends(a.ifname, 'a handshake after link up');
        await a.stop();
        // Without a key: nothing after up (nothing can be sent), a handshake once the key is set.
        const b = await daemon(v, ns);
        await configure(b.ifname, false);
        if (control) {
          // wireguard-go 0.0.20220316 sends an initiation at once, with no private key at all
          // (the kernel refuses to: nothing can be sent without a static identity).
          await sends(b.ifname, 'the control’s initiation without a private key');
          return;
        }
        assert.equal(await txOf(ns, b.ifname, peer.publicKey), 0);
        await ip(ns, ['link', 'set', 'dev', b.ifname, 'up']);
        assert.equal(await txOf(ns, b.ifname, peer.publicKey), 0);
        await wg(ns, ['set', b.ifname, 'private-key', keyFile(key.privateKey)]);
        await sends(b.ifname, 'a handshake right after the private key was set', 1_000);
      } finally {
        await cleanup();
      }
    });

    test('low-order public keys: persistent keepalive sends them nothing', async () => {
      const ns = await namespace(v, 'l');
      try {
        await nft(
          ns,
          `table inet krn {
            counter low {}
            counter ordinary {}
            chain in {
              type filter hook input priority 0;
              udp dport 1111 counter name low
              udp dport 1112 counter name ordinary
            }
          }`,
        );
        const d = await daemon(v, ns);
        const [key, ordinary] = await Promise.all([genKeyPair(), genKeyPair()]);
        await wg(ns, ['set', d.ifname, 'private-key', keyFile(key.privateKey)]);
        for (const point of LOW_ORDER_POINTS) {
          await wg(ns, [
            'set',
            d.ifname,
            'peer',
            point,
            'persistent-keepalive',
            '1',
            'endpoint',
            '127.0.0.1:1111',
          ]);
        }
        await wg(ns, [
          'set',
          d.ifname,
          'peer',
          ordinary.publicKey,
          'persistent-keepalive',
          '1',
          'endpoint',
          '127.0.0.1:1112',
        ]);
        assert.notEqual((await wg(ns, ['show', d.ifname, 'peers'])).trim(), '');
        await ip(ns, ['link', 'set', 'dev', d.ifname, 'up']);
        // The ordinary peer's initiation proves the daemon sent what it would; then the script's
        // 2 s of silence toward the low-order points.
        await waitFor(async () => (await nftCount(ns, 'krn', 'ordinary')) > 0, {
          timeoutMs: 5_000,
          what: 'an initiation to the ordinary peer',
        });
        await sleepObserved(2_000);
        assert.equal(await nftCount(ns, 'krn', 'low'), 0);
      } finally {
        await cleanup();
      }
    });

    test('configuration semantics: cleared keys, our own key as a peer, clamping, allowed IPs', async () => {
      const ns = await namespace(v, 'c');
      try {
        const d = await daemon(v, ns);
        const dev = d.ifname;
        const [k1, k2, psk] = await Promise.all([genKeyPair(), genKeyPair(), genPsk()]);
        const show = async (what: string): Promise<string> => (await wg(ns, ['show', dev, what])).trim();
        await wg(ns, [
          'set',
          dev,
          'private-key',
          keyFile(k1.privateKey),
          'peer',
          k2.publicKey,
          'preshared-key',
          keyFile(psk),
        ]);
        assert.equal(await show('private-key'), k1.privateKey);
        assert.equal(await show('preshared-keys'), `${k2.publicKey}\t${psk}`);
        await wg(ns, [
          'set',
          dev,
          'private-key',
          '/dev/null',
          'peer',
          k2.publicKey,
          'preshared-key',
          '/dev/null',
        ]);
        assert.equal(await show('private-key'), '(none)');
        assert.equal(await show('preshared-keys'), `${k2.publicKey}\t(none)`);
        await wg(ns, ['set', dev, 'peer', k2.publicKey]);
        await wg(ns, ['set', dev, 'private-key', keyFile(k2.privateKey)]);
        assert.equal(await show('public-key'), k2.publicKey);
        assert.equal(await show('peers'), '', 'the peer with our own public key is gone');
        await wg(ns, ['set', dev, 'peer', k2.publicKey]);
        assert.equal(await show('peers'), '', 'a peer with our own public key is refused');
        await wg(ns, ['set', dev, 'private-key', keyFile(k1.privateKey)]);
        await wg(ns, ['set', dev, 'peer', k2.publicKey]);
        assert.equal(await show('peers'), k2.publicKey);
        // Clamping: the first character's lowest bit (in byte 0's low 3 bits) is cleared.
        await wg(ns, ['set', dev, 'private-key', keyFile(`/${k1.privateKey.slice(1)}`)]);
        assert.equal(await show('private-key'), `+${k1.privateKey.slice(1)}`);
        for (const list of [
          '0.0.0.0/0,10.0.0.0/8,100.0.0.0/10,172.16.0.0/12,192.168.0.0/16',
          '0.0.0.0/0',
          '::/0,1700::/111,5000::/4,e000::/37,9000::/75',
          '::/0',
        ]) {
          await wg(ns, ['set', dev, 'peer', k2.publicKey, 'allowed-ips', list]);
        }
        await wg(ns, ['set', dev, 'peer', k2.publicKey, 'remove']);
        // An empty peer next to one with 197 allowed IPs, in the order they were added.
        const many = Array.from({ length: 197 }, (_, i) => `abcd::${(i + 1).toString(16)}`).join(',');
        const other = await genKeyPair();
        await wg(ns, ['set', dev, 'peer', other.publicKey]);
        await wg(ns, ['set', dev, 'peer', k2.publicKey, 'allowed-ips', many]);
        let lines = (await show('allowed-ips')).split('\n');
        assert.equal(lines.length, 2);
        // The kernel, and wgtsd, list peers in the order they were added; wireguard-go walks a Go
        // map, whose order is random (seen here both ways), so for the control only the set counts.
        if (control)
          lines = lines.sort(
            (x, y) => Number(x.startsWith(k2.publicKey)) - Number(y.startsWith(k2.publicKey)),
          );
        assert.equal(lines[0], `${other.publicKey}\t(none)`);
        const [pub, list] = lines[1]!.split('\t');
        assert.equal(pub, k2.publicKey);
        assert.equal(list!.split(' ').length, 197);
      } finally {
        await cleanup();
      }
    });
  });
}

/** One TCP iperf3 run of a few MiB from `clientNs` to `server` (an address in `serverNs`). */
async function iperfTcp(serverNs: string, server: string, clientNs: string): Promise<void> {
  const port = 5201;
  const srv = exec(serverNs, 'iperf3', ['-s', '-1', '-B', server, '-p', String(port)], { timeoutMs: 30_000 });
  await waitForTcpListen(serverNs, port, 10_000);
  const c = await exec(clientNs, 'iperf3', ['-Z', '-n', '4M', '-c', server, '-p', String(port)], {
    timeoutMs: 30_000,
  });
  const s = await srv;
  assert.equal(c.code, 0, `iperf3 client to ${server}:\n${c.stdout}${c.stderr}`);
  assert.equal(s.code, 0, `iperf3 server on ${server}:\n${s.stdout}${s.stderr}`);
}

/**
 * An observation window, not a wait for an event: the script's oracles here are "what happened
 * within this time" (bytes sent in a second, silence for two).
 */
function sleepObserved(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
