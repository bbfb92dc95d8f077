/**
 * Shared fixtures for the UAPI tests: a fake UapiTarget that records every applied set, a raw
 * socket exchange that reports what came back and whether the server closed, temporary socket
 * paths, and deterministic keys.
 */
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceSet, DeviceSnapshot, UapiTarget } from '../../src/uapi/types.js';

/** A 32-byte key whose bytes are all `fill` except the first, which is `first`. */
export function key(first: number, fill = 0x11): Uint8Array {
  const k = new Uint8Array(32).fill(fill);
  k[0] = first;
  return k;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export const SAMPLE_SNAPSHOT: DeviceSnapshot = {
  privateKey: key(0xa8),
  listenPort: 51820,
  fwmark: 0,
  peers: [],
};

/** `set` with its own copies of the secret keys, as a device keeps them (the server wipes the decoded ones). */
function keepKeys(set: DeviceSet): DeviceSet {
  const copy = (k: Uint8Array | null): Uint8Array | null => (k === null ? null : Uint8Array.from(k));
  return {
    ...set,
    ...(set.privateKey === undefined ? {} : { privateKey: copy(set.privateKey) }),
    peers: set.peers.map((p) =>
      p.presharedKey === undefined ? p : { ...p, presharedKey: copy(p.presharedKey) },
    ),
  };
}

export class FakeTarget implements UapiTarget {
  /** The applied sets, with the keys copied as they arrived. */
  readonly applied: DeviceSet[] = [];
  /** The same sets as the server handed them over (its key buffers, wiped after apply). */
  readonly received: DeviceSet[] = [];
  state: DeviceSnapshot;
  /** What apply resolves to (or, when a function, does). */
  onApply: (set: DeviceSet) => Promise<number> = () => Promise.resolve(0);
  onSnapshot: (() => DeviceSnapshot) | null = null;
  snapshots = 0;

  constructor(state: DeviceSnapshot = SAMPLE_SNAPSHOT) {
    this.state = state;
  }

  snapshot(): DeviceSnapshot {
    this.snapshots++;
    return this.onSnapshot === null ? this.state : this.onSnapshot();
  }

  async apply(set: DeviceSet): Promise<number> {
    const r = await this.onApply(set);
    if (r === 0) {
      this.applied.push(keepKeys(set));
      this.received.push(set);
      if (set.listenPort !== undefined) this.state = { ...this.state, listenPort: set.listenPort };
    }
    return r;
  }
}

export interface RawResult {
  /** Everything the server sent. */
  readonly reply: string;
  /** True when the server closed (or reset) the connection within the wait. */
  readonly closed: boolean;
  /** Milliseconds from connect to close (or to the end of the wait). */
  readonly ms: number;
}

export interface RawOptions {
  /** How long to wait for a close after writing; default 300 ms. */
  readonly waitMs?: number;
  /** Half-close our side after writing. */
  readonly end?: boolean;
  /** Write the payload in pieces, this many ms apart (each element is one write). */
  readonly pieces?: readonly (string | Buffer)[];
  readonly pieceGapMs?: number;
  /** Stop waiting (as if the wait ended, connection still open) once the reply satisfies this. */
  readonly until?: (reply: string) => boolean;
}

/** Connects, writes `payload`, collects the reply until the server closes or `waitMs` passes. */
export function rawExchange(
  path: string,
  payload: string | Buffer,
  opts: RawOptions = {},
): Promise<RawResult> {
  const waitMs = opts.waitMs ?? 300;
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const chunks: Buffer[] = [];
    let done = false;
    const socket = connect(path);
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ reply: Buffer.concat(chunks).toString('latin1'), closed, ms: Date.now() - started });
    };
    let timer = setTimeout(() => finish(false), waitMs + 5_000);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (opts.until?.(Buffer.concat(chunks).toString('latin1')) === true) finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') finish(true);
      else if (!done) {
        done = true;
        clearTimeout(timer);
        reject(err);
      }
    });
    socket.on('connect', async () => {
      const pieces = opts.pieces ?? [payload];
      for (let i = 0; i < pieces.length; i++) {
        if (done) return;
        if (pieces[i]!.length > 0) socket.write(pieces[i]!);
        if (i < pieces.length - 1) await new Promise((r) => setTimeout(r, opts.pieceGapMs ?? 20));
      }
      if (opts.end === true) socket.end();
      clearTimeout(timer);
      timer = setTimeout(() => finish(false), waitMs);
    });
  });
}

/** The `errno=N` values in a reply stream, in order. */
export function errnos(reply: string): number[] {
  return [...reply.matchAll(/^errno=(-?\d+)$/gm)].map((m) => Number(m[1]));
}

/** A fresh temporary directory; remove it with the returned function. */
export function tempDir(tag: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `wgts-uapi-${tag}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** `set=1`, one peer (hex public key), then allowed_ip lines up to `bytes` in all, then the blank line. */
export function hugeSet(bytes: number, peer: string): Buffer {
  const head = `set=1\npublic_key=${peer}\n`;
  const line = 'allowed_ip=10.0.0.1/32\n';
  const body = Buffer.alloc(bytes - head.length - 1, line);
  return Buffer.concat([
    Buffer.from(head),
    body.subarray(0, body.length - (body.length % line.length)),
    Buffer.from('\n'),
  ]);
}
