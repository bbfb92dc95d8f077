/*
 * wgts native addon: shared helpers (argument parsing, errno -> JS Error, per-environment
 * scratch memory). The addon is deliberately thin (DESIGN.md "The native layer is thin"): it
 * performs Linux syscalls on buffers that TypeScript owns and never looks inside a packet.
 */
#ifndef WGTS_COMMON_H
#define WGTS_COMMON_H

#define NAPI_VERSION 8
#include <node_api.h>
#include <stdint.h>
#include <stddef.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "limits.h"

/* Per-environment scratch for the send path: allocated once when the module loads, reused by
 * every batch, so sending allocates nothing. Only the JS thread of that environment uses it. */
typedef struct wgts_scratch {
  struct mmsghdr msgs[WGTS_SEND_CHUNK];
  struct iovec iov[WGTS_SEND_CHUNK];
  struct sockaddr_in6 names[WGTS_SEND_CHUNK];
  /* The bulk AEAD's reused OpenSSL contexts (native/aead.c), freed with the scratch. */
  void *aead;
} wgts_scratch;

wgts_scratch *wgts_get_scratch(napi_env env);

/* Throws an Error { code: 'EADDRINUSE', errno: -98, syscall } for a positive errno. Returns NULL
 * so callers can `return wgts_throw_errno(...)`. */
napi_value wgts_throw_errno(napi_env env, const char *syscall, int err);
/* Throws a TypeError / RangeError with a `code`. */
napi_value wgts_throw_type(napi_env env, const char *message);
napi_value wgts_throw_range(napi_env env, const char *message);
/* The symbolic name of a positive errno ("EADDRINUSE"), or "EUNKNOWN". */
const char *wgts_errno_name(int err);

/* Argument helpers: each returns 0 on success, or throws a TypeError (wrong type, a detached
 * buffer) or RangeError (a number that is not an integer of the type's range: no silent wrap of
 * 2^32 + 8 to 8, of -1 to 4294967295, or of 1.5 to 1) and returns -1. None of them runs
 * JavaScript, so a pointer they return stays valid until the caller next runs JavaScript (a
 * callback, or napi_get_element / napi_get_property, which may call a getter or a Proxy trap). */
int wgts_arg_i32(napi_env env, napi_value v, const char *what, int32_t *out);
int wgts_arg_u32(napi_env env, napi_value v, const char *what, uint32_t *out);
/* A Uint8Array (or Buffer): returns its bytes and byte length. */
int wgts_arg_bytes(napi_env env, napi_value v, const char *what, uint8_t **data, size_t *len);
/* A TypedArray of one exact element type, returning the element pointer and element count. */
int wgts_arg_typed(napi_env env, napi_value v, napi_typedarray_type type, const char *what, void **data,
                   size_t *count);
/* Like wgts_arg_typed, but throws nothing: for re-validating a held buffer outside a JavaScript
 * call (native/reader.c, before every batch). Returns 0, or -1 when v is not a typed array of
 * that type or its buffer is detached. */
int wgts_view(napi_env env, napi_value v, napi_typedarray_type type, void **data, size_t *count);
/* Throws a RangeError unless len <= max (WGTS_MAX_PAYLOAD, WGTS_MAX_PACKET, ...); returns 0 or
 * -1. */
int wgts_check_len(napi_env env, uint64_t len, uint64_t max, const char *what);
/* A string into buf (at most cap-1 bytes + NUL); longer strings are a RangeError. */
int wgts_arg_string(napi_env env, napi_value v, const char *what, char *buf, size_t cap);

/* An Int32Array of at least 3 elements that a write/send call fills with
 * [done, dropped, last errno negated or 0]. */
int wgts_arg_status(napi_env env, napi_value v, int32_t **status);

/* Sets obj[name] = int32 value. */
napi_status wgts_set_i32(napi_env env, napi_value obj, const char *name, int32_t value);

/* UDP helpers shared by udp.c and offload.c: a sockaddr for family af (AF_INET/AF_INET6) from 4
 * or 16 address bytes; and whether a send error drops the rest of a batch (a full buffer, a
 * closed socket) rather than just the datagram. */
socklen_t wgts_fill_addr(struct sockaddr_in6 *out, int af, const uint8_t *addr, uint16_t port);
int wgts_send_drops_rest(int err);

/* Sticky source addresses (udp.c; the kernel's socket.c send4/send6 and wireguard-go's
 * conn/sticky_linux.go): a send may carry the local address a peer last reached us on as an
 * IP_PKTINFO / IPV6_PKTINFO control message, so the reply leaves from it. */
#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
/* Room for one UDP_SEGMENT and one pktinfo control message. */
#define WGTS_SEND_CONTROL (CMSG_SPACE(sizeof(uint16_t)) + CMSG_SPACE(sizeof(struct in6_pktinfo)))
/* The optional `source` argument: null/undefined gives NULL; otherwise exactly 4 (af AF_INET) or
 * 16 (AF_INET6) bytes. Returns 0, or throws and returns -1. */
int wgts_arg_source(napi_env env, napi_value v, int af, const uint8_t **source);
/* Writes the control messages of one send into buf (WGTS_SEND_CONTROL bytes): UDP_SEGMENT when
 * gso > 0, the pktinfo of `source` when not NULL. Returns the control length (0: none). */
size_t wgts_put_control(uint8_t *buf, uint16_t gso, int af, const uint8_t *source);
/* Whether a send that carried a source failed because of it: the address is no longer ours
 * (EINVAL, EADDRNOTAVAIL) or no route leaves from it (ENETUNREACH). */
int wgts_source_refused(int err);
/* A status array like wgts_arg_status; *count gets its length (a 4th element, when there, gets
 * 1 if a send dropped its source and 0 otherwise). */
int wgts_arg_status_n(napi_env env, napi_value v, int32_t **status, size_t *count);

/* Registration of each part of the module. */
napi_status wgts_init_tun(napi_env env, napi_value exports);
napi_status wgts_init_tun_link(napi_env env, napi_value exports);
napi_status wgts_init_route_mtu(napi_env env, napi_value exports);
napi_status wgts_init_udp(napi_env env, napi_value exports);
napi_status wgts_init_route_check(napi_env env, napi_value exports);
napi_status wgts_init_reader(napi_env env, napi_value exports);
napi_status wgts_init_aead(napi_env env, napi_value exports, wgts_scratch *scratch);
napi_status wgts_init_offload(napi_env env, napi_value exports);
napi_status wgts_init_csum(napi_env env, napi_value exports);
napi_status wgts_init_process(napi_env env, napi_value exports);
napi_status wgts_init_link_watch(napi_env env, napi_value exports);
/* Frees what wgts_init_aead put in scratch->aead. */
void wgts_free_aead(void *aead);

#define WGTS_CHECK(env, call)           \
  do {                                  \
    if ((call) != napi_ok) return NULL; \
  } while (0)

#define WGTS_ARGS(env, info, n, argv)                                         \
  size_t argc_ = (n);                                                         \
  napi_value argv[(n) > 0 ? (n) : 1];                                         \
  WGTS_CHECK(env, napi_get_cb_info((env), (info), &argc_, argv, NULL, NULL)); \
  if (argc_ < (size_t)(n)) return wgts_throw_type((env), "wgts_native: too few arguments")

#endif
