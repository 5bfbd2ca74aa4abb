#include "kernels/quants_more.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/quants.h"

namespace swarmkv {
namespace {

std::vector<float> Gaussian(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

struct RoundTripCase {
  TensorType type;
  double max_rel_rms;  // RMS error / RMS of the input, Gaussian rows
};

// Every reference quantizer writes blocks its ggml dequantizer reads back close to the input:
// a wrong bit position, nibble order or scale packing gives errors of the order of the values.
TEST(QuantsMoreTest, ReferenceQuantizersRoundTripThroughGgmlsDequantizers) {
  const RoundTripCase cases[] = {
      {TensorType::kQ4_1, 0.10},  {TensorType::kQ5_1, 0.05},  {TensorType::kQ2_K, 0.40},
      {TensorType::kQ3_K, 0.20},  {TensorType::kQ4_K, 0.10},  {TensorType::kQ5_K, 0.05},
      {TensorType::kQ6_K, 0.025}, {TensorType::kIQ4_NL, 0.10}, {TensorType::kIQ4_XS, 0.10},
      {TensorType::kMXFP4, 0.15},  // measured: .080 .038 .326 .157 .080 .038 .020 .083 .083 .119
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(TensorTypeName(static_cast<uint32_t>(c.type)));
    ASSERT_TRUE(CanQuantize(c.type));
    ASSERT_TRUE(CanDequantize(c.type));
    const int64_t n = 4096;
    auto x = Gaussian(n, 5);
    x[17] = 9.0f;  // an outlier: its block's scale must still hold it
    x[300] = -7.5f;
    std::vector<uint8_t> q(RowBytes(c.type, n));
    ASSERT_EQ(q.size(), n / BlockElements(c.type) * BlockBytes(c.type));
    ASSERT_TRUE(QuantizeRow(c.type, x.data(), q.data(), n).ok());
    std::vector<float> y(n);
    ASSERT_TRUE(DequantizeRow(c.type, q.data(), y.data(), n).ok());
    double err = 0, ref = 0;
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_TRUE(std::isfinite(y[i])) << i;
      err += (y[i] - x[i]) * double(y[i] - x[i]);
      ref += x[i] * double(x[i]);
    }
    const double rel = std::sqrt(err / ref);
    EXPECT_LT(rel, c.max_rel_rms);
    std::printf("%s relative RMS error %.4f\n", TensorTypeName(static_cast<uint32_t>(c.type)).c_str(), rel);
    EXPECT_NEAR(y[17], 9.0f, 9.0f * 0.2f);
    EXPECT_NEAR(y[300], -7.5f, 7.5f * 0.2f);
    // All-zero rows stay zero; a bad size is an error.
    std::vector<float> zeros(n, 0.0f);
    ASSERT_TRUE(QuantizeRow(c.type, zeros.data(), q.data(), n).ok());
    ASSERT_TRUE(DequantizeRow(c.type, q.data(), y.data(), n).ok());
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(y[i], 0.0f) << i;
    EXPECT_FALSE(QuantizeRow(c.type, x.data(), q.data(), BlockElements(c.type) + 1).ok());
  }
}

// Values on the grid of a block come back exactly (the packing is lossless where it can be).
TEST(QuantsMoreTest, GridValuesComeBackExactly) {
  // Q4_1: 0.5 * q - 2 for q = 0..15 (d = 0.5, m = -2 are exact in f16).
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = 0.5f * static_cast<float>((j * 7) % 16) - 2.0f;
  x[3] = -2.0f, x[4] = 5.5f;  // the minimum and maximum
  BlockQ4_1 b41;
  QuantizeQ4_1Ref(x.data(), &b41, 32);
  std::vector<float> y(32);
  DequantizeQ4_1(&b41, y.data(), 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], x[j]) << j;
  // IQ4_NL: d * table values, the table's first value at the largest magnitude.
  for (int j = 0; j < 32; ++j) x[j] = 0.25f * kIq4NlValues[(j * 5) % 16];
  x[0] = 0.25f * kIq4NlValues[0];
  BlockIQ4_NL bnl;
  QuantizeIQ4_NLRef(x.data(), &bnl, 32);
  DequantizeIQ4_NL(&bnl, y.data(), 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], x[j]) << j;
  // MXFP4: E2M1 values times a power of two (here 1/4: 12 * 2^-3 is the largest).
  for (int j = 0; j < 32; ++j) x[j] = 0.125f * kMxfp4Values[(j * 3) % 16];
  x[1] = 0.125f * 12;
  BlockMXFP4 bmx;
  QuantizeMXFP4Ref(x.data(), &bmx, 32);
  EXPECT_EQ(E8M0ToF32Half(bmx.e), 0.125f);
  DequantizeMXFP4(&bmx, y.data(), 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], x[j]) << j;
}

TEST(QuantsMoreTest, E8M0HalfIsTwoToTheEMinus128) {
  EXPECT_EQ(E8M0ToF32Half(128), 1.0f);
  EXPECT_EQ(E8M0ToF32Half(127), 0.5f);
  EXPECT_EQ(E8M0ToF32Half(2), std::ldexp(1.0f, -126));
  EXPECT_EQ(E8M0ToF32Half(1), std::ldexp(1.0f, -127));
  EXPECT_EQ(E8M0ToF32Half(0), std::ldexp(1.0f, -128));
  EXPECT_EQ(E8M0ToF32Half(254), std::ldexp(1.0f, 126));
}

// Q8_1 activations: the Q8_0 activation quants and d, plus s = d * sum(q) in f16.
TEST(QuantsMoreTest, Q8_1ActivationIsQ8_0PlusTheScaledSum) {
  const int64_t n = 256;
  auto x = Gaussian(n, 9);
  std::vector<BlockQ8_1> a(n / 32);
  std::vector<BlockQ8_0> b(n / 32);
  QuantizeRowQ8_1Act(x.data(), a.data(), n);
  QuantizeRowQ8_0Act(x.data(), b.data(), n);
  for (int64_t i = 0; i < n / 32; ++i) {
    EXPECT_EQ(a[i].d, b[i].d);
    EXPECT_EQ(std::memcmp(a[i].qs, b[i].qs, 32), 0);
    float amax = 0;
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      amax = std::max(amax, std::fabs(x[32 * i + j]));
      sum += b[i].qs[j];
    }
    EXPECT_EQ(a[i].s, F32ToF16(amax / 127.f * static_cast<float>(sum)));
  }
}

}  // namespace
}  // namespace swarmkv
