/**
 * wireproxy's configuration file (README "Sample config file"; its config.go): exactly one
 * [Interface] and at least one [Peer] with wg-quick's keys (wg-quick(8), wg(8) CONFIGURATION FILE
 * FORMAT), or instead a top-level `WGConfig = PATH` naming a wg-quick file that holds them; then
 * any number of [Socks5], [http], [TCPClientTunnel], [TCPServerTunnel], [STDIOTunnel] and our
 * [UDPClientTunnel] / [UDPServerTunnel] (docs/proxy.md). List keys (Address, DNS, AllowedIPs,
 * CheckAlive) may repeat and accumulate; any other key given twice is an error, since which one
 * wins would be a guess. Unknown keys and sections are warnings, so files written for newer
 * wireproxy versions or with wg-quick's PostUp etc. still load.
 */
import { readFileSync } from 'node:fs';
import type { IniSection } from './ini.js';
import { parseIni } from './ini.js';
import { ProxyConfigError } from './config-error.js';
import { ValueReader } from './config-values.js';
import type { ProxyConfig, ProxyInterface, ProxyPeer, ProxyRoutine } from './config-types.js';
import { parseRoutine } from './config-routines.js';
import { SectionReader, type Keys } from './config-section.js';

export type * from './config-types.js';
export { UDP_SESSION_IDLE_SECONDS } from './config-routines.js';

function parseInterface(v: ValueReader, s: SectionReader): ProxyInterface {
  const checkAlive = s.all('CheckAlive').flatMap((e) => v.ips(e));
  const intervalEntry = s.get('CheckAliveInterval');
  if (intervalEntry !== undefined && checkAlive.length === 0) {
    v.fail(
      intervalEntry,
      'CheckAliveInterval is only valid when CheckAlive is set',
      'add CheckAlive = IP or remove it',
    );
  }
  const mtu = s.get('MTU');
  const port = s.get('ListenPort');
  const addresses = s.all('Address').flatMap((e) => v.prefixes(e));
  return {
    privateKey: v.key(s.need('PrivateKey')),
    // The proxy owns single addresses; a wider prefix names the address, as wireproxy reads it.
    addresses: addresses.map((p) => `${p.slice(0, p.indexOf('/'))}/${p.includes(':') ? 128 : 32}`),
    dns: s.all('DNS').flatMap((e) => v.ips(e)),
    mtu: mtu === undefined ? 1420 : v.int(mtu, 576, 65535),
    listenPort: port === undefined ? null : v.int(port, 0, 65535),
    checkAlive,
    checkAliveInterval: intervalEntry === undefined ? 5 : v.int(intervalEntry, 1, 86400),
  };
}

function parsePeer(v: ValueReader, s: SectionReader): ProxyPeer {
  const psk = s.get('PresharedKey');
  const endpoint = s.get('Endpoint');
  const keepalive = s.get('PersistentKeepalive');
  // wireproxy routes everything to a peer that names no AllowedIPs (its sample config has none).
  const allowed = s.all('AllowedIPs').flatMap((e) => v.prefixes(e));
  return {
    publicKey: v.key(s.need('PublicKey')),
    presharedKey: psk === undefined ? null : v.key(psk),
    endpoint: endpoint === undefined ? null : (v.hostPort(endpoint, true), v.text(endpoint)),
    persistentKeepalive: keepalive === undefined ? 0 : v.int(keepalive, 0, 65535),
    allowedIPs: allowed.length > 0 ? allowed : ['0.0.0.0/0', '::/0'],
  };
}

const INTERFACE_KEYS: Keys = {
  scalar: ['PrivateKey', 'MTU', 'ListenPort', 'CheckAliveInterval'],
  list: ['Address', 'DNS', 'CheckAlive'],
};
const PEER_KEYS: Keys = {
  scalar: ['PublicKey', 'PresharedKey', 'Endpoint', 'PersistentKeepalive'],
  list: ['AllowedIPs'],
};

/** [Interface] and [Peer] of `sections` (from `v.file`). */
function parseWireGuard(v: ValueReader, sections: IniSection[], warnings: string[]) {
  const ifaces = sections.filter((s) => s.name === 'interface');
  if (ifaces.length !== 1) {
    v.fail(
      ifaces[1] ?? { line: 0 },
      'exactly one [Interface] is expected',
      'keep a single [Interface] section',
    );
  }
  const peers = sections.filter((s) => s.name === 'peer');
  if (peers.length === 0) v.fail({ line: 0 }, 'at least one [Peer] is expected', 'add a [Peer] section');
  return {
    iface: parseInterface(v, new SectionReader(v, ifaces[0]!, INTERFACE_KEYS, warnings)),
    peers: peers.map((p) => parsePeer(v, new SectionReader(v, p, PEER_KEYS, warnings))),
  };
}

export interface ParseOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Reads WGConfig's file (tests pass a map); default fs.readFileSync. */
  readonly readFile?: (path: string) => string;
}

/** Parses the text of `file`; throws ProxyConfigError naming FILE:LINE. */
export function parseProxyConfig(text: string, file: string, options: ParseOptions = {}): ProxyConfig {
  const env = options.env ?? process.env;
  const readFile = options.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const v: ValueReader = new ValueReader(file, env);
  const warnings: string[] = [];
  const sections = parseIni(text, file);
  const top = new SectionReader(v, sections[0]!, { scalar: ['WGConfig'] }, warnings);
  const wgEntry = top.get('WGConfig');
  let wgFile = file;
  let wgSections = sections;
  let wv: ValueReader = v;
  if (wgEntry !== undefined) {
    wgFile = v.text(wgEntry);
    if (sections.some((s) => s.name === 'interface' || s.name === 'peer')) {
      warnings.push(`${file}:${wgEntry.line}: WGConfig is set, so [Interface] and [Peer] here are ignored`);
    }
    let wgText: string;
    try {
      wgText = readFile(wgFile);
    } catch (err) {
      v.fail(wgEntry, `cannot read WGConfig "${wgFile}": ${(err as Error).message}`, 'fix the path');
    }
    wgSections = parseIni(wgText, wgFile);
    wv = new ValueReader(wgFile, env);
  }
  const { iface, peers } = parseWireGuard(wv, wgSections, warnings);
  const routines: ProxyRoutine[] = [];
  for (const sec of sections.slice(1)) {
    if (sec.name === 'interface' || sec.name === 'peer') continue;
    const r = parseRoutine(v, sec, warnings);
    if (r === null) warnings.push(`${file}:${sec.line}: unknown section [${sec.title}] ignored`);
    else routines.push(r);
  }
  if (routines.filter((r) => r.kind === 'stdio').length > 1) {
    const second = sections.filter((s) => s.name === 'stdiotunnel')[1]!;
    v.fail(second, 'only one [STDIOTunnel] can own stdin and stdout', 'keep one');
  }
  return { file, wgFile, interface: iface, peers, routines, warnings };
}

/** Reads and parses `path`. */
export function loadProxyConfig(path: string, options: ParseOptions = {}): ProxyConfig {
  let text: string;
  try {
    text = (options.readFile ?? ((p: string) => readFileSync(p, 'utf8')))(path);
  } catch (err) {
    throw new ProxyConfigError(
      path,
      0,
      `cannot read the configuration: ${(err as Error).message}`,
      'give an existing file with -c',
    );
  }
  return parseProxyConfig(text, path, options);
}
