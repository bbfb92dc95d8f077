/**
 * A started native reader on a notification socket (a netlink subscription) whose messages only
 * say "something changed": read() per message into buffers nobody looks at, then
 * `onEvent(count, err)` once per readable event (native/reader.c, kind 0). Route changes
 * (io/route-watch.ts) and link changes (embed/link-watch.ts) are read this way; the caller
 * closes the handle with readerClose before closing the fd.
 */
import type { NativeAddon, ReaderHandle } from './native.js';

/** Messages read per wake; longer ones are cut, which does not matter: they are never parsed. */
const SLOTS = 4;
const SLOT_BYTES = 8192;

export function startEventReader(
  native: NativeAddon,
  fd: number,
  onEvent: (count: number, err: number) => void,
): ReaderHandle {
  const reader = native.readerCreate(
    fd,
    0,
    new Uint8Array(SLOTS * SLOT_BYTES),
    SLOTS,
    SLOT_BYTES,
    0,
    SLOT_BYTES,
    new Int32Array(SLOTS),
    null,
    null,
    onEvent,
    null,
  );
  try {
    native.readerStart(reader);
  } catch (err) {
    native.readerClose(reader);
    throw err;
  }
  return reader;
}
