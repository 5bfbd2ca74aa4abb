#include "kernels/ops_arch.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/fp16.h"

namespace swarmkv {
namespace {

// ggml_gelu_f32 as ggml-cpu computes its table at init (FMA-contracted by the compiler there;
// the result is rounded to f16, so contraction can move at most a rare boundary case).
float GeluF32(float x) {
  constexpr float kCoefA = 0.044715f;
  constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + kCoefA * x * x)));
}

const std::vector<float>& GeluF16Table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(1 << 16);
    for (uint32_t i = 0; i < t.size(); ++i) t[i] = F16ToF32(F32ToF16(GeluF32(F16ToF32(static_cast<f16_t>(i)))));
    return t;
  }();
  return table;
}

}  // namespace

void GeGlu(const float* gate, const float* up, float* y, int64_t n) {
  const std::vector<float>& table = GeluF16Table();
  for (int64_t i = 0; i < n; ++i) {
    const float x = gate[i];
    if (x <= -10.0f) {
      y[i] = 0.0f;
    } else if (x >= 10.0f) {
      y[i] = x * up[i];
    } else {
      y[i] = table[F32ToF16(x)] * up[i];
    }
  }
}

void SoftCap(float* x, int64_t n, float cap) {
  const float inv = 1.0f / cap;
  for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i] * inv) * cap;
}

void Scale(float* x, int64_t n, float s) {
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

void SwiGluOai(const float* gate, const float* up, float* y, int64_t n, float alpha, float limit) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = std::min(gate[i], limit);
    const float u = std::clamp(up[i], -limit, limit);
    const float glu = g / (1.0f + std::exp(alpha * (-g)));
    y[i] = glu * (u + 1.0f);
  }
}

}  // namespace swarmkv
