/**
 * Our UDP counterparts of wireproxy's TCP tunnels (docs/proxy.md). [UDPClientTunnel]: a local UDP
 * socket at BindAddress; each local source gets its own tunnel socket that sends to Target, and
 * what Target answers goes back to that source. [UDPServerTunnel]: a tunnel UDP socket at
 * ListenPort; each tunnel source gets its own local socket connected to Target, and Target's
 * answers go back through the tunnel to that source. Sessions are bounded and expire when idle
 * (udp-sessions.ts); a datagram that cannot be delivered is a counted drop.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { isIP } from 'node:net';
import type { TunnelNetwork, TunnelUdpSocket } from '../netstack/network-types.js';
import { joinHostPort, type HostPort } from './config-values.js';
import { bindUdp, plainAddress } from './listen.js';
import { UdpSessions, type UdpSessionCounters } from './udp-sessions.js';
import type { RunningRoutine } from './types.js';

export interface UdpTunnelRoutine extends RunningRoutine {
  readonly counters: UdpSessionCounters;
}

const newCounters = (): UdpSessionCounters => ({ forwarded: 0, returned: 0, dropped: 0, sessions: 0 });

export async function startUdpClientTunnel(
  bind: HostPort,
  target: HostPort,
  idleSeconds: number,
  network: TunnelNetwork,
): Promise<UdpTunnelRoutine> {
  const counters = newCounters();
  const answers = await network.lookup(target.host);
  const address = answers[0]?.address;
  if (address === undefined) throw new Error(`UDP client tunnel: no address for ${target.host}`);
  const local = await bindUdp(bind);
  const sessions = new UdpSessions<TunnelUdpSocket>(idleSeconds * 1000, counters);
  local.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}|${rinfo.port}`;
    const s = sessions.get(key, () => {
      const t = network.createSocket(isIP(address) === 6 ? 'udp6' : 'udp4', (reply) => {
        sessions.touch(key);
        counters.returned++;
        local.send(reply, rinfo.port, rinfo.address);
      });
      t.on('error', () => counters.dropped++);
      t.bind(0);
      return t;
    });
    if (s === null) return;
    counters.forwarded++;
    s.send(msg, target.port, address, (err) => {
      if (err !== null) counters.dropped++;
    });
  });
  local.on('error', () => counters.dropped++);
  return {
    name: `UDP client tunnel ${joinHostPort(bind)} -> ${joinHostPort(target)}`,
    counters,
    address: () => local.address(),
    close: async () => {
      sessions.closeAll();
      await new Promise<void>((resolve) => local.close(() => resolve()));
    },
  };
}

export async function startUdpServerTunnel(
  listenPort: number,
  target: HostPort,
  idleSeconds: number,
  network: TunnelNetwork,
  families: readonly ('udp4' | 'udp6')[],
): Promise<UdpTunnelRoutine> {
  const counters = newCounters();
  const sessions = new UdpSessions<UdpSocket>(idleSeconds * 1000, counters);
  const listeners: TunnelUdpSocket[] = [];
  for (const family of families) {
    const t = network.createSocket(family);
    t.on('message', (msg: Buffer, rinfo: { address: string; port: number }) => {
      const key = `${rinfo.address}|${rinfo.port}`;
      const s = sessions.get(key, () => {
        const local = createSocket(isIP(target.host) === 6 ? 'udp6' : 'udp4');
        local.on('message', (reply) => {
          sessions.touch(key);
          counters.returned++;
          t.send(reply, rinfo.port, plainAddress(rinfo.address));
        });
        local.on('error', () => counters.dropped++);
        return local;
      });
      if (s === null) return;
      counters.forwarded++;
      s.send(msg, target.port, target.host, (err) => {
        if (err !== null) counters.dropped++;
      });
    });
    await new Promise<void>((resolve, reject) => {
      t.once('error', reject);
      t.bind(listenPort, undefined, () => {
        t.off('error', reject);
        resolve();
      });
    });
    t.on('error', () => counters.dropped++);
    listeners.push(t);
  }
  return {
    name: `UDP server tunnel :${listenPort} -> ${joinHostPort(target)}`,
    counters,
    address: () => listeners[0]?.address() ?? null,
    close: async () => {
      sessions.closeAll();
      await Promise.all(listeners.map((t) => new Promise<void>((resolve) => t.close(() => resolve()))));
    },
  };
}
