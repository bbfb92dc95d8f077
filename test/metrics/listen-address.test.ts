/**
 * The metrics listen address (src/metrics/listen-address.ts): HOST:PORT with IPv6 in brackets,
 * and errors that name the bad value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatListenAddress, parseListenAddress } from '../../src/metrics/listen-address.js';

test('good addresses parse to host and port', () => {
  assert.deepEqual(parseListenAddress('127.0.0.1:9586'), { host: '127.0.0.1', port: 9586 });
  assert.deepEqual(parseListenAddress('[::1]:9586'), { host: '::1', port: 9586 });
  assert.deepEqual(parseListenAddress('[fd00:1::2]:1'), { host: 'fd00:1::2', port: 1 });
  assert.deepEqual(parseListenAddress('localhost:65535'), { host: 'localhost', port: 65535 });
  assert.deepEqual(parseListenAddress(':9586'), { host: '', port: 9586 });
  assert.equal(formatListenAddress(parseListenAddress('[::1]:9586')), '[::1]:9586');
});

test('bad addresses are refused with a message naming the value', () => {
  for (const bad of [
    '',
    '9586',
    '127.0.0.1',
    '127.0.0.1:',
    '127.0.0.1:0',
    '127.0.0.1:65536',
    '127.0.0.1:95x6',
    '127.0.0.1:+80',
    '::1:9586',
    '[::1]9586',
    '[::1]',
    '[127.0.0.1]:80',
    '[zz::1]:80',
    'bad host:80',
    'a_b:80',
  ]) {
    assert.throws(
      () => parseListenAddress(bad, 'WGTS_METRICS value'),
      (err: Error & { code?: string }) =>
        err.code === 'EINVAL' && err.message.includes(`invalid WGTS_METRICS value '${bad}'`),
      bad,
    );
  }
});
