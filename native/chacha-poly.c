/*
 * wgts native addon: RFC 8439 section 2.8 ChaCha20-Poly1305 (no associated data) on OpenSSL's
 * exported primitives; see chacha-poly.h for why.
 *
 * One keystream call per message: a message that fits the stack buffer is copied behind 64 zero
 * bytes, and ChaCha20 runs from block counter 0 over both, so block 0's keystream (the Poly1305
 * one-time key, RFC 8439 2.6) comes out in the zero bytes and the message is encrypted from
 * block 1 on (2.8) in the same pass; the result is copied back. Two copies of an L1-resident
 * message cost far less than the short-input pass they replace. A longer message (above
 * CP_INLINE_MAX: jumbo frames) takes the key block and the message in two calls.
 *
 * The primitives are weak references: the dynamic linker fills them from the node binary when
 * it exports them, and leaves them NULL otherwise (checked once by wgts_cp_available).
 */
#include "chacha-poly.h"

#include <string.h>

/* OpenSSL's internal primitives (include/crypto/chacha.h and poly1305.h), exported by a node
 * that links libcrypto statically. */
void ChaCha20_ctr32(unsigned char *out, const unsigned char *inp, size_t len, const unsigned int key[8],
                    const unsigned int counter[4]) __attribute__((weak));
size_t Poly1305_ctx_size(void) __attribute__((weak));
void Poly1305_Init(void *ctx, const unsigned char key[32]) __attribute__((weak));
void Poly1305_Update(void *ctx, const unsigned char *inp, size_t len) __attribute__((weak));
void Poly1305_Final(void *ctx, unsigned char mac[16]) __attribute__((weak));
/* Public libcrypto API, always there. */
void OPENSSL_cleanse(void *ptr, size_t len);
int CRYPTO_memcmp(const void *a, const void *b, size_t len);

/* The most message bytes sealed or opened through the stack buffer (see above). */
#define CP_INLINE_MAX 4096u
/* Room for OpenSSL's POLY1305 state (checked against Poly1305_ctx_size once). */
#define CP_POLY_STATE 512u

static int available = -1;

bool wgts_cp_available(void) {
  if (available < 0)
    available = ChaCha20_ctr32 != NULL && Poly1305_ctx_size != NULL && Poly1305_Init != NULL &&
                Poly1305_Update != NULL && Poly1305_Final != NULL && Poly1305_ctx_size() <= CP_POLY_STATE;
  return available == 1;
}

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void wgts_cp_key_init(wgts_cp_key *k, const uint8_t key[32]) {
  for (int i = 0; i < 8; i++) k->w[i] = le32(key + 4 * i);
}

/* RFC 8439 2.4: the 32-bit block counter, then the 96-bit nonce as three words. */
static void counter_block(unsigned int ctr[4], uint32_t block, const uint8_t nonce[12]) {
  ctr[0] = block;
  ctr[1] = le32(nonce);
  ctr[2] = le32(nonce + 4);
  ctr[3] = le32(nonce + 8);
}

/* RFC 8439 2.8 with empty AAD: Poly1305 over the ciphertext, zero-padded to 16 bytes, then the
 * two 64-bit little-endian lengths (AAD 0, ciphertext len). */
static void mac(const uint8_t one_time_key[32], const uint8_t *ct, size_t len, uint8_t out[16]) {
  _Alignas(64) uint8_t state[CP_POLY_STATE];
  static const uint8_t zeros[16];
  uint8_t lengths[16] = {0};
  Poly1305_Init(state, one_time_key);
  Poly1305_Update(state, ct, len);
  if (len % 16 != 0) Poly1305_Update(state, zeros, 16 - len % 16);
  for (int i = 0; i < 8; i++) lengths[8 + i] = (uint8_t)((uint64_t)len >> (8 * i));
  Poly1305_Update(state, lengths, 16);
  Poly1305_Final(state, out); /* which also wipes the state */
}

void wgts_cp_seal(const wgts_cp_key *k, const uint8_t nonce[12], uint8_t *p, size_t len, uint8_t *tag) {
  _Alignas(64) uint8_t buf[64 + CP_INLINE_MAX];
  unsigned int ctr[4];
  counter_block(ctr, 0, nonce);
  memset(buf, 0, 64);
  if (len <= CP_INLINE_MAX) {
    memcpy(buf + 64, p, len);
    ChaCha20_ctr32(buf, buf, 64 + len, k->w, ctr);
    memcpy(p, buf + 64, len);
  } else {
    ChaCha20_ctr32(buf, buf, 64, k->w, ctr);
    ctr[0] = 1;
    ChaCha20_ctr32(p, p, len, k->w, ctr);
  }
  mac(buf, p, len, tag);
  OPENSSL_cleanse(buf, 64);
}

bool wgts_cp_open(const wgts_cp_key *k, const uint8_t nonce[12], uint8_t *p, size_t len, const uint8_t *tag) {
  _Alignas(64) uint8_t buf[64 + CP_INLINE_MAX];
  uint8_t want[16];
  unsigned int ctr[4];
  bool inline_ = len <= CP_INLINE_MAX;
  counter_block(ctr, 0, nonce);
  memset(buf, 0, 64);
  if (inline_) {
    memcpy(buf + 64, p, len);
    ChaCha20_ctr32(buf, buf, 64 + len, k->w, ctr);
  } else {
    ChaCha20_ctr32(buf, buf, 64, k->w, ctr);
  }
  mac(buf, p, len, want);
  bool ok = CRYPTO_memcmp(want, tag, 16) == 0;
  if (ok && inline_) {
    memcpy(p, buf + 64, len);
  } else if (ok) {
    ctr[0] = 1;
    ChaCha20_ctr32(p, p, len, k->w, ctr);
  }
  /* The key block always; a forgery's keystream-xored bytes too (never handed out, but keystream). */
  OPENSSL_cleanse(buf, ok || !inline_ ? 64 : 64 + len);
  return ok;
}
