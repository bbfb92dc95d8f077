/**
 * Where the rootless backend gets its network stack: a factory that builds a userspace TCP/IP
 * stack (src/netstack: IP RFC 791/8200, ICMP RFC 792/4443, UDP RFC 768, TCP RFC 9293) on a
 * UserspaceTun and returns it as a TunnelNetwork (Node-shaped sockets). `WireGuard.open` uses the
 * factory given in its options, else `defaultUserspaceStack` below.
 *
 * A factory is injectable so tests can put a scripted stack behind a real device.
 */
import type { TunnelNetwork } from '../netstack/network-types.js';
import type { IPPrefix } from '../routing/ip.js';
import type { UserspaceTun } from './userspace-tun.js';
import { randomBytes } from 'node:crypto';
import { resolve } from '../netstack/dns-resolver.js';
import { StackDriver } from '../netstack/driver.js';
import { UserspaceNetwork } from '../netstack/network.js';
import { NetStack } from '../netstack/stack.js';
import { TcpLayer } from '../netstack/tcp/layer.js';
import type { StackHost } from '../netstack/types.js';

export interface UserspaceStackOptions {
  /** The interface's addresses (wg-quick Address), host bits as written. */
  readonly addresses: readonly IPPrefix[];
  /** The link MTU: the largest IP packet the stack may send. */
  readonly mtu: number;
  /** DNS servers (wg-quick DNS), 4 or 16 bytes each, for TunnelNetwork.lookup. */
  readonly dns: readonly Uint8Array[];
  /** The packets' way in and out: attach() the stack's input, deliver() its output. */
  readonly tun: UserspaceTun;
}

/** A running stack: the network it offers, and how to stop it (timers, sockets). */
export interface UserspaceStack {
  readonly network: TunnelNetwork;
  /** Releases every timer and socket of the stack. Called once, by WireGuard.close. */
  close(): void;
}

export type UserspaceStackFactory = (options: UserspaceStackOptions) => UserspaceStack;

/**
 * The default stack: NetStack (IP, ICMP, UDP) with the TcpLayer registered, driven by one
 * StackDriver timer, offered as a UserspaceNetwork whose lookups go to the interface's DNS servers
 * through the tunnel. Decrypted packets reach NetStack.input a device batch at a time; what the
 * stack sends goes out through the tun, which batches it back into the device per microtask.
 */
/** The default stack with its parts in view (for tests and tools that inspect its tables). */
export interface BuiltUserspaceStack extends UserspaceStack {
  readonly netstack: NetStack;
  readonly tcp: TcpLayer;
  readonly driver: StackDriver;
}

export function buildUserspaceStack(options: UserspaceStackOptions): BuiltUserspaceStack {
  let driver: StackDriver | null = null;
  const host: StackHost = {
    now: () => performance.now(),
    random: (n) => randomBytes(n),
    wake: () => driver?.wake(),
  };
  const stack = new NetStack({
    addresses: options.addresses.map((a) => a.bytes),
    mtu: options.mtu,
    host,
    output: (packet) => {
      options.tun.deliver(packet);
    },
  });
  const tcp = new TcpLayer(stack.ip, host);
  stack.register(tcp);
  driver = new StackDriver(stack);
  const running = driver;
  options.tun.attach((packets) => {
    stack.input(packets);
    running.wake();
  });
  const dns = options.dns;
  const network = new UserspaceNetwork({
    tcp,
    udp: stack.udp,
    icmp: stack.icmp,
    addresses: options.addresses.map((a) => a.bytes),
    resolve: (name, family) => resolve(name, family, dns, stack.udp),
    keeper: running,
  });
  return {
    network,
    close: () => running.close(),
    netstack: stack,
    tcp,
    driver: running,
  };
}

export const defaultUserspaceStack: UserspaceStackFactory = (options) => buildUserspaceStack(options);
