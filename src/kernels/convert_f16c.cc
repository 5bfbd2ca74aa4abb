// F16C row conversions between f16 and f32 (compiled with -mavx2 -mfma -mf16c; called by
// kernels/convert.cc only when CPUID reports F16C). Hardware round-to-nearest-even, so the
// bits equal the scalar conversions of kernels/fp16.h.
#include <immintrin.h>

#include "kernels/convert.h"

namespace swarmkv::internal {

void F16ToF32RowF16C(const f16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))));
  }
  for (; i < n; ++i) y[i] = _cvtsh_ss(x[i]);
}

void F32ToF16RowF16C(const float* x, f16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), 0));
  }
  for (; i < n; ++i) y[i] = _cvtss_sh(x[i], 0);
}

}  // namespace swarmkv::internal
