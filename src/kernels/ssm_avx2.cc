// Mamba-2 inner loops on AVX2 (kernels/ssm.h, internal::*Avx2): the scalar twins' operations
// lane by lane. Compiled with -mavx2 -mfma -mf16c -ffp-contract=off; ssm.cc calls them only when
// CPUID reports those features.
#include <immintrin.h>

#include <math.h>

#include "kernels/ssm_simd.h"

namespace swarmkv::internal {

float SsmScanRowAvx2(float* s, const float* B, const float* C, float dA, float x_dt, int64_t n) {
  const __m256 vdA = _mm256_set1_ps(dA), vxdt = _mm256_set1_ps(x_dt);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  const int64_t np = n & ~int64_t{31};
  for (int64_t i = 0; i < np; i += 32) {
    for (int k = 0; k < 4; ++k) {
      const int64_t j = i + 8 * k;
      const __m256 st = _mm256_fmadd_ps(_mm256_loadu_ps(s + j), vdA, _mm256_mul_ps(_mm256_loadu_ps(B + j), vxdt));
      acc[k] = _mm256_fmadd_ps(st, _mm256_loadu_ps(C + j), acc[k]);
      _mm256_storeu_ps(s + j, st);
    }
  }
  const __m256 v = _mm256_add_ps(_mm256_add_ps(acc[0], acc[2]), _mm256_add_ps(acc[1], acc[3]));
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
