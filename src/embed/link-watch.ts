/**
 * Link change events for a kernel TUN (rtnetlink(7): RTM_NEWLINK / RTM_DELLINK on RTMGRP_LINK,
 * through native/link-watch.c), so a daemon hears of `ip link set up/down/mtu`, a deletion or a
 * move to another namespace when it happens, as wireguard-go's netlink listener does, instead of
 * asking the TUN four times a second.
 *
 * The netlink socket lives in our own namespace and sees only that one (a socket in another
 * namespace would keep it, and a link moved there, alive after `ip netns del`). A link moved away
 * shows as RTM_DELLINK; while the owner reports it elsewhere (`follow(netns)`, from
 * LinuxTun.link()), or its namespace is unknown, the link is asked every POLL_MS, as before, until
 * it comes back. Messages are not parsed: any link change in the namespace is a reason to ask the
 * TUN (one TUNGETIFF and three ioctls), which keeps every decision in the caller. Where the addon
 * has no link watch (an older prebuilt) or the socket cannot be made, the link is polled for
 * good. A netlink overrun (ENOBUFS: changes were lost) reopens the watch and reports a change.
 */
import { startEventReader } from '../io/event-reader.js';
import { loadNative, type NativeAddon, type ReaderHandle } from '../io/native.js';

/** How often the link is asked while no netlink watch can tell of its changes. */
export const POLL_MS = 250;

export interface LinkWatch {
  /** 'netlink' while the kernel tells of changes, 'poll' while the link is asked every POLL_MS. */
  readonly mode: 'netlink' | 'poll';
  /**
   * The link is in namespace `netns` (an inode, from LinuxTun.link()) now, or null when that
   * could not be learnt: events while it is ours, a poll while it is elsewhere or unknown.
   */
  follow(netns: number | null): void;
  close(): void;
}

/** Watches the links of our namespace; `onChange` is called on every change (and every poll). */
export function watchLink(onChange: () => void, native: NativeAddon | null = tryNative()): LinkWatch {
  let fd = -1;
  let reader: ReaderHandle | null = null;
  let watchedNetns = NaN;
  let poll: NodeJS.Timeout | null = null;
  let closed = false;
  let broken = native === null || typeof native.linkWatchOpen !== 'function';

  const closeWatch = (): void => {
    if (reader !== null) native!.readerClose(reader);
    reader = null;
    if (fd >= 0) native!.closeFd(fd);
    fd = -1;
    watchedNetns = NaN;
  };
  const startPoll = (): void => {
    if (poll !== null || closed) return;
    poll = setInterval(onChange, POLL_MS);
    poll.unref(); // the daemon's UAPI server keeps it alive, not this
  };
  const stopPoll = (): void => {
    if (poll !== null) clearInterval(poll);
    poll = null;
  };
  const open = (): void => {
    closeWatch();
    if (broken || closed) return startPoll();
    try {
      const [sock, netns] = native!.linkWatchOpen!();
      fd = sock;
      watchedNetns = netns;
      reader = startEventReader(native!, fd, onRead);
    } catch {
      // No netlink here (or no socket in the link's namespace): ask the link instead.
      closeWatch();
      broken = true;
      startPoll();
    }
  };
  // Reads stop after an error (an overrun, say): open a fresh watch, and look, since changes
  // may have been lost.
  function onRead(_count: number, err: number): void {
    if (closed) return;
    if (err !== 0) {
      setImmediate(() => {
        if (closed) return;
        open();
        onChange();
      });
      return;
    }
    onChange();
  }
  open();
  return {
    get mode(): 'netlink' | 'poll' {
      return reader !== null && poll === null ? 'netlink' : 'poll';
    },
    follow(netns: number | null): void {
      if (closed || broken) return;
      if (netns !== null && netns === watchedNetns) stopPoll();
      else startPoll();
    },
    close(): void {
      if (closed) return;
      closed = true;
      stopPoll();
      if (native !== null) closeWatch();
    },
  };
}

function tryNative(): NativeAddon | null {
  try {
    return loadNative();
  } catch {
    return null;
  }
}
