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
 *   setThreads(n) -> threads, getThreads() -> threads
 *       How many threads (the caller's included) a big batch is spread over (crypto-pool.h).
 *       A batch is cut into contiguous chunks of its index range that the threads claim; the
 *       counters are the caller's and fixed by index, so the output is byte-identical to one
 *       thread's whichever thread sealed what, and the order is the caller's. Small batches
 *       stay on the calling thread (a wake-up would cost more than it saves).
 *   setSpareThreads(n) -> n
 *       At most n workers (0..63) are woken per batch from now on, whatever the pool holds: the
 *       thread gate (src/device/thread-gate.ts) sets it to the CPUs the machine has to spare.
 *   poolStats() -> { threads, spare, wakes, busyUs }
 *       The pool's size, that cap, and its totals since load: worker wake-ups sent, and the
 *       microseconds workers spent on batches (crypto-pool.h wgts_pool_stats).
 *
 * Plaintext above 65,535 bytes (the most an IP packet holds) and datagrams above 65,535 + 32 are
 * refused with a RangeError before anything is touched; lengths are size_t / 64-bit throughout.
 * The key and the batch layout (offsets, lengths) are copied into native memory before any byte
 * is written, so a layout that overlaps the buffer cannot move a write after it was checked.
 * After each batch every OpenSSL context it used is re-keyed with zeros (and one empty message
 * run through it), so no context keeps the transport key or a Poly1305 key derived from it.
 *
 * Why here and not node:crypto: createCipheriv allocates objects per packet (~7 µs per 1420-byte
 * packet); EVP on a reused context costs ~1 µs (PERFORMANCE.md).
 */
#include "chacha-poly.h"
#include "common.h"
#include "crypto-pool.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The most plaintext one datagram may carry is an IP packet's largest total length
 * (WGTS_MAX_PAYLOAD); sizes and thread thresholds are in limits.h. */

typedef struct aead_ctx {
  EVP_CIPHER *cipher; /* fetched once: an implicit fetch per init would cost a provider lookup */
  /* One pair of contexts per pool thread (0: the caller). */
  EVP_CIPHER_CTX *enc[WGTS_POOL_MAX], *dec[WGTS_POOL_MAX];
  unsigned n_ctx;
  wgts_pool *pool;
  unsigned spare; /* the most workers one batch may wake (setSpareThreads) */
  /* Seal and open with chacha-poly.c (node exports the primitives) rather than EVP; the two give
   * identical bytes, and aeadEngine() switches for the tests that prove it. */
  bool direct;
  /* Native copies of a batch's offsets and lengths (grown, never shrunk). */
  uint32_t *offs, *lens;
  size_t cap;
} aead_ctx;

/* One batch, shared by its threads (each writes only the entries of the chunks it claimed, and
 * its own keyed/failed flags). */
typedef struct batch_task {
  aead_ctx *a;
  bool seal;
  bool direct; /* chacha-poly.c, with ck; else EVP contexts keyed with key */
  uint8_t key[WGTS_KEY_LEN];
  wgts_cp_key ck;
  uint32_t receiver;
  uint64_t counter; /* the counter of entry `first` */
  uint32_t first;
  uint8_t *buf;
  const uint32_t *offs, *lens; /* native copies, indexed from 0 = entry `first` */
  uint32_t *out_lens;          /* sealBatch: the caller's lengths */
  int32_t *results;            /* openBatch: the caller's results */
  bool keyed[WGTS_POOL_MAX];   /* thread k's context holds the key */
  bool failed[WGTS_POOL_MAX];
} batch_task;

static const uint8_t ZERO_KEY[WGTS_KEY_LEN];
static const uint8_t ZERO_NONCE[12];

void wgts_free_aead(void *data) {
  aead_ctx *a = data;
  wgts_pool_free(a->pool); /* joins the workers before their contexts go */
  for (unsigned k = 0; k < a->n_ctx; k++) {
    EVP_CIPHER_CTX_free(a->enc[k]);
    EVP_CIPHER_CTX_free(a->dec[k]);
  }
  EVP_CIPHER_free(a->cipher);
  free(a->offs);
  free(a->lens);
  free(a);
}

static aead_ctx *get_aead(napi_env env) {
  wgts_scratch *sc = wgts_get_scratch(env);
  return sc == NULL ? NULL : sc->aead;
}

/* Contexts for threads [0, n), bound to the cipher once (binding it again per batch would
 * rebuild OpenSSL's provider context). Returns 0 or -1 (out of memory). */
static int ensure_contexts(aead_ctx *a, unsigned n) {
  while (a->n_ctx < n) {
    EVP_CIPHER_CTX *e = EVP_CIPHER_CTX_new(), *d = EVP_CIPHER_CTX_new();
    if (e == NULL || d == NULL || EVP_CipherInit_ex(e, a->cipher, NULL, NULL, NULL, 1) != 1 ||
        EVP_CipherInit_ex(d, a->cipher, NULL, NULL, NULL, 0) != 1) {
      EVP_CIPHER_CTX_free(e);
      EVP_CIPHER_CTX_free(d);
      return -1;
    }
    a->enc[a->n_ctx] = e;
    a->dec[a->n_ctx] = d;
    a->n_ctx++;
  }
  return 0;
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

/* Leaves a context holding nothing derived from the batch's key: an all-zero key and nonce, and
 * one empty message sealed (encrypt) or checked (decrypt, the tag is then wrong and ignored), so
 * the Poly1305 state is derived from the zero key too. */
static void wipe_context(EVP_CIPHER_CTX *c, int enc) {
  uint8_t tag[WGTS_TAG_LEN] = {0};
  int outl = 0;
  if (EVP_CipherInit_ex(c, NULL, NULL, ZERO_KEY, ZERO_NONCE, enc) != 1) return;
  if (!enc) EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, WGTS_TAG_LEN, tag);
  EVP_CipherFinal_ex(c, tag, &outl);
}

/* Thread `thread`'s context for the task, keyed on its first chunk; NULL if that failed. */
static EVP_CIPHER_CTX *keyed_context(batch_task *t, unsigned thread) {
  EVP_CIPHER_CTX *c = t->seal ? t->a->enc[thread] : t->a->dec[thread];
  if (!t->keyed[thread]) {
    t->keyed[thread] = true; /* wiped when the thread is done, whether or not this worked */
    if (EVP_CipherInit_ex(c, NULL, NULL, t->key, NULL, t->seal ? 1 : 0) != 1) t->failed[thread] = true;
  }
  return t->failed[thread] ? NULL : c;
}

/* Seals entries [first, first + count) of the task on thread `thread`'s context. */
static void seal_chunk(void *arg, unsigned thread, uint32_t first, uint32_t count) {
  batch_task *t = arg;
  EVP_CIPHER_CTX *c = t->direct ? NULL : keyed_context(t, thread);
  uint8_t nonce[12];
  if (c == NULL && !t->direct) return;
  for (uint32_t j = first - t->first; j < first - t->first + count; j++) {
    uint8_t *h = t->buf + t->offs[j];
    uint8_t *p = h + WGTS_HEADER_LEN;
    size_t len = t->lens[j]; /* <= WGTS_MAX_PAYLOAD, checked */
    int outl = 0, finl = 0;
    put_le32(h, 4);
    put_le32(h + 4, t->receiver);
    put_le64(h + 8, t->counter + j);
    make_nonce(nonce, h + 8);
    if (t->direct) {
      wgts_cp_seal(&t->ck, nonce, p, len, p + len);
    } else if (EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, 1) != 1 ||
               (len > 0 && EVP_CipherUpdate(c, p, &outl, p, (int)len) != 1) ||
               EVP_CipherFinal_ex(c, p + outl, &finl) != 1 ||
               EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, WGTS_TAG_LEN, p + len) != 1) {
      t->failed[thread] = true;
      break;
    }
    t->out_lens[t->first + j] = (uint32_t)(WGTS_HEADER_LEN + len + WGTS_TAG_LEN);
  }
}

/* Opens entries [first, first + count) of the task on thread `thread`'s context. */
static void open_chunk(void *arg, unsigned thread, uint32_t first, uint32_t count) {
  batch_task *t = arg;
  EVP_CIPHER_CTX *c = t->direct ? NULL : keyed_context(t, thread);
  uint8_t nonce[12];
  if (c == NULL && !t->direct) return;
  for (uint32_t j = first - t->first; j < first - t->first + count; j++) {
    uint8_t *h = t->buf + t->offs[j];
    uint8_t *p = h + WGTS_HEADER_LEN;
    size_t len = (size_t)t->lens[j] - WGTS_HEADER_LEN - WGTS_TAG_LEN; /* lens >= 32, checked */
    int outl = 0, finl = 0;
    make_nonce(nonce, h + 8);
    if (t->direct) {
      t->results[t->first + j] = wgts_cp_open(&t->ck, nonce, p, len, p + len) ? (int32_t)len : -1;
      continue;
    }
    int ok = EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, 0) == 1 &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, WGTS_TAG_LEN, p + len) == 1 &&
             (len == 0 || EVP_CipherUpdate(c, p, &outl, p, (int)len) == 1) &&
             EVP_CipherFinal_ex(c, p + outl, &finl) == 1;
    t->results[t->first + j] = ok ? (int32_t)len : -1;
  }
}

/* After a thread's last chunk of the batch: its context forgets the key. */
static void chunks_done(void *arg, unsigned thread) {
  batch_task *t = arg;
  if (t->keyed[thread]) wipe_context(t->seal ? t->a->enc[thread] : t->a->dec[thread], t->seal);
}

/* Common argument checks for both directions: buffer, offsets, lengths and the [first, first +
 * count) range. Each datagram must lie inside the buffer (extra: bytes past offset + length it
 * needs) with min_len <= length <= max_len. Copies the layout into a->offs/lens (entry first at
 * index 0) and returns the sum of the lengths in *total. */
static int batch_args(napi_env env, napi_value *argv, aead_ctx *a, batch_task *t, uint32_t *count,
                      uint64_t extra, uint32_t min_len, uint32_t max_len, uint64_t *total) {
  size_t buf_len, n_off, n_len;
  void *o, *l;
  uint8_t *buf;
  uint32_t first;
  if (wgts_arg_bytes(env, argv[0], "buffer", &buf, &buf_len) != 0) return -1;
  if (wgts_arg_typed(env, argv[1], napi_uint32_array, "offsets", &o, &n_off) != 0) return -1;
  if (wgts_arg_typed(env, argv[2], napi_uint32_array, "lengths", &l, &n_len) != 0) return -1;
  if (wgts_arg_u32(env, argv[3], "first", &first) != 0) return -1;
  if (wgts_arg_u32(env, argv[4], "count", count) != 0) return -1;
  if ((uint64_t)first + *count > n_off || (uint64_t)first + *count > n_len) {
    wgts_throw_range(env, "wgts_native: first + count exceeds offsets/lengths");
    return -1;
  }
  if (*count > a->cap) {
    uint32_t *no = realloc(a->offs, (size_t)*count * sizeof *no);
    if (no != NULL) a->offs = no;
    uint32_t *nl = no == NULL ? NULL : realloc(a->lens, (size_t)*count * sizeof *nl);
    if (nl != NULL) a->lens = nl;
    if (no == NULL || nl == NULL) {
      wgts_throw_errno(env, "realloc", ENOMEM);
      return -1;
    }
    a->cap = *count;
  }
  const uint32_t *offs = o, *lens = l;
  uint64_t sum = 0;
  for (uint32_t j = 0; j < *count; j++) {
    uint64_t off = offs[first + j], len = lens[first + j];
    if (len > max_len) {
      wgts_throw_range(env, "wgts_native: a datagram is longer than 65,535 bytes of IP payload");
      return -1;
    }
    if (len < min_len || off + len + extra > buf_len) {
      wgts_throw_range(env, "wgts_native: a datagram lies outside the buffer");
      return -1;
    }
    a->offs[j] = (uint32_t)off;
    a->lens[j] = (uint32_t)len;
    sum += len;
  }
  t->a = a;
  t->first = first;
  t->buf = buf;
  t->offs = a->offs;
  t->lens = a->lens;
  t->out_lens = l;
  *total = sum;
  return 0;
}

/* The key argument, copied into the task (it may lie inside the buffer being written). */
static int key_arg(napi_env env, napi_value v, const aead_ctx *a, batch_task *t) {
  uint8_t *key;
  size_t key_len;
  if (wgts_arg_bytes(env, v, "key", &key, &key_len) != 0) return -1;
  if (key_len != WGTS_KEY_LEN) {
    wgts_throw_range(env, "wgts_native: key must be 32 bytes");
    return -1;
  }
  memcpy(t->key, key, WGTS_KEY_LEN);
  t->direct = a->direct;
  if (t->direct) wgts_cp_key_init(&t->ck, t->key);
  return 0;
}

/* Runs the task over its batch on as many threads as the bytes pay for; 0, or -1 if a chunk
 * failed inside OpenSSL. */
static int run_batch(aead_ctx *a, batch_task *t, uint32_t count, uint64_t total) {
  uint64_t by_bytes = total / WGTS_THREAD_MIN_BYTES;
  unsigned pool = wgts_pool_size(a->pool);
  unsigned threads = by_bytes < 1 ? 1 : by_bytes < pool ? (unsigned)by_bytes : pool;
  if (threads > 1 + a->spare) threads = 1 + a->spare;
  memset(t->failed, 0, sizeof t->failed);
  memset(t->keyed, 0, sizeof t->keyed);
  wgts_pool_run(a->pool, threads, t->seal ? seal_chunk : open_chunk, chunks_done, t, t->first, count);
  OPENSSL_cleanse(t->key, WGTS_KEY_LEN);
  OPENSSL_cleanse(&t->ck, sizeof t->ck);
  for (unsigned k = 0; k < threads; k++)
    if (t->failed[k]) return -1;
  return 0;
}

static napi_value seal_batch(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 8, argv);
  batch_task t = {.seal = true};
  uint32_t count;
  uint64_t total;
  bool lossless;
  aead_ctx *a = get_aead(env);
  if (a == NULL) return wgts_throw_errno(env, "EVP", ENOMEM);
  if (key_arg(env, argv[0], a, &t) != 0) return NULL;
  if (wgts_arg_u32(env, argv[1], "receiver", &t.receiver) != 0) goto fail;
  if (napi_get_value_bigint_uint64(env, argv[2], &t.counter, &lossless) != napi_ok || !lossless) {
    wgts_throw_type(env, "wgts_native: firstCounter must be a u64 bigint");
    goto fail;
  }
  /* A nonce must never repeat: the batch's last counter must not wrap past 2^64 - 1 (the caller's
   * REJECT_AFTER_MESSAGES keeps far below; this is the last line of defence). */
  if (wgts_arg_u32(env, argv[7], "count", &count) != 0) goto fail;
  if (count > 0 && t.counter > UINT64_MAX - (count - 1)) {
    wgts_throw_range(env, "wgts_native: counters would wrap past 2^64 - 1");
    goto fail;
  }
  /* Plaintext starts WGTS_HEADER_LEN after the offset and the tag needs WGTS_TAG_LEN more. */
  if (batch_args(env, argv + 3, a, &t, &count, WGTS_HEADER_LEN + WGTS_TAG_LEN, 0, WGTS_MAX_PAYLOAD, &total) !=
      0)
    goto fail;
  if (run_batch(a, &t, count, total) != 0) return wgts_throw_errno(env, "EVP seal", EINVAL);
  return NULL;
fail:
  OPENSSL_cleanse(t.key, WGTS_KEY_LEN);
  OPENSSL_cleanse(&t.ck, sizeof t.ck);
  return NULL;
}

static napi_value open_batch(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 7, argv);
  batch_task t = {.seal = false};
  size_t n_res;
  uint32_t count;
  uint64_t total;
  void *res_v;
  aead_ctx *a = get_aead(env);
  if (a == NULL) return wgts_throw_errno(env, "EVP", ENOMEM);
  if (key_arg(env, argv[0], a, &t) != 0) return NULL;
  if (batch_args(env, argv + 1, a, &t, &count, 0, WGTS_HEADER_LEN + WGTS_TAG_LEN,
                 WGTS_MAX_PAYLOAD + WGTS_HEADER_LEN + WGTS_TAG_LEN, &total) != 0)
    goto fail;
  if (wgts_arg_typed(env, argv[6], napi_int32_array, "results", &res_v, &n_res) != 0) goto fail;
  if ((uint64_t)t.first + count > n_res) {
    wgts_throw_range(env, "wgts_native: first + count exceeds results");
    goto fail;
  }
  t.results = res_v;
  t.out_lens = NULL;
  if (run_batch(a, &t, count, total) != 0) return wgts_throw_errno(env, "EVP open", EINVAL);
  return NULL;
fail:
  OPENSSL_cleanse(t.key, WGTS_KEY_LEN);
  OPENSSL_cleanse(&t.ck, sizeof t.ck);
  return NULL;
}

static napi_value threads_value(napi_env env, aead_ctx *a) {
  napi_value out;
  WGTS_CHECK(env, napi_create_uint32(env, wgts_pool_size(a->pool), &out));
  return out;
}

static napi_value set_threads(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 1, argv);
  uint32_t n;
  if (wgts_arg_u32(env, argv[0], "threads", &n) != 0) return NULL;
  if (n < 1 || n > WGTS_POOL_MAX) return wgts_throw_range(env, "wgts_native: threads must be 1..64");
  aead_ctx *a = get_aead(env);
  if (a == NULL) return wgts_throw_errno(env, "EVP", ENOMEM);
  if (ensure_contexts(a, n) != 0) return wgts_throw_errno(env, "EVP_CIPHER_CTX_new", ENOMEM);
  int err = wgts_pool_resize(a->pool, n);
  if (err != 0) return wgts_throw_errno(env, "pthread_create", err);
  return threads_value(env, a);
}

static napi_value set_spare_threads(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 1, argv);
  uint32_t n;
  napi_value out;
  if (wgts_arg_u32(env, argv[0], "spare", &n) != 0) return NULL;
  if (n > WGTS_POOL_MAX - 1) return wgts_throw_range(env, "wgts_native: spare threads must be 0..63");
  aead_ctx *a = get_aead(env);
  if (a == NULL) return wgts_throw_errno(env, "EVP", ENOMEM);
  a->spare = n;
  WGTS_CHECK(env, napi_create_uint32(env, n, &out));
  return out;
}

static napi_value pool_stats(napi_env env, napi_callback_info info) {
  (void)info;
  aead_ctx *a = get_aead(env);
  napi_value out, v;
  uint64_t wakes, busy_ns;
  if (a == NULL) return wgts_throw_errno(env, "EVP", ENOMEM);
  wgts_pool_stats(a->pool, &wakes, &busy_ns);
  WGTS_CHECK(env, napi_create_object(env, &out));
  WGTS_CHECK(env, napi_create_uint32(env, wgts_pool_size(a->pool), &v));
  WGTS_CHECK(env, napi_set_named_property(env, out, "threads", v));
  WGTS_CHECK(env, napi_create_uint32(env, a->spare, &v));
  WGTS_CHECK(env, napi_set_named_property(env, out, "spare", v));
  /* Doubles: exact up to 2^53 wake-ups and 2^53 µs (285 years of worker time). */
  WGTS_CHECK(env, napi_create_double(env, (double)wakes, &v));
  WGTS_CHECK(env, napi_set_named_property(env, out, "wakes", v));
  WGTS_CHECK(env, napi_create_double(env, (double)(busy_ns / 1000u), &v));
  WGTS_CHECK(env, napi_set_named_property(env, out, "busyUs", v));
  return out;
}

/* aeadEngine() -> "direct" | "evp"; aeadEngine(name) selects one ("direct" only where node
 * exports the primitives: chacha-poly.h) and returns it. */
static napi_value aead_engine(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  aead_ctx *a = get_aead(env);
  napi_value out;
  if (a == NULL) return wgts_throw_errno(env, "EVP", ENOMEM);
  WGTS_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc >= 1) {
    char name[8];
    if (wgts_arg_string(env, argv[0], "engine", name, sizeof name) != 0) return NULL;
    if (strcmp(name, "evp") == 0) {
      a->direct = false;
    } else if (strcmp(name, "direct") == 0) {
      if (!wgts_cp_available())
        return wgts_throw_range(env, "wgts_native: this node does not export ChaCha20_ctr32 and Poly1305");
      a->direct = true;
    } else {
      return wgts_throw_range(env, "wgts_native: engine must be \"direct\" or \"evp\"");
    }
  }
  WGTS_CHECK(env, napi_create_string_utf8(env, a->direct ? "direct" : "evp", NAPI_AUTO_LENGTH, &out));
  return out;
}

static napi_value get_threads(napi_env env, napi_callback_info info) {
  aead_ctx *a = get_aead(env);
  if (a == NULL) return wgts_throw_errno(env, "EVP", ENOMEM);
  return threads_value(env, a);
}

napi_status wgts_init_aead(napi_env env, napi_value exports, wgts_scratch *scratch) {
  aead_ctx *a = calloc(1, sizeof *a);
  if (a == NULL) return napi_generic_failure;
  a->cipher = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
  a->pool = wgts_pool_new();
  if (a->cipher == NULL || a->pool == NULL || ensure_contexts(a, 1) != 0) {
    wgts_free_aead(a);
    return napi_generic_failure;
  }
  a->direct = wgts_cp_available();
  a->spare = WGTS_POOL_MAX - 1; /* no cap until the gate sets one */
  scratch->aead = a;
  napi_property_descriptor props[] = {
      {"sealBatch", NULL, seal_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openBatch", NULL, open_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getThreads", NULL, get_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"aeadEngine", NULL, aead_engine, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setSpareThreads", NULL, set_spare_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"poolStats", NULL, pool_stats, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
