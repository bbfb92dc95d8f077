/*
 * wgts native addon: the route questions behind sticky source addresses (the kernel's socket.c
 * send4: a cached source is kept only while the route to the peer leaves through the interface
 * the peer's packets arrived on; wireguard-go's device/sticky_linux.go asks netlink the same after
 * each route change).
 *
 *   routeInterface(family, destination, source, mark) -> ifindex | -errno
 *       RTM_GETROUTE for `destination` (4 or 16 bytes) from `source` (same length, or null) with
 *       fwmark `mark` (0: none), in the daemon's namespace: the index of the interface the route
 *       leaves through, or the negated errno the kernel answered (a source that is no longer
 *       local: -ENETUNREACH or -EINVAL), or 0 when the answer names no interface.
 *   routeCheckWatch() -> fd
 *       a non-blocking NETLINK_ROUTE socket subscribed to IPv4/IPv6 route and address changes
 *   routeCheckChanged(fd) -> boolean
 *       drains it: whether anything changed since the last call (an overrun counts as a change)
 *
 * No decision here: src/device/sticky-source.ts decides when to ask and what the answer means
 * (src/device/route-mtu.ts opens a watch of its own: each watch is drained by its one user).
 */
#include "common.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

/* Appends attribute `type` with `len` bytes of `data` to the request at *at; returns the new end. */
static size_t put_attr(uint8_t *req, size_t at, unsigned short type, const void *data, size_t len) {
  struct rtattr *a = (struct rtattr *)(req + at);
  a->rta_type = type;
  a->rta_len = (unsigned short)RTA_LENGTH(len);
  memcpy(RTA_DATA(a), data, len);
  return at + RTA_ALIGN(a->rta_len);
}

/* The RTA_OIF of one RTM_NEWROUTE reply, 0 without one. */
static int32_t reply_oif(const struct nlmsghdr *h) {
  const struct rtmsg *rt = NLMSG_DATA(h);
  int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof *rt);
  for (const struct rtattr *a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) >= sizeof(int32_t)) {
      int32_t oif;
      memcpy(&oif, RTA_DATA(a), sizeof oif);
      return oif;
    }
  }
  return 0;
}

/* One RTM_GETROUTE round trip; the result as routeInterface documents it. */
static int32_t ask_route(int af, const uint8_t *dst, const uint8_t *src, uint32_t mark) {
  size_t alen = af == AF_INET ? 4 : 16;
  _Alignas(struct nlmsghdr) uint8_t req[NLMSG_SPACE(sizeof(struct rtmsg)) + 3 * RTA_SPACE(16)];
  memset(req, 0, sizeof req);
  struct nlmsghdr *nh = (struct nlmsghdr *)req;
  struct rtmsg *rt = NLMSG_DATA(nh);
  nh->nlmsg_type = RTM_GETROUTE;
  nh->nlmsg_flags = NLM_F_REQUEST;
  nh->nlmsg_seq = 1;
  rt->rtm_family = (unsigned char)af;
  rt->rtm_dst_len = (unsigned char)(alen * 8);
  size_t at = NLMSG_SPACE(sizeof *rt);
  at = put_attr(req, at, RTA_DST, dst, alen);
  if (src != NULL) {
    rt->rtm_src_len = (unsigned char)(alen * 8);
    at = put_attr(req, at, RTA_SRC, src, alen);
  }
  if (mark != 0) at = put_attr(req, at, RTA_MARK, &mark, sizeof mark);
  nh->nlmsg_len = (uint32_t)at;

  int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (s < 0) return -errno;
  /* The kernel answers at once; the timeout only bounds a kernel that does not. */
  struct timeval tv = {WGTS_ROUTE_TIMEOUT_S, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  int32_t result = -EIO;
  if (sendto(s, req, at, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
    result = -errno;
  } else {
    _Alignas(struct nlmsghdr) uint8_t buf[WGTS_ROUTE_REPLY_BYTES];
    ssize_t got;
    do got = recv(s, buf, sizeof buf, 0);
    while (got < 0 && errno == EINTR);
    if (got < 0) result = -errno;
    int len = (int)got;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; got > 0 && NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != 1) continue;
      if (h->nlmsg_type == NLMSG_ERROR && h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
        const struct nlmsgerr *e = NLMSG_DATA(h);
        result = e->error < 0 ? e->error : 0;
        break;
      }
      if (h->nlmsg_type == RTM_NEWROUTE && h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct rtmsg))) {
        result = reply_oif(h);
        break;
      }
    }
  }
  close(s);
  return result;
}

static napi_value route_interface(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 4, argv);
  int32_t family;
  uint32_t mark;
  uint8_t *dst, *src = NULL;
  size_t dst_len, src_len = 0;
  napi_valuetype st;
  if (wgts_arg_i32(env, argv[0], "family", &family) != 0) return NULL;
  if (family != 4 && family != 6) return wgts_throw_range(env, "wgts_native: family must be 4 or 6");
  size_t alen = family == 4 ? 4 : 16;
  if (wgts_arg_bytes(env, argv[1], "destination", &dst, &dst_len) != 0) return NULL;
  if (napi_typeof(env, argv[2], &st) != napi_ok) return NULL;
  if (st != napi_null && st != napi_undefined && wgts_arg_bytes(env, argv[2], "source", &src, &src_len) != 0)
    return NULL;
  if (wgts_arg_u32(env, argv[3], "mark", &mark) != 0) return NULL;
  if (dst_len != alen || (src != NULL && src_len != alen))
    return wgts_throw_range(env, "wgts_native: addresses must be 4 bytes for family 4, 16 for 6");
  napi_value out;
  WGTS_CHECK(env, napi_create_int32(env, ask_route(family == 4 ? AF_INET : AF_INET6, dst, src, mark), &out));
  return out;
}

static napi_value route_check_watch(napi_env env, napi_callback_info info) {
  (void)info;
  int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  if (s < 0) return wgts_throw_errno(env, "socket NETLINK_ROUTE", errno);
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  sa.nl_groups = RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
    int err = errno;
    close(s);
    return wgts_throw_errno(env, "bind NETLINK_ROUTE", err);
  }
  napi_value out;
  if (napi_create_int32(env, s, &out) != napi_ok) {
    close(s); /* the fd never reached JavaScript */
    return NULL;
  }
  return out;
}

static napi_value route_check_changed(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 1, argv);
  int32_t fd;
  if (wgts_arg_i32(env, argv[0], "fd", &fd) != 0) return NULL;
  uint8_t buf[WGTS_ROUTE_DRAIN_BYTES];
  bool changed = false;
  /* Bounded: a storm of changes is reported as one, and the rest waits for the next call. */
  for (int i = 0; i < WGTS_ROUTE_DRAIN_MAX; i++) {
    ssize_t got = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (got > 0 || (got < 0 && errno == ENOBUFS)) {
      changed = true;
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    break;
  }
  napi_value out;
  WGTS_CHECK(env, napi_get_boolean(env, changed, &out));
  return out;
}

napi_status wgts_init_route_check(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"routeInterface", NULL, route_interface, NULL, NULL, NULL, napi_enumerable, NULL},
      {"routeCheckWatch", NULL, route_check_watch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"routeCheckChanged", NULL, route_check_changed, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
