/**
 * wireproxy's static TCP routines. [TCPClientTunnel]: a local listener whose every connection is
 * joined to Target through the tunnel. [TCPServerTunnel]: a listener on the tunnel's own
 * addresses at ListenPort whose every connection is joined to Target on the local network.
 * [STDIOTunnel]: standard input and output joined to Target through the tunnel, for ssh's
 * ProxyCommand; it finishes when the connection does.
 */
import { connect as connectLocal, createServer, type Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type { TunnelNetwork, TunnelSocket } from '../netstack/network-types.js';
import { joinHostPort, type HostPort } from './config-values.js';
import { closeServer, listenTcp } from './listen.js';
import { joinStreams } from './pipe.js';
import type { ProxyLogger, RunningRoutine } from './types.js';

const CONNECT_TIMEOUT_MS = 30_000;

/** Connects through the tunnel, resolving a name with the tunnel's DNS. */
export async function connectThrough(network: TunnelNetwork, target: HostPort): Promise<TunnelSocket> {
  const answers = await network.lookup(target.host);
  const address = answers[0]?.address;
  if (address === undefined)
    throw Object.assign(new Error(`no address for ${target.host}`), { code: 'ENOTFOUND' });
  return network.connect({ host: address, port: target.port, timeout: CONNECT_TIMEOUT_MS });
}

export async function startTcpClientTunnel(
  bind: HostPort,
  target: HostPort,
  network: TunnelNetwork,
  log: ProxyLogger,
): Promise<RunningRoutine> {
  const open = new Set<Socket>();
  // Half-open: the client's FIN must not stop what the far side still sends back (pipe.ts).
  const server = createServer({ allowHalfOpen: true }, (local) => {
    open.add(local);
    local.once('close', () => open.delete(local));
    local.on('error', () => local.destroy());
    local.pause();
    connectThrough(network, target).then(
      (remote) => (local.destroyed ? remote.destroy() : joinStreams(local, remote)),
      (err: unknown) => {
        log.error(`TCP client tunnel to ${joinHostPort(target)}: ${(err as Error).message}`);
        local.destroy();
      },
    );
  });
  await listenTcp(server, bind);
  return {
    name: `TCP client tunnel ${joinHostPort(bind)} -> ${joinHostPort(target)}`,
    address: () => {
      const a = server.address();
      return a !== null && typeof a === 'object' ? { address: a.address, port: a.port } : null;
    },
    close: async () => {
      const done = closeServer(server);
      for (const s of open) s.destroy();
      await done;
    },
  };
}

export async function startTcpServerTunnel(
  listenPort: number,
  target: HostPort,
  network: TunnelNetwork,
  log: ProxyLogger,
): Promise<RunningRoutine> {
  const open = new Set<TunnelSocket>();
  const server = network.createServer(
    (remote) => {
      open.add(remote);
      remote.once('close', () => open.delete(remote));
      remote.on('error', () => remote.destroy());
      remote.pause();
      const local = connectLocal({ host: target.host, port: target.port });
      const onConnectError = (err: Error): void => {
        log.error(`TCP server tunnel to ${joinHostPort(target)}: ${err.message}`);
        remote.destroy();
      };
      local.once('error', onConnectError);
      local.once('connect', () => {
        // From here on errors are the pair's business (joinStreams closes both).
        local.off('error', onConnectError);
        joinStreams(remote, local);
      });
    },
    { allowHalfOpen: true },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    name: `TCP server tunnel :${listenPort} -> ${joinHostPort(target)}`,
    address: () => server.address(),
    close: async () => {
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of open) s.destroy();
      await done;
    },
  };
}

export interface StdioRoutine extends RunningRoutine {
  /** Settles when the connection has ended (the process should then exit). */
  readonly done: Promise<void>;
}

export async function startStdioTunnel(
  target: HostPort,
  network: TunnelNetwork,
  io: { readonly input: Readable; readonly output: Writable },
): Promise<StdioRoutine> {
  const remote = await connectThrough(network, target);
  const done = new Promise<void>((resolve) => {
    remote.once('close', () => resolve());
  });
  io.input.pipe(remote);
  remote.pipe(io.output, { end: false });
  remote.on('error', () => remote.destroy());
  io.input.on('error', () => remote.destroy());
  return {
    name: `STDIO tunnel -> ${joinHostPort(target)}`,
    address: () => null,
    done,
    close: async () => {
      io.input.unpipe(remote);
      remote.destroy();
      await done;
    },
  };
}
