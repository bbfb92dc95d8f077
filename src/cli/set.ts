/**
 * `wgts set IFACE [listen-port P] [fwmark M] [private-key FILE] [peer KEY [remove]
 * [preshared-key FILE] [endpoint HOST:PORT] [persistent-keepalive N|off]
 * [allowed-ips [+|-]CIDR[,...]]]...` (wg(8) `set`; wireguard-tools src/config.c config_read_cmd).
 *
 * As wg: device options only before the first `peer`; keys come from files (44 base64 characters
 * and then only whitespace; an empty file or /dev/null clears the key); `allowed-ips` strips all
 * whitespace and replaces the peer's list (an empty string clears it), unless an entry is signed:
 * `+CIDR` adds and `-CIDR` removes without replacing (newer wg(8); the daemon must support `-`,
 * wgtsd does); each new peer's settings apply after its `peer KEY`; every argument is checked and
 * every hostname resolved before the one request is sent. Messages are wg's, except that a
 * malformed private or preshared key is not echoed.
 */
import { isAllZero } from '../crypto/bytes.js';
import { readFileSync } from 'node:fs';
import { resolveEndpoint } from '../config/resolve.js';
import {
  ValueError,
  hostBitsWarning,
  parseAllowedIPs,
  parseEndpointSpec,
  parseFwmark,
  parseKeepalive,
  parseKey,
  parsePort,
  type AllowedIPEntry,
  type EndpointSpec,
} from '../config/values.js';
import type { AllowedIPChange, DeviceSet, PeerSet } from '../uapi/types.js';
import { isHelp, type CliContext } from './context.js';
import { commandHelp } from './help.js';
import { systemErrorText } from './errno-text.js';
import { IpcError, ipcErrorLines, setDevice } from './ipc.js';

export function setUsage(prog: string): string {
  return (
    `Usage: ${prog} set <interface> [listen-port <port>] [fwmark <mark>] [private-key <file path>] ` +
    '[peer <base64 public key> [remove] [preshared-key <file path>] [endpoint <ip>:<port>] ' +
    '[persistent-keepalive <interval seconds>] [allowed-ips [+|-]<ip1>/<cidr1>[,[+|-]<ip2>/<cidr2>]...] ]...\n'
  );
}

/** wg's parse_keyfile: 44 characters then only whitespace; empty means the all-zero key. */
export function readKeyFile(path: string): Uint8Array {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    throw new ValueError(`fopen: ${systemErrorText(err)}`);
  }
  if (data.length === 0) return new Uint8Array(32);
  if (data.length < 44) throw new ValueError('Invalid length key in key file');
  for (let i = 44; i < data.length; i++) {
    const c = data[i]!;
    if (!(c === 0x20 || (c >= 0x09 && c <= 0x0d))) {
      throw new ValueError(`Found trailing character in key file: \`${String.fromCharCode(c)}'`);
    }
  }
  return parseKey(data.subarray(0, 44).toString('latin1'), { secret: true });
}

interface PeerDraft {
  publicKey: Uint8Array;
  remove: boolean;
  presharedKey?: Uint8Array | null;
  endpoint?: EndpointSpec;
  persistentKeepalive?: number;
  replace: boolean;
  entries: AllowedIPEntry[];
}

interface ParsedSet {
  privateKey?: Uint8Array | null;
  listenPort?: number;
  fwmark?: number;
  peers: PeerDraft[];
}

/** Parses the options after the interface name; throws ValueError with wg's message. */
export function parseSetArgs(args: readonly string[], warn: (line: string) => void): ParsedSet {
  const out: ParsedSet = { peers: [] };
  let peer: PeerDraft | null = null;
  for (let i = 0; i < args.length;) {
    const a = args[i]!;
    const v = args[i + 1];
    if (a === 'listen-port' && v !== undefined && peer === null) out.listenPort = parsePort(v);
    else if (a === 'fwmark' && v !== undefined && peer === null) out.fwmark = parseFwmark(v);
    else if (a === 'private-key' && v !== undefined && peer === null) {
      const k = readKeyFile(v);
      out.privateKey = isAllZero(k) ? null : k;
    } else if (a === 'peer' && v !== undefined) {
      peer = { publicKey: parseKey(v, { secret: false }), remove: false, replace: false, entries: [] };
      out.peers.push(peer);
    } else if (a === 'remove' && peer !== null) {
      peer.remove = true;
      i += 1;
      continue;
    } else if (a === 'endpoint' && v !== undefined && peer !== null) peer.endpoint = parseEndpointSpec(v);
    else if (a === 'allowed-ips' && v !== undefined && peer !== null) {
      peer.replace = true;
      for (const entry of parseAllowedIPs(v.replace(/[ \t\n\v\f\r]/g, ''), true)) {
        if (entry.op !== 'replace') peer.replace = false;
        if (entry.hostBits) warn(hostBitsWarning(entry));
        peer.entries.push(entry);
      }
    } else if (a === 'persistent-keepalive' && v !== undefined && peer !== null) {
      peer.persistentKeepalive = parseKeepalive(v);
    } else if (a === 'preshared-key' && v !== undefined && peer !== null) {
      const k = readKeyFile(v);
      peer.presharedKey = isAllZero(k) ? null : k;
    } else throw new ValueError(`Invalid argument: ${a}`);
    i += 2;
  }
  return out;
}

/** The request for parsed `set` options, resolving hostname endpoints (wg's retries). */
export async function setArgsToDeviceSet(parsed: ParsedSet): Promise<DeviceSet> {
  const peers: PeerSet[] = [];
  for (const p of parsed.peers) {
    const changes: AllowedIPChange[] = p.replace ? [{ kind: 'clear' }] : [];
    for (const e of p.entries) {
      changes.push(
        e.op === 'remove' ? { kind: 'remove', prefix: e.prefix } : { kind: 'add', prefix: e.prefix },
      );
    }
    const endpoint = p.endpoint === undefined ? undefined : await resolveEndpoint(p.endpoint);
    // A hostname also goes along, for wgtsd to re-resolve (dropped for other daemons by setDevice).
    const name = p.endpoint?.address === null ? { host: p.endpoint.host, port: p.endpoint.port } : undefined;
    peers.push({
      publicKey: p.publicKey,
      remove: p.remove,
      updateOnly: false,
      ...(p.presharedKey === undefined ? {} : { presharedKey: p.presharedKey }),
      ...(endpoint === undefined ? {} : { endpoint }),
      ...(name === undefined ? {} : { endpointHostname: name }),
      ...(p.persistentKeepalive === undefined ? {} : { persistentKeepalive: p.persistentKeepalive }),
      allowedIPs: changes,
    });
  }
  return {
    ...(parsed.privateKey === undefined ? {} : { privateKey: parsed.privateKey }),
    ...(parsed.listenPort === undefined ? {} : { listenPort: parsed.listenPort }),
    ...(parsed.fwmark === undefined ? {} : { fwmark: parsed.fwmark }),
    replacePeers: false,
    peers,
  };
}

export async function setMain(argv: readonly string[], ctx: CliContext): Promise<number> {
  if (argv.length === 2 && isHelp(argv[1])) {
    ctx.out(commandHelp('set', setUsage(ctx.prog)));
    return 0;
  }
  if (argv.length < 3) {
    ctx.err(setUsage(ctx.prog));
    return 1;
  }
  let set: DeviceSet;
  try {
    set = await setArgsToDeviceSet(parseSetArgs(argv.slice(2), (line) => ctx.err(`${line}\n`)));
  } catch (err) {
    if (!(err instanceof ValueError)) throw err;
    ctx.err(`${err.message}\n`);
    return 1;
  }
  try {
    await setDevice(argv[1]!, set);
    return 0;
  } catch (err) {
    if (!(err instanceof IpcError)) throw err;
    ctx.err(ipcErrorLines(err));
    return 1;
  }
}
