/**
 * WGTS_RESOLVE_INTERVAL=SECONDS: how often wgtsd re-resolves endpoints configured as hostnames
 * (docs/uapi-extensions.md); unset or empty is RESOLVE_INTERVAL_DEFAULT_S, 0 turns the interval
 * off (a stalled handshake still re-resolves). Anything but whole seconds is refused at start, so
 * a typo is not silently the default.
 */
import { RESOLVE_INTERVAL_DEFAULT_S } from '../constants.js';

/** The interval in milliseconds; throws Error with a message for the user when malformed. */
export function resolveIntervalMsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const v = env['WGTS_RESOLVE_INTERVAL'];
  if (v === undefined || v === '') return RESOLVE_INTERVAL_DEFAULT_S * 1000;
  if (!/^[0-9]{1,9}$/.test(v)) {
    throw new Error(`WGTS_RESOLVE_INTERVAL=${v} is not a whole number of seconds (0 turns it off)`);
  }
  return Number(v) * 1000;
}
