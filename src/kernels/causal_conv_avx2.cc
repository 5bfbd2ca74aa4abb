// CausalConv over 8 channels at a time (compiled with -mavx2; no FMA: mul then add, the scalar
// twin's order).
#include <immintrin.h>

#include "kernels/causal_conv.h"

namespace swarmkv::internal {

void CausalConvAvx2(const CausalConvArgs& a, int64_t t0, int64_t t1) {
  const int64_t C = a.channels, Cv = C - C % 8;
  for (int64_t t = t0; t < t1; ++t) {
    float* y = a.y + t * a.y_stride;
    const float* g = a.gate != nullptr ? a.gate + t * a.gate_stride : nullptr;
    for (int64_t c = 0; c < Cv; c += 8) {
      __m256 sum = _mm256_setzero_ps();
      for (int32_t k = 0; k < a.taps; ++k) {
        const __m256 p = _mm256_mul_ps(_mm256_loadu_ps(a.xe + (t + k) * a.xe_stride + c), _mm256_loadu_ps(a.w + k * C + c));
        sum = _mm256_add_ps(sum, p);
      }
      if (g != nullptr) sum = _mm256_mul_ps(_mm256_loadu_ps(g + c), sum);
      _mm256_storeu_ps(y + c, sum);
    }
  }
}

}  // namespace swarmkv::internal
