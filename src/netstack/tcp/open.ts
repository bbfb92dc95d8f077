/**
 * Opening connections (RFC 9293 section 3.10.1 OPEN, active and passive): the TCB with its
 * initial sequence number from host.random (section 3.4.1; RFC 6528's concern is met by a CSPRNG
 * per connection), the window shift for our receive buffer (RFC 7323 section 2.3), ephemeral
 * ports chosen at random in 49152-65535 (RFC 6056 section 3.3.1), and the listener record.
 */
import type { SocketAddress, TcpConnection, TcpConnectionEvents, TcpListener } from '../types.js';
import { Tcb } from './connection.js';
import { HEADER_OVERHEAD_V4, HEADER_OVERHEAD_V6, MAX_WINDOW_SHIFT } from './constants.js';
import { connectionKey, usageError } from './keys.js';
import { sameBytes, type TcpLayer } from './layer.js';
import type { Listener } from './listen.js';
import { sendSyn } from './output.js';

const EPHEMERAL_LOW = 49152;
const EPHEMERAL_COUNT = 65536 - EPHEMERAL_LOW;

export function activeOpen(
  layer: TcpLayer,
  remote: SocketAddress,
  events: TcpConnectionEvents,
  local?: Partial<SocketAddress>,
): TcpConnection {
  const address = local?.address ?? layer.ip.sourceFor(remote.address);
  if (address === null || address === undefined || address.length !== remote.address.length) {
    throw usageError('EADDRNOTAVAIL', 'no local address of that family');
  }
  if (!(remote.port > 0 && remote.port < 65536)) throw new RangeError('connect: remote port 1-65535');
  if (layer.activeCount >= layer.options.maxConnections) throw usageError('ENOBUFS', 'too many connections');
  const port = local?.port !== undefined && local.port !== 0 ? local.port : ephemeralPort(layer);
  const key = connectionKey(address, port, remote.address, remote.port);
  if (layer.connections.has(key)) throw usageError('EADDRINUSE', `local port ${port} in use`);
  const c = newTcb(
    layer,
    { address: address.slice(), port },
    { address: remote.address.slice(), port: remote.port },
    key,
  );
  c.setEvents(events);
  c.transition('active-open');
  layer.register(c);
  sendSyn(c, false);
  c.rttStart = layer.host.now();
  c.rtoAt = c.rttStart + c.rto.rto;
  layer.host.wake();
  return c;
}

export function passiveOpen(
  layer: TcpLayer,
  address: Uint8Array | null,
  port: number,
  backlog: number,
  onAccept: (connection: TcpConnection) => void,
): TcpListener {
  if (!(port > 0 && port < 65536)) throw new RangeError('listen: port 1-65535');
  const list = layer.listeners.get(port) ?? [];
  for (const l of list) {
    if (l.address === null || address === null || sameBytes(l.address, address)) {
      throw usageError('EADDRINUSE', `port ${port} is already listening`);
    }
  }
  const listener: Listener = {
    local: { address: address ?? new Uint8Array(0), port },
    address: address === null ? null : address.slice(),
    backlog: Math.max(1, backlog | 0),
    halfOpen: 0,
    closed: false,
    onAccept,
    close: () => {
      if (listener.closed) return;
      listener.closed = true;
      const rest = (layer.listeners.get(port) ?? []).filter((x) => x !== listener);
      if (rest.length > 0) layer.listeners.set(port, rest);
      else layer.listeners.delete(port);
    },
  };
  list.push(listener);
  layer.listeners.set(port, list);
  return listener;
}

export function newTcb(layer: TcpLayer, local: SocketAddress, remote: SocketAddress, key: string): Tcb {
  const overhead = local.address.length === 4 ? HEADER_OVERHEAD_V4 : HEADER_OVERHEAD_V6;
  const c = new Tcb(layer, local, remote, key, Math.max(64, layer.ip.mtu - overhead));
  const r = layer.host.random(4);
  c.iss = ((r[0]! << 24) | (r[1]! << 16) | (r[2]! << 8) | r[3]!) >>> 0;
  c.sndUna = c.iss;
  c.sndNxt = (c.iss + 1) >>> 0;
  c.recover = c.rxtNext = c.rxtLimit = c.iss;
  // RFC 7323 section 2.3: the smallest shift that lets the window field cover the buffer.
  let shift = 0;
  while (shift < MAX_WINDOW_SHIFT && layer.options.receiveBufferSize >> shift > 0xffff) shift++;
  c.rcvShift = shift;
  return c;
}

function ephemeralPort(layer: TcpLayer): number {
  const r = layer.host.random(2);
  const start = ((r[0]! << 8) | r[1]!) % EPHEMERAL_COUNT;
  for (let i = 0; i < EPHEMERAL_COUNT; i++) {
    const port = EPHEMERAL_LOW + ((start + i) % EPHEMERAL_COUNT);
    if (!layer.portUse.has(port) && !layer.listeners.has(port)) return port;
  }
  throw usageError('EADDRINUSE', 'no free ephemeral port');
}
