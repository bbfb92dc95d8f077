/**
 * The kernel netns.sh sections (test/selftest/kernel-netns.ts) against Debian's wireguard-go
 * 0.0.20220316 as the control: where it fails a section, the test says so and asserts what it
 * does instead (padding to the device MTU, no ICMP unreachable, no loop guard, nothing sent when
 * the private key is set after the link came up).
 */
import { defineKernelSuite } from './kernel-netns.js';

defineKernelSuite({ title: "Debian's wireguard-go (control)", letter: 'k', impl: 'wireguard-go' });
