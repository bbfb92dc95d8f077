/*
 * wgts native addon: the Internet checksum (RFC 1071) of the TUN offloads (offload.c): summed in
 * host order over 32-bit words into 64 bits, which the one's complement sum allows (RFC 1071
 * 2(B): byte order independence, and any word size folded at the end).
 */
#ifndef WGTS_CSUM_H
#define WGTS_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* acc plus the sum of p[0 .. n) (a last odd byte counts as the high-address byte of a word). */
uint64_t wgts_csum_add(uint64_t acc, const uint8_t *p, size_t n);

/* The 64-bit sum folded to 16 bits (not complemented). */
uint16_t wgts_csum_fold(uint64_t acc);

#endif
