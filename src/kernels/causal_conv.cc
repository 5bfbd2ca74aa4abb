// CausalConv's dispatch and its scalar twin (compiled with -ffp-contract=off: a product and the
// running sum are rounded separately where the order says so; the fused taps are explicit fmas).
#include "kernels/causal_conv.h"

#include <cmath>

namespace swarmkv {
namespace {

void ScalarChannels(const CausalConvArgs& a, int64_t t0, int64_t t1, int64_t c0) {
  const int64_t C = a.channels;
  for (int64_t t = t0; t < t1; ++t) {
    float* y = a.y + t * a.y_stride;
    const float* g = a.gate != nullptr ? a.gate + t * a.gate_stride : nullptr;
    for (int64_t c = c0; c < C; ++c) {
      float sum = 0.0f;
      for (int32_t k = 0; k < a.taps; ++k) {
        const float x = a.xe[(t + k) * a.xe_stride + c], w = a.w[k * C + c];
        if (k < internal::CausalConvProductTaps(a.taps)) {
          const float p = x * w;
          sum = sum + p;
        } else {
          sum = std::fma(x, w, sum);
        }
      }
      y[c] = g != nullptr ? g[c] * sum : sum;
    }
  }
}

}  // namespace

void CausalConv(const CausalConvArgs& a, int64_t t0, int64_t t1, Isa isa) {
  if (t0 >= t1) return;
  int64_t done = 0;
  if (isa >= Isa::kAvx512 && a.channels >= 16) {
    internal::CausalConvAvx512(a, t0, t1);
    done = a.channels - a.channels % 16;
  } else if (isa >= Isa::kAvx2 && a.channels >= 8) {
    internal::CausalConvAvx2(a, t0, t1);
    done = a.channels - a.channels % 8;
  }
  if (done < a.channels) ScalarChannels(a, t0, t1, done);
}

}  // namespace swarmkv
