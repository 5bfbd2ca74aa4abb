// The 8-lane core of ExpfAvx2 (expf_avx2.h) for SIMD translation units that want it inlined
// into their own loops. Include only from files compiled with -mavx2 -mfma.
//
// Invariant: ExpfX8(x, ExpfAvx2Table()) lane i == glibc expf(x[i]) bit for bit (the proof is
// expf_avx2_test.cc, which tests ExpfAvx2 — a loop over this function). Functions are
// `static inline` (see simd_x86.h: no AVX-512 copy may be merged into AVX2 code).
#pragma once

#include <immintrin.h>

#include <cmath>
#include <cstdint>

namespace swarmkv::internal {

// The 32-entry table: bits(2^(i/32)) - (i << 47), correctly rounded, built on first use.
// Adding k << 47 (k the rounded x * 32/ln2) to entry k % 32 gives bits(2^(k/32)).
const uint64_t* ExpfAvx2Table();

namespace expf_x8 {
constexpr int kTableBits = 5;
// N/ln2; the shift 1.5 * 2^52 that rounds to an integer in the low mantissa bits; the
// polynomial 1 + C2 r + C1 r^2 + C0 r^3 ~ 2^(r/N) (ARM optimized-routines' coefficients).
constexpr double kInvLn2N = 0x1.71547652b82fep+5;
constexpr double kShift = 0x1.8p+52;
constexpr double kC0 = 0x1.c6af84b912394p-20;
constexpr double kC1 = 0x1.ebfce50fac4f3p-13;
constexpr double kC2 = 0x1.62e42ff0c52d6p-6;
// Beyond these glibc leaves the main path.
constexpr float kOverflowAbove = 0x1.62e42ep6f;       // -> +inf
constexpr float kMayUnderflowBelow = -0x1.9d1d9ep6f;  // -> the smallest denormal (0x1.4p-75f^2)
constexpr float kUnderflowBelow = -0x1.9fe368p6f;     // -> +0 (and -inf -> +0)

// The main path for four doubles (exact conversions of floats), FMAs where __expf_fma has
// them: kd = fma(x, N/ln2, shift); r = fma(x, N/ln2, -(kd - shift)); z = fma(r, C0, C1);
// y = fma(r, C2, 1); y = fma(z, r*r, y); result y * 2^(k/N).
static inline __m256d MainPath(__m256d xd, const uint64_t* table) {
  const __m256d inv_ln2n = _mm256_set1_pd(kInvLn2N);
  const __m256d shift = _mm256_set1_pd(kShift);
  __m256d kd = _mm256_fmadd_pd(inv_ln2n, xd, shift);
  const __m256i ki = _mm256_castpd_si256(kd);
  kd = _mm256_sub_pd(kd, shift);
  const __m256d r = _mm256_fmsub_pd(inv_ln2n, xd, kd);
  const __m256i index = _mm256_and_si256(ki, _mm256_set1_epi64x((1 << kTableBits) - 1));
  const __m256i t = _mm256_add_epi64(_mm256_i64gather_epi64(reinterpret_cast<const long long*>(table), index, 8),
                                     _mm256_slli_epi64(ki, 52 - kTableBits));
  const __m256d z = _mm256_fmadd_pd(r, _mm256_set1_pd(kC0), _mm256_set1_pd(kC1));
  const __m256d r2 = _mm256_mul_pd(r, r);
  __m256d y = _mm256_fmadd_pd(r, _mm256_set1_pd(kC2), _mm256_set1_pd(1.0));
  y = _mm256_fmadd_pd(z, r2, y);
  return _mm256_mul_pd(y, _mm256_castsi256_pd(t));
}
}  // namespace expf_x8

static inline __m256 ExpfX8(__m256 x, const uint64_t* table) {
  using namespace expf_x8;
  const __m128 lo = _mm256_cvtpd_ps(MainPath(_mm256_cvtps_pd(_mm256_castps256_ps128(x)), table));
  const __m128 hi = _mm256_cvtpd_ps(MainPath(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)), table));
  __m256 y = _mm256_set_m128(hi, lo);
  const __m256 main_path = _mm256_and_ps(_mm256_cmp_ps(x, _mm256_set1_ps(kMayUnderflowBelow), _CMP_GE_OQ),
                                         _mm256_cmp_ps(x, _mm256_set1_ps(kOverflowAbove), _CMP_LE_OQ));
  if (_mm256_movemask_ps(main_path) == 0xff) return y;  // no NaN, no lane beyond the thresholds
  // Special cases, later ones win; comparisons with NaN are false so only the last sees it.
  y = _mm256_blendv_ps(y, _mm256_set1_ps(0x1p-149f), _mm256_cmp_ps(x, _mm256_set1_ps(kMayUnderflowBelow), _CMP_LT_OQ));
  y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, _mm256_set1_ps(kUnderflowBelow), _CMP_LT_OQ));
  y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, _mm256_set1_ps(kOverflowAbove), _CMP_GT_OQ));
  return _mm256_blendv_ps(y, _mm256_add_ps(x, x), _mm256_cmp_ps(x, x, _CMP_UNORD_Q));  // quiets NaN
}

}  // namespace swarmkv::internal
