/*
 * wgts native addon: bulk ChaCha20-Poly1305 for transport data (whitepaper section 5.4.6) on
 * Node's own OpenSSL (the node binary exports libcrypto's EVP symbols). One call seals or opens a
 * whole batch of datagrams in place; TypeScript decides everything else (which keypair, which
 * counters, whether a counter passes the replay window) and hands the key and the first counter
 * in per batch. Nothing here keeps protocol state between calls.
 *
 *   sealBatch(key, receiver, firstCounter, buffer, offsets, lengths, first, count)
 *       For i in [first, first+count): the padded plaintext lies at buffer[offsets[i] + 16 ..
 *       + lengths[i]); writes the transport header (type 4, receiver, counter firstCounter +
 *       (i - first), little-endian) at offsets[i], seals the plaintext in place and appends the
 *       16-byte tag; lengths[i] becomes the datagram's length (16 + plaintext + 16).
 *   openBatch(key, buffer, offsets, lengths, first, count, results)
 *       For each datagram buffer[offsets[i] .. + lengths[i]) (header included, at least 32
 *       bytes): the nonce is the counter in its own header; decrypts in place and writes the
 *       plaintext length to results[i], or -1 when the tag does not verify (the bytes are then
 *       garbage and must be dropped).
 *
 * Why here and not node:crypto: createCipheriv allocates objects per packet (~7 µs per 1420-byte
 * packet); EVP on a reused context costs ~1 µs (PERFORMANCE.md).
 */
#include "common.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define TAG_LEN 16
#define HEADER_LEN 16
#define KEY_LEN 32

typedef struct aead_ctx {
  EVP_CIPHER_CTX *enc, *dec;
  EVP_CIPHER *cipher; /* fetched once: an implicit fetch per init would cost a provider lookup */
} aead_ctx;

void wgts_free_aead(void *data) {
  aead_ctx *a = data;
  EVP_CIPHER_CTX_free(a->enc);
  EVP_CIPHER_CTX_free(a->dec);
  EVP_CIPHER_free(a->cipher);
  free(a);
}

static aead_ctx *get_aead(napi_env env) {
  wgts_scratch *sc = wgts_get_scratch(env);
  return sc == NULL ? NULL : sc->aead;
}

static void put_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static void put_le64(uint8_t *p, uint64_t v) {
  put_le32(p, (uint32_t)v);
  put_le32(p + 4, (uint32_t)(v >> 32));
}

/* RFC 8439 nonce: 32 zero bits then the 64-bit little-endian counter (bytes 8..16 of a header). */
static void make_nonce(uint8_t nonce[12], const uint8_t counter_le[8]) {
  memset(nonce, 0, 4);
  memcpy(nonce + 4, counter_le, 8);
}

/* Common argument checks for both directions: buffer, offsets, lengths and the [first, first +
 * count) range; each datagram must lie inside the buffer. min_len is the least length allowed. */
static int batch_args(napi_env env, napi_value *argv, uint8_t **buf, uint32_t **offs, uint32_t **lens,
                      uint32_t *first, uint32_t *count, size_t extra, uint32_t min_len) {
  size_t buf_len, n_off, n_len;
  void *o, *l;
  if (wgts_arg_bytes(env, argv[0], "buffer", buf, &buf_len) != 0) return -1;
  if (wgts_arg_typed(env, argv[1], napi_uint32_array, "offsets", &o, &n_off) != 0) return -1;
  if (wgts_arg_typed(env, argv[2], napi_uint32_array, "lengths", &l, &n_len) != 0) return -1;
  if (wgts_arg_u32(env, argv[3], "first", first) != 0) return -1;
  if (wgts_arg_u32(env, argv[4], "count", count) != 0) return -1;
  *offs = o;
  *lens = l;
  if ((uint64_t)*first + *count > n_off || (uint64_t)*first + *count > n_len) {
    wgts_throw_range(env, "wgts_native: first + count exceeds offsets/lengths");
    return -1;
  }
  for (uint32_t i = *first; i < *first + *count; i++) {
    if ((*lens)[i] < min_len || (uint64_t)(*offs)[i] + (*lens)[i] + extra > buf_len) {
      wgts_throw_range(env, "wgts_native: a datagram lies outside the buffer");
      return -1;
    }
  }
  return 0;
}

static napi_value seal_batch(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 8, argv);
  uint8_t *key, *buf;
  size_t key_len;
  uint32_t receiver, first, count, *offs, *lens;
  uint64_t counter;
  bool lossless;
  if (wgts_arg_bytes(env, argv[0], "key", &key, &key_len) != 0) return NULL;
  if (key_len != KEY_LEN) return wgts_throw_range(env, "wgts_native: key must be 32 bytes");
  if (wgts_arg_u32(env, argv[1], "receiver", &receiver) != 0) return NULL;
  if (napi_get_value_bigint_uint64(env, argv[2], &counter, &lossless) != napi_ok || !lossless)
    return wgts_throw_type(env, "wgts_native: firstCounter must be a u64 bigint");
  /* A nonce must never repeat: the batch's last counter must not wrap past 2^64 - 1 (the caller's
   * REJECT_AFTER_MESSAGES keeps far below; this is the last line of defence). */
  if (wgts_arg_u32(env, argv[7], "count", &count) != 0) return NULL;
  if (count > 0 && counter > UINT64_MAX - (count - 1))
    return wgts_throw_range(env, "wgts_native: counters would wrap past 2^64 - 1");
  /* Plaintext starts HEADER_LEN after the offset and the tag needs TAG_LEN more. */
  if (batch_args(env, argv + 3, &buf, &offs, &lens, &first, &count, HEADER_LEN + TAG_LEN, 0) != 0)
    return NULL;
  aead_ctx *a = get_aead(env);
  if (a == NULL) return wgts_throw_errno(env, "EVP", ENOMEM);
  /* The contexts were bound to the cipher once at load: only the key changes here (binding the
   * cipher again would rebuild OpenSSL's provider context on every batch). */
  if (EVP_CipherInit_ex(a->enc, NULL, NULL, key, NULL, 1) != 1)
    return wgts_throw_errno(env, "EVP_CipherInit_ex", EINVAL);
  uint8_t nonce[12];
  for (uint32_t i = first; i < first + count; i++, counter++) {
    uint8_t *h = buf + offs[i];
    uint8_t *p = h + HEADER_LEN;
    int len = (int)lens[i], outl = 0, finl = 0;
    put_le32(h, 4);
    put_le32(h + 4, receiver);
    put_le64(h + 8, counter);
    make_nonce(nonce, h + 8);
    if (EVP_CipherInit_ex(a->enc, NULL, NULL, NULL, nonce, 1) != 1 ||
        (len > 0 && EVP_CipherUpdate(a->enc, p, &outl, p, len) != 1) ||
        EVP_CipherFinal_ex(a->enc, p + outl, &finl) != 1 ||
        EVP_CIPHER_CTX_ctrl(a->enc, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, p + len) != 1)
      return wgts_throw_errno(env, "EVP seal", EINVAL);
    lens[i] = (uint32_t)(HEADER_LEN + len + TAG_LEN);
  }
  return NULL;
}

static napi_value open_batch(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 7, argv);
  uint8_t *key, *buf;
  size_t key_len, n_res;
  uint32_t first, count, *offs, *lens;
  void *res_v;
  if (wgts_arg_bytes(env, argv[0], "key", &key, &key_len) != 0) return NULL;
  if (key_len != KEY_LEN) return wgts_throw_range(env, "wgts_native: key must be 32 bytes");
  if (batch_args(env, argv + 1, &buf, &offs, &lens, &first, &count, 0, HEADER_LEN + TAG_LEN) != 0)
    return NULL;
  if (wgts_arg_typed(env, argv[6], napi_int32_array, "results", &res_v, &n_res) != 0) return NULL;
  if ((uint64_t)first + count > n_res)
    return wgts_throw_range(env, "wgts_native: first + count exceeds results");
  int32_t *results = res_v;
  aead_ctx *a = get_aead(env);
  if (a == NULL) return wgts_throw_errno(env, "EVP", ENOMEM);
  if (EVP_CipherInit_ex(a->dec, NULL, NULL, key, NULL, 0) != 1)
    return wgts_throw_errno(env, "EVP_CipherInit_ex", EINVAL);
  uint8_t nonce[12];
  for (uint32_t i = first; i < first + count; i++) {
    uint8_t *h = buf + offs[i];
    uint8_t *p = h + HEADER_LEN;
    int len = (int)lens[i] - HEADER_LEN - TAG_LEN, outl = 0, finl = 0;
    make_nonce(nonce, h + 8);
    int ok = EVP_CipherInit_ex(a->dec, NULL, NULL, NULL, nonce, 0) == 1 &&
             EVP_CIPHER_CTX_ctrl(a->dec, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, p + len) == 1 &&
             (len == 0 || EVP_CipherUpdate(a->dec, p, &outl, p, len) == 1) &&
             EVP_CipherFinal_ex(a->dec, p + outl, &finl) == 1;
    results[i] = ok ? len : -1;
  }
  return NULL;
}

napi_status wgts_init_aead(napi_env env, napi_value exports, wgts_scratch *scratch) {
  aead_ctx *a = calloc(1, sizeof *a);
  if (a == NULL) return napi_generic_failure;
  a->enc = EVP_CIPHER_CTX_new();
  a->dec = EVP_CIPHER_CTX_new();
  a->cipher = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
  if (a->enc == NULL || a->dec == NULL || a->cipher == NULL ||
      EVP_CipherInit_ex(a->enc, a->cipher, NULL, NULL, NULL, 1) != 1 ||
      EVP_CipherInit_ex(a->dec, a->cipher, NULL, NULL, NULL, 0) != 1) {
    wgts_free_aead(a);
    return napi_generic_failure;
  }
  scratch->aead = a;
  napi_property_descriptor props[] = {
      {"sealBatch", NULL, seal_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openBatch", NULL, open_batch, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
