/*
 * wgts native addon: Linux TUN devices (Documentation/networking/tuntap.rst) and link ioctls.
 *
 *   tunOpen(name, extraFlags) -> { fd, name, flags }   open /dev/net/tun, TUNSETIFF with
 *                                 IFF_TUN | IFF_NO_PI | extraFlags (IFF_VNET_HDR later), O_NONBLOCK
 *   tunAttach(fd)             -> { fd, name, flags }   adopt an open TUN fd (WG_TUN_FD): TUNGETIFF
 *   linkMtu(name) / setLinkMtu(name, mtu) / linkIndex(name)   SIOCGIFMTU / SIOCSIFMTU / SIOCGIFINDEX
 *   closeFd(fd)
 *   packetPair()              -> [fd0, fd1]            a connected AF_UNIX SOCK_SEQPACKET pair,
 *                                 O_NONBLOCK: stands in for a TUN fd where one is needed without
 *                                 a link (the daemon's JIT warm-up, src/daemon/warm-up.ts)
 *   writeList(fd, packets[], count, status)                 one write() per packet, one JS call
 *   writeBatch(fd, buffer, offsets, lengths, count, status) same over one buffer (no JS objects)
 *       A packet longer than WGTS_MAX_SLOT_CAPACITY (an IPv6 header, 65535 bytes of payload and a
 *       vnet header) is a
 *       RangeError. writeList reads packets[i] (which may run a getter) and writes it before it
 *       reads packets[i + 1], and fetches `status` again after the last one, so a getter that
 *       detaches a buffer leaves no pointer behind: the next packet is a TypeError instead.
 *
 * Write policy: a TUN write never blocks here. A packet the kernel refuses (EINVAL for a
 * malformed header, EIO while the link is down, EAGAIN/ENOBUFS under memory pressure) is
 * dropped and counted, and the rest of the batch is still written; EBADF/EBADFD (descriptor
 * closed, link deleted) drops the rest of the batch. status (an Int32Array of at least 3) gets
 * [written, dropped, last errno negated or 0]. Dropping is what a lossy link does anyway, and
 * blocking the event loop on one slow write would stall every peer.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static napi_value tun_result(napi_env env, int fd, const char *name, int flags) {
  napi_value obj, jname;
  WGTS_CHECK(env, napi_create_object(env, &obj));
  WGTS_CHECK(env, wgts_set_i32(env, obj, "fd", fd));
  WGTS_CHECK(env, napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &jname));
  WGTS_CHECK(env, napi_set_named_property(env, obj, "name", jname));
  WGTS_CHECK(env, wgts_set_i32(env, obj, "flags", flags));
  return obj;
}

static napi_value tun_open(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 2, argv);
  char name[IFNAMSIZ];
  int32_t extra = 0;
  if (wgts_arg_string(env, argv[0], "name", name, sizeof name) != 0) return NULL;
  if (wgts_arg_i32(env, argv[1], "flags", &extra) != 0) return NULL;

  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return wgts_throw_errno(env, "open /dev/net/tun", errno);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = (short)(IFF_TUN | IFF_NO_PI | extra);
  memcpy(ifr.ifr_name, name, strlen(name));
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return wgts_throw_errno(env, "ioctl TUNSETIFF", err);
  }
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
  napi_value out = tun_result(env, fd, ifr.ifr_name, ifr.ifr_flags & 0xffff);
  if (out == NULL) close(fd); /* nobody else knows this fd */
  return out;
}

static napi_value tun_attach(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 1, argv);
  int32_t fd;
  if (wgts_arg_i32(env, argv[0], "fd", &fd) != 0) return NULL;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  if (ioctl(fd, TUNGETIFF, &ifr) < 0) return wgts_throw_errno(env, "ioctl TUNGETIFF", errno);
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
    return wgts_throw_errno(env, "fcntl O_NONBLOCK", errno);
  int fdfl = fcntl(fd, F_GETFD);
  if (fdfl >= 0) fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC);
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
  return tun_result(env, fd, ifr.ifr_name, ifr.ifr_flags & 0xffff);
}

/* An ioctl on a named link. Any socket reaches the device ioctls; AF_INET is always there,
 * AF_UNIX is the fallback for a kernel built without IPv4. Returns 0 or a positive errno. */
static int link_ioctl(const char *name, unsigned long request, struct ifreq *ifr) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return errno;
  memcpy(ifr->ifr_name, name, strlen(name));
  int rc = ioctl(s, request, ifr);
  int err = rc < 0 ? errno : 0;
  close(s);
  return err;
}

/* One integer of a link read with an ioctl on its name: SIOCGIFMTU, SIOCGIFINDEX or SIOCGIFFLAGS
 * (the daemon follows IFF_UP as wireguard-go does). */
static napi_value link_get(napi_env env, napi_callback_info info, unsigned long request, const char *what) {
  WGTS_ARGS(env, info, 1, argv);
  char name[IFNAMSIZ];
  if (wgts_arg_string(env, argv[0], "name", name, sizeof name) != 0) return NULL;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  int err = link_ioctl(name, request, &ifr);
  if (err != 0) return wgts_throw_errno(env, what, err);
  int32_t value = request == SIOCGIFMTU     ? ifr.ifr_mtu
                  : request == SIOCGIFINDEX ? ifr.ifr_ifindex
                                            : (int32_t)(unsigned short)ifr.ifr_flags;
  napi_value out;
  WGTS_CHECK(env, napi_create_int32(env, value, &out));
  return out;
}

static napi_value link_mtu(napi_env env, napi_callback_info info) {
  return link_get(env, info, SIOCGIFMTU, "ioctl SIOCGIFMTU");
}

static napi_value link_index(napi_env env, napi_callback_info info) {
  return link_get(env, info, SIOCGIFINDEX, "ioctl SIOCGIFINDEX");
}

static napi_value packet_pair(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
    return wgts_throw_errno(env, "socketpair", errno);
  /* Room for a few 64 KB superpackets in flight (the default send buffer holds about two). */
  int size = WGTS_PACKET_PAIR_SNDBUF;
  for (int i = 0; i < 2; i++) setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  napi_value arr, v;
  napi_status s = napi_create_array_with_length(env, 2, &arr);
  for (uint32_t i = 0; i < 2 && s == napi_ok; i++) {
    s = napi_create_int32(env, fds[i], &v);
    if (s == napi_ok) s = napi_set_element(env, arr, i, v);
  }
  if (s != napi_ok) {
    /* The fds never reached JavaScript: nobody else can close them. */
    close(fds[0]);
    close(fds[1]);
    return NULL;
  }
  return arr;
}

static napi_value link_flags(napi_env env, napi_callback_info info) {
  return link_get(env, info, SIOCGIFFLAGS, "ioctl SIOCGIFFLAGS");
}

static napi_value set_link_mtu(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 2, argv);
  char name[IFNAMSIZ];
  int32_t mtu;
  if (wgts_arg_string(env, argv[0], "name", name, sizeof name) != 0) return NULL;
  if (wgts_arg_i32(env, argv[1], "mtu", &mtu) != 0) return NULL;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_mtu = mtu;
  int err = link_ioctl(name, SIOCSIFMTU, &ifr);
  if (err != 0) return wgts_throw_errno(env, "ioctl SIOCSIFMTU", err);
  return NULL;
}

static napi_value close_fd(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 1, argv);
  int32_t fd;
  if (wgts_arg_i32(env, argv[0], "fd", &fd) != 0) return NULL;
  if (close(fd) < 0 && errno != EINTR) return wgts_throw_errno(env, "close", errno);
  return NULL;
}

/* Writes one packet; returns 0 or a positive errno. */
static int write_one(int fd, const uint8_t *p, size_t len) {
  for (;;) {
    ssize_t n = write(fd, p, len);
    if (n >= 0) return 0;
    if (errno != EINTR) return errno;
  }
}

static int fatal_write_error(int err) { return err == EBADF || err == EBADFD; }

/* The outcome of a batch of TUN writes, reported to JavaScript as status[0..2]. */
typedef struct {
  int32_t written, dropped, last;
} write_tally;

/* Records one write's result (0 or a positive errno). Returns 0 when the descriptor is gone: the
 * `remaining` packets, this one included, are counted as dropped and the batch stops. */
static int tally_write(write_tally *t, int err, uint32_t remaining) {
  if (err == 0) {
    t->written++;
    return 1;
  }
  t->last = -err;
  if (fatal_write_error(err)) {
    t->dropped += (int32_t)remaining;
    return 0;
  }
  t->dropped++;
  return 1;
}

static void tally_store(const write_tally *t, int32_t *status) {
  status[0] = t->written;
  status[1] = t->dropped;
  status[2] = t->last;
}

static napi_value write_list(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 4, argv);
  int32_t fd;
  uint32_t count, array_len = 0;
  int32_t *status;
  bool is_array = false;
  if (wgts_arg_i32(env, argv[0], "fd", &fd) != 0) return NULL;
  if (wgts_arg_u32(env, argv[2], "count", &count) != 0) return NULL;
  if (wgts_arg_status(env, argv[3], &status) != 0) return NULL;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[1], &array_len) != napi_ok)
    return wgts_throw_type(env, "wgts_native: packets must be an array");
  if (count > array_len) return wgts_throw_range(env, "wgts_native: count exceeds packets.length");

  write_tally t = {0, 0, 0};
  for (uint32_t i = 0; i < count; i++) {
    napi_value el;
    uint8_t *p;
    size_t len;
    /* May run a getter: p is taken after it and used before anything else can run. */
    WGTS_CHECK(env, napi_get_element(env, argv[1], i, &el));
    if (wgts_arg_bytes(env, el, "packets[i]", &p, &len) != 0) return NULL;
    if (len > WGTS_MAX_SLOT_CAPACITY)
      return wgts_throw_range(env, "wgts_native: packets[i] holds more than 65535 bytes of IP payload");
    if (!tally_write(&t, write_one(fd, p, len), count - i)) break;
  }
  /* The getters above may have detached or replaced status's buffer: fetch it again. */
  if (wgts_arg_status(env, argv[3], &status) != 0) return NULL;
  tally_store(&t, status);
  return NULL;
}

static napi_value write_batch(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 6, argv);
  int32_t fd;
  uint32_t count;
  uint8_t *buf;
  size_t buf_len, n_off, n_len;
  void *offs_v, *lens_v;
  int32_t *status;
  if (wgts_arg_i32(env, argv[0], "fd", &fd) != 0) return NULL;
  if (wgts_arg_bytes(env, argv[1], "buffer", &buf, &buf_len) != 0) return NULL;
  if (wgts_arg_typed(env, argv[2], napi_uint32_array, "offsets", &offs_v, &n_off) != 0) return NULL;
  if (wgts_arg_typed(env, argv[3], napi_uint32_array, "lengths", &lens_v, &n_len) != 0) return NULL;
  if (wgts_arg_u32(env, argv[4], "count", &count) != 0) return NULL;
  if (wgts_arg_status(env, argv[5], &status) != 0) return NULL;
  const uint32_t *offs = offs_v, *lens = lens_v;
  if (count > n_off || count > n_len)
    return wgts_throw_range(env, "wgts_native: count exceeds offsets/lengths");
  for (uint32_t i = 0; i < count; i++) {
    if ((uint64_t)offs[i] + lens[i] > buf_len)
      return wgts_throw_range(env, "wgts_native: a packet lies outside the buffer");
    if (lens[i] > WGTS_MAX_SLOT_CAPACITY)
      return wgts_throw_range(env, "wgts_native: a packet holds more than 65535 bytes of IP payload");
  }

  write_tally t = {0, 0, 0};
  for (uint32_t i = 0; i < count; i++) {
    if (!tally_write(&t, write_one(fd, buf + offs[i], lens[i]), count - i)) break;
  }
  tally_store(&t, status);
  return NULL;
}

static napi_status set_const(napi_env env, napi_value obj, const char *name, int32_t value) {
  napi_value v;
  napi_status s = napi_create_int32(env, value, &v);
  if (s != napi_ok) return s;
  return napi_set_named_property(env, obj, name, v);
}

napi_status wgts_init_tun(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"tunOpen", NULL, tun_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tunAttach", NULL, tun_attach, NULL, NULL, NULL, napi_enumerable, NULL},
      {"linkMtu", NULL, link_mtu, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setLinkMtu", NULL, set_link_mtu, NULL, NULL, NULL, napi_enumerable, NULL},
      {"linkIndex", NULL, link_index, NULL, NULL, NULL, napi_enumerable, NULL},
      {"linkFlags", NULL, link_flags, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"packetPair", NULL, packet_pair, NULL, NULL, NULL, napi_enumerable, NULL},
      {"writeList", NULL, write_list, NULL, NULL, NULL, napi_enumerable, NULL},
      {"writeBatch", NULL, write_batch, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_status s = napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  if (s != napi_ok) return s;
  napi_value c;
  s = napi_create_object(env, &c);
  if (s != napi_ok) return s;
  if ((s = set_const(env, c, "IFF_TUN", IFF_TUN)) != napi_ok) return s;
  if ((s = set_const(env, c, "IFF_NO_PI", IFF_NO_PI)) != napi_ok) return s;
  if ((s = set_const(env, c, "IFF_VNET_HDR", IFF_VNET_HDR)) != napi_ok) return s;
  if ((s = set_const(env, c, "IFF_MULTI_QUEUE", IFF_MULTI_QUEUE)) != napi_ok) return s;
  if ((s = set_const(env, c, "IFNAMSIZ", IFNAMSIZ)) != napi_ok) return s;
  return napi_set_named_property(env, exports, "constants", c);
}
