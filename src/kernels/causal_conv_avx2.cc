// CausalConv over 8 channels at a time, each lane in the scalar twin's order: products then
// adds for the first 4 * floor(L / 4) taps, FMAs for the rest (ggml's AVX2 build).
#include <immintrin.h>

#include "kernels/causal_conv.h"

namespace swarmkv::internal {

void CausalConvAvx2(const CausalConvArgs& a, int64_t t0, int64_t t1) {
  const int64_t C = a.channels, Cv = C - C % 8;
  const int32_t product_taps = CausalConvProductTaps(a.taps);
  for (int64_t t = t0; t < t1; ++t) {
    float* y = a.y + t * a.y_stride;
    const float* g = a.gate != nullptr ? a.gate + t * a.gate_stride : nullptr;
    for (int64_t c = 0; c < Cv; c += 8) {
      __m256 sum = _mm256_setzero_ps();
      for (int32_t k = 0; k < a.taps; ++k) {
        const __m256 x = _mm256_loadu_ps(a.xe + (t + k) * a.xe_stride + c), w = _mm256_loadu_ps(a.w + k * C + c);
        sum = k < product_taps ? _mm256_add_ps(sum, _mm256_mul_ps(x, w)) : _mm256_fmadd_ps(x, w, sum);
      }
      if (g != nullptr) sum = _mm256_mul_ps(_mm256_loadu_ps(g + c), sum);
      _mm256_storeu_ps(y + c, sum);
    }
  }
}

}  // namespace swarmkv::internal
