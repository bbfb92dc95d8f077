/**
 * Fuzz targets for the two text parsers: the UAPI stream (RequestReader framing, then parseSet for
 * each complete set request) and wg(8) config files (parseWgConfig, then configToDeviceSet).
 *
 * UAPI invariants: nothing throws but UapiError, and only with EINVAL or EPROTO (parseSet) — the
 * reader itself never throws, and its reply/fail events carry only EINVAL or EIO; nothing follows
 * a fail or close event; every DeviceSet parseSet returns is well-formed (keys of 32 bytes, a
 * private key clamped, ports and keepalive in 0..65535, fwmark in 0..2^32−1, endpoint addresses of
 * 4 or 16 bytes, allowed-IP prefixes of the right length with cidr in range and host bits clear),
 * and formatting it is a fixed point (formatSet(parseSet(formatSet(s))) equals formatSet(s)).
 * Chunking: the stream is pushed in random pieces, which must not change the events.
 *
 * Config invariants: nothing throws but ConfigError, whose message is `FILE:LINE: detail` with
 * 1 ≤ LINE ≤ the file's line count; a parsed config is well-formed (as above) and converts to a
 * DeviceSet for setconf and addconf without throwing, and every warning names the file.
 */
import { ConfigError, configToDeviceSet, parseWgConfig, type WgConfig } from '../../src/config/wg-config.js';
import { keyToBase64 } from '../../src/crypto/keys.js';
import { clampPrivateKey } from '../../src/crypto/x25519.js';
import { formatSet, parseSet, RequestReader, setBodyLines, type ReaderEvent } from '../../src/uapi/codec.js';
import { EINVAL, EIO, EPROTO, UapiError } from '../../src/uapi/errno.js';
import type { DeviceSet, IpPrefix } from '../../src/uapi/types.js';
import { Prng } from '../helpers/fuzz.js';
import { invariant, mutateText, type FuzzTarget } from './engine.js';

// ---- shared value checks -------------------------------------------------------------------------

const isInt = (n: unknown, lo: number, hi: number): boolean =>
  typeof n === 'number' && Number.isInteger(n) && n >= lo && n <= hi;

function checkKey(k: Uint8Array | null | undefined, what: string): void {
  if (k === undefined || k === null) return;
  invariant(k instanceof Uint8Array && k.length === 32, `${what} is not 32 bytes`);
}

export function checkPrefix(p: IpPrefix, what: string): void {
  const len = p.family === 4 ? 4 : 16;
  invariant(p.family === 4 || p.family === 6, `${what}: family ${String(p.family)}`);
  invariant(p.bytes.length === len, `${what}: ${p.bytes.length} address bytes for IPv${p.family}`);
  invariant(isInt(p.cidr, 0, len * 8), `${what}: cidr ${p.cidr} for IPv${p.family}`);
  for (let bit = p.cidr; bit < len * 8; bit++) {
    invariant((p.bytes[bit >> 3]! & (0x80 >> (bit & 7))) === 0, `${what}: host bit ${bit} set`);
  }
}

/** `clamped`: parseSet clamps private keys (a config file's key travels unclamped). */
export function checkDeviceSet(s: DeviceSet, clamped = true): void {
  checkKey(s.privateKey, 'private key');
  if (s.privateKey && clamped) {
    const clamped = clampPrivateKey(Uint8Array.from(s.privateKey));
    invariant(Buffer.compare(clamped, s.privateKey) === 0, 'private key not clamped');
  }
  if (s.listenPort !== undefined) invariant(isInt(s.listenPort, 0, 65535), `listen port ${s.listenPort}`);
  if (s.fwmark !== undefined) invariant(isInt(s.fwmark, 0, 0xffffffff), `fwmark ${s.fwmark}`);
  invariant(typeof s.replacePeers === 'boolean', 'replacePeers not boolean');
  for (const p of s.peers) {
    checkKey(p.publicKey, 'public key');
    invariant(p.publicKey instanceof Uint8Array, 'peer without a public key');
    checkKey(p.presharedKey, 'preshared key');
    if (p.endpoint !== undefined) {
      const n = p.endpoint.address.length;
      invariant(n === 4 || n === 16, `endpoint address of ${n} bytes`);
      invariant(isInt(p.endpoint.port, 0, 65535), `endpoint port ${p.endpoint.port}`);
    }
    if (p.persistentKeepalive !== undefined) {
      invariant(isInt(p.persistentKeepalive, 0, 65535), `keepalive ${p.persistentKeepalive}`);
    }
    for (const c of p.allowedIPs) {
      invariant(c.kind === 'clear' || c.kind === 'add' || c.kind === 'remove', 'allowed-IP change kind');
      if (c.kind !== 'clear') checkPrefix(c.prefix, 'allowed IP');
    }
  }
}

/** Error text without its varying parts: a feature for "a distinct rejection". */
export function normalise(message: string): string {
  return message
    .replace(/^set line \d+: /, '')
    .replace(/^[^:]*:\d+: /, '')
    .replace(/".*"|`.*'/gs, 'Q')
    .replace(/["`].*$/s, 'Q…')
    .replace(/\d+/g, 'N')
    .slice(0, 50);
}

// ---- seeds ---------------------------------------------------------------------------------------

function hexOf(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** Valid inputs, generated from a fixed seed so every run starts from the same corpus. */
function seedMaterial(prng: Prng): {
  priv: Uint8Array;
  pubs: Uint8Array[];
  psk: Uint8Array;
} {
  return {
    priv: clampPrivateKey(prng.bytes(32)),
    pubs: [prng.bytes(32), prng.bytes(32), prng.bytes(32)],
    psk: prng.bytes(32),
  };
}

const UAPI_DICTIONARY = [
  'set=1',
  'get=1',
  '',
  'true',
  'false',
  '0',
  '65535',
  '65536',
  '4294967295',
  '4294967296',
  '0'.repeat(64),
  'f'.repeat(64),
  'F'.repeat(64),
  'a'.repeat(63),
  'a'.repeat(65),
  '1.2.3.4:51820',
  '[::1]:0',
  '[fe80::1%eth0]:1',
  '::1:51820',
  '1.2.3.4:65536',
  '255.255.255.255:1',
  '0.0.0.0/0',
  '::/0',
  '10.0.0.1/32',
  '10.0.0.1/33',
  'fd00::1/128',
  'fd00::1/129',
  '-10.0.0.0/8',
  '::ffff:1.2.3.4/96',
  '1.2.3/24',
  'private_key=',
  'listen_port=',
  'fwmark=',
  'replace_peers=',
  'public_key=',
  'remove=',
  'update_only=',
  'preshared_key=',
  'endpoint=',
  'persistent_keepalive_interval=',
  'replace_allowed_ips=',
  'allowed_ip=',
  'protocol_version=',
  '\n\n',
  '\r\n',
  '\r',
];

export function uapiSeeds(): string[] {
  const prng = new Prng(0x0a1b2c);
  const m = seedMaterial(prng);
  const sets: DeviceSet[] = [
    { privateKey: m.priv, listenPort: 51820, fwmark: 0x1234, replacePeers: true, peers: [] },
    {
      replacePeers: false,
      peers: [
        {
          publicKey: m.pubs[0]!,
          remove: false,
          updateOnly: false,
          presharedKey: m.psk,
          endpoint: { address: Uint8Array.of(192, 0, 2, 1), port: 51820 },
          persistentKeepalive: 25,
          allowedIPs: [
            { kind: 'clear' },
            { kind: 'add', prefix: { family: 4, bytes: Uint8Array.of(10, 0, 0, 0), cidr: 8 } },
            { kind: 'add', prefix: { family: 6, bytes: new Uint8Array(16), cidr: 0 } },
          ],
        },
        {
          publicKey: m.pubs[1]!,
          remove: false,
          updateOnly: true,
          presharedKey: null,
          endpoint: {
            address: Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 1]),
            port: 1,
          },
          allowedIPs: [
            { kind: 'remove', prefix: { family: 4, bytes: Uint8Array.of(10, 1, 2, 3), cidr: 32 } },
          ],
        },
        { publicKey: m.pubs[2]!, remove: true, updateOnly: false, allowedIPs: [] },
      ],
    },
    { privateKey: null, listenPort: 0, fwmark: 0, replacePeers: false, peers: [] },
  ];
  const requests = sets.map((s) => `set=1\n${formatSet(s)}\n`);
  return [
    ...requests,
    'get=1\n\n',
    `get=1\n\n${requests[0]!}get=1\n\n`,
    `set=1\r\npublic_key=${hexOf(m.pubs[0]!)}\r\nprotocol_version=1\r\nallowed_ip=fd00::/64\r\n\r\n`,
    `${requests[1]!}${requests[2]!}`,
  ];
}

// ---- UAPI target ---------------------------------------------------------------------------------

const KNOWN_READER_ERRNO = new Set<number>([EINVAL, EIO]);
const KNOWN_PARSE_ERRNO = new Set<number>([EINVAL, EPROTO]);

function readAll(text: string, cuts: readonly number[], maxLineBytes: number): ReaderEvent[] {
  const bytes = Buffer.from(text, 'latin1');
  const reader = new RequestReader({ maxLineBytes, maxRequestBytes: 64 * 1024 });
  const events: ReaderEvent[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (cut < from) continue;
    reader.push(bytes.subarray(from, cut));
    from = cut;
    for (let e = reader.take(); e !== null; e = reader.take()) events.push(e);
  }
  return events;
}

export function uapiTarget(): FuzzTarget<string> {
  const seeds = uapiSeeds();
  return {
    name: 'uapi',
    seeds: () => seeds,
    mutate: (prng, input, corpus) => mutateText(prng, input, corpus, UAPI_DICTIONARY, true),
    encode: (input) => JSON.stringify(input),
    decode: (text) => JSON.parse(text) as string,
    run(input, prng) {
      const features: string[] = [];
      // A small line limit so the too-long paths are reachable by mutation.
      const maxLine = prng.chance(0.2) ? 80 : 65_535;
      const whole = readAll(input, [], maxLine);
      const cuts: number[] = [];
      for (let i = prng.below(4); i > 0; i--) cuts.push(prng.below(input.length + 1));
      cuts.sort((a, b) => a - b);
      const chunked = readAll(input, cuts, maxLine);
      invariant(
        JSON.stringify(whole) === JSON.stringify(chunked),
        `chunking at ${cuts.join(',')} changed the reader's events`,
      );
      let ended = false;
      for (const e of whole) {
        invariant(!ended, `event ${e.kind} after a fail/close`);
        features.push(`reader:${e.kind}${e.kind === 'reply' || e.kind === 'fail' ? `:${e.errno}` : ''}`);
        if (e.kind === 'reply' || e.kind === 'fail') {
          invariant(KNOWN_READER_ERRNO.has(e.errno), `reader errno ${e.errno}`);
          features.push(`reader:${e.kind}:${normalise(e.reason)}`);
        }
        if (e.kind === 'close') features.push(`reader:close:${normalise(e.reason)}`);
        if (e.kind === 'fail' || e.kind === 'close') ended = true;
        if (e.kind !== 'set') continue;
        let set: DeviceSet;
        try {
          set = parseSet(e.lines);
        } catch (err) {
          invariant(err instanceof UapiError, `parseSet threw a non-UapiError: ${String(err)}`);
          invariant(KNOWN_PARSE_ERRNO.has(err.errno), `parseSet errno ${err.errno}`);
          features.push(`parse:${err.errno}:${normalise(err.message)}`);
          continue;
        }
        checkDeviceSet(set);
        const text = formatSet(set);
        const again = formatSet(parseSet(setBodyLines(text)));
        invariant(again === text, `formatSet is not a fixed point:\n${text}\n---\n${again}`);
        features.push(`parse:ok:peers=${Math.min(set.peers.length, 3)}`);
        for (const line of e.lines) features.push(`key:${line.slice(0, Math.max(0, line.indexOf('=')))}`);
      }
      return features;
    },
  };
}

// ---- config target -------------------------------------------------------------------------------

const CONFIG_DICTIONARY = [
  '[Interface]',
  '[Peer]',
  '[interface]',
  '[Peer',
  '[]',
  'PrivateKey = ',
  'ListenPort = ',
  'FwMark = ',
  'PublicKey = ',
  'PresharedKey = ',
  'AllowedIPs = ',
  'Endpoint = ',
  'PersistentKeepalive = ',
  'Address = 10.0.0.1/24',
  'MTU = 1420',
  'off',
  '0x0',
  '0xffffffff',
  '0x100000000',
  '65535',
  '65536',
  '0',
  '=',
  '#',
  ',',
  ', ,',
  'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
  'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
  '////////////////////////////////////////////8=',
  'example.com:51820',
  '[::1]:51820',
  '[fe80::1%eth0]:51820',
  '::1:51820',
  'host:0',
  ':51820',
  '10.0.0.0/8, fd00::/64',
  '10.0.0.1',
  '10.0.0.1/33',
  '::/0',
  '+10.0.0.0/8',
  '-10.0.0.0/8',
  '\uFEFF',
  '\r',
  '\0',
];

export function configSeeds(): string[] {
  const prng = new Prng(0x0c0f16);
  const m = seedMaterial(prng);
  const k = (b: Uint8Array): string => keyToBase64(b);
  return [
    `[Interface]\nPrivateKey = ${k(m.priv)}\nListenPort = 51820\nFwMark = 0x1234\n\n` +
      `[Peer]\nPublicKey = ${k(m.pubs[0]!)}\nPresharedKey = ${k(m.psk)}\n` +
      `AllowedIPs = 10.0.0.0/8, fd00::/64\nAllowedIPs = 192.168.1.1\n` +
      `Endpoint = 192.0.2.1:51820\nPersistentKeepalive = 25\n\n` +
      `[Peer]\nPublicKey = ${k(m.pubs[1]!)}\nEndpoint = [2001:db8::1]:1\nAllowedIPs = ::/0\n`,
    `# comment\n[interface]\nprivate key = ${k(m.priv)} # trailing\nlistenport=0\n[Interface]\nFwMark = off\n` +
      `[peer]\npublickey=${k(m.pubs[2]!)}\nendpoint = example.com:51820\nallowedips=\npersistentkeepalive = off\n`,
    `[Interface]\nPrivateKey = ${k(m.priv)}\nAddress = 10.0.0.1/24\nDNS = 1.1.1.1\nMTU = 1420\n` +
      `[Peer]\nPublicKey = ${k(m.pubs[0]!)}\nAllowedIPs = 10.0.0.2/32\n`,
    '',
    '[Interface]\n',
  ];
}

function checkConfig(c: WgConfig, file: string): void {
  checkKey(c.privateKey, 'private key');
  if (c.listenPort !== undefined) invariant(isInt(c.listenPort, 0, 65535), `listen port ${c.listenPort}`);
  if (c.fwmark !== undefined) invariant(isInt(c.fwmark, 0, 0xffffffff), `fwmark ${c.fwmark}`);
  for (const p of c.peers) {
    checkKey(p.publicKey, 'public key');
    checkKey(p.presharedKey, 'preshared key');
    for (const a of p.allowedIPs) checkPrefix(a, 'allowed IP');
    if (p.persistentKeepalive !== undefined) {
      invariant(isInt(p.persistentKeepalive, 0, 65535), `keepalive ${p.persistentKeepalive}`);
    }
    if (p.endpoint?.address !== undefined && p.endpoint.address !== null) {
      const n = p.endpoint.address.length;
      invariant(n === 4 || n === 16, `endpoint address of ${n} bytes`);
    }
    if (p.endpoint !== undefined)
      invariant(isInt(p.endpoint.port, 0, 65535), `endpoint port ${p.endpoint.port}`);
  }
  for (const w of c.warnings) invariant(w.startsWith(`${file}:`), `warning without FILE: ${w}`);
}

export function configTarget(): FuzzTarget<string> {
  const seeds = configSeeds();
  const file = 'fuzz.conf';
  return {
    name: 'config',
    seeds: () => seeds,
    mutate: (prng, input, corpus) => mutateText(prng, input, corpus, CONFIG_DICTIONARY, false),
    encode: (input) => JSON.stringify(input),
    decode: (text) => JSON.parse(text) as string,
    run(input, prng) {
      const lineCount = Math.max(1, input.split('\n').length);
      const quick = prng.chance(0.3);
      let config: WgConfig;
      try {
        config = parseWgConfig(
          input,
          file,
          quick ? { ignoreInterfaceKeys: ['Address', 'DNS', 'MTU', 'Table', 'SaveConfig'] } : {},
        );
      } catch (err) {
        invariant(err instanceof ConfigError, `parseWgConfig threw a non-ConfigError: ${String(err)}`);
        const m = /^fuzz\.conf:(\d+): ./s.exec(err.message);
        invariant(m !== null, `ConfigError message is not FILE:LINE: …: ${JSON.stringify(err.message)}`);
        const line = Number(m[1]);
        invariant(line >= 1 && line <= lineCount, `ConfigError line ${line} outside 1..${lineCount}`);
        invariant(err.line === line && err.file === file, 'ConfigError fields differ from its message');
        return [`error:${err.code}`, `error:${err.code}:${normalise(err.detail)}`];
      }
      checkConfig(config, file);
      const features = [`ok:peers=${Math.min(config.peers.length, 3)}`, `ok:quick=${quick}`];
      // configToDeviceSet needs resolved endpoints (resolveWgConfig); hostnames are left unresolved.
      const resolved = config.peers.every((p) => p.endpoint === undefined || p.endpoint.address != null);
      features.push(`ok:resolved=${resolved}`);
      for (const mode of resolved ? (['set', 'add'] as const) : []) {
        checkDeviceSet(configToDeviceSet(config, mode), false);
      }
      // Up to the value (`Warning: what: value`): the value would make every address a feature.
      for (const w of config.warnings)
        features.push(`warning:${normalise(w).split(': ').slice(0, 2).join(': ')}`);
      return features;
    },
  };
}
