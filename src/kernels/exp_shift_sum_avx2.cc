// The exponent step of PagedAttention's softmax in 8 lanes: s[j] = exp(s[j] - max) and the sum
// of the results (ExpShiftSumAvx2, declared in kernels/attention_simd.h; its scalar twin
// ExpShiftSumScalar in kernels/attention.cc gives the same bits). Compiled with
// -mavx2 -mfma -mf16c. Not the llama-order softmax (kernels/expf_avx2.cc has libm's expf bits
// for that path).
#include <immintrin.h>

#include "kernels/attention_simd.h"
#include "kernels/simd_x86.h"

namespace swarmkv::internal {

namespace {
// exp(x) for x <= 0 (Cephes expf: x = n ln2 + r, exp(r) by a degree-6 polynomial, times 2^n).
inline __m256 ExpNonPositive(__m256 x) {
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));  // exp(-87) ~ 1.6e-38: still a normal float
  const __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500E-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507E-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073E-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894E-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459E-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201E-1f));
  const __m256 r2 = _mm256_mul_ps(r, r);
  p = _mm256_fmadd_ps(p, r2, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}
}  // namespace

float ExpShiftSumAvx2(float* s, int64_t n, float max) {
  const __m256 m = _mm256_set1_ps(max);
  __m256 acc = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 e = ExpNonPositive(_mm256_sub_ps(_mm256_loadu_ps(s + j), m));
    _mm256_storeu_ps(s + j, e);
    acc = _mm256_add_ps(acc, e);
  }
  if (j < n) {
    alignas(32) float tmp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t k = j; k < n; ++k) tmp[k - j] = s[k] - max;
    const __m256 valid = _mm256_cmp_ps(_mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7),
                                       _mm256_set1_ps(static_cast<float>(n - j)), _CMP_LT_OQ);
    const __m256 e = _mm256_and_ps(ExpNonPositive(_mm256_load_ps(tmp)), valid);
    _mm256_store_ps(tmp, e);
    for (int64_t k = j; k < n; ++k) s[k] = tmp[k - j];
    acc = _mm256_add_ps(acc, e);
  }
  return HsumF32x8(acc);
}

}  // namespace swarmkv::internal
