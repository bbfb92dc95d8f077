/**
 * A stand-in for the userspace network stack in the embed tests: a UserspaceStackFactory whose
 * "stack" speaks only ICMPv4 echo (RFC 792) over IPv4 (RFC 791). It answers echo requests to its
 * addresses by hand and implements TunnelNetwork.ping; every other TunnelNetwork method throws.
 * It records the packets the device hands it, so tests can see what came through the tunnel.
 */
import type { TunnelNetwork, UserspaceStackFactory, UserspaceStackOptions } from '../../src/index.js';
import { formatIP, parseIPv4 } from '../../src/index.js';

function checksum(b: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (b[i]! << 8) | (i + 1 < end ? b[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IPv4 ICMP echo request (type 8) or reply (type 0). */
export function icmpEcho(
  type: 0 | 8,
  source: Uint8Array,
  destination: Uint8Array,
  id: number,
  seq: number,
  data: Uint8Array,
): Uint8Array {
  const p = new Uint8Array(28 + data.length);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, p.length);
  p[8] = 64;
  p[9] = 1;
  p.set(source, 12);
  p.set(destination, 16);
  v.setUint16(10, checksum(p, 0, 20));
  p[20] = type;
  v.setUint16(24, id);
  v.setUint16(26, seq);
  p.set(data, 28);
  v.setUint16(22, checksum(p, 20, p.length));
  return p;
}

export interface FakeStack {
  readonly factory: UserspaceStackFactory;
  /** Copies of every packet the device wrote to the stack. */
  readonly received: Uint8Array[];
  /** Options the factory was called with (null until then). */
  options: UserspaceStackOptions | null;
  closed: number;
}

function unsupported(what: string): never {
  throw new Error(`the fake stack has no ${what}`);
}

export function fakeStack(): FakeStack {
  const state: FakeStack = {
    received: [],
    options: null,
    closed: 0,
    factory: (options) => {
      state.options = options;
      const own = options.addresses.find((a) => a.family === 4)?.bytes ?? new Uint8Array(4);
      const waiting = new Map<number, (rtt: number) => void>();
      let nextId = 1;
      options.tun.attach((packets) => {
        for (const packet of packets) {
          const p = packet.slice();
          state.received.push(p);
          if (p.length < 28 || p[0] !== 0x45 || p[9] !== 1) continue;
          const id = (p[24]! << 8) | p[25]!;
          const seq = (p[26]! << 8) | p[27]!;
          if (p[20] === 8) {
            const reply = icmpEcho(0, p.subarray(16, 20), p.subarray(12, 16), id, seq, p.subarray(28));
            options.tun.deliver(reply);
          } else if (p[20] === 0) waiting.get(id)?.(seq);
        }
      });
      const network: TunnelNetwork = {
        connect: () => unsupported('TCP'),
        createConnection: () => unsupported('TCP'),
        createServer: () => unsupported('TCP'),
        createSocket: () => unsupported('UDP'),
        lookup: () => unsupported('DNS'),
        ping: (address, timeoutMs = 5000) =>
          new Promise<number>((resolve, reject) => {
            const to = parseIPv4(address);
            if (to === null) return reject(new Error(`not an IPv4 address: ${address}`));
            const id = nextId++;
            const started = performance.now();
            const timer = setTimeout(() => {
              waiting.delete(id);
              reject(Object.assign(new Error(`ping ${formatIP(to)} timed out`), { code: 'ETIMEDOUT' }));
            }, timeoutMs);
            waiting.set(id, () => {
              clearTimeout(timer);
              waiting.delete(id);
              resolve(performance.now() - started);
            });
            options.tun.deliver(icmpEcho(8, own, to, id, 1, new TextEncoder().encode('wgts embed')));
          }),
      };
      return {
        network,
        close: () => {
          state.closed++;
        },
      };
    },
  };
  return state;
}
