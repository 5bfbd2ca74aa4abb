// AVX2 accumulate of the llama.cpp-order attention (see attention_llama.h): the V accumulator
// stays in registers across keys (64 dims = 8 registers per pass), rounded to f16 and back after
// every operation with F16C — the scalar twin's F32ToF16 / F16ToF32, round to nearest even.
#include <immintrin.h>

#include "kernels/attention_llama.h"

namespace swarmkv::internal {
namespace {

inline __m256 RoundF16(__m256 x) { return _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT)); }

template <int NC>  // NC registers of 8 dims
void AccumulateChunk(const float* v, int64_t v_stride, int n, const float* ms, const float* vs,
                     float* acc) {
  __m256 a[NC];
  for (int c = 0; c < NC; ++c) a[c] = _mm256_loadu_ps(acc + 8 * c);
  for (int j = 0; j < n; ++j) {
    if (ms[j] != 1.0f) {
      const __m256 m = _mm256_set1_ps(ms[j]);
      for (int c = 0; c < NC; ++c) a[c] = RoundF16(_mm256_mul_ps(a[c], m));
    }
    const __m256 s = _mm256_set1_ps(vs[j]);
    const float* vj = v + j * v_stride;
    for (int c = 0; c < NC; ++c) a[c] = RoundF16(_mm256_fmadd_ps(_mm256_loadu_ps(vj + 8 * c), s, a[c]));
  }
  for (int c = 0; c < NC; ++c) _mm256_storeu_ps(acc + 8 * c, a[c]);
}

}  // namespace

void AccumulateF16OrderAvx2(const float* v, int64_t v_stride, int n, const float* ms,
                            const float* vs, int64_t dv, float* acc) {
  int64_t d = 0;
  for (; d + 64 <= dv; d += 64) AccumulateChunk<8>(v + d, v_stride, n, ms, vs, acc + d);
  for (; d < dv; d += 8) AccumulateChunk<1>(v + d, v_stride, n, ms, vs, acc + d);
}

}  // namespace swarmkv::internal
