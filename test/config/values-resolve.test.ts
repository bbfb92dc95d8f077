/**
 * The value parsers shared by config files and `wgts set`, glibc-exact `%.2f`, and endpoint
 * resolution with wg's retry schedule, messages and WG_ENDPOINT_RESOLUTION_RETRIES (a fake lookup
 * and sleep stand in for DNS and time).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatFixed2 } from '../../src/config/format.js';
import { endpointRetriesFromEnv, resolveEndpoint, resolveWgConfig } from '../../src/config/resolve.js';
import {
  ValueError,
  parseAllowedIPs,
  parseEndpointSpec,
  parseFwmark,
  parseKeepalive,
  parsePort,
} from '../../src/config/values.js';
import { ConfigError, parseWgConfig } from '../../src/config/wg-config.js';

test('formatFixed2 rounds exact ties to even as glibc printf does, otherwise like toFixed', () => {
  const cases: [number, string][] = [
    [1.125, '1.12'],
    [1.375, '1.38'],
    [1.625, '1.62'],
    [1.875, '1.88'],
    [2.5, '2.50'],
    [0.005, '0.01'], // not exactly representable: above the tie
    [1152 / 1024, '1.12'],
    [1.2, '1.20'],
    [1023.999, '1024.00'],
    [12345.875, '12345.88'],
  ];
  for (const [x, want] of cases) assert.equal(formatFixed2(x), want, String(x));
});

test('ports, fwmarks and keepalives: wg syntax, strict ranges', () => {
  assert.equal(parsePort('0'), 0);
  assert.equal(parsePort('65535'), 65535);
  assert.equal(parsePort('00080'), 80);
  for (const bad of ['65536', '-1', '0x10', 'ssh', ' 1', '1.0'])
    assert.throws(() => parsePort(bad), ValueError, bad);
  assert.throws(() => parsePort(''), /Unable to parse empty port/);
  assert.equal(parseFwmark('OFF'), 0);
  assert.equal(parseFwmark('0'), 0);
  assert.equal(parseFwmark('0x00000000ff'), 255);
  assert.equal(parseFwmark('0123'), 123, 'decimal, not octal (strtoul base 10)');
  assert.equal(parseFwmark('4294967295'), 0xffffffff);
  for (const bad of ['0x', '0X1', '4294967296', '0x100000000', '-1', 'x1', 'on']) {
    assert.throws(() => parseFwmark(bad), /Fwmark is neither 0\/off nor 0-0xffffffff/, bad);
  }
  assert.equal(parseKeepalive('off'), 0);
  assert.equal(parseKeepalive('0'), 0);
  assert.equal(parseKeepalive('65535'), 65535);
  for (const bad of ['65536', '-1', '1s', '']) {
    assert.throws(
      () => parseKeepalive(bad),
      /Persistent keepalive interval is neither 0\/off nor 1-65535/,
      bad,
    );
  }
});

test('allowed-IP lists: bare hosts, signs only when allowed, empty list', () => {
  assert.deepEqual(parseAllowedIPs('', true), []);
  const l = parseAllowedIPs('10.0.0.1,+10.1.0.0/16,-fd00::/8', true);
  assert.deepEqual(
    l.map((e) => [e.op, e.prefix.cidr, e.hostBits]),
    [
      ['replace', 32, false],
      ['add', 16, false],
      ['remove', 8, false],
    ],
  );
  assert.throws(() => parseAllowedIPs('+10.0.0.0/8', false), /only for `set'/);
  assert.throws(
    () => parseAllowedIPs('10.0.0.0/', true),
    /AllowedIP is not in the correct format: `10.0.0.0\/'/,
  );
  assert.throws(() => parseAllowedIPs('10.0.0.0/x', true), /AllowedIP is not in the correct format/);
  assert.equal(parseAllowedIPs('10.1.2.3/8', false)[0]!.hostBits, true);
});

test("endpoints: literals, hostnames, and wg's messages for broken ones", () => {
  assert.deepEqual(parseEndpointSpec('192.0.2.1:51820').address, new Uint8Array([192, 0, 2, 1]));
  assert.equal(parseEndpointSpec('[::1]:1').address?.[15], 1);
  assert.equal(parseEndpointSpec('vpn.example.com:51820').address, null);
  assert.equal(parseEndpointSpec('localhost:1').host, 'localhost');
  assert.throws(() => parseEndpointSpec(''), /Unable to parse empty endpoint/);
  assert.throws(() => parseEndpointSpec('[::1'), /Unable to find matching brace of endpoint: `\[::1'/);
  assert.throws(() => parseEndpointSpec('[::1]'), /Unable to find port of endpoint/);
  assert.throws(() => parseEndpointSpec('[::1]:'), /Unable to find port of endpoint/);
  assert.throws(() => parseEndpointSpec('host:'), /Unable to find port of endpoint/);
  assert.throws(() => parseEndpointSpec('host:0'), /port/);
});

test("WG_ENDPOINT_RESOLUTION_RETRIES: default 15, infinity, digits, wg's error otherwise", () => {
  assert.equal(endpointRetriesFromEnv({}), 15);
  assert.equal(endpointRetriesFromEnv({ WG_ENDPOINT_RESOLUTION_RETRIES: 'infinity' }), -1);
  assert.equal(endpointRetriesFromEnv({ WG_ENDPOINT_RESOLUTION_RETRIES: '3' }), 3);
  assert.equal(endpointRetriesFromEnv({ WG_ENDPOINT_RESOLUTION_RETRIES: '' }), 0);
  assert.throws(
    () => endpointRetriesFromEnv({ WG_ENDPOINT_RESOLUTION_RETRIES: 'lots' }),
    /Unable to parse WG_ENDPOINT_RESOLUTION_RETRIES: `lots'/,
  );
});

function failing(codes: string[], then?: string): (host: string) => Promise<string> {
  let i = 0;
  return async () => {
    const code = codes[i++];
    if (code === undefined) {
      if (then === undefined) throw new Error('unexpected extra lookup');
      return then;
    }
    throw Object.assign(new Error(code), { code });
  };
}

test("transient failures are retried on wg's schedule with wg's message; then it resolves", async () => {
  const sleeps: number[] = [];
  const messages: string[] = [];
  const ep = await resolveEndpoint(parseEndpointSpec('vpn.example:51820'), {
    retries: 15,
    lookup: failing(['EAI_AGAIN', 'EAI_AGAIN', 'EAI_AGAIN'], '2001:db8::7'),
    sleep: async (ms) => void sleeps.push(ms),
    onRetry: (m) => messages.push(m),
  });
  assert.equal(ep.port, 51820);
  assert.equal(ep.address.length, 16);
  assert.deepEqual(sleeps, [1000, 1200, 1440]);
  assert.deepEqual(messages, [
    "Temporary failure in name resolution: `vpn.example:51820'. Trying again in 1.00 seconds...",
    "Temporary failure in name resolution: `vpn.example:51820'. Trying again in 1.20 seconds...",
    "Temporary failure in name resolution: `vpn.example:51820'. Trying again in 1.44 seconds...",
  ]);
});

test('retries run out after WG_ENDPOINT_RESOLUTION_RETRIES; the delay caps at 20 s', async () => {
  const sleeps: number[] = [];
  await assert.rejects(
    resolveEndpoint(parseEndpointSpec('h.example:1'), {
      retries: 20,
      lookup: failing(Array(21).fill('EAI_AGAIN')),
      sleep: async (ms) => void sleeps.push(ms),
      onRetry: () => {},
    }),
    /^ValueError: Temporary failure in name resolution: `h.example:1'$/,
  );
  assert.equal(sleeps.length, 20);
  assert.equal(sleeps[sleeps.length - 1], 20_000);
  await assert.rejects(
    resolveEndpoint(parseEndpointSpec('h.example:1'), {
      retries: 0,
      lookup: failing(['EAI_AGAIN']),
      sleep: async () => assert.fail('no sleep with 0 retries'),
    }),
    /Temporary failure/,
  );
});

test('permanent failures fail at once; a config error names the Endpoint line', async () => {
  await assert.rejects(
    resolveEndpoint(parseEndpointSpec('nx.example:1'), {
      lookup: failing(['ENOTFOUND']),
      sleep: async () => assert.fail('permanent failures are not retried'),
    }),
    /Name or service not known: `nx.example:1'/,
  );
  const config = parseWgConfig(
    '[Peer]\nPublicKey = tBPBrV17YJcS3XQhD9rF1+E+UivPPMtZYjR5wwQzPhI=\n\nEndpoint = nx.example:1\n',
    'wg9.conf',
  );
  await assert.rejects(
    resolveWgConfig(config, { lookup: failing(['EAI_FAIL']) }),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.line === 4 &&
      err.message === "wg9.conf:4: Endpoint: Non-recoverable failure in name resolution: `nx.example:1'",
  );
  const ok = await resolveWgConfig(config, { lookup: async () => '192.0.2.9' });
  assert.deepEqual(ok.peers[0]!.endpoint?.address, new Uint8Array([192, 0, 2, 9]));
});

test('the real resolver resolves localhost', async () => {
  const ep = await resolveEndpoint(parseEndpointSpec('localhost:9'), { retries: 0 });
  assert.ok(ep.address.length === 4 || ep.address.length === 16);
  assert.equal(ep.port, 9);
});
