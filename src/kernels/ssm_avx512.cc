// Mamba-2 inner loops on AVX-512 (kernels/ssm.h, internal::*Avx512): the scalar twins' order in
// 16 lanes. A scan step of 32 elements keeps the twin's accumulators a0|a1 in `lo` (elements
// i..i+15) and a2|a3 in `hi` (i+16..i+31); lo + hi is (a0+a2)|(a1+a3), whose 256-bit halves added
// give the twin's (a0+a2)+(a1+a3) — then the same 128-bit fold and horizontal adds. Compiled
// with the AVX-512 flags and -ffp-contract=off; ssm.cc calls them only when CPUID reports them.
#include <immintrin.h>

#include <math.h>

#include "kernels/ssm_simd.h"

namespace swarmkv::internal {

float SsmScanRowAvx512(float* s, const float* B, const float* C, float dA, float x_dt, int64_t n) {
  const __m512 vdA = _mm512_set1_ps(dA), vxdt = _mm512_set1_ps(x_dt);
  __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
  const int64_t np = n & ~int64_t{31};
  for (int64_t i = 0; i < np; i += 32) {
    const __m512 s0 = _mm512_fmadd_ps(_mm512_loadu_ps(s + i), vdA, _mm512_mul_ps(_mm512_loadu_ps(B + i), vxdt));
    const __m512 s1 =
        _mm512_fmadd_ps(_mm512_loadu_ps(s + i + 16), vdA, _mm512_mul_ps(_mm512_loadu_ps(B + i + 16), vxdt));
    lo = _mm512_fmadd_ps(s0, _mm512_loadu_ps(C + i), lo);
    hi = _mm512_fmadd_ps(s1, _mm512_loadu_ps(C + i + 16), hi);
    _mm512_storeu_ps(s + i, s0);
    _mm512_storeu_ps(s + i + 16, s1);
  }
  const __m512 w = _mm512_add_ps(lo, hi);
  const __m256 v = _mm256_add_ps(_mm512_castps512_ps256(w), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(w), 1)));
  const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t1 = _mm_hadd_ps(t0, t0);
  float sum = _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
  for (int64_t j = np; j < n; ++j) {
    const float st = fmaf(s[j], dA, B[j] * x_dt);
    sum = fmaf(st, C[j], sum);
    s[j] = st;
  }
  return sum;
}


}  // namespace swarmkv::internal
