/*
 * wgts native addon: the link behind a TUN fd, asked wherever that link is now.
 *
 *   tunLinkInfo(fd)  -> { name, flags, mtu, ifindex, netns }   TUNGETIFF for the link's current
 *                       name, then SIOCGIFFLAGS / SIOCGIFMTU / SIOCGIFINDEX on a socket of the
 *                       link's current network namespace (TUNGETDEVNETNS); netns is its inode
 *   tunSetLinkMtu(fd, mtu)   SIOCSIFMTU, the same way
 *
 * Why not by name in the daemon's namespace: `ip link set wg0 netns other` moves the link while
 * the daemon, its UDP sockets and its fd stay where they were (the seeds' container setup and
 * wireguard-go's tests/netns.sh). A lookup by name in the daemon's namespace then finds nothing,
 * or a different link that took the name. The fd always names our link: TUNGETIFF gives its
 * current name, and fails with EBADFD once the link is deleted (`ip link del`, or the namespace
 * it was moved into is removed, which deletes it).
 *
 * A socket in the link's namespace: setns(2) on the calling thread into the namespace
 * TUNGETDEVNETNS hands back, socket(2), setns back. The calling thread is Node's main thread and
 * runs nothing else meanwhile; libuv's pool threads have namespaces of their own and are not
 * touched. When the link is in our own namespace (the usual case) no setns happens at all.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The inode of the file at fd, or an errno. statx by raw syscall, not fstat(): glibc 2.33 made
 * fstat an exported symbol (fstat64@GLIBC_2.33), which would keep the prebuilt addon from loading
 * on the older glibc that Node 20 supports (2.28); the syscall is the same for glibc and musl. */
static int fd_inode(int fd, uint64_t *ino) {
  struct statx stx;
  if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_INO, &stx) < 0) return errno;
  *ino = stx.stx_ino;
  return 0;
}

/* Our own namespace, to return to: opened once; its inode tells "the link is here" cheaply. */
static int own_netns_fd = -1;
static uint64_t own_netns_ino = 0;

static int own_netns(void) {
  if (own_netns_fd >= 0) return 0;
  int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = fd_inode(fd, &own_netns_ino);
  if (err != 0) {
    close(fd);
    return err;
  }
  own_netns_fd = fd;
  return 0;
}

static int dgram_socket(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  return s;
}

/* A datagram socket in the namespace of the TUN at fd, and that namespace's inode. Returns the
 * socket or -errno. A kernel without TUNGETDEVNETNS (before 5.2), or a caller without
 * CAP_NET_ADMIN over the link's namespace, gets a socket of our own namespace: the link cannot
 * have been moved by us there, and the name lookup is what older daemons did. */
static int socket_near_tun(int fd, unsigned long long *netns) {
  int err = own_netns();
  if (err != 0) return -err;
  int nsfd = ioctl(fd, TUNGETDEVNETNS);
  if (nsfd < 0) {
    if (errno == EBADFD || errno == EBADF) return -errno;
    *netns = (unsigned long long)own_netns_ino;
    int s = dgram_socket();
    return s < 0 ? -errno : s;
  }
  uint64_t ino = 0;
  err = fd_inode(nsfd, &ino);
  if (err != 0) {
    close(nsfd);
    return -err;
  }
  *netns = (unsigned long long)ino;
  if (ino == own_netns_ino) {
    close(nsfd);
    int s = dgram_socket();
    return s < 0 ? -errno : s;
  }
  if (setns(nsfd, CLONE_NEWNET) < 0) {
    err = errno;
    close(nsfd);
    return -err;
  }
  int s = dgram_socket();
  int serr = errno;
  close(nsfd);
  /* Returning must not fail: every later socket of this thread (UDP, the UAPI listener) would be
   * made in the other namespace. setns into a namespace we were in a moment ago only fails if the
   * process is in a state where nothing is safe any more. */
  if (setns(own_netns_fd, CLONE_NEWNET) < 0) abort();
  return s < 0 ? -serr : s;
}

/* The link's current name (TUNGETIFF) into ifr; 0 or a positive errno (EBADFD: deleted). */
static int tun_name(int fd, struct ifreq *ifr) {
  memset(ifr, 0, sizeof *ifr);
  if (ioctl(fd, TUNGETIFF, ifr) < 0) return errno;
  ifr->ifr_name[IFNAMSIZ - 1] = '\0';
  return 0;
}

static napi_value tun_link_info(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 1, argv);
  int32_t fd;
  if (wgts_arg_i32(env, argv[0], "fd", &fd) != 0) return NULL;
  struct ifreq ifr;
  int err = tun_name(fd, &ifr);
  if (err != 0) return wgts_throw_errno(env, "ioctl TUNGETIFF", err);
  char name[IFNAMSIZ];
  memcpy(name, ifr.ifr_name, IFNAMSIZ);
  unsigned long long netns = 0;
  int s = socket_near_tun(fd, &netns);
  if (s < 0) return wgts_throw_errno(env, "socket in the TUN's namespace", -s);
  int32_t flags = 0, mtu = 0, ifindex = 0;
  const char *what = "ioctl SIOCGIFFLAGS";
  err = 0;
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
    err = errno;
  else {
    flags = (int32_t)(unsigned short)ifr.ifr_flags;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, name, IFNAMSIZ);
    what = "ioctl SIOCGIFMTU";
    if (ioctl(s, SIOCGIFMTU, &ifr) < 0)
      err = errno;
    else {
      mtu = ifr.ifr_mtu;
      memset(&ifr, 0, sizeof ifr);
      memcpy(ifr.ifr_name, name, IFNAMSIZ);
      what = "ioctl SIOCGIFINDEX";
      if (ioctl(s, SIOCGIFINDEX, &ifr) < 0)
        err = errno;
      else
        ifindex = ifr.ifr_ifindex;
    }
  }
  close(s);
  if (err != 0) return wgts_throw_errno(env, what, err);
  napi_value obj, jname, jns;
  WGTS_CHECK(env, napi_create_object(env, &obj));
  WGTS_CHECK(env, napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &jname));
  WGTS_CHECK(env, napi_set_named_property(env, obj, "name", jname));
  WGTS_CHECK(env, wgts_set_i32(env, obj, "flags", flags));
  WGTS_CHECK(env, wgts_set_i32(env, obj, "mtu", mtu));
  WGTS_CHECK(env, wgts_set_i32(env, obj, "ifindex", ifindex));
  WGTS_CHECK(env, napi_create_double(env, (double)netns, &jns));
  WGTS_CHECK(env, napi_set_named_property(env, obj, "netns", jns));
  return obj;
}

static napi_value tun_set_link_mtu(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 2, argv);
  int32_t fd, mtu;
  if (wgts_arg_i32(env, argv[0], "fd", &fd) != 0) return NULL;
  if (wgts_arg_i32(env, argv[1], "mtu", &mtu) != 0) return NULL;
  struct ifreq ifr;
  int err = tun_name(fd, &ifr);
  if (err != 0) return wgts_throw_errno(env, "ioctl TUNGETIFF", err);
  unsigned long long netns = 0;
  int s = socket_near_tun(fd, &netns);
  if (s < 0) return wgts_throw_errno(env, "socket in the TUN's namespace", -s);
  ifr.ifr_mtu = mtu;
  err = ioctl(s, SIOCSIFMTU, &ifr) < 0 ? errno : 0;
  close(s);
  if (err != 0) return wgts_throw_errno(env, "ioctl SIOCSIFMTU", err);
  return NULL;
}

napi_status wgts_init_tun_link(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"tunLinkInfo", NULL, tun_link_info, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tunSetLinkMtu", NULL, tun_set_link_mtu, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
