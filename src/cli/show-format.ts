/**
 * `wg show`'s three output forms, byte for byte as wireguard-tools 1.0.20210914 src/show.c prints
 * them: the pretty form (colours, `(hidden)` keys unless WG_HIDE_KEYS=never, peers sorted by latest
 * handshake, newest first, never-handshaken last, otherwise in daemon order; "1 minute, 5 seconds
 * ago"; B/KiB/MiB/GiB/TiB with two decimals rounded as glibc rounds), `dump` (tab-separated, for
 * scripts) and the single-field views (`endpoints`, `transfer`, …), which keep the daemon's peer
 * order. With `all`, dump and field lines start with the interface name and a tab (except
 * `endpoints`, where 1.0.20210914 prints the name once; kept, see fieldPrint).
 */
import { keyToBase64 } from '../crypto/keys.js';
import { formatFixed2 } from '../config/format.js';
import { formatAllowedIPC, formatEndpointC } from '../config/serialize.js';
import { formatIP } from '../routing/ip.js';
import type { WgDevice, WgPeer } from './device.js';
import { BOLD, CYAN, GREEN, RED, RESET, TerminalText, YELLOW } from './terminal.js';

export const SHOW_FIELDS = [
  'public-key',
  'private-key',
  'listen-port',
  'fwmark',
  'peers',
  'preshared-keys',
  'endpoints',
  'allowed-ips',
  'latest-handshakes',
  'transfer',
  'persistent-keepalive',
  'dump',
] as const;
export type ShowField = (typeof SHOW_FIELDS)[number];

export function isShowField(s: string): s is ShowField {
  return (SHOW_FIELDS as readonly string[]).includes(s);
}

export interface PrettyOptions {
  readonly color: boolean;
  /** False only with WG_HIDE_KEYS=never. */
  readonly hideKeys: boolean;
  /** Unix seconds, as time(NULL). */
  readonly now: () => bigint;
}

function hex(n: number): string {
  return (n >>> 0).toString(16);
}

function prettyTime(left: bigint): string {
  const units: [string, bigint][] = [
    ['year', 365n * 24n * 3600n],
    ['day', 24n * 3600n],
    ['hour', 3600n],
    ['minute', 60n],
    ['second', 1n],
  ];
  const parts: string[] = [];
  for (const [unit, size] of units) {
    const count = left / size;
    left %= size;
    if (count !== 0n) parts.push(`${count} ${CYAN}${unit}${count === 1n ? '' : 's'}${RESET}`);
  }
  return parts.join(', ');
}

function ago(sec: bigint, now: bigint): string {
  if (now === sec) return 'Now';
  if (now < sec) return `(${RED}System clock wound backward; connection problems may ensue.${RESET})`;
  return `${prettyTime(now - sec)} ago`;
}

/** wg's bytes(): exact below 1 KiB, else two decimals of the largest fitting unit. */
export function formatBytes(b: bigint): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  if (b < 1024n) return `${b} ${CYAN}B${RESET}`;
  // C converts the uint64 to double, then divides by powers of two (exact).
  const x = Number(b);
  for (let i = 0; i < 3; i++) {
    if (b < 1024n ** BigInt(i + 2)) return `${formatFixed2(x / 1024 ** (i + 1))} ${CYAN}${units[i]}${RESET}`;
  }
  return `${formatFixed2(x / 1024 ** 4)} ${CYAN}${units[3]}${RESET}`;
}

function hasHandshake(p: WgPeer): boolean {
  return p.lastHandshakeSec !== 0n || p.lastHandshakeNsec !== 0n;
}

/** show.c's peer_cmp (newest handshake first, none last), applied with a stable sort. */
export function sortPeers(peers: readonly WgPeer[]): WgPeer[] {
  return [...peers].sort((a, b) => {
    if (!hasHandshake(a) && hasHandshake(b)) return 1;
    if (!hasHandshake(b) && hasHandshake(a)) return -1;
    let diff = a.lastHandshakeSec - b.lastHandshakeSec;
    if (diff === 0n) diff = a.lastHandshakeNsec - b.lastHandshakeNsec;
    return diff < 0n ? 1 : diff > 0n ? -1 : 0;
  });
}

export function prettyPrint(dev: WgDevice, opts: PrettyOptions): string {
  const t = new TerminalText(opts.color);
  const masked = (k: Uint8Array): string => (opts.hideKeys ? '(hidden)' : keyToBase64(k));
  t.printf(RESET);
  t.printf(`${GREEN}${BOLD}interface${RESET}: ${GREEN}${dev.name}${RESET}\n`);
  if (dev.publicKey !== null) t.printf(`  ${BOLD}public key${RESET}: ${keyToBase64(dev.publicKey)}\n`);
  if (dev.privateKey !== null) t.printf(`  ${BOLD}private key${RESET}: ${masked(dev.privateKey)}\n`);
  if (dev.listenPort !== 0) t.printf(`  ${BOLD}listening port${RESET}: ${dev.listenPort}\n`);
  if (dev.fwmark !== 0) t.printf(`  ${BOLD}fwmark${RESET}: 0x${hex(dev.fwmark)}\n`);
  const peers = sortPeers(dev.peers);
  if (peers.length > 0) t.printf('\n');
  peers.forEach((peer, i) => {
    t.printf(`${YELLOW}${BOLD}peer${RESET}: ${YELLOW}${keyToBase64(peer.publicKey)}${RESET}\n`);
    if (peer.presharedKey !== null)
      t.printf(`  ${BOLD}preshared key${RESET}: ${masked(peer.presharedKey)}\n`);
    if (peer.endpoint !== null) t.printf(`  ${BOLD}endpoint${RESET}: ${formatEndpointC(peer.endpoint)}\n`);
    t.printf(`  ${BOLD}allowed ips${RESET}: `);
    if (peer.allowedIPs.length > 0) {
      peer.allowedIPs.forEach((ip, j) => {
        const ipText = formatIP(ip.bytes);
        const sep = j < peer.allowedIPs.length - 1 ? ', ' : '\n';
        t.printf(`${ipText}${CYAN}/${RESET}${ip.cidr}${sep}`);
      });
    } else t.printf('(none)\n');
    if (peer.lastHandshakeSec !== 0n) {
      t.printf(`  ${BOLD}latest handshake${RESET}: ${ago(peer.lastHandshakeSec, opts.now())}\n`);
    }
    if (peer.rxBytes !== 0n || peer.txBytes !== 0n) {
      t.printf(`  ${BOLD}transfer${RESET}: `);
      t.printf(`${formatBytes(peer.rxBytes)} received, `);
      t.printf(`${formatBytes(peer.txBytes)} sent\n`);
    }
    if (peer.persistentKeepalive !== 0) {
      t.printf(
        `  ${BOLD}persistent keepalive${RESET}: every ${prettyTime(BigInt(peer.persistentKeepalive))}\n`,
      );
    }
    if (i < peers.length - 1) t.printf('\n');
  });
  return t.toString();
}

const maybeKey = (k: Uint8Array | null): string => (k === null ? '(none)' : keyToBase64(k));
const fwmarkText = (m: number): string => (m !== 0 ? `0x${hex(m)}` : 'off');

export function dumpPrint(dev: WgDevice, withInterface: boolean): string {
  const pre = withInterface ? `${dev.name}\t` : '';
  let out = `${pre}${maybeKey(dev.privateKey)}\t${maybeKey(dev.publicKey)}\t${dev.listenPort}\t${fwmarkText(dev.fwmark)}\n`;
  for (const p of dev.peers) {
    const ips = p.allowedIPs.length > 0 ? p.allowedIPs.map(formatAllowedIPC).join(',') : '(none)';
    const ep = p.endpoint === null ? '(none)' : formatEndpointC(p.endpoint);
    const ka = p.persistentKeepalive !== 0 ? String(p.persistentKeepalive) : 'off';
    out +=
      `${pre}${keyToBase64(p.publicKey)}\t${maybeKey(p.presharedKey)}\t${ep}\t${ips}\t` +
      `${p.lastHandshakeSec}\t${p.rxBytes}\t${p.txBytes}\t${ka}\n`;
  }
  return out;
}

/** One field view (not `dump`). */
export function fieldPrint(dev: WgDevice, field: Exclude<ShowField, 'dump'>, withInterface: boolean): string {
  const pre = withInterface ? `${dev.name}\t` : '';
  const perPeer = (f: (p: WgPeer) => string): string =>
    dev.peers.map((p) => `${pre}${keyToBase64(p.publicKey)}${f(p)}\n`).join('');
  switch (field) {
    case 'public-key':
      return `${pre}${maybeKey(dev.publicKey)}\n`;
    case 'private-key':
      return `${pre}${maybeKey(dev.privateKey)}\n`;
    case 'listen-port':
      return `${pre}${dev.listenPort}\n`;
    case 'fwmark':
      return `${pre}${fwmarkText(dev.fwmark)}\n`;
    case 'endpoints':
      // wg 1.0.20210914 prints the interface name once, before the first peer (and alone, with no
      // newline, when there is none); later versions prefix every line. Kept as the installed wg.
      return (
        pre +
        dev.peers
          .map(
            (p) =>
              `${keyToBase64(p.publicKey)}\t${p.endpoint === null ? '(none)' : formatEndpointC(p.endpoint)}\n`,
          )
          .join('')
      );
    case 'allowed-ips':
      return perPeer(
        (p) => `\t${p.allowedIPs.length > 0 ? p.allowedIPs.map(formatAllowedIPC).join(' ') : '(none)'}`,
      );
    case 'latest-handshakes':
      return perPeer((p) => `\t${p.lastHandshakeSec}`);
    case 'transfer':
      return perPeer((p) => `\t${p.rxBytes}\t${p.txBytes}`);
    case 'persistent-keepalive':
      return perPeer((p) => `\t${p.persistentKeepalive !== 0 ? p.persistentKeepalive : 'off'}`);
    case 'preshared-keys':
      return perPeer((p) => `\t${maybeKey(p.presharedKey)}`);
    case 'peers':
      return perPeer(() => '');
  }
}
