/**
 * Which implementation of ChaCha20-Poly1305 (RFC 8439) the native batch AEAD uses
 * (native/chacha-poly.h): "direct" composes the AEAD from the ChaCha20 and Poly1305 primitives
 * that Node's OpenSSL exports (one keystream pass per packet; the default wherever node exports
 * them), "evp" goes through OpenSSL's EVP interface (three keystream passes per packet; the only
 * choice for a node linked against a shared libcrypto). Both give identical bytes (test/io);
 * WGTS_AEAD picks one, for an A/B or should a platform's primitives misbehave.
 */
import type { NativeAddon } from '../io/native.js';
import type { Logger } from './logger.js';

export type AeadEngine = 'direct' | 'evp';

/** WGTS_AEAD's value: null when unset or empty (the addon's default), else the engine or Error. */
export function parseAeadEngine(value: string | undefined): AeadEngine | null | Error {
  if (value === undefined || value.trim() === '') return null;
  const s = value.trim();
  if (s === 'direct' || s === 'evp') return s;
  return new Error(`WGTS_AEAD=${value} is neither direct nor evp`);
}

/**
 * Applies WGTS_AEAD to the native addon; returns the engine in use, or null without an addon
 * that has engines. A bad value, or "direct" where node does not export the primitives, is
 * logged and the addon's default kept.
 */
export function applyAeadEngine(
  native: NativeAddon | null,
  log?: Logger,
  env: NodeJS.ProcessEnv = process.env,
): AeadEngine | null {
  if (native === null || typeof native.aeadEngine !== 'function') return null;
  const want = parseAeadEngine(env['WGTS_AEAD']);
  if (want instanceof Error) {
    log?.error(`${want.message}; using ${native.aeadEngine()}`);
  } else if (want !== null) {
    try {
      native.aeadEngine(want);
    } catch (err) {
      log?.error(`WGTS_AEAD=${want}: ${(err as Error).message}; using ${native.aeadEngine()}`);
    }
  }
  return native.aeadEngine();
}
