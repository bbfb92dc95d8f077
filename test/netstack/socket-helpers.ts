/**
 * Shared pieces of the socket-layer tests: listening a TunnelServer and waiting for it, reading
 * a stream to its end with a SHA-256, and deterministic bulk data.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import type { TunnelServer } from '../../src/netstack/network-types.js';

export async function listening(server: TunnelServer, port: number, host?: string): Promise<number> {
  if (host === undefined) server.listen(port);
  else server.listen(port, host);
  await once(server, 'listening');
  return server.address()!.port;
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Reads `stream` to its end: the byte count and the SHA-256 of everything. Listens for events
 * rather than iterating, since an async iterator destroys the stream at its end, which would
 * end a half-open socket's writable side too.
 */
export function drain(stream: Readable): Promise<{ bytes: number; hash: string }> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    stream.once('end', () => resolve({ bytes, hash: hash.digest('hex') }));
    stream.once('error', reject);
    // A stream paused by pause() does not resume when a 'data' listener is added.
    stream.resume();
  });
}

/** `n` bytes of a fixed pattern that does not repeat on any short period. */
export function pattern(n: number, seed = 1): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
