/*
 * wgts native addon: batched readers for a TUN fd (read()) and a UDP socket (recvmmsg()),
 * driven by a libuv poll handle on Node's own event loop (uv_poll, level-triggered).
 *
 *   readerCreate(fd, kind, buffer, slots, stride, headroom, capacity, lengths,
 *                addresses, ports, callback[, gsoSizes[, locals]]) -> handle
 *       kind 0: TUN, read() until EAGAIN or `slots` packets (on an idle link the first packet
 *       is handed over alone and the rest read after its callback: on_poll_tun); kind 4 / 6:
 *       a UDP socket of that family, one recvmmsg() of up to `slots` datagrams. Slot i's bytes
 *       land at buffer[i * stride + headroom], at most `capacity` bytes; lengths[i] (Int32Array)
 *       gets its length. For UDP, addresses[i * 16 ..] (Uint8Array, 16 bytes per slot; a v4 source uses
 *       the first 4) and ports[i] (Uint16Array) get the source. With `locals` (Uint8Array, 20
 *       bytes per slot), locals[i * 20 ..] gets the local address the datagram arrived at, from
 *       the IP_PKTINFO (ipi_spec_dst: for a broadcast, the address the kernel would answer from)
 *       or IPV6_PKTINFO (ipi6_addr) control message, in the first 4 or 16 bytes, and the
 *       arrival interface index as a little-endian uint32 at +16; all zero when the kernel gave
 *       none (the sticky source of replies, src/io/bind.ts). All of these arrays belong to the
 *       caller, are allocated once, and are held (by reference) until close. slots is 1..4096,
 *       capacity 1..65585 (an IPv6 packet and a vnet header); offsets and sizes are checked in
 *       64-bit arithmetic.
 *   readerStart(h) / readerStop(h) / readerClose(h)
 *
 * Every time the fd is readable the handle reads one batch and makes ONE JavaScript call,
 * callback(count, err): `count` slots are filled; err is 0 or a negated errno (read() failing
 * with EBADFD after `ip link del`: epoll reports EPOLLERR, libuv turns that into EBADF, and the
 * reader reads to learn the real error). A TUN reader stops polling after any error (a dead TUN
 * would otherwise spin); a UDP reader stops only on EBADF/ENOTSOCK/EINVAL/EFAULT and keeps going
 * after transient errors (ENOMEM, a queued ICMP error). The slots are overwritten
 * by the next batch, which can only start after the callback returned. The callback runs through
 * napi_make_callback (so process.nextTick and promise jobs run after it, as for any I/O event);
 * an exception it throws is reported as uncaught. Nothing here allocates per packet or per batch
 * (beyond the two small integers handed to the callback).
 *
 * No pointer into a JavaScript buffer outlives a call into JavaScript (DESIGN.md "Bounds"): the
 * callback may detach, transfer or shrink any of the arrays. So the reader keeps references, not
 * pointers, and before EVERY batch takes the arrays' current bytes again and checks them (typed
 * array of the right type, not detached, still long enough). If one no longer passes, nothing is
 * read: the reader stops polling and reports callback(0, -EFAULT) once.
 *
 * Lifetime: while polling, the handle keeps itself alive (a strong reference to its own JS
 * object). readerClose stops the poll, drops every reference and closes the uv handle; the memory
 * is freed when both the uv close callback and the JS finalizer have run. The fd is the caller's:
 * close the reader before closing the fd (epoll must not see a closed fd).
 */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#include <netinet/udp.h>

#ifndef SOL_UDP
#define SOL_UDP 17
#endif

#define READER_MAGIC 0x77677264u /* "wgrd": tells a reader handle from any other external */
#define KIND_TUN 0

typedef struct reader {
  uint32_t magic;
  uv_poll_t poll;
  napi_env env;
  int fd;
  int kind;
  uint8_t *buf;
  uint32_t slots;
  size_t stride, headroom, capacity;
  int32_t *lengths;
  uint8_t *addrs;
  uint16_t *ports;
  /* UDP with UDP_GRO on: gso[i] gets the segment size of a coalesced slot (0: one datagram). */
  int32_t *gso;
  /* UDP: LOCAL_RECORD bytes per slot for the local address and interface (or NULL). */
  uint8_t *locals;
  size_t control_len; /* control bytes per slot (0: no control messages read) */
  /* UDP only: recvmmsg descriptors, one per slot, prepared once. */
  struct mmsghdr *msgs;
  struct iovec *iov;
  struct sockaddr_in6 *names;
  uint8_t *control; /* control_len bytes per slot */
  napi_ref buf_ref, lengths_ref, addrs_ref, ports_ref, gso_ref, locals_ref, cb_ref, resource_ref, self_ref;
  napi_async_context async;
  int polling;
  /* TUN: the last wake found at most one packet (an idle link: see on_poll_tun). */
  int idle;
  int closed;        /* readerClose (or teardown) ran: references gone */
  int handle_closed; /* uv close callback ran */
  int finalized;     /* JS object collected */
} reader_t;

/* Room for one UDP_GRO control message (an int segment size), aligned. */
#define GRO_CONTROL CMSG_SPACE(sizeof(int))
/* Room for one IP_PKTINFO or IPV6_PKTINFO control message (in6_pktinfo is the larger). */
#define PKTINFO_CONTROL CMSG_SPACE(sizeof(struct in6_pktinfo))
#define LOCAL_RECORD WGTS_LOCAL_RECORD

static void free_reader(reader_t *r) {
  free(r->control);
  free(r->msgs);
  free(r->iov);
  free(r->names);
  r->magic = 0;
  free(r);
}

static void on_handle_closed(uv_handle_t *h) {
  reader_t *r = h->data;
  r->handle_closed = 1;
  if (r->finalized) free_reader(r);
}

static void delete_ref(napi_env env, napi_ref *ref) {
  if (*ref != NULL) {
    /* Nothing to do if it fails (the environment is going away): the pointer is dropped either way. */
    (void)napi_delete_reference(env, *ref);
    *ref = NULL;
  }
}

static void stop_polling(reader_t *r) {
  if (!r->polling) return;
  uv_poll_stop(&r->poll);
  r->polling = 0;
  uint32_t count;
  /* Only fails for a reference already deleted, which close_reader does after this. */
  if (r->self_ref != NULL) (void)napi_reference_unref(r->env, r->self_ref, &count);
}

static void cleanup_hook(void *arg);

/* Stops, drops every reference and starts closing the uv handle. Idempotent. */
static void close_reader(reader_t *r, int from_cleanup_hook) {
  if (r->closed) return;
  stop_polling(r);
  r->closed = 1;
  napi_env env = r->env;
  /* Fails only if the hook was never added (its creation failed half-way): nothing to undo. */
  if (!from_cleanup_hook) (void)napi_remove_env_cleanup_hook(env, cleanup_hook, r);
  delete_ref(env, &r->buf_ref);
  delete_ref(env, &r->lengths_ref);
  delete_ref(env, &r->addrs_ref);
  delete_ref(env, &r->ports_ref);
  delete_ref(env, &r->gso_ref);
  delete_ref(env, &r->locals_ref);
  delete_ref(env, &r->cb_ref);
  delete_ref(env, &r->resource_ref);
  delete_ref(env, &r->self_ref);
  if (r->async != NULL) {
    (void)napi_async_destroy(env, r->async); /* as delete_ref */
    r->async = NULL;
  }
  uv_close((uv_handle_t *)&r->poll, on_handle_closed);
}

static void cleanup_hook(void *arg) { close_reader((reader_t *)arg, 1); }

static void finalize_reader(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  reader_t *r = data;
  close_reader(r, 0);
  r->finalized = 1;
  if (r->handle_closed) free_reader(r);
}

static uint8_t *slot(reader_t *r, uint32_t i) { return r->buf + (size_t)i * r->stride + r->headroom; }

/* Reads up to `limit` packets (at most the slots), stopping at EAGAIN. */
static int32_t read_tun(reader_t *r, uint32_t limit, int32_t *err) {
  uint32_t n = 0;
  if (limit > r->slots) limit = r->slots;
  while (n < limit) {
    ssize_t got = read(r->fd, slot(r, n), r->capacity);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) *err = -errno;
      break;
    }
    r->lengths[n++] = (int32_t)got;
  }
  return (int32_t)n;
}

/* One slot's LOCAL_RECORD: the address, then the interface index (little-endian uint32). */
static void record_local(uint8_t *local, const void *address, size_t len, uint32_t ifindex) {
  memcpy(local, address, len);
  for (int i = 0; i < 4; i++) local[16 + i] = (uint8_t)(ifindex >> (8 * i));
}

/* Slot i's control messages: its UDP_GRO segment size into gso[i], its local address and
 * interface into locals[i * LOCAL_RECORD ..] (zero when absent or truncated). */
static void read_control(reader_t *r, int i) {
  int32_t seg = 0;
  uint8_t *local = r->locals != NULL ? r->locals + (size_t)i * LOCAL_RECORD : NULL;
  if (local != NULL) memset(local, 0, LOCAL_RECORD);
  struct msghdr *m = &r->msgs[i].msg_hdr;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == 104 /* UDP_GRO */ &&
        c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int v;
      memcpy(&v, CMSG_DATA(c), sizeof v);
      seg = v;
    } else if (local != NULL && c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
               c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
      struct in_pktinfo pi;
      memcpy(&pi, CMSG_DATA(c), sizeof pi);
      record_local(local, &pi.ipi_spec_dst, 4, (uint32_t)pi.ipi_ifindex);
    } else if (local != NULL && c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
               c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
      struct in6_pktinfo pi;
      memcpy(&pi, CMSG_DATA(c), sizeof pi);
      record_local(local, &pi.ipi6_addr, 16, pi.ipi6_ifindex);
    }
  }
  if (r->gso != NULL) r->gso[i] = seg;
}

static int32_t read_udp(reader_t *r, int32_t *err) {
  for (uint32_t i = 0; i < r->slots; i++) {
    r->msgs[i].msg_hdr.msg_namelen = sizeof r->names[i];
    r->msgs[i].msg_hdr.msg_flags = 0;
    r->msgs[i].msg_hdr.msg_controllen = r->control_len;
  }
  int n;
  do n = recvmmsg(r->fd, r->msgs, r->slots, MSG_DONTWAIT, NULL);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) *err = -errno;
    return 0;
  }
  for (int i = 0; i < n; i++) {
    r->lengths[i] = (int32_t)r->msgs[i].msg_len;
    if (r->control_len > 0) read_control(r, i);
    const struct sockaddr_in6 *sa = &r->names[i];
    uint8_t *a = r->addrs + (size_t)i * WGTS_ADDRESS_RECORD;
    if (sa->sin6_family == AF_INET) {
      const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
      memcpy(a, &s4->sin_addr, 4);
      memset(a + 4, 0, 12);
      r->ports[i] = ntohs(s4->sin_port);
    } else {
      memcpy(a, &sa->sin6_addr, 16);
      r->ports[i] = ntohs(sa->sin6_port);
    }
  }
  return n;
}

static int stops_reader(const reader_t *r, int32_t err) {
  if (r->kind == KIND_TUN) return 1;
  return err == -EBADF || err == -ENOTSOCK || err == -EINVAL || err == -EFAULT;
}

static void deliver(reader_t *r, int32_t count, int32_t err) {
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, resource, argv[2], result;
  if (napi_get_reference_value(env, r->cb_ref, &cb) == napi_ok &&
      napi_get_reference_value(env, r->resource_ref, &resource) == napi_ok &&
      napi_create_int32(env, count, &argv[0]) == napi_ok &&
      napi_create_int32(env, err, &argv[1]) == napi_ok) {
    napi_status s = napi_make_callback(env, r->async, resource, cb, 2, argv, &result);
    if (s == napi_pending_exception) {
      napi_value exc;
      if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
    }
  }
  (void)napi_close_handle_scope(env, scope); /* fails only for a scope not opened: it was */
}

/* Returns the number of slots delivered (0: nothing was read). */
static int32_t read_and_deliver(reader_t *r, int status, uint32_t limit);

/* How many full UDP batches one readable event may deliver. A socket that filled every slot
 * probably holds more: reading it again now, rather than after a whole event-loop turn, keeps a
 * flood of cheap-to-drop datagrams from overflowing the receive buffer and starving the tunnel's
 * packets queued behind them. Bounded, so the loop's other work still runs. */
#define UDP_REPEAT WGTS_UDP_REPEAT

/* The TUN side of an idle link (a ping, a keystroke): reading on to EAGAIN before the callback
 * puts one more system call between the packet and its send, and on this kernel every system
 * call empties the TLB that the callback then refills (bench/hops.mjs). So a wake after a wake
 * that found at most one packet hands its first packet over at once and reads on only after
 * the callback: the same calls, with the empty read after the send, as wireguard-go and
 * boringtun do it. A second packet waiting then means load: the rest is read as a full batch
 * and the next wake batches from the start again. */
static void on_poll_tun(reader_t *r, int status) {
  if (!r->idle) {
    int32_t n = read_and_deliver(r, status, r->slots);
    r->idle = n <= 1;
    return;
  }
  int32_t first = read_and_deliver(r, status, 1);
  if (first != 1 || r->closed || !r->polling) return;
  int32_t rest = read_and_deliver(r, 0, r->slots);
  r->idle = rest == 0;
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)events;
  reader_t *r = h->data;
  if (r->closed || !r->polling) return;
  if (r->kind == KIND_TUN) {
    on_poll_tun(r, status);
    return;
  }
  int32_t n = read_and_deliver(r, status, r->slots);
  for (int i = 1; i < UDP_REPEAT && n == (int32_t)r->slots; i++) {
    if (r->closed || !r->polling) break;
    n = read_and_deliver(r, 0, r->slots);
  }
}

/* One held array's current bytes: the typed array behind ref, of type `type`, not detached, with
 * at least `need` elements. Returns its data or NULL. */
static void *held_view(napi_env env, napi_ref ref, napi_typedarray_type type, uint64_t need) {
  napi_value v;
  void *data = NULL;
  size_t count = 0;
  if (ref == NULL || napi_get_reference_value(env, ref, &v) != napi_ok || v == NULL) return NULL;
  if (wgts_view(env, v, type, &data, &count) != 0 || count < need || data == NULL) return NULL;
  return data;
}

/* Takes every array's bytes again (the last callback may have detached or shrunk any of them) and
 * points the recvmmsg descriptors at them. Needs an open handle scope. Returns 0, or -1 when one
 * of them no longer fits. */
static int refresh_views(reader_t *r) {
  napi_env env = r->env;
  uint64_t slots = r->slots;
  r->buf = held_view(env, r->buf_ref, napi_uint8_array, slots * r->stride);
  r->lengths = held_view(env, r->lengths_ref, napi_int32_array, slots);
  if (r->buf == NULL || r->lengths == NULL) return -1;
  if (r->kind == KIND_TUN) return 0;
  r->addrs = held_view(env, r->addrs_ref, napi_uint8_array, slots * WGTS_ADDRESS_RECORD);
  r->ports = held_view(env, r->ports_ref, napi_uint16_array, slots);
  if (r->addrs == NULL || r->ports == NULL) return -1;
  if (r->gso_ref != NULL && (r->gso = held_view(env, r->gso_ref, napi_int32_array, slots)) == NULL) return -1;
  if (r->locals_ref != NULL &&
      (r->locals = held_view(env, r->locals_ref, napi_uint8_array, slots * LOCAL_RECORD)) == NULL)
    return -1;
  for (uint32_t i = 0; i < r->slots; i++) r->iov[i].iov_base = slot(r, i);
  return 0;
}

static int32_t read_and_deliver(reader_t *r, int status, uint32_t limit) {
  int32_t count = 0, err = 0;
  napi_handle_scope scope;
  if (napi_open_handle_scope(r->env, &scope) != napi_ok) return 0;
  int fits = refresh_views(r) == 0;
  napi_close_handle_scope(r->env, scope);
  if (!fits) {
    /* A buffer was detached or shrunk: reading into it would write freed or foreign memory. */
    stop_polling(r);
    deliver(r, 0, -EFAULT);
    return 0;
  }
  count = r->kind == KIND_TUN ? read_tun(r, limit, &err) : read_udp(r, &err);
  if (status < 0) {
    /* libuv turns EPOLLERR into UV_EBADF and stops the handle. The read above tells the real
     * error (a TUN whose link was deleted: EBADFD) and consumes a socket's pending error; only a
     * UDP socket whose read reported such a transient error resumes polling. */
    if (err == 0 || stops_reader(r, err)) {
      if (err == 0) err = status;
      stop_polling(r);
    } else if (uv_poll_start(&r->poll, UV_READABLE, on_poll) != 0) {
      stop_polling(r);
    }
  } else if (err != 0 && stops_reader(r, err)) {
    stop_polling(r);
  }
  if (count == 0 && err == 0) return 0;
  deliver(r, count, err);
  return err == 0 ? count : 0;
}

static reader_t *reader_arg(napi_env env, napi_value v) {
  void *data = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external ||
      napi_get_value_external(env, v, &data) != napi_ok || data == NULL ||
      ((reader_t *)data)->magic != READER_MAGIC) {
    wgts_throw_type(env, "wgts_native: not a reader handle");
    return NULL;
  }
  return data;
}

static napi_value reader_create(napi_env env, napi_callback_info info) {
  /* 11 arguments, and for UDP a 12th, gsoSizes (Int32Array, one per slot), and a 13th, locals
   * (Uint8Array, LOCAL_RECORD bytes per slot), each null or absent when not wanted. */
  size_t argc_ = 13;
  napi_value argv[13];
  WGTS_CHECK(env, napi_get_cb_info(env, info, &argc_, argv, NULL, NULL));
  if (argc_ < 11) return wgts_throw_type(env, "wgts_native: too few arguments");
  void *gso = NULL;
  size_t n_gso = 0;
  uint8_t *locals = NULL;
  size_t n_locals = 0;
  napi_valuetype gt = napi_undefined, lt = napi_undefined;
  if (argc_ >= 12 && napi_typeof(env, argv[11], &gt) != napi_ok) return NULL;
  if (argc_ >= 13 && napi_typeof(env, argv[12], &lt) != napi_ok) return NULL;
  int32_t fd, kind;
  uint32_t slots, stride, headroom, capacity;
  uint8_t *buf, *addrs = NULL;
  size_t buf_len, n_lengths, n_addrs = 0, n_ports = 0;
  void *lengths, *ports = NULL;
  napi_valuetype cbt;
  if (wgts_arg_i32(env, argv[0], "fd", &fd) != 0) return NULL;
  if (wgts_arg_i32(env, argv[1], "kind", &kind) != 0) return NULL;
  if (kind != KIND_TUN && kind != 4 && kind != 6)
    return wgts_throw_range(env, "wgts_native: kind must be 0 (TUN), 4 or 6 (UDP)");
  if (wgts_arg_bytes(env, argv[2], "buffer", &buf, &buf_len) != 0) return NULL;
  if (wgts_arg_u32(env, argv[3], "slots", &slots) != 0) return NULL;
  if (wgts_arg_u32(env, argv[4], "stride", &stride) != 0) return NULL;
  if (wgts_arg_u32(env, argv[5], "headroom", &headroom) != 0) return NULL;
  if (wgts_arg_u32(env, argv[6], "capacity", &capacity) != 0) return NULL;
  if (wgts_arg_typed(env, argv[7], napi_int32_array, "lengths", &lengths, &n_lengths) != 0) return NULL;
  if (kind != KIND_TUN) {
    if (wgts_arg_bytes(env, argv[8], "addresses", &addrs, &n_addrs) != 0) return NULL;
    if (wgts_arg_typed(env, argv[9], napi_uint16_array, "ports", &ports, &n_ports) != 0) return NULL;
  }
  if (kind != KIND_TUN && argc_ >= 12 && gt != napi_null && gt != napi_undefined) {
    if (wgts_arg_typed(env, argv[11], napi_int32_array, "gsoSizes", &gso, &n_gso) != 0) return NULL;
    if (n_gso < slots) return wgts_throw_range(env, "wgts_native: gsoSizes shorter than slots");
  }
  if (kind != KIND_TUN && lt != napi_null && lt != napi_undefined) {
    if (wgts_arg_bytes(env, argv[12], "locals", &locals, &n_locals) != 0) return NULL;
    if ((uint64_t)slots * LOCAL_RECORD > n_locals)
      return wgts_throw_range(env, "wgts_native: locals shorter than slots x 20");
  }
  if (napi_typeof(env, argv[10], &cbt) != napi_ok || cbt != napi_function)
    return wgts_throw_type(env, "wgts_native: callback must be a function");
  if (slots > WGTS_MAX_SLOTS || capacity > WGTS_MAX_SLOT_CAPACITY)
    return wgts_throw_range(env, "wgts_native: slots must be at most 4096 and capacity at most 65585");
  if (slots == 0 || capacity == 0 || (uint64_t)headroom + capacity > stride ||
      (uint64_t)slots * stride > buf_len || n_lengths < slots ||
      (kind != KIND_TUN && ((uint64_t)slots * WGTS_ADDRESS_RECORD > n_addrs || n_ports < slots)))
    return wgts_throw_range(env, "wgts_native: reader buffers do not fit slots x stride");

  reader_t *r = calloc(1, sizeof *r);
  if (r == NULL) return wgts_throw_errno(env, "calloc", ENOMEM);
  r->magic = READER_MAGIC;
  r->env = env;
  r->fd = fd;
  r->kind = kind;
  r->buf = buf;
  r->slots = slots;
  r->stride = stride;
  r->headroom = headroom;
  r->capacity = capacity;
  r->lengths = lengths;
  r->addrs = addrs;
  r->ports = ports;
  r->gso = gso;
  r->locals = locals;
  r->control_len = (gso != NULL ? GRO_CONTROL : 0) + (locals != NULL ? PKTINFO_CONTROL : 0);
  if (kind != KIND_TUN) {
    r->msgs = calloc(slots, sizeof *r->msgs);
    r->iov = calloc(slots, sizeof *r->iov);
    r->names = calloc(slots, sizeof *r->names);
    if (r->control_len > 0) r->control = calloc(slots, r->control_len);
    if (r->msgs == NULL || r->iov == NULL || r->names == NULL || (r->control_len > 0 && r->control == NULL)) {
      free_reader(r);
      return wgts_throw_errno(env, "calloc", ENOMEM);
    }
    for (uint32_t i = 0; i < slots; i++) {
      r->iov[i].iov_base = slot(r, i);
      r->iov[i].iov_len = capacity;
      r->msgs[i].msg_hdr.msg_iov = &r->iov[i];
      r->msgs[i].msg_hdr.msg_iovlen = 1;
      r->msgs[i].msg_hdr.msg_name = &r->names[i];
      if (r->control_len > 0) r->msgs[i].msg_hdr.msg_control = r->control + (size_t)i * r->control_len;
    }
  }

  uv_loop_t *loop = NULL;
  int uverr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    free_reader(r);
    return NULL;
  }
  if ((uverr = uv_poll_init(loop, &r->poll, fd)) != 0) {
    free_reader(r);
    return wgts_throw_errno(env, "uv_poll_init", -uverr);
  }
  r->poll.data = r;

  /* From here on the uv handle exists: failures go through close_reader + finalizer. */
  napi_value ext, resource, name;
  if (napi_create_external(env, r, finalize_reader, NULL, &ext) != napi_ok) {
    r->finalized = 1;
    r->closed = 1;
    uv_close((uv_handle_t *)&r->poll, on_handle_closed);
    return NULL;
  }
  if (napi_add_env_cleanup_hook(env, cleanup_hook, r) != napi_ok) {
    /* Without the hook the reader is still closed by its finalizer, and nothing else holds it. */
    return NULL;
  }
  WGTS_CHECK(env, napi_create_reference(env, argv[2], 1, &r->buf_ref));
  WGTS_CHECK(env, napi_create_reference(env, argv[7], 1, &r->lengths_ref));
  if (kind != KIND_TUN) {
    WGTS_CHECK(env, napi_create_reference(env, argv[8], 1, &r->addrs_ref));
    WGTS_CHECK(env, napi_create_reference(env, argv[9], 1, &r->ports_ref));
    if (gso != NULL) WGTS_CHECK(env, napi_create_reference(env, argv[11], 1, &r->gso_ref));
    if (locals != NULL) WGTS_CHECK(env, napi_create_reference(env, argv[12], 1, &r->locals_ref));
  }
  WGTS_CHECK(env, napi_create_reference(env, argv[10], 1, &r->cb_ref));
  WGTS_CHECK(env, napi_create_object(env, &resource));
  WGTS_CHECK(env, napi_create_reference(env, resource, 1, &r->resource_ref));
  WGTS_CHECK(env, napi_create_string_utf8(env, kind == KIND_TUN ? "wgts:TunReader" : "wgts:UdpReader",
                                          NAPI_AUTO_LENGTH, &name));
  WGTS_CHECK(env, napi_async_init(env, resource, name, &r->async));
  WGTS_CHECK(env, napi_create_reference(env, ext, 0, &r->self_ref));
  return ext;
}

static napi_value reader_start(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 1, argv);
  reader_t *r = reader_arg(env, argv[0]);
  if (r == NULL) return NULL;
  if (r->closed) return wgts_throw_errno(env, "readerStart", EBADF);
  if (r->polling) return NULL;
  int uverr = uv_poll_start(&r->poll, UV_READABLE, on_poll);
  if (uverr != 0) return wgts_throw_errno(env, "uv_poll_start", -uverr);
  uint32_t count;
  if (napi_reference_ref(env, r->self_ref, &count) != napi_ok) {
    uv_poll_stop(&r->poll);
    return NULL;
  }
  r->polling = 1;
  return NULL;
}

static napi_value reader_stop(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 1, argv);
  reader_t *r = reader_arg(env, argv[0]);
  if (r == NULL) return NULL;
  stop_polling(r);
  return NULL;
}

static napi_value reader_close(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 1, argv);
  reader_t *r = reader_arg(env, argv[0]);
  if (r == NULL) return NULL;
  close_reader(r, 0);
  return NULL;
}

napi_status wgts_init_reader(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"readerCreate", NULL, reader_create, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readerStart", NULL, reader_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readerStop", NULL, reader_stop, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readerClose", NULL, reader_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
