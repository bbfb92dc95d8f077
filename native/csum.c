/*
 * wgts native addon: RFC 1071 checksums (csum.h). Every TCP segment the TUN hands over is summed
 * once on the way out (each segment of a split gets its own checksum) and once on the way in
 * (a segment is only coalesced after its checksum verifies), so at 1,420 bytes a packet this
 * sum is a few per cent of a busy daemon's CPU. The bulk runs 32 bytes at a time with AVX2 where
 * the CPU has it (picked once, when the addon loads), else 16 at a time with SSE2 (every x86-64), else a
 * word at a time.
 */
#include "csum.h"

#include "common.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

/* A word at a time (the whole sum without vectors, or the tail after them): 64-bit loads as two
 * 32-bit words, then a 32-bit, a 16-bit word and a last odd byte. */
static uint64_t add_tail(uint64_t acc, const uint8_t *p, size_t n) {
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    acc += (w & 0xffffffffu) + (w >> 32);
  }
  if (n >= 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    acc += w;
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    uint16_t w;
    memcpy(&w, p, 2);
    acc += w;
    p += 2;
    n -= 2;
  }
  if (n == 1) {
    uint16_t w = 0;
    memcpy(&w, p, 1);
    acc += w;
  }
  return acc;
}

#if defined(__x86_64__)
/* Each 32-bit word widened to a 64-bit lane (interleaved with zeros) and added: a 64-bit lane
 * cannot overflow before 2^32 words, far beyond the 64 KiB this ever sums. */
__attribute__((target("avx2"))) static uint64_t add_avx2(uint64_t acc, const uint8_t *p, size_t n) {
  __m256i zero = _mm256_setzero_si256(), a = zero, b = zero;
  for (; n >= 32; p += 32, n -= 32) {
    __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)p);
    a = _mm256_add_epi64(a, _mm256_unpacklo_epi32(v, zero));
    b = _mm256_add_epi64(b, _mm256_unpackhi_epi32(v, zero));
  }
  a = _mm256_add_epi64(a, b);
  uint64_t lanes[4];
  _mm256_storeu_si256((__m256i *)(void *)lanes, a);
  return add_tail(acc + lanes[0] + lanes[1] + lanes[2] + lanes[3], p, n);
}

static uint64_t add_sse2(uint64_t acc, const uint8_t *p, size_t n) {
  __m128i zero = _mm_setzero_si128(), a = zero, b = zero;
  for (; n >= 16; p += 16, n -= 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    a = _mm_add_epi64(a, _mm_unpacklo_epi32(v, zero));
    b = _mm_add_epi64(b, _mm_unpackhi_epi32(v, zero));
  }
  a = _mm_add_epi64(a, b);
  uint64_t lanes[2];
  _mm_storeu_si128((__m128i *)(void *)lanes, a);
  return add_tail(acc + lanes[0] + lanes[1], p, n);
}

/* AVX2 usable: the CPU has it (CPUID leaf 7, EBX bit 5) and the OS saves YMM state (OSXSAVE,
 * then XCR0 bits 1 and 2). Asked of CPUID directly: __builtin_cpu_supports would pull libgcc's
 * __cpu_model into the addon, which musl's loader does not provide (test/package/prebuilds). */
static int has_avx2(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) return 0;
  unsigned lo, hi;
  __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & 6) != 6) return 0;
  return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_AVX2);
}

/* SSE2 runs on every x86-64; wgts_init_csum upgrades to AVX2 once, when the addon loads, before
 * any thread sums. */
static uint64_t (*add_bulk)(uint64_t, const uint8_t *, size_t) = add_sse2;

static void pick_bulk(void) {
  if (has_avx2()) add_bulk = add_avx2;
}

uint64_t wgts_csum_add(uint64_t acc, const uint8_t *p, size_t n) {
  if (n < 64) return add_tail(acc, p, n); /* headers and pseudo-headers: not worth a vector */
  return add_bulk(acc, p, n);
}

/* Each way of summing, for the test that holds them to a plain RFC 1071 sum (*ok 0 where this
 * CPU lacks it). */
static uint64_t add_way(const char *way, const uint8_t *p, size_t n, int *ok) {
  *ok = 1;
  if (strcmp(way, "scalar") == 0) return add_tail(0, p, n);
  if (strcmp(way, "sse2") == 0) return add_sse2(0, p, n);
  if (strcmp(way, "avx2") == 0 && has_avx2()) return add_avx2(0, p, n);
  *ok = strcmp(way, "best") == 0;
  return *ok ? wgts_csum_add(0, p, n) : 0;
}
#else
uint64_t wgts_csum_add(uint64_t acc, const uint8_t *p, size_t n) { return add_tail(acc, p, n); }

static void pick_bulk(void) {}

static uint64_t add_way(const char *way, const uint8_t *p, size_t n, int *ok) {
  *ok = strcmp(way, "scalar") == 0 || strcmp(way, "best") == 0;
  return *ok ? add_tail(0, p, n) : 0;
}
#endif

uint16_t wgts_csum_fold(uint64_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)acc;
}

/* csumFold(bytes, way) -> the folded 16-bit sum of bytes by `way` ("best", "scalar", "sse2",
 * "avx2"), or null when this CPU cannot sum that way. For test/io/csum.test.ts. */
static napi_value csum_fold_js(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 2, argv);
  uint8_t *p;
  size_t n;
  char way[8];
  int ok;
  napi_value out;
  if (wgts_arg_bytes(env, argv[0], "bytes", &p, &n) != 0) return NULL;
  if (wgts_arg_string(env, argv[1], "way", way, sizeof way) != 0) return NULL;
  if (strcmp(way, "best") != 0 && strcmp(way, "scalar") != 0 && strcmp(way, "sse2") != 0 &&
      strcmp(way, "avx2") != 0)
    return wgts_throw_range(env, "wgts_native: way must be best, scalar, sse2 or avx2");
  uint64_t acc = add_way(way, p, n, &ok);
  if (!ok) {
    WGTS_CHECK(env, napi_get_null(env, &out));
    return out;
  }
  WGTS_CHECK(env, napi_create_uint32(env, wgts_csum_fold(acc), &out));
  return out;
}

napi_status wgts_init_csum(napi_env env, napi_value exports) {
  pick_bulk();
  napi_property_descriptor props[] = {
      {"csumFold", NULL, csum_fold_js, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
