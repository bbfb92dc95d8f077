/*
 * wgts native addon: UDP sockets for the WireGuard Bind (wireguard-go conn.StdNetBind on Linux).
 *
 *   udpOpen(family 4|6, port, bufferSize) -> { fd, port, rcvbuf, sndbuf }
 *       non-blocking SOCK_DGRAM bound to the wildcard address; IPV6_V6ONLY=1 on the v6 socket so
 *       a v4 and a v6 socket share one port; SO_RCVBUFFORCE/SO_SNDBUFFORCE (root) falling back
 *       to SO_RCVBUF/SO_SNDBUF; IP_PKTINFO / IPV6_RECVPKTINFO on, so that a reader learns the
 *       local address each datagram arrived at (native/reader.c). Errors (EADDRINUSE,
 *       EAFNOSUPPORT, ...) throw with `code`.
 *   setMark(fd, mark) / getMark(fd)     SO_MARK (fwmark; 0 clears; needs CAP_NET_ADMIN)
 *   socketBufferSizes(fd) -> [rcvbuf, sndbuf]
 *   sendList(fd, family, datagrams[], count, address, port, status[, source])
 *       sendmmsg of `count` datagrams to one destination, from `source` (4 or 16 bytes, or null)
 *   sendBatch(fd, family, buffer, offsets, lengths, count, addresses, ports, status)
 *       sendmmsg over one buffer, a destination per datagram (16 address bytes each in
 *       `addresses`, the first 4 used for family 4; ports a Uint16Array)
 *
 * Send policy (both forms): never block. EAGAIN/ENOBUFS (socket buffer or qdisc full) and
 * EBADF/ENOTSOCK drop the rest of the batch; any other error (EMSGSIZE, ENETUNREACH, EPERM from a
 * firewall, ...) drops that one datagram and the rest is still sent. status (Int32Array >= 3)
 * gets [sent, dropped, last errno negated or 0]. The mmsghdr/iovec/sockaddr arrays are the
 * per-environment scratch, so a send allocates nothing. A datagram longer than 65535 bytes is a
 * RangeError. sendList reads the elements of each chunk first (a getter may run) and then their
 * bytes, and fetches `status` again at the end, so no pointer outlives a getter.
 *
 * Sticky source ("reply to sender", the kernel's send4/send6): a send given a `source` carries it
 * as IP_PKTINFO (ipi_spec_dst; ipi_ifindex 0) or IPV6_PKTINFO (ipi6_addr; ipi6_ifindex 0), so the
 * datagrams leave from the local address the peer last reached us on. Like the kernel, and unlike
 * wireguard-go (which echoes the received ifindex back and so pins the outgoing interface), only
 * the address is given: the route still picks the interface. When the kernel refuses that source
 * (the address was deleted: EINVAL, EADDRNOTAVAIL, ENETUNREACH; wgts_source_refused), the
 * datagram is sent again without it (the kernel's choice) and so is the rest of the call, and a
 * 4th status element, when there, gets 1: the caller then forgets that source ("not too sticky",
 * the kernel clearing endpoint->src4 when the address is no longer local).
 */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/udp.h>
#include <string.h>
#include <unistd.h>

static int family_arg(napi_env env, napi_value v, int *af) {
  int32_t f;
  if (wgts_arg_i32(env, v, "family", &f) != 0) return -1;
  if (f != 4 && f != 6) {
    wgts_throw_range(env, "wgts_native: family must be 4 or 6");
    return -1;
  }
  *af = f == 4 ? AF_INET : AF_INET6;
  return 0;
}

static int port_arg(napi_env env, napi_value v, uint16_t *port) {
  int32_t p;
  if (wgts_arg_i32(env, v, "port", &p) != 0) return -1;
  if (p < 0 || p > 65535) {
    wgts_throw_range(env, "wgts_native: port must be 0..65535");
    return -1;
  }
  *port = (uint16_t)p;
  return 0;
}

static void set_buffer(int fd, int force_opt, int opt, int size) {
  if (setsockopt(fd, SOL_SOCKET, force_opt, &size, sizeof size) == 0) return;
  setsockopt(fd, SOL_SOCKET, opt, &size, sizeof size);
}

static int get_int_opt(int fd, int level, int opt) {
  int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(fd, level, opt, &v, &len) < 0) return -1;
  return v;
}

static napi_value udp_open(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 3, argv);
  int af;
  uint16_t port;
  int32_t bufsize;
  if (family_arg(env, argv[0], &af) != 0) return NULL;
  if (port_arg(env, argv[1], &port) != 0) return NULL;
  if (wgts_arg_i32(env, argv[2], "bufferSize", &bufsize) != 0) return NULL;

  int fd = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return wgts_throw_errno(env, "socket", errno);
  const char *failed = NULL;
  int one = 1;
  if (af == AF_INET6) {
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
      failed = "setsockopt IPV6_V6ONLY";
    else if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one) < 0)
      failed = "setsockopt IPV6_RECVPKTINFO";
  } else if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) < 0) {
    failed = "setsockopt IP_PKTINFO";
  }
  if (failed == NULL && bufsize > 0) {
    set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, bufsize);
    set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, bufsize);
  }
  struct sockaddr_in6 sa;
  memset(&sa, 0, sizeof sa);
  socklen_t salen;
  if (af == AF_INET) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&sa;
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    s4->sin_addr.s_addr = htonl(INADDR_ANY);
    salen = sizeof *s4;
  } else {
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    sa.sin6_addr = in6addr_any;
    salen = sizeof sa;
  }
  if (failed == NULL && bind(fd, (struct sockaddr *)&sa, salen) < 0) failed = "bind";
  socklen_t got = sizeof sa;
  if (failed == NULL && getsockname(fd, (struct sockaddr *)&sa, &got) < 0) failed = "getsockname";
  if (failed != NULL) {
    int err = errno;
    close(fd);
    return wgts_throw_errno(env, failed, err);
  }
  int actual = ntohs(af == AF_INET ? ((struct sockaddr_in *)&sa)->sin_port : sa.sin6_port);

  napi_value obj;
  if (napi_create_object(env, &obj) != napi_ok || wgts_set_i32(env, obj, "fd", fd) != napi_ok ||
      wgts_set_i32(env, obj, "port", actual) != napi_ok ||
      wgts_set_i32(env, obj, "rcvbuf", get_int_opt(fd, SOL_SOCKET, SO_RCVBUF)) != napi_ok ||
      wgts_set_i32(env, obj, "sndbuf", get_int_opt(fd, SOL_SOCKET, SO_SNDBUF)) != napi_ok) {
    close(fd); /* the fd never reached JavaScript */
    return NULL;
  }
  return obj;
}

static napi_value set_mark(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 2, argv);
  int32_t fd;
  uint32_t mark;
  if (wgts_arg_i32(env, argv[0], "fd", &fd) != 0) return NULL;
  if (wgts_arg_u32(env, argv[1], "mark", &mark) != 0) return NULL;
  if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0)
    return wgts_throw_errno(env, "setsockopt SO_MARK", errno);
  return NULL;
}

static napi_value get_mark(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 1, argv);
  int32_t fd;
  if (wgts_arg_i32(env, argv[0], "fd", &fd) != 0) return NULL;
  uint32_t mark = 0;
  socklen_t len = sizeof mark;
  if (getsockopt(fd, SOL_SOCKET, SO_MARK, &mark, &len) < 0)
    return wgts_throw_errno(env, "getsockopt SO_MARK", errno);
  napi_value out;
  WGTS_CHECK(env, napi_create_uint32(env, mark, &out));
  return out;
}

static napi_value socket_buffer_sizes(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 1, argv);
  int32_t fd;
  if (wgts_arg_i32(env, argv[0], "fd", &fd) != 0) return NULL;
  int rcv = get_int_opt(fd, SOL_SOCKET, SO_RCVBUF), snd = get_int_opt(fd, SOL_SOCKET, SO_SNDBUF);
  if (rcv < 0 || snd < 0) return wgts_throw_errno(env, "getsockopt SO_RCVBUF", errno);
  napi_value arr, a, b;
  WGTS_CHECK(env, napi_create_array_with_length(env, 2, &arr));
  WGTS_CHECK(env, napi_create_int32(env, rcv, &a));
  WGTS_CHECK(env, napi_create_int32(env, snd, &b));
  WGTS_CHECK(env, napi_set_element(env, arr, 0, a));
  WGTS_CHECK(env, napi_set_element(env, arr, 1, b));
  return arr;
}

/* Fills a sockaddr for family af from 4 (af 4) or 16 (af 6) address bytes. */
socklen_t wgts_fill_addr(struct sockaddr_in6 *out, int af, const uint8_t *addr, uint16_t port) {
  memset(out, 0, sizeof *out);
  if (af == AF_INET) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)out;
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    memcpy(&s4->sin_addr, addr, 4);
    return sizeof *s4;
  }
  out->sin6_family = AF_INET6;
  out->sin6_port = htons(port);
  memcpy(&out->sin6_addr, addr, 16);
  return sizeof *out;
}

int wgts_send_drops_rest(int err) {
  return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || err == EBADF || err == ENOTSOCK;
}

int wgts_source_refused(int err) { return err == EINVAL || err == EADDRNOTAVAIL || err == ENETUNREACH; }

int wgts_arg_source(napi_env env, napi_value v, int af, const uint8_t **source) {
  napi_valuetype t;
  *source = NULL;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_null || t == napi_undefined) return 0;
  uint8_t *bytes;
  size_t len;
  if (wgts_arg_bytes(env, v, "source", &bytes, &len) != 0) return -1;
  if (len != (af == AF_INET ? 4u : 16u)) {
    wgts_throw_range(env, "wgts_native: source must be 4 bytes for family 4, 16 for 6");
    return -1;
  }
  *source = bytes;
  return 0;
}

/* One control message at `at` (aligned, zeroed); returns the room it takes. */
static size_t put_cmsg(uint8_t *at, int level, int type, const void *data, size_t len) {
  struct cmsghdr *c = (struct cmsghdr *)at;
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(len);
  memcpy(CMSG_DATA(c), data, len);
  return CMSG_SPACE(len);
}

size_t wgts_put_control(uint8_t *buf, uint16_t gso, int af, const uint8_t *source) {
  memset(buf, 0, WGTS_SEND_CONTROL);
  size_t len = 0;
  if (gso > 0) len += put_cmsg(buf, SOL_UDP, UDP_SEGMENT, &gso, sizeof gso);
  if (source == NULL) return len;
  if (af == AF_INET) {
    /* ipi_spec_dst is the source; ipi_ifindex 0 leaves the interface to the route. */
    struct in_pktinfo pi = {0};
    memcpy(&pi.ipi_spec_dst, source, 4);
    return len + put_cmsg(buf + len, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
  }
  struct in6_pktinfo pi = {0};
  memcpy(&pi.ipi6_addr, source, 16);
  return len + put_cmsg(buf + len, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof pi);
}

/* Sends the n prepared messages of the scratch with sendmmsg, applying the drop policy.
 * Adds to *sent / *dropped; returns 1 if the rest of the batch must be dropped. With *sticky set
 * the messages carry a source: when the kernel refuses it, the source is taken off the failed
 * message and the ones after it (which are then sent) and *sticky becomes 0. */
static int flush_chunk(int fd, struct mmsghdr *msgs, unsigned n, int32_t *sent, int32_t *dropped,
                       int32_t *last, int *sticky) {
  unsigned i = 0;
  while (i < n) {
    int r = sendmmsg(fd, msgs + i, n - i, MSG_DONTWAIT);
    if (r > 0) {
      *sent += r;
      i += (unsigned)r;
      continue;
    }
    int err = r < 0 ? errno : EAGAIN;
    if (err == EINTR) continue;
    if (*sticky && wgts_source_refused(err)) {
      for (unsigned k = i; k < n; k++) {
        msgs[k].msg_hdr.msg_control = NULL;
        msgs[k].msg_hdr.msg_controllen = 0;
      }
      *sticky = 0;
      continue;
    }
    *last = -err;
    if (wgts_send_drops_rest(err)) {
      *dropped += (int32_t)(n - i);
      return 1;
    }
    *dropped += 1;
    i += 1;
  }
  return 0;
}

static napi_value send_list(napi_env env, napi_callback_info info) {
  size_t argc_ = 8;
  napi_value argv[8];
  WGTS_CHECK(env, napi_get_cb_info(env, info, &argc_, argv, NULL, NULL));
  if (argc_ < 7) return wgts_throw_type(env, "wgts_native: too few arguments");
  int32_t fd;
  int af;
  uint32_t count, array_len = 0;
  uint8_t *addr;
  size_t addr_len;
  uint16_t port;
  int32_t *status;
  size_t n_status;
  const uint8_t *source = NULL;
  if (wgts_arg_i32(env, argv[0], "fd", &fd) != 0) return NULL;
  if (family_arg(env, argv[1], &af) != 0) return NULL;
  if (wgts_arg_u32(env, argv[3], "count", &count) != 0) return NULL;
  if (wgts_arg_bytes(env, argv[4], "address", &addr, &addr_len) != 0) return NULL;
  if (port_arg(env, argv[5], &port) != 0) return NULL;
  if (wgts_arg_status_n(env, argv[6], &status, &n_status) != 0) return NULL;
  if (argc_ >= 8 && wgts_arg_source(env, argv[7], af, &source) != 0) return NULL;
  if (addr_len != (af == AF_INET ? 4u : 16u))
    return wgts_throw_range(env, "wgts_native: address must be 4 bytes for family 4, 16 for 6");
  bool is_array = false;
  if (napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[2], &array_len) != napi_ok)
    return wgts_throw_type(env, "wgts_native: datagrams must be an array");
  if (count > array_len) return wgts_throw_range(env, "wgts_native: count exceeds datagrams.length");

  wgts_scratch *sc = wgts_get_scratch(env);
  if (sc == NULL) return wgts_throw_errno(env, "sendList scratch", EFAULT);
  socklen_t namelen = wgts_fill_addr(&sc->names[0], af, addr, port);
  /* One control message for every datagram: they share the destination and the source. Both are
   * copied here, before any getter below can run and detach their buffers. */
  union {
    uint8_t buf[WGTS_SEND_CONTROL];
    struct cmsghdr align;
  } control;
  size_t controllen = source != NULL ? wgts_put_control(control.buf, 0, af, source) : 0;
  int sticky = controllen > 0;
  int32_t sent = 0, dropped = 0, last = 0;
  uint32_t done = 0;
  while (done < count) {
    unsigned n = count - done < WGTS_SEND_CHUNK ? count - done : WGTS_SEND_CHUNK;
    /* First every element of the chunk (napi_get_element may run a getter or a Proxy trap, which
     * could detach a buffer read before it), then their bytes, with no JavaScript in between. */
    napi_value els[WGTS_SEND_CHUNK];
    for (unsigned k = 0; k < n; k++) WGTS_CHECK(env, napi_get_element(env, argv[2], done + k, &els[k]));
    for (unsigned k = 0; k < n; k++) {
      uint8_t *p;
      size_t len;
      if (wgts_arg_bytes(env, els[k], "datagrams[i]", &p, &len) != 0) return NULL;
      if (wgts_check_len(env, len, WGTS_MAX_PAYLOAD, "datagrams[i]") != 0) return NULL;
      sc->iov[k].iov_base = p;
      sc->iov[k].iov_len = len;
      struct msghdr *m = &sc->msgs[k].msg_hdr;
      memset(m, 0, sizeof *m);
      m->msg_name = &sc->names[0];
      m->msg_namelen = namelen;
      m->msg_iov = &sc->iov[k];
      m->msg_iovlen = 1;
      if (sticky) {
        m->msg_control = control.buf;
        m->msg_controllen = controllen;
      }
    }
    done += n;
    if (flush_chunk(fd, sc->msgs, n, &sent, &dropped, &last, &sticky)) {
      dropped += (int32_t)(count - done);
      break;
    }
  }
  /* The getters may have detached or replaced status's buffer: fetch it again. */
  if (wgts_arg_status_n(env, argv[6], &status, &n_status) != 0) return NULL;
  status[0] = sent;
  status[1] = dropped;
  status[2] = last;
  if (n_status >= 4) status[3] = controllen > 0 && !sticky;
  return NULL;
}

static napi_value send_batch(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 9, argv);
  int32_t fd;
  int af;
  uint32_t count;
  uint8_t *buf, *addrs;
  size_t buf_len, addrs_len, n_off, n_len, n_ports;
  void *offs_v, *lens_v, *ports_v;
  int32_t *status;
  if (wgts_arg_i32(env, argv[0], "fd", &fd) != 0) return NULL;
  if (family_arg(env, argv[1], &af) != 0) return NULL;
  if (wgts_arg_bytes(env, argv[2], "buffer", &buf, &buf_len) != 0) return NULL;
  if (wgts_arg_typed(env, argv[3], napi_uint32_array, "offsets", &offs_v, &n_off) != 0) return NULL;
  if (wgts_arg_typed(env, argv[4], napi_uint32_array, "lengths", &lens_v, &n_len) != 0) return NULL;
  if (wgts_arg_u32(env, argv[5], "count", &count) != 0) return NULL;
  if (wgts_arg_bytes(env, argv[6], "addresses", &addrs, &addrs_len) != 0) return NULL;
  if (wgts_arg_typed(env, argv[7], napi_uint16_array, "ports", &ports_v, &n_ports) != 0) return NULL;
  if (wgts_arg_status(env, argv[8], &status) != 0) return NULL;
  const uint32_t *offs = offs_v, *lens = lens_v;
  const uint16_t *ports = ports_v;
  if (count > n_off || count > n_len || count > n_ports || (uint64_t)count * WGTS_ADDRESS_RECORD > addrs_len)
    return wgts_throw_range(env, "wgts_native: count exceeds offsets/lengths/addresses/ports");
  for (uint32_t i = 0; i < count; i++) {
    if ((uint64_t)offs[i] + lens[i] > buf_len)
      return wgts_throw_range(env, "wgts_native: a datagram lies outside the buffer");
    if (wgts_check_len(env, lens[i], WGTS_MAX_PAYLOAD, "a datagram") != 0) return NULL;
  }

  wgts_scratch *sc = wgts_get_scratch(env);
  if (sc == NULL) return wgts_throw_errno(env, "sendBatch scratch", EFAULT);
  int32_t sent = 0, dropped = 0, last = 0;
  uint32_t done = 0;
  while (done < count) {
    unsigned n = count - done < WGTS_SEND_CHUNK ? count - done : WGTS_SEND_CHUNK;
    for (unsigned k = 0; k < n; k++) {
      uint32_t i = done + k;
      sc->iov[k].iov_base = buf + offs[i];
      sc->iov[k].iov_len = lens[i];
      struct msghdr *m = &sc->msgs[k].msg_hdr;
      memset(m, 0, sizeof *m);
      m->msg_name = &sc->names[k];
      m->msg_namelen = wgts_fill_addr(&sc->names[k], af, addrs + (size_t)i * WGTS_ADDRESS_RECORD, ports[i]);
      m->msg_iov = &sc->iov[k];
      m->msg_iovlen = 1;
    }
    done += n;
    int sticky = 0;
    if (flush_chunk(fd, sc->msgs, n, &sent, &dropped, &last, &sticky)) {
      dropped += (int32_t)(count - done);
      break;
    }
  }
  status[0] = sent;
  status[1] = dropped;
  status[2] = last;
  return NULL;
}

napi_status wgts_init_udp(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"udpOpen", NULL, udp_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setMark", NULL, set_mark, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getMark", NULL, get_mark, NULL, NULL, NULL, napi_enumerable, NULL},
      {"socketBufferSizes", NULL, socket_buffer_sizes, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendList", NULL, send_list, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendBatch", NULL, send_batch, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
