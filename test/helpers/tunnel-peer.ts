/**
 * The real-peer fixture for rootless mode (the userspace stack, the embeddable device, `wgts proxy`):
 * one namespace holding a stock WireGuard peer (wireguard-go 0.0.20250522 from the anchors, else
 * Debian's) and real servers on its tunnel addresses (tunnel-servers.ts: HTTP, TCP and UDP echo,
 * DNS), joined by a veth to the namespace "our side" runs in (the root namespace by default, where
 * an unprivileged proxy lives):
 *
 *     host ns [veth 10.N.0.1/24, fdNN::1/64] ── [veth 10.N.0.2, fdNN::2] peer ns
 *                                                [wg 10.200.N.1/24, fd00:200:N::1/64] + servers
 *
 * Our side is 10.200.N.2/32 and fd00:200:N::2/128 in the tunnel; the peer knows our public key
 * and, optionally, our endpoint (a userspace client usually sits behind an ephemeral port, so the
 * peer learns it from our first packet). With `impair`, the UDP impairment relay
 * (test/faults/impair-relay.ts) runs in the peer namespace between the two: our side's endpoint is
 * the relay's, which learns our address from what we send. N is chosen so that no address of the
 * host namespace already lies in 10.N.0.0/24. Everything is tracked by netns.ts and removed by
 * `close()` (or `cleanup()`), by pid and by name.
 */
import { createNamespace, deleteNamespace, exec, spawn, uniqueName, type TrackedProcess } from './netns.js';
import {
  configureInterface,
  genKeyPair,
  implUnavailable,
  startDaemon,
  type Daemon,
  type Impl,
} from './wg-peer.js';
import { startRelay, type Relay } from '../faults/impair-relay.js';
import { joinVeth, pickN, tfIfname } from './tunnel-net.js';
import { makeCertificate, type TestCertificate } from './tunnel-tls.js';
import { TUNNEL_SERVERS_SCRIPT } from './tunnel-servers.js';
import { peerConfigText, type ConfigTexts } from './tunnel-config.js';

export { tfIfname } from './tunnel-net.js';
export { socks5Section, httpSection, tcpClientTunnelSection } from './tunnel-config.js';

export interface TunnelPeerOptions {
  /** Our side's public key (the peer's one [Peer]). */
  readonly ourPublicKey: string;
  /** Where the peer reaches our side (`ip:port`); omitted: learned from our first packet. */
  readonly ourEndpoint?: string;
  /** Namespace at the other end of the veth (where our side runs); default null, the root one. */
  readonly hostNs?: string | null;
  /** Outer family of `endpoint`; both are configured. Default v4. */
  readonly outer?: 'v4' | 'v6';
  /** The peer's UDP port; default 51820. */
  readonly listenPort?: number;
  /** Tunnel MTU of the peer and of the generated configs; default 1420. */
  readonly mtu?: number;
  /** Default the anchor wireguard-go, else Debian's wireguard-go. */
  readonly impl?: Impl;
  /** Percentages; `kinds` default 'data' (handshakes pass untouched, so setup stays quick). */
  readonly impair?: {
    readonly drop?: number;
    readonly dup?: number;
    readonly reorder?: number;
    readonly corrupt?: number;
    readonly kinds?: 'data' | 'all';
    /** Relay lifetime; default 600 s (its maximum). */
    readonly durationMs?: number;
  };
}

export interface TunnelPeer extends ConfigTexts {
  readonly ns: string;
  readonly impl: Impl;
  readonly ifname: string;
  readonly peerPublicKey: string;
  /** The endpoint our side uses (`host:port`, or `[v6]:port`): the peer's, or the relay's. */
  readonly endpoint: string;
  /** The peer's own endpoint, bypassing any relay. */
  readonly directEndpoint: string;
  /** Outer (veth) addresses: our side's end and the peer's end. */
  readonly outerV4: { readonly host: string; readonly peer: string };
  readonly outerV6: { readonly host: string; readonly peer: string };
  readonly innerV4: string;
  readonly innerV6: string;
  readonly ourV4: string;
  readonly ourV6: string;
  /** The peer's DNS server (v4 inner address; also on innerV6), answering for `names`. */
  readonly dnsServer: string;
  /** Names the DNS server knows: web.tunnel.test (v4 + v6), v4.tunnel.test, v6.tunnel.test. */
  readonly names: Readonly<Record<string, readonly string[]>>;
  readonly ports: {
    readonly https: number;
    readonly http: number;
    readonly echo: number;
    readonly udpEcho: number;
    readonly dns: number;
  };
  readonly relay: Relay | null;
  /**
   * The HTTPS server's self-signed certificate (for web/v4/v6.tunnel.test and both inner
   * addresses; the same routes on `ports.https`), or null without openssl (then no HTTPS).
   */
  readonly tls: TestCertificate | null;
  /** Recent output of the daemon, the servers and the relay, for failure messages. */
  logs(): string;
  /** Stops everything (by pid) and deletes the namespace (and so the veth). Idempotent. */
  close(): Promise<void>;
}

const RELAY_PORT_OURS = 40_001;
const RELAY_PORT_PEER = 40_002;
/** Builds the peer namespace, its WireGuard peer, its servers and optional relay; see the header. */
export async function startTunnelPeer(options: TunnelPeerOptions): Promise<TunnelPeer> {
  const hostNs = options.hostNs ?? null;
  const impl: Impl =
    options.impl ??
    (implUnavailable('wireguard-go-anchor') === null ? 'wireguard-go-anchor' : 'wireguard-go');
  const listenPort = options.listenPort ?? 51820;
  const mtu = options.mtu ?? 1420;
  const ns = await createNamespace(uniqueName('nspf'));
  const procs: TrackedProcess[] = [];
  let daemon: Daemon | null = null;
  let relay: Relay | null = null;
  let tls: TestCertificate | null = null;
  let closed = false;
  let releaseN = (): void => undefined;
  const logs = (): string =>
    [daemon?.proc, ...procs, relay?.proc]
      .filter((p): p is TrackedProcess => p !== undefined)
      .map((p) => `--- ${p.command} ---\n${p.output().trim()}`)
      .join('\n');
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    if (relay !== null) await relay.proc.stop();
    await Promise.all(procs.map((p) => p.stop()));
    await daemon?.stop();
    await deleteNamespace(ns);
    releaseN();
  };
  try {
    const picked = await pickN(hostNs);
    releaseN = picked.release;
    const n = picked.n;
    const hh = n.toString(16).padStart(2, '0');
    const outerV4 = { host: `10.${n}.0.1`, peer: `10.${n}.0.2` };
    const outerV6 = { host: `fd${hh}::1`, peer: `fd${hh}::2` };
    await joinVeth(hostNs, ns, [
      `${outerV4.host}/24`,
      `${outerV4.peer}/24`,
      `${outerV6.host}/64`,
      `${outerV6.peer}/64`,
    ]);
    const innerV4 = `10.200.${n}.1`;
    const innerV6 = `fd00:200:${n}::1`;
    const ourV4 = `10.200.${n}.2`;
    const ourV6 = `fd00:200:${n}::2`;
    const keys = await genKeyPair();
    daemon = await startDaemon(ns, { impl, ifname: tfIfname('w') });
    const outer = options.outer ?? 'v4';
    const peerHost = outer === 'v4' ? outerV4.peer : `[${outerV6.peer}]`;
    const directEndpoint = `${peerHost}:${listenPort}`;
    let endpoint = directEndpoint;
    let peerSideEndpoint = options.ourEndpoint;
    if (options.impair !== undefined) {
      const im = options.impair;
      relay = await startRelay({
        ns,
        host: outer === 'v4' ? outerV4.peer : outerV6.peer,
        portA: RELAY_PORT_OURS,
        portB: RELAY_PORT_PEER,
        toA: options.ourEndpoint ?? 'learn',
        toB: directEndpoint,
        drop: im.drop ?? 0,
        dup: im.dup ?? 0,
        reorder: im.reorder ?? 0,
        corrupt: im.corrupt ?? 0,
        kinds: im.kinds ?? 'data',
        durationMs: im.durationMs ?? 600_000,
      });
      endpoint = relay.endpointForA;
      peerSideEndpoint = relay.endpointForB;
    }
    await configureInterface(daemon, {
      privateKey: keys.privateKey,
      listenPort,
      mtu,
      addresses: [`${innerV4}/24`, `${innerV6}/64`],
      peers: [
        {
          publicKey: options.ourPublicKey,
          ...(peerSideEndpoint === undefined ? {} : { endpoint: peerSideEndpoint }),
          allowedIps: [`${ourV4}/32`, `${ourV6}/128`],
        },
      ],
    });
    const names = {
      'web.tunnel.test': [innerV4, innerV6],
      'v4.tunnel.test': [innerV4],
      'v6.tunnel.test': [innerV6],
    };
    const ports = { http: 80, echo: 7, udpEcho: 7, dns: 53, https: 443 };
    tls = await makeCertificate(Object.keys(names), [innerV4, innerV6]);
    const servers = spawn(ns, process.execPath, [
      TUNNEL_SERVERS_SCRIPT,
      'serve',
      ...[innerV4, innerV6].flatMap((a) => ['--addr', a]),
      ...Object.entries(names).flatMap(([name, list]) => ['--name', `${name}=${list.join(',')}`]),
      ...(tls === null ? [] : ['--cert', tls.certFile, '--key', tls.keyFile]),
    ]);
    procs.push(servers);
    await servers.waitForOutput(/"event":"ready"/, 10_000);
    const texts = peerConfigText({
      peerPublicKey: keys.publicKey,
      endpoint,
      ourV4,
      ourV6,
      dnsServer: innerV4,
      mtu,
      allowed: [`10.200.${n}.0/24`, `fd00:200:${n}::/64`],
    });
    return {
      ns,
      impl,
      ifname: daemon.ifname,
      peerPublicKey: keys.publicKey,
      endpoint,
      directEndpoint,
      outerV4,
      outerV6,
      innerV4,
      innerV6,
      ourV4,
      ourV6,
      dnsServer: innerV4,
      names,
      ports,
      relay,
      tls,
      ...texts,
      logs,
      close,
    };
  } catch (err) {
    const text = logs();
    await close();
    throw new Error(`tunnel peer: ${(err as Error).message}${text === '' ? '' : `\n${text}`}`);
  }
}

/** Our side's UDP port as the peer saw it (from `wg show`), or null before any handshake. */
export async function peerSeesEndpoint(peer: TunnelPeer): Promise<string | null> {
  const r = await exec(peer.ns, 'wg', ['show', peer.ifname, 'endpoints']);
  const ep = r.stdout.trim().split('\t')[1];
  return ep === undefined || ep === '(none)' ? null : ep;
}
