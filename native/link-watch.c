/*
 * wgts native addon: a netlink watch of link changes (rtnetlink(7): RTM_NEWLINK / RTM_DELLINK
 * on the RTMGRP_LINK multicast group), so the daemon learns of `ip link set up/down/mtu`, of a
 * deletion and of a move to another namespace when they happen, as wireguard-go's netlink
 * listener does, instead of asking the TUN every 250 ms.
 *
 *   linkWatchOpen() -> [fd, netns]
 *       a non-blocking NETLINK_ROUTE socket subscribed to RTMGRP_LINK in the calling thread's
 *       (the daemon's) network namespace, and that namespace's inode.
 *
 * Only our own namespace, on purpose: a socket holds a reference to its namespace, so a watch
 * opened in the namespace a link was moved into would keep that namespace, and with it the link,
 * alive after `ip netns del` (the daemon must see the link deleted and exit). A link moved away
 * shows here as RTM_DELLINK; while it is elsewhere the caller asks it on a timer instead.
 *
 * Nothing here reads or parses the messages: the caller polls the fd (readerCreate, kind 0,
 * whose read() drains one message per slot) and on each wake asks tunLinkInfo for the link's
 * state, so every decision stays in TypeScript (src/embed/link-watch.ts). The fd is the caller's
 * to close (closeFd), after closing its reader.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Inode of the namespace file at fd (statx by raw syscall, for the reason tun-link.c gives). */
static int ns_inode(int fd, uint64_t *ino) {
  struct statx stx;
  if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_INO, &stx) < 0) return errno;
  *ino = stx.stx_ino;
  return 0;
}

/* A bound RTMGRP_LINK socket in the calling thread's namespace (its inode in *netns), or -errno. */
static int link_socket(uint64_t *netns) {
  int own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (own < 0) return -errno;
  int err = ns_inode(own, netns);
  close(own);
  if (err != 0) return -err;
  int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  if (s < 0) return -errno;
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
  if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
    err = errno;
    close(s);
    return -err;
  }
  return s;
}

static napi_value link_watch_open(napi_env env, napi_callback_info info) {
  (void)info;
  uint64_t netns = 0;
  int s = link_socket(&netns);
  if (s < 0) return wgts_throw_errno(env, "netlink link watch", -s);
  napi_value out, jfd, jns;
  /* The fd is handed over only with the answer: any failure before that closes it. */
  if (napi_create_array_with_length(env, 2, &out) != napi_ok || napi_create_int32(env, s, &jfd) != napi_ok ||
      napi_create_double(env, (double)netns, &jns) != napi_ok ||
      napi_set_element(env, out, 0, jfd) != napi_ok || napi_set_element(env, out, 1, jns) != napi_ok) {
    close(s);
    return NULL;
  }
  return out;
}

napi_status wgts_init_link_watch(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"linkWatchOpen", NULL, link_watch_open, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
