#include "kernels/ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/quants.h"
#include "kernels/swiglu_avx2.h"

namespace swarmkv {
namespace {

TEST(OpsTest, RmsNormScalesToUnitRootMeanSquare) {
  std::vector<float> x = {1, 2, 3, 4}, w = {1, 1, 2, 0.5f}, y(4);
  RmsNorm(x.data(), w.data(), y.data(), 4, 0.0f);
  const float s = 1.0f / std::sqrt(7.5f);
  EXPECT_FLOAT_EQ(y[0], 1 * s);
  EXPECT_FLOAT_EQ(y[2], 3 * s * 2);
  EXPECT_FLOAT_EQ(y[3], 4 * s * 0.5f);
  RmsNorm(x.data(), nullptr, x.data(), 4, 1e-5f);  // in place, eps used
  EXPECT_FLOAT_EQ(x[1], 2 / std::sqrt(7.5f + 1e-5f));
}

TEST(OpsTest, RopeNormalRotatesAdjacentPairsByPosTimesFrequency) {
  RopeParams p;
  p.n_dims = 8;
  const int head_dim = 10;  // last two dims pass through
  std::vector<float> x(2 * head_dim);
  std::mt19937 rng(1);
  std::normal_distribution<float> d;
  for (auto& v : x) v = d(rng);
  auto orig = x;
  ApplyRope(p, 5, x.data(), head_dim, 2);
  for (int h = 0; h < 2; ++h) {
    for (int i = 0; i < 8; i += 2) {
      const double theta = 5 * std::pow(10000.0, -static_cast<double>(i) / 8);
      const double a = orig[h * head_dim + i], b = orig[h * head_dim + i + 1];
      EXPECT_NEAR(x[h * head_dim + i], a * std::cos(theta) - b * std::sin(theta), 1e-5);
      EXPECT_NEAR(x[h * head_dim + i + 1], a * std::sin(theta) + b * std::cos(theta), 1e-5);
    }
    EXPECT_EQ(x[h * head_dim + 8], orig[h * head_dim + 8]);
    EXPECT_EQ(x[h * head_dim + 9], orig[h * head_dim + 9]);
  }
}

TEST(OpsTest, RopeNeoxPairsElementIWithIPlusHalf) {
  RopeParams p;
  p.n_dims = 8;
  p.neox = true;
  p.freq_base = 1e6f;
  std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8}, orig = x;
  ApplyRope(p, 3, x.data(), 8, 1);
  for (int i = 0; i < 4; ++i) {
    const double theta = 3 * std::pow(1e6, -2.0 * i / 8);
    EXPECT_NEAR(x[i], orig[i] * std::cos(theta) - orig[i + 4] * std::sin(theta), 1e-5);
    EXPECT_NEAR(x[i + 4], orig[i] * std::sin(theta) + orig[i + 4] * std::cos(theta), 1e-5);
  }
  std::vector<float> y = orig;
  ApplyRope(p, 0, y.data(), 8, 1);
  EXPECT_EQ(y, orig);  // position 0 is the identity
}

TEST(OpsTest, RopeLinearScalingEqualsScaledPosition) {
  RopeParams a, b;
  a.n_dims = b.n_dims = 16;
  a.freq_scale = 0.25f;
  std::vector<float> x(16, 0.5f), y(16, 0.5f);
  ApplyRope(a, 40, x.data(), 16, 1);
  ApplyRope(b, 10, y.data(), 16, 1);
  for (int i = 0; i < 16; ++i) EXPECT_NEAR(x[i], y[i], 1e-5);
}

TEST(OpsTest, RopeYarnScalesMagnitudeAndInterpolatesLowFrequencies) {
  RopeParams p;
  p.n_dims = 64;
  p.neox = true;
  p.freq_scale = 0.25f;
  p.ext_factor = 1.0f;
  p.n_ctx_orig = 4096;
  std::vector<float> x(64, 1.0f);
  ApplyRope(p, 0, x.data(), 64, 1);
  // At position 0 every angle is 0, so only YaRN's magnitude scale remains.
  const float mscale = 1.0f + 0.1f * std::log(4.0f);
  for (float v : x) EXPECT_NEAR(v, mscale, 1e-6);
  // The fastest pair (i0 = 0) extrapolates: rotates by the unscaled angle.
  std::vector<float> y(64, 0.0f);
  y[0] = 1.0f;
  ApplyRope(p, 7, y.data(), 64, 1);
  EXPECT_NEAR(y[0], std::cos(7.0f) * mscale, 1e-5);
  // The slowest pair interpolates: angle scaled by freq_scale.
  std::vector<float> z(64, 0.0f);
  z[31] = 1.0f;
  ApplyRope(p, 1000, z.data(), 64, 1);
  const double th = 1000 * 0.25 * std::pow(10000.0, -62.0 / 64);
  EXPECT_NEAR(z[31], std::cos(th) * mscale, 1e-4);
}

TEST(OpsTest, SoftmaxSwiGluAdd) {
  std::vector<float> x = {1, 2, 3, -INFINITY};
  Softmax(x.data(), 4);
  EXPECT_NEAR(x[0] + x[1] + x[2], 1.0f, 1e-6);
  EXPECT_EQ(x[3], 0.0f);
  EXPECT_NEAR(x[2] / x[1], std::exp(1.0f), 1e-5);
  float g[2] = {0.0f, 2.0f}, u[2] = {3.0f, 0.5f}, y[2];
  SwiGlu(g, u, y, 2);
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_NEAR(y[1], 2.0f / (1 + std::exp(-2.0f)) * 0.5f, 1e-6);
  Add(g, u, y, 2);
  EXPECT_EQ(y[1], 2.5f);
}

TEST(OpsTest, GetRowDequantizesOneRowAndRejectsOutOfRange) {
  std::vector<float> m(3 * 32);
  for (int i = 0; i < 96; ++i) m[i] = static_cast<float>(i % 7) - 3;
  std::vector<uint8_t> q(3 * RowBytes(TensorType::kQ8_0, 32));
  for (int r = 0; r < 3; ++r)
    ASSERT_TRUE(QuantizeRow(TensorType::kQ8_0, m.data() + 32 * r, q.data() + r * 34, 32).ok());
  std::vector<float> out(32);
  ASSERT_TRUE(GetRow(TensorType::kQ8_0, q.data(), 3, 32, 0, 2, out.data()).ok());
  for (int i = 0; i < 32; ++i) EXPECT_NEAR(out[i], m[64 + i], 0.02f);
  EXPECT_FALSE(GetRow(TensorType::kQ8_0, q.data(), 3, 32, 0, 3, out.data()).ok());
  EXPECT_FALSE(GetRow(TensorType::kQ8_0, q.data(), 3, 32, 0, -1, out.data()).ok());
}


TEST(OpsTest, SwiGluVectorExpMatchesScalarBitForBitAndLibmClosely) {
  // GgmlVecExp (llama.cpp's AVX2 vector exp) stays within 2 ulp-ish of expf, and the AVX2
  // SwiGLU gives exactly the scalar formula's bits, including lanes outside the normal range.
  std::vector<float> g, u;
  for (float x = -150.0f; x <= 150.0f; x += 0.0137f) {  // |n| > 126 and > 192 lanes too
    g.push_back(x);
    u.push_back(0.5f + std::fmod(std::fabs(x), 3.0f));
  }
  while (g.size() % 8 != 0) {
    g.push_back(1.0f);
    u.push_back(1.0f);
  }
  for (float x : g) {
    if (std::fabs(x) < 80.0f) {
      EXPECT_NEAR(GgmlVecExp(x), std::exp(x), 4e-7f * std::exp(x)) << x;
    }
  }
  if (!IsaSupported(Isa::kAvx2)) GTEST_SKIP() << "no AVX2";
  std::vector<float> y(g.size());
  internal::SwiGluVecAvx2(g.data(), u.data(), y.data(), static_cast<int64_t>(g.size()));
  for (size_t i = 0; i < g.size(); ++i) {
    const float want = (g[i] / (1.0f + GgmlVecExp(0.0f - g[i]))) * u[i];
    ASSERT_EQ(y[i], want) << "g=" << g[i];
  }
}

}  // namespace
}  // namespace swarmkv
