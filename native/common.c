/*
 * wgts native addon: module entry point and shared helpers. Errors thrown to JavaScript follow
 * Node's own convention for system errors: `code` is the symbolic errno name, `errno` is the
 * negated number (as in util.getSystemErrorName), `syscall` names the failing call.
 */
#include "common.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One errno per entry, packed: the formatter would stair-step the macro calls. */
// clang-format off
const char *wgts_errno_name(int err) {
  switch (err) {
#define E(name)                                                                                \
  case name:                                                                                   \
    return #name;
    E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(EBADF) E(EAGAIN)
    E(ENOMEM) E(EACCES) E(EFAULT) E(EBUSY) E(EEXIST) E(ENODEV) E(ENOTDIR) E(EINVAL)
    E(ENFILE) E(EMFILE) E(ENOTTY) E(EFBIG) E(ENOSPC) E(EPIPE) E(ERANGE) E(ENAMETOOLONG)
    E(ENOSYS) E(EBADFD) E(ENOTSOCK) E(EDESTADDRREQ) E(EMSGSIZE) E(EPROTOTYPE)
    E(ENOPROTOOPT) E(EPROTONOSUPPORT) E(EOPNOTSUPP) E(EAFNOSUPPORT) E(EADDRINUSE)
    E(EADDRNOTAVAIL) E(ENETDOWN) E(ENETUNREACH) E(ENETRESET) E(ECONNABORTED)
    E(ECONNRESET) E(ENOBUFS) E(EISCONN) E(ENOTCONN) E(ETIMEDOUT) E(ECONNREFUSED)
    E(EHOSTDOWN) E(EHOSTUNREACH) E(EALREADY) E(EINPROGRESS)
#undef E
    default:
      return "EUNKNOWN";
  }
}
// clang-format on

static napi_value make_error(napi_env env, const char *code, const char *message) {
  napi_value jcode, jmsg, err;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &jcode) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &jmsg) != napi_ok) return NULL;
  if (napi_create_error(env, jcode, jmsg, &err) != napi_ok) return NULL;
  return err;
}

/* A failed throw means an exception is already pending (or the environment is shutting down):
 * either way the caller returns NULL to JavaScript with nothing more to do, so the statuses of the
 * napi_throw* calls below are deliberately dropped. The errno and syscall fields are extras: an
 * Error without them is still thrown. */
napi_value wgts_throw_errno(napi_env env, const char *syscall, int err) {
  char message[WGTS_ERROR_MESSAGE];
  const char *name = wgts_errno_name(err);
  snprintf(message, sizeof message, "%s failed: %s (%s)", syscall, strerror(err), name);
  napi_value e = make_error(env, name, message);
  if (e == NULL) return NULL;
  napi_value jerrno, jsys;
  if (napi_create_int32(env, -err, &jerrno) != napi_ok ||
      napi_set_named_property(env, e, "errno", jerrno) != napi_ok ||
      napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &jsys) != napi_ok ||
      napi_set_named_property(env, e, "syscall", jsys) != napi_ok) {
    /* fall through: the Error keeps its code and message */
  }
  (void)napi_throw(env, e);
  return NULL;
}

napi_value wgts_throw_type(napi_env env, const char *message) {
  (void)napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}

napi_value wgts_throw_range(napi_env env, const char *message) {
  (void)napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
  return NULL;
}

static int type_fail(napi_env env, const char *what, const char *expected) {
  char message[160];
  snprintf(message, sizeof message, "wgts_native: %s must be %s", what, expected);
  wgts_throw_type(env, message);
  return -1;
}

static int range_fail(napi_env env, const char *what, const char *expected) {
  char message[160];
  snprintf(message, sizeof message, "wgts_native: %s must be %s", what, expected);
  wgts_throw_range(env, message);
  return -1;
}

/* A number that is an integer in [lo, hi], read as a double so that nothing wraps silently
 * (napi_get_value_uint32 would take 2^32 + 8 as 8). */
static int arg_integer(napi_env env, napi_value v, const char *what, double lo, double hi, double *out) {
  if (napi_get_value_double(env, v, out) != napi_ok) return type_fail(env, what, "a number");
  if (!isfinite(*out) || *out != floor(*out) || *out < lo || *out > hi) {
    return range_fail(env, what, lo < 0 ? "an integer in the int32 range" : "an integer in 0..2^32-1");
  }
  return 0;
}

int wgts_arg_i32(napi_env env, napi_value v, const char *what, int32_t *out) {
  double d;
  if (arg_integer(env, v, what, -2147483648.0, 2147483647.0, &d) != 0) return -1;
  *out = (int32_t)d;
  return 0;
}

int wgts_arg_u32(napi_env env, napi_value v, const char *what, uint32_t *out) {
  double d;
  if (arg_integer(env, v, what, 0.0, 4294967295.0, &d) != 0) return -1;
  *out = (uint32_t)d;
  return 0;
}

int wgts_view(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *count) {
  bool is_typed = false, detached = true;
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return -1;
  if (napi_get_typedarray_info(env, v, &type, count, data, &ab, &offset) != napi_ok) return -1;
  if (type != want) return -1;
  /* A detached buffer reports length 0, but its old pointer must never be used: refuse it. */
  if (napi_is_detached_arraybuffer(env, ab, &detached) != napi_ok || detached) return -1;
  return 0;
}

/* Shared by the two throwing forms: the reason for the TypeError, or NULL when v is fine. */
static const char *view_problem(napi_env env, napi_value v, napi_typedarray_type want, void **data,
                                size_t *count) {
  bool is_typed = false;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return "wrong type";
  if (wgts_view(env, v, want, data, count) == 0) return NULL;
  napi_typedarray_type type;
  napi_value ab;
  bool detached = false;
  if (napi_get_typedarray_info(env, v, &type, NULL, NULL, &ab, NULL) == napi_ok && type == want &&
      napi_is_detached_arraybuffer(env, ab, &detached) == napi_ok && detached)
    return "detached";
  return "wrong type";
}

int wgts_arg_bytes(napi_env env, napi_value v, const char *what, uint8_t **data, size_t *len) {
  void *ptr = NULL;
  const char *problem = view_problem(env, v, napi_uint8_array, &ptr, len);
  if (problem == NULL) {
    *data = (uint8_t *)ptr;
    return 0;
  }
  return type_fail(env, what,
                   problem[0] == 'd' ? "a Uint8Array whose buffer is not detached" : "a Uint8Array");
}

int wgts_arg_typed(napi_env env, napi_value v, napi_typedarray_type want, const char *what, void **data,
                   size_t *count) {
  const char *problem = view_problem(env, v, want, data, count);
  if (problem == NULL) return 0;
  return type_fail(env, what,
                   problem[0] == 'd' ? "a typed array whose buffer is not detached"
                                     : "a typed array of the documented element type");
}

int wgts_check_len(napi_env env, uint64_t len, uint64_t max, const char *what) {
  if (len <= max) return 0;
  char expected[64];
  snprintf(expected, sizeof expected, "at most %llu bytes long", (unsigned long long)max);
  return range_fail(env, what, expected);
}

int wgts_arg_string(napi_env env, napi_value v, const char *what, char *buf, size_t cap) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return type_fail(env, what, "a string");
  if (len >= cap) {
    char message[160];
    snprintf(message, sizeof message, "wgts_native: %s is longer than %zu bytes", what, cap - 1);
    wgts_throw_range(env, message);
    return -1;
  }
  if (napi_get_value_string_utf8(env, v, buf, cap, &len) != napi_ok) return type_fail(env, what, "a string");
  return 0;
}

int wgts_arg_status_n(napi_env env, napi_value v, int32_t **status, size_t *count) {
  void *data = NULL;
  *count = 0;
  if (wgts_arg_typed(env, v, napi_int32_array, "status", &data, count) != 0) return -1;
  if (*count < 3) {
    wgts_throw_range(env, "wgts_native: status must hold at least 3 elements");
    return -1;
  }
  *status = (int32_t *)data;
  return 0;
}

int wgts_arg_status(napi_env env, napi_value v, int32_t **status) {
  size_t count;
  return wgts_arg_status_n(env, v, status, &count);
}

napi_status wgts_set_i32(napi_env env, napi_value obj, const char *name, int32_t value) {
  napi_value v;
  napi_status s = napi_create_int32(env, value, &v);
  if (s != napi_ok) return s;
  return napi_set_named_property(env, obj, name, v);
}

static void free_scratch(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  wgts_scratch *scratch = data;
  if (scratch->aead != NULL) wgts_free_aead(scratch->aead);
  free(data);
}

wgts_scratch *wgts_get_scratch(napi_env env) {
  void *data = NULL;
  if (napi_get_instance_data(env, &data) != napi_ok) return NULL;
  return (wgts_scratch *)data;
}

static napi_value init(napi_env env, napi_value exports) {
  wgts_scratch *scratch = calloc(1, sizeof *scratch);
  if (scratch == NULL) {
    (void)napi_throw_error(env, "ENOMEM", "wgts_native: out of memory");
    return NULL;
  }
  if (napi_set_instance_data(env, scratch, free_scratch, NULL) != napi_ok) {
    free(scratch);
    return NULL;
  }
  if (wgts_init_tun(env, exports) != napi_ok) return NULL;
  if (wgts_init_tun_link(env, exports) != napi_ok) return NULL;
  if (wgts_init_route_mtu(env, exports) != napi_ok) return NULL;
  if (wgts_init_udp(env, exports) != napi_ok) return NULL;
  if (wgts_init_route_check(env, exports) != napi_ok) return NULL;
  if (wgts_init_reader(env, exports) != napi_ok) return NULL;
  if (wgts_init_aead(env, exports, scratch) != napi_ok) return NULL;
  if (wgts_init_offload(env, exports) != napi_ok) return NULL;
  if (wgts_init_csum(env, exports) != napi_ok) return NULL;
  if (wgts_init_process(env, exports) != napi_ok) return NULL;
  if (wgts_init_link_watch(env, exports) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
