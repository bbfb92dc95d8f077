/**
 * The port of wireguard-go's tests/netns.sh (test/selftest/wggo-netns.ts) run against Debian's
 * wireguard-go 0.0.20220316 as the control: what passes here is what wgtsd must match, and where
 * the control itself fails a section the test says so and asserts what it does instead.
 */
import { defineNetnsSuite } from './wggo-netns.js';

defineNetnsSuite({ title: "Debian's wireguard-go (control)", letter: 'c', impl: 'wireguard-go' });
