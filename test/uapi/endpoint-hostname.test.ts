/**
 * The wgts UAPI extension for endpoint hostnames (docs/uapi-extensions.md): the codec's
 * `wgts_endpoint_hostname` key (only after an endpoint, same port, a name and never an address, a
 * later endpoint forgets it, formatSet/parseSet round trip); the announcement file that tells wgts
 * a socket is wgtsd's (valid only for the socket inode it names); setForDaemon dropping the key for
 * any other daemon; and how the CLI's requests carry the name (setconf, syncconf, `set`).
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configToDeviceSet, syncToDeviceSet } from '../../src/config/device-set.js';
import { resolveWgConfig } from '../../src/config/resolve.js';
import type { DeviceConfigState } from '../../src/config/serialize.js';
import { parseWgConfig } from '../../src/config/wg-config.js';
import { parseSetArgs, setArgsToDeviceSet } from '../../src/cli/set.js';
import { formatSet, parseSet, setBodyLines } from '../../src/uapi/codec.js';
import { EINVAL, UapiError } from '../../src/uapi/errno.js';
import {
  WGTSD_EXTENSIONS,
  announceExtensions,
  announcementPath,
  daemonExtensions,
  setForDaemon,
  withdrawExtensions,
} from '../../src/uapi/extensions.js';
import type { DeviceSet } from '../../src/uapi/types.js';
import { isHostname, parseEndpointHostname } from '../../src/uapi/values.js';
import { resolveIntervalMsFromEnv } from '../../src/daemon/resolve-interval.js';

const PK = 'a'.repeat(64);

function parse(...lines: string[]): DeviceSet {
  return parseSet(lines);
}

function errnoOf(fn: () => unknown): number | null {
  try {
    fn();
    return null;
  } catch (err) {
    if (err instanceof UapiError) return err.errno;
    throw err;
  }
}

describe('codec: wgts_endpoint_hostname', () => {
  test('parsed after an endpoint, formatted after it, round trip', () => {
    const set = parse(
      `public_key=${PK}`,
      'endpoint=192.0.2.1:51820',
      'wgts_endpoint_hostname=vpn.example.org:51820',
    );
    assert.deepEqual(set.peers[0]!.endpointHostname, { host: 'vpn.example.org', port: 51820 });
    const body = formatSet(set);
    assert.equal(
      body,
      `public_key=${PK}\nendpoint=192.0.2.1:51820\nwgts_endpoint_hostname=vpn.example.org:51820\n`,
    );
    assert.deepEqual(parseSet(setBodyLines(body)), set);
  });

  test('refused without an endpoint before it, with another port, or with an address', () => {
    assert.equal(
      errnoOf(() => parse(`public_key=${PK}`, 'wgts_endpoint_hostname=peer.test:1')),
      EINVAL,
    );
    assert.equal(
      errnoOf(() => parse(`public_key=${PK}`, 'endpoint=192.0.2.1:2', 'wgts_endpoint_hostname=peer.test:1')),
      EINVAL,
    );
    for (const bad of [
      '192.0.2.1:1',
      '[::1]:1',
      '::1:1',
      'peer.test',
      'peer.test:0',
      'a b:1',
      ':1',
      'x:65536',
    ]) {
      assert.equal(
        errnoOf(() => parse(`public_key=${PK}`, 'endpoint=192.0.2.1:1', `wgts_endpoint_hostname=${bad}`)),
        EINVAL,
        bad,
      );
    }
    assert.equal(
      errnoOf(() => parse('wgts_endpoint_hostname=peer.test:1')),
      EINVAL,
      'not a device key',
    );
  });

  test('a later endpoint in the same section forgets the name', () => {
    const set = parse(
      `public_key=${PK}`,
      'endpoint=192.0.2.1:1',
      'wgts_endpoint_hostname=peer.test:1',
      'endpoint=192.0.2.2:1',
    );
    assert.equal(set.peers[0]!.endpointHostname, undefined);
    assert.doesNotMatch(formatSet(set), /wgts_/);
  });

  test('hostname syntax is one rule for wg configs and the UAPI', () => {
    assert.equal(isHostname('peer.test'), true);
    assert.equal(isHostname('under_score.example.'), true);
    assert.equal(isHostname('192.0.2.1'), false);
    assert.equal(isHostname('-bad.test'), false);
    assert.deepEqual(parseEndpointHostname('peer.test:51820'), { host: 'peer.test', port: 51820 });
  });
});

describe('the announcement', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dn-ext-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('counts only for the socket inode it names, and is withdrawn by its writer', () => {
    const sock = join(dir, 'dnwg0.sock');
    assert.equal(announcementPath(sock), join(dir, 'dnwg0.wgts'));
    assert.equal(daemonExtensions(sock).size, 0, 'nothing announced: wireguard-go');
    writeFileSync(sock, ''); // stands in for the socket: only its inode matters
    const ino = statSync(sock).ino;
    announceExtensions(sock, ino);
    assert.deepEqual([...daemonExtensions(sock)], [...WGTSD_EXTENSIONS]);
    // The daemon died and another took the name: another socket file, another inode.
    rmSync(sock);
    writeFileSync(join(dir, 'spacer'), ''); // keep the old inode number from being reused at once
    writeFileSync(sock, '');
    assert.notEqual(statSync(sock).ino, ino);
    assert.equal(daemonExtensions(sock).size, 0, 'a stale announcement is ignored');
    withdrawExtensions(sock, statSync(sock).ino);
    assert.ok(existsSync(announcementPath(sock)), "only the writer's own announcement is removed");
    withdrawExtensions(sock, ino);
    assert.ok(!existsSync(announcementPath(sock)));
  });

  test('a malformed announcement is no announcement', () => {
    const sock = join(dir, 'dnwg1.sock');
    writeFileSync(sock, '');
    writeFileSync(announcementPath(sock), '{"socketInode":"x"');
    assert.equal(daemonExtensions(sock).size, 0);
  });
});

describe('requests from the CLI', () => {
  const KEY_B64 = Buffer.alloc(32, 7).toString('base64');
  const lookup = (host: string): Promise<string> =>
    host === 'peer.test'
      ? Promise.resolve('192.0.2.44')
      : Promise.reject(Object.assign(new Error('x'), { code: 'ENOTFOUND' }));

  test('setconf carries the name of a hostname endpoint, not of an address', async () => {
    const text =
      `[Interface]\nPrivateKey = ${KEY_B64}\n[Peer]\nPublicKey = ${KEY_B64}\nEndpoint = peer.test:51820\n` +
      `[Peer]\nPublicKey = ${Buffer.alloc(32, 8).toString('base64')}\nEndpoint = 192.0.2.9:1\n`;
    const config = await resolveWgConfig(parseWgConfig(text, 'dn.conf'), { lookup, retries: 0 });
    const set = configToDeviceSet(config, 'set');
    assert.deepEqual(set.peers[0]!.endpointHostname, { host: 'peer.test', port: 51820 });
    assert.deepEqual([...set.peers[0]!.endpoint!.address], [192, 0, 2, 44]);
    assert.equal(set.peers[1]!.endpointHostname, undefined);
    // To a daemon that does not announce the extension, the request is what wg sends.
    const plain = formatSet(setForDaemon(set, new Set()));
    assert.doesNotMatch(plain, /wgts_/);
    assert.match(
      formatSet(setForDaemon(set, new Set(WGTSD_EXTENSIONS))),
      /wgts_endpoint_hostname=peer\.test:51820\n/,
    );
    assert.equal(setForDaemon(set, new Set(WGTSD_EXTENSIONS)), set);
  });

  test('syncconf restates a hostname endpoint even when the address is unchanged', async () => {
    const text = `[Interface]\n[Peer]\nPublicKey = ${KEY_B64}\nEndpoint = peer.test:51820\n`;
    const config = await resolveWgConfig(parseWgConfig(text, 'dn.conf'), { lookup, retries: 0 });
    const current: DeviceConfigState = {
      privateKey: null,
      listenPort: 1,
      fwmark: 0,
      peers: [
        {
          publicKey: new Uint8Array(32).fill(7),
          presharedKey: null,
          endpoint: { address: Uint8Array.of(192, 0, 2, 44), port: 51820 },
          persistentKeepalive: 0,
          allowedIPs: [],
        },
      ],
    };
    const set = syncToDeviceSet(config, current);
    assert.equal(set.peers.length, 1);
    assert.deepEqual(set.peers[0]!.endpointHostname, { host: 'peer.test', port: 51820 });
  });

  test('wgts set: a hostname goes along, an address does not', async () => {
    const set = await setArgsToDeviceSet(
      parseSetArgs(['peer', KEY_B64, 'endpoint', '192.0.2.5:7'], () => {}),
    );
    assert.equal(set.peers[0]!.endpointHostname, undefined);
    assert.equal(set.peers[0]!.endpoint?.port, 7);
  });
});

describe('WGTS_RESOLVE_INTERVAL', () => {
  test('seconds, default 120, 0 off, anything else refused', () => {
    assert.equal(resolveIntervalMsFromEnv({}), 120_000);
    assert.equal(resolveIntervalMsFromEnv({ WGTS_RESOLVE_INTERVAL: '' }), 120_000);
    assert.equal(resolveIntervalMsFromEnv({ WGTS_RESOLVE_INTERVAL: '2' }), 2_000);
    assert.equal(resolveIntervalMsFromEnv({ WGTS_RESOLVE_INTERVAL: '0' }), 0);
    for (const bad of ['-1', '1.5', '2s', ' 2', '9999999999']) {
      assert.throws(
        () => resolveIntervalMsFromEnv({ WGTS_RESOLVE_INTERVAL: bad }),
        /WGTS_RESOLVE_INTERVAL/,
        bad,
      );
    }
  });
});
