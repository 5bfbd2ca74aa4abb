#include "kernels/ops_arch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace swarmkv {
namespace {

double Gelu(double x) { return 0.5 * x * (1.0 + std::tanh(0.7978845608028654 * x * (1.0 + 0.044715 * x * x))); }

TEST(OpsArchTest, GeGluFollowsGgmlsF16Table) {
  std::vector<float> gate, up;
  for (float x = -12.0f; x <= 12.0f; x += 0.173f) {
    gate.push_back(x);
    up.push_back(1.5f);
  }
  std::vector<float> y(gate.size());
  GeGlu(gate.data(), up.data(), y.data(), static_cast<int64_t>(y.size()));
  for (size_t i = 0; i < y.size(); ++i) {
    const float x = gate[i];
    if (x <= -10.0f) {
      EXPECT_EQ(y[i], 0.0f);
    } else if (x >= 10.0f) {
      EXPECT_EQ(y[i], x * 1.5f);
    } else {  // gelu of x rounded to f16, itself rounded to f16: ~1e-3 relative
      EXPECT_NEAR(y[i], Gelu(x) * 1.5, 2e-3 * std::max(1.0, std::fabs(Gelu(x)))) << x;
    }
  }
  // In place, and the f16 table makes nearby inputs that round alike give equal outputs.
  float a[2] = {0.50001f, 0.5f}, u[2] = {1.0f, 1.0f};
  GeGlu(a, u, a, 2);
  EXPECT_EQ(a[0], a[1]);
}

TEST(OpsArchTest, SoftCapBoundsAndIsLinearNearZero) {
  std::vector<float> x = {-1000.0f, -3.0f, -1e-4f, 0.0f, 1e-4f, 3.0f, 1000.0f};
  SoftCap(x.data(), static_cast<int64_t>(x.size()), 30.0f);
  EXPECT_FLOAT_EQ(x[0], -30.0f);
  EXPECT_FLOAT_EQ(x[6], 30.0f);
  EXPECT_NEAR(x[2], -1e-4f, 1e-9f);
  EXPECT_EQ(x[3], 0.0f);
  EXPECT_NEAR(x[5], 30.0 * std::tanh(0.1), 1e-5);
  float s[3] = {1.0f, -2.0f, 0.5f};
  Scale(s, 3, 4.0f);
  EXPECT_EQ(s[1], -8.0f);
}

// gpt-oss's clamped SwiGLU against ggml_swiglu_oai's formula in double: the gate clamped above
// at the limit, the up clamped both ways and shifted by 1, sigmoid(alpha * g) * g — within float
// rounding; exactly the float expression (one scalar implementation serves every ISA); in place.
TEST(OpsArchTest, SwiGluOaiClampsAndMatchesDouble) {
  const float alpha = 1.702f, limit = 7.0f;
  std::vector<float> gate, up;
  for (float g = -12.0f; g <= 12.0f; g += 0.37f)
    for (float u : {-9.0f, -7.0f, -1.0f, -0.3f, 0.0f, 0.8f, 6.9f, 7.5f, 100.0f}) {
      gate.push_back(g);
      up.push_back(u);
    }
  std::vector<float> y(gate.size());
  SwiGluOai(gate.data(), up.data(), y.data(), static_cast<int64_t>(y.size()), alpha, limit);
  for (size_t i = 0; i < y.size(); ++i) {
    const double g = std::min(double{gate[i]}, 7.0), u = std::clamp(double{up[i]}, -7.0, 7.0);
    const double want = g / (1.0 + std::exp(-double{alpha} * g)) * (u + 1.0);
    EXPECT_NEAR(y[i], want, 1e-6 * std::max(1.0, std::fabs(want))) << gate[i] << " " << up[i];
    const float gf = std::min(gate[i], limit), uf = std::clamp(up[i], -limit, limit);
    EXPECT_EQ(y[i], gf / (1.0f + std::exp(alpha * (-gf))) * (uf + 1.0f));
  }
  // Clamps: a gate above the limit acts as the limit, an up beyond ±limit as ±limit (-7 + 1 = -6).
  float g2[2] = {50.0f, 7.0f}, u2[2] = {-50.0f, -7.0f};
  SwiGluOai(g2, u2, g2, 2, alpha, limit);
  EXPECT_EQ(g2[0], g2[1]);
  EXPECT_LT(g2[0], 0.0f);
}

}  // namespace
}  // namespace swarmkv
