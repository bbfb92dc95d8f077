/**
 * The port of wireguard-go's tests/netns.sh (test/selftest/wggo-netns.ts) run against wgtsd with
 * the per-packet data path and no TUN/UDP offloads (WGTS_OFFLOAD=0).
 */
import { defineNetnsSuite } from './wggo-netns.js';

defineNetnsSuite({
  title: 'wgtsd, offload off',
  letter: 'b',
  impl: 'wgtsd',
  env: { WGTS_OFFLOAD: '0' },
  startLine: /data path: per packet/,
});
