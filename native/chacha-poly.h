/*
 * wgts native addon: the ChaCha20-Poly1305 AEAD of RFC 8439 section 2.8 (empty associated data,
 * as WireGuard's transport data uses it: whitepaper 5.4.6), composed here from the two
 * primitives Node's statically linked OpenSSL exports, ChaCha20_ctr32 and Poly1305_*.
 *
 * Why not EVP alone: per 1,420-byte packet, EVP's ChaCha20-Poly1305 makes three keystream calls
 * (the Poly1305 key block, the whole blocks, the last partial block). Each of the two short ones
 * runs a full 20-round pass of the assembly's short-input path, and together they cost about as
 * much as the bulk call; add the EVP/provider bookkeeping (parameter lookups, a name compare per
 * init). Here one keystream call covers the key block and the whole message (chacha-poly.c).
 *
 * A node built against a shared libcrypto does not export the primitives; wgts_cp_available()
 * is then false and aead.c keeps to EVP. Output is byte-identical either way (test/io).
 */
#ifndef WGTS_CHACHA_POLY_H
#define WGTS_CHACHA_POLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Looks the primitives up in the process (once); true when all of them are there. */
bool wgts_cp_available(void);

/* A ChaCha20 key as the primitive takes it: eight little-endian 32-bit words. */
typedef struct wgts_cp_key {
  uint32_t w[8];
} wgts_cp_key;

void wgts_cp_key_init(wgts_cp_key *k, const uint8_t key[32]);

/* Seals p[0 .. len) in place under (key, nonce) and writes the 16-byte tag at tag. */
void wgts_cp_seal(const wgts_cp_key *k, const uint8_t nonce[12], uint8_t *p, size_t len, uint8_t *tag);

/* Checks tag over the ciphertext p[0 .. len); when it verifies, decrypts p in place and returns
 * true. When it does not, p is left as it was (no unauthenticated plaintext is ever written). */
bool wgts_cp_open(const wgts_cp_key *k, const uint8_t nonce[12], uint8_t *p, size_t len, const uint8_t *tag);

#endif
