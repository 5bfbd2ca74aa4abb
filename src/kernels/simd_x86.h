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

}  // namespace swarmkv::internal
