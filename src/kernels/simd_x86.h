// Small AVX2 helpers shared by the SIMD translation units (included only by files compiled
// with -mavx2 -mfma -mf16c or higher).
//
// Invariant: every function here (and every inline function the SIMD translation units use
// from kernels/fp16.h and quant_blocks.h) has internal linkage (`static`), so the linker can
// never merge an AVX-512-compiled copy into code that runs on an AVX2-only CPU.
#pragma once

#include <immintrin.h>

namespace swarmkv::internal {

static inline float HsumF32x8(__m256 v) {
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

// 32 signed x 32 signed int8 -> 8 int32 partial sums (via |x| * sign(y, x), no overflow for
// |x| <= 128, |y| <= 127).
static inline __m256i DotI8x32(__m256i x, __m256i y) {
  const __m256i ax = _mm256_sign_epi8(x, x);
  const __m256i sy = _mm256_sign_epi8(y, x);
  return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1));
}

// The 32 nibbles of a Q4_0 block in element order: low nibbles (0..15) then high (16..31).
static inline __m256i UnpackNibbles32(const uint8_t* qs) {
  const __m128i tmp = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i lo = _mm_and_si128(tmp, _mm_set1_epi8(0x0F));
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(tmp, 4), _mm_set1_epi8(0x0F));
  return _mm256_set_m128i(hi, lo);
}

static inline float HalfToFloat(uint16_t h) { return _cvtsh_ss(h); }

// (l0 + l2) + (l1 + l3): ggml's movehl / movehdup sum of a 4-lane accumulator (the scalar
// twins' HsumLanes4).
static inline float HsumF32x4(__m128 v) {
  v = _mm_add_ps(v, _mm_movehl_ps(v, v));
  v = _mm_add_ss(v, _mm_movehdup_ps(v));
  return _mm_cvtss_f32(v);
}

// Q4_K's min sums in ggml's AVX2 lanes (exact integers): lane m = mins8[2m] * (bsums[4m] +
// bsums[4m+1]) + mins8[2m+1] * (bsums[4m+2] + bsums[4m+3]) — the 16 activation sums added in
// pairs (hadd), then madd with the 8 mins.
static inline __m128i MinSumsQ4K(const int16_t* bsums, const uint8_t* mins8) {
  const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bsums));
  const __m128i pairs = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
  const __m128i mn = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(mins8)));
  return _mm_madd_epi16(mn, pairs);
}

// Q6_K's -32 offset in ggml's AVX2 lanes (exact integers): lane m = 32 * (scales[2m] *
// bsums[2m] + scales[2m+1] * bsums[2m+1]), subtracted from the block's integer lanes.
static inline __m256i OffsetSumsQ6K(const int8_t* scales, const int16_t* bsums) {
  const __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales)));
  const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bsums));
  return _mm256_slli_epi32(_mm256_madd_epi16(bs, s16), 5);
}

}  // namespace swarmkv::internal
