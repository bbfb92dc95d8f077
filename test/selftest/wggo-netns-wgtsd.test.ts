/**
 * The port of wireguard-go's tests/netns.sh (test/selftest/wggo-netns.ts) run against wgtsd with
 * its default batched data path and TUN/UDP offloads (WGTS_OFFLOAD=1).
 */
import { defineNetnsSuite } from './wggo-netns.js';

defineNetnsSuite({
  title: 'wgtsd, offload on',
  letter: 'a',
  impl: 'wgtsd',
  env: { WGTS_OFFLOAD: '1' },
  startLine: /data path: batched/,
});
