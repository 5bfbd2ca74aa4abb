#include "kernels/ops_arch.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace swarmkv
