/**
 * The kernel netns.sh sections (test/selftest/kernel-netns.ts) against wgtsd with its per-packet
 * data path (WGTS_OFFLOAD=0): plain TUN and UDP I/O, node:crypto.
 */
import { defineKernelSuite } from './kernel-netns.js';

defineKernelSuite({ title: 'wgtsd, offload off', letter: 'f', impl: 'wgtsd', env: { WGTS_OFFLOAD: '0' } });
