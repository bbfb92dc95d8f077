/*
 * wgts native addon: process and key primitives for key hygiene (issue 11, "Key material
 * lingers").
 *
 *   setDumpable(on) -> void       prctl(PR_SET_DUMPABLE): off means no core dump, and
 *                                 /proc/PID/{mem,environ,maps} and ptrace closed to anyone but
 *                                 root (CAP_SYS_PTRACE), so the keys in memory stay in memory
 *   dumpable() -> number          prctl(PR_GET_DUMPABLE): 0 off, 1 on, 2 root-only dumps
 *   x25519(out, priv, pub) -> bool
 *                                 X25519 (RFC 7748) of two raw 32-byte keys into out[0..32) on
 *                                 Node's OpenSSL; false (out left zero) when OpenSSL refuses the
 *                                 peer point (the all-zero result of a low-order point)
 *   x25519Public(out, priv) -> void
 *                                 X25519(priv, 9), the public key, into out[0..32)
 *
 * Why here: node:crypto only takes keys as JWK strings (a base64url copy of the private key on
 * the JavaScript heap, left to the garbage collector) or DER through OpenSSL's decoders (eight
 * times slower). EVP_PKEY_new_raw_private_key reads the raw bytes straight from the caller's
 * buffer into OpenSSL's key object, whose private half OpenSSL frees with a cleanse; nothing else
 * holds a copy. No JavaScript runs during a call, so the buffer pointers are valid throughout.
 */
#include "common.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <sys/prctl.h>

static napi_value set_dumpable(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 1, argv);
  bool on;
  if (napi_get_value_bool(env, argv[0], &on) != napi_ok) return wgts_throw_type(env, "on must be a boolean");
  if (prctl(PR_SET_DUMPABLE, on ? 1 : 0, 0, 0, 0) != 0) return wgts_throw_errno(env, "prctl", errno);
  return NULL;
}

static napi_value get_dumpable(napi_env env, napi_callback_info info) {
  (void)info;
  int v = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  if (v < 0) return wgts_throw_errno(env, "prctl", errno);
  napi_value out;
  WGTS_CHECK(env, napi_create_int32(env, v, &out));
  return out;
}

/* A Uint8Array of exactly WGTS_KEY_LEN bytes, or a thrown TypeError. */
static int arg_key(napi_env env, napi_value v, const char *what, uint8_t **data) {
  size_t len;
  if (wgts_arg_bytes(env, v, what, data, &len) != 0) return -1;
  if (len != WGTS_KEY_LEN) {
    wgts_throw_type(env, "x25519: keys and output are 32 bytes");
    return -1;
  }
  return 0;
}

static napi_value x25519(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 3, argv);
  uint8_t *out, *priv, *pub;
  if (arg_key(env, argv[0], "out", &out) != 0) return NULL;
  if (arg_key(env, argv[1], "private key", &priv) != 0) return NULL;
  if (arg_key(env, argv[2], "public key", &pub) != 0) return NULL;
  int ok = 0;
  EVP_PKEY *mine = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, WGTS_KEY_LEN);
  EVP_PKEY *theirs = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, WGTS_KEY_LEN);
  EVP_PKEY_CTX *ctx = mine == NULL ? NULL : EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL);
  if (ctx != NULL && theirs != NULL && EVP_PKEY_derive_init(ctx) == 1 &&
      EVP_PKEY_derive_set_peer(ctx, theirs) == 1) {
    size_t len = WGTS_KEY_LEN;
    ok = EVP_PKEY_derive(ctx, out, &len) == 1 && len == WGTS_KEY_LEN;
  }
  /* A refused derive may have left part of a result: the caller must see all zeros or a secret.
   * Its error stays on OpenSSL's per-thread queue, where node:crypto's next call would find it
   * and fail (a DER import right after a low-order point did): clear it. */
  if (!ok) {
    OPENSSL_cleanse(out, WGTS_KEY_LEN);
    ERR_clear_error();
  }
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(theirs);
  EVP_PKEY_free(mine);
  napi_value result;
  WGTS_CHECK(env, napi_get_boolean(env, ok, &result));
  return result;
}

static napi_value x25519_public(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 2, argv);
  uint8_t *out, *priv;
  if (arg_key(env, argv[0], "out", &out) != 0) return NULL;
  if (arg_key(env, argv[1], "private key", &priv) != 0) return NULL;
  EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, WGTS_KEY_LEN);
  size_t len = WGTS_KEY_LEN;
  int ok = key != NULL && EVP_PKEY_get_raw_public_key(key, out, &len) == 1 && len == WGTS_KEY_LEN;
  EVP_PKEY_free(key);
  if (!ok) {
    ERR_clear_error();
    return wgts_throw_range(env, "x25519Public: OpenSSL refused the key");
  }
  return NULL;
}

napi_status wgts_init_process(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"setDumpable", NULL, set_dumpable, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dumpable", NULL, get_dumpable, NULL, NULL, NULL, napi_enumerable, NULL},
      {"x25519", NULL, x25519, NULL, NULL, NULL, napi_enumerable, NULL},
      {"x25519Public", NULL, x25519_public, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
