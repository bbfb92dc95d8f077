/**
 * Joins two byte streams both ways (a proxied TCP connection: local client ⇄ tunnel socket). Each
 * direction ends the other side's writing when its reading ends, so half-closes pass through; an
 * error on either side destroys both, and once one side has fully closed the other gets a short
 * grace period to flush before it is destroyed, so no connection outlives its partner for long.
 */
import type { Duplex } from 'node:stream';

const FLUSH_GRACE_MS = 5000;

export function joinStreams(a: Duplex, b: Duplex, onClose?: () => void): void {
  a.pipe(b);
  b.pipe(a);
  let closed = 0;
  const closeOther = (other: Duplex): void => {
    if (++closed === 2) onClose?.();
    if (other.destroyed) return;
    other.end();
    setTimeout(() => other.destroy(), FLUSH_GRACE_MS).unref();
  };
  // Errors are expected network events (resets, timeouts): they end the pair, nothing more.
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.once('close', () => closeOther(b));
  b.once('close', () => closeOther(a));
}
