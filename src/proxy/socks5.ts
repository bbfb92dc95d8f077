/**
 * The [Socks5] routine: a SOCKS version 5 server (RFC 1928) whose outgoing side is the tunnel.
 * Method negotiation (§3) offers "no authentication" or, when Username is configured, only
 * username/password (RFC 1929; a wrong pair gets status 0x01 and the connection closes). CONNECT
 * resolves domain names through the tunnel's DNS and replies with the code its error maps to (§6);
 * UDP ASSOCIATE relays datagrams (socks5-udp.ts); BIND is answered 0x07. Each client must finish
 * its handshake within a deadline, and the number of simultaneous clients is bounded.
 */
import { createServer, type Socket } from 'node:net';
import type { TunnelNetwork, TunnelSocket } from '../netstack/network-types.js';
import { ByteReader } from './byte-reader.js';
import { joinHostPort, type HostPort } from './config-values.js';
import { Credentials } from './credentials.js';
import { closeServer, listenTcp, plainAddress } from './listen.js';
import { joinStreams } from './pipe.js';
import { udpAssociate, type UdpRelayCounters } from './socks5-udp.js';
import {
  ATYP_DOMAINNAME,
  CMD_CONNECT,
  CMD_UDP_ASSOCIATE,
  encodeReply,
  METHOD_NO_AUTH,
  METHOD_NONE_ACCEPTABLE,
  METHOD_USERPASS,
  readAddress,
  REP_ADDRESS_TYPE_NOT_SUPPORTED,
  REP_COMMAND_NOT_SUPPORTED,
  REP_HOST_UNREACHABLE,
  REP_SUCCEEDED,
  replyForError,
  SOCKS_VERSION,
  USERPASS_VERSION,
  type SocksAddress,
} from './socks5-wire.js';
import type { ProxyLogger, RunningRoutine } from './types.js';

export interface Socks5Options {
  readonly bind: HostPort;
  readonly username: string;
  readonly password: string;
  readonly network: TunnelNetwork;
  readonly log: ProxyLogger;
  readonly maxConnections?: number;
  readonly handshakeTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
}

export const SOCKS_MAX_CONNECTIONS = 1024;
export const SOCKS_HANDSHAKE_TIMEOUT_MS = 10_000;
export const SOCKS_CONNECT_TIMEOUT_MS = 30_000;

export interface Socks5Routine extends RunningRoutine {
  readonly udp: UdpRelayCounters;
}

export async function startSocks5(o: Socks5Options): Promise<Socks5Routine> {
  const creds = o.username === '' ? null : new Credentials(o.username, o.password);
  const udp: UdpRelayCounters = { dropped: 0, forwarded: 0, returned: 0, active: 0 };
  const server = createServer((sock) => void serve(sock));
  server.maxConnections = o.maxConnections ?? SOCKS_MAX_CONNECTIONS;
  const clients = new Set<Socket>();

  async function connect(sock: Socket, r: ByteReader, dst: SocksAddress): Promise<void> {
    let remote: TunnelSocket;
    try {
      let host = dst.host;
      if (dst.atyp === ATYP_DOMAINNAME) {
        const answers = await o.network.lookup(host);
        if (answers[0] === undefined) return void sock.end(encodeReply(REP_HOST_UNREACHABLE));
        host = answers[0].address;
      }
      remote = await o.network.connect({
        host,
        port: dst.port,
        timeout: o.connectTimeoutMs ?? SOCKS_CONNECT_TIMEOUT_MS,
      });
    } catch (err) {
      o.log.info(`SOCKS5 CONNECT ${joinHostPort(dst)}: ${(err as Error).message}`);
      return void sock.end(encodeReply(replyForError(err)));
    }
    if (sock.destroyed) return void remote.destroy();
    r.release();
    sock.write(
      encodeReply(REP_SUCCEEDED, plainAddress(remote.localAddress) || '0.0.0.0', remote.localPort ?? 0),
    );
    joinStreams(sock, remote);
  }

  async function serve(sock: Socket): Promise<void> {
    clients.add(sock);
    sock.once('close', () => clients.delete(sock));
    sock.on('error', () => sock.destroy());
    const r = new ByteReader(sock);
    const deadline = setTimeout(() => {
      r.fail(new Error('handshake timed out'));
      sock.destroy();
    }, o.handshakeTimeoutMs ?? SOCKS_HANDSHAKE_TIMEOUT_MS);
    try {
      if ((await r.readByte()) !== SOCKS_VERSION) return void sock.destroy();
      const methods = await r.read(await r.readByte());
      const want = creds === null ? METHOD_NO_AUTH : METHOD_USERPASS;
      if (!methods.includes(want)) return void sock.end(Buffer.from([SOCKS_VERSION, METHOD_NONE_ACCEPTABLE]));
      sock.write(Buffer.from([SOCKS_VERSION, want]));
      if (creds !== null) {
        if ((await r.readByte()) !== USERPASS_VERSION) return void sock.destroy();
        const user = await r.read(await r.readByte());
        const pass = await r.read(await r.readByte());
        // RFC 1929 §2: a non-zero status means failure, and the server must close the connection.
        if (!creds.valid(user, pass)) return void sock.end(Buffer.from([USERPASS_VERSION, 0x01]));
        sock.write(Buffer.from([USERPASS_VERSION, 0x00]));
      }
      const [ver, cmd] = await r.read(3);
      if (ver !== SOCKS_VERSION) return void sock.destroy();
      const dst = await readAddress(r);
      clearTimeout(deadline);
      if (dst === null) return void sock.end(encodeReply(REP_ADDRESS_TYPE_NOT_SUPPORTED));
      if (cmd === CMD_CONNECT) return await connect(sock, r, dst);
      if (cmd === CMD_UDP_ASSOCIATE) {
        r.release();
        return await udpAssociate(sock, dst, o.network, o.log, udp);
      }
      sock.end(encodeReply(REP_COMMAND_NOT_SUPPORTED));
    } catch {
      sock.destroy();
    } finally {
      clearTimeout(deadline);
    }
  }

  await listenTcp(server, o.bind);
  return {
    name: `SOCKS5 on ${joinHostPort(o.bind)}`,
    udp,
    address: () => {
      const a = server.address();
      return a !== null && typeof a === 'object' ? { address: a.address, port: a.port } : null;
    },
    close: async () => {
      const done = closeServer(server);
      for (const c of clients) c.destroy();
      await done;
    },
  };
}
