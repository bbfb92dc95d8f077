/**
 * WGTS_AEAD (src/device/aead-engine.ts): the engine names parsed, the addon switched, and a bad
 * value or an engine this node cannot run logged with the engine kept. The bytes each engine
 * produces are compared in test/io/aead-batch.test.ts (against node:crypto and @noble/ciphers).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { applyAeadEngine, parseAeadEngine } from '../../src/device/aead-engine.js';
import { tryLoadNative } from '../../src/io/native.js';

const native = tryLoadNative();
const skip = native === null ? 'no native addon' : false;

describe('WGTS_AEAD', () => {
  test('direct and evp are taken, empty means the default, anything else is an error', () => {
    assert.equal(parseAeadEngine(undefined), null);
    assert.equal(parseAeadEngine(' '), null);
    assert.equal(parseAeadEngine('direct'), 'direct');
    assert.equal(parseAeadEngine(' evp '), 'evp');
    for (const bad of ['EVP', 'openssl', '1', 'direct,evp'])
      assert.ok(parseAeadEngine(bad) instanceof Error, bad);
  });

  test('applyAeadEngine switches the addon and logs what it cannot do', { skip }, () => {
    const errors: string[] = [];
    const log = { verboseEnabled: false, verbose: () => {}, error: (m: string) => errors.push(m) };
    const was = native!.aeadEngine!();
    try {
      assert.equal(applyAeadEngine(native, log, { WGTS_AEAD: 'evp' }), 'evp');
      assert.equal(native!.aeadEngine!(), 'evp');
      assert.equal(
        applyAeadEngine(native, log, { WGTS_AEAD: 'fast' }),
        'evp',
        'a bad value keeps the engine',
      );
      assert.equal(errors.length, 1);
      assert.match(errors[0]!, /WGTS_AEAD=fast/);
      assert.equal(applyAeadEngine(native, log, {}), 'evp', 'unset changes nothing');
      assert.equal(applyAeadEngine(null, log, { WGTS_AEAD: 'evp' }), null, 'no addon: no engine');
      // direct: taken where node exports the primitives, else logged and evp kept.
      const got = applyAeadEngine(native, log, { WGTS_AEAD: 'direct' });
      if (got === 'evp') assert.match(errors.at(-1)!, /WGTS_AEAD=direct/);
      else assert.equal(errors.length, 1);
    } finally {
      native!.aeadEngine!(was);
    }
  });
});
