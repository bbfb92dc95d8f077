/**
 * The kernel netns.sh sections (test/selftest/kernel-netns.ts) against wgtsd with its batched data
 * path (WGTS_OFFLOAD=1, the default): TUN offloads, UDP GSO/GRO, bulk AEAD.
 */
import { defineKernelSuite } from './kernel-netns.js';

defineKernelSuite({ title: 'wgtsd, offload on', letter: 'o', impl: 'wgtsd', env: { WGTS_OFFLOAD: '1' } });
