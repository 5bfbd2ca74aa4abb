#include "kernels/quants.h"

#include "kernels/cpu_features.h"

#include <gtest/gtest.h>
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace swarmkv {
namespace {

std::vector<float> RandomRow(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

TEST(Fp16Test, KnownValuesAndTiesToEven) {
  EXPECT_EQ(F32ToF16(1.0f), 0x3C00);
  EXPECT_EQ(F32ToF16(-2.0f), 0xC000);
  EXPECT_EQ(F32ToF16(65504.0f), 0x7BFF);
  EXPECT_EQ(F32ToF16(1e6f), 0x7C00);  // overflow -> inf
  EXPECT_EQ(F32ToF16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);      // tie -> even (down)
  EXPECT_EQ(F32ToF16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);  // tie -> even (up)
  EXPECT_EQ(F16ToF32(0x0001), std::ldexp(1.0f, -24));            // smallest subnormal
  EXPECT_TRUE(std::isnan(F16ToF32(F32ToF16(NAN))));
  EXPECT_EQ(F32ToBF16(1.0f), 0x3F80);
  EXPECT_EQ(F32ToBF16(BitsFloat(0x3F808000u)), 0x3F80);  // tie -> even (down)
  EXPECT_EQ(F32ToBF16(BitsFloat(0x3F818000u)), 0x3F82);  // tie -> even (up)
  EXPECT_TRUE(std::isnan(BF16ToF32(F32ToBF16(NAN))));
}

__attribute__((target("f16c"))) uint16_t HardwareF16(float f) { return _cvtss_sh(f, 0); }
__attribute__((target("f16c"))) float HardwareF32(uint16_t h) { return _cvtsh_ss(h); }

TEST(Fp16Test, MatchesF16CHardwareOnRandomBits) {
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "CPU has no F16C";
  std::mt19937 rng(7);
  for (int i = 0; i < 200000; ++i) {
    const float f = BitsFloat(rng());
    if (std::isnan(f)) continue;
    ASSERT_EQ(F32ToF16(f), HardwareF16(f)) << f;
  }
  for (uint32_t h = 0; h < 65536; ++h) {
    const float a = F16ToF32(static_cast<uint16_t>(h)), b = HardwareF32(static_cast<uint16_t>(h));
    if (std::isnan(a)) {
      ASSERT_TRUE(std::isnan(b));
      continue;
    }
    ASSERT_EQ(FloatBits(a), FloatBits(b)) << h;
  }
}

TEST(QuantsTest, RoundTripErrorIsBoundedByTheBlockScale) {
  for (TensorType t : {TensorType::kF32, TensorType::kF16, TensorType::kBF16, TensorType::kQ8_0,
                       TensorType::kQ4_0, TensorType::kQ5_0}) {
    const int64_t n = 4096;
    auto x = RandomRow(n, 1, 2.0f);
    std::vector<uint8_t> q(RowBytes(t, n));
    ASSERT_TRUE(QuantizeRow(t, x.data(), q.data(), n).ok());
    std::vector<float> y(n);
    ASSERT_TRUE(DequantizeRow(t, q.data(), y.data(), n).ok());
    for (int64_t b = 0; b < n; b += 32) {
      float amax = 0;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b + j]));
      float tol = 0;
      switch (t) {
        case TensorType::kF32: tol = 0; break;
        case TensorType::kF16: tol = amax * 0x1p-11f; break;
        case TensorType::kBF16: tol = amax * 0x1p-8f; break;
        case TensorType::kQ8_0: tol = amax / 127 * 0.5f * 1.01f + amax * 0x1p-11f; break;  // + f16 d
        case TensorType::kQ5_0: tol = amax / 16 * 1.01f + amax * 0x1p-11f; break;  // top saturates at 15d
        default: tol = amax / 8 * 1.01f + amax * 0x1p-11f; break;  // q4_0: top saturates at 7d
      }
      for (int j = 0; j < 32; ++j) ASSERT_LE(std::fabs(x[b + j] - y[b + j]), tol) << int(t);
    }
  }
}

TEST(QuantsTest, Q8_0MatchesTheReferenceFormula) {
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i) x[i] = (i - 10) * 0.25f;  // amax 5.25 at i = 31
  BlockQ8_0 b;
  ASSERT_TRUE(QuantizeRow(TensorType::kQ8_0, x.data(), &b, 32).ok());
  EXPECT_EQ(b.d, F32ToF16(5.25f / 127));
  EXPECT_EQ(b.qs[31], 127);
  EXPECT_EQ(b.qs[10], 0);
  const float id = 1.0f / (5.25f / 127);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(b.qs[i], static_cast<int8_t>(std::roundf(x[i] * id)));
}

TEST(QuantsTest, Q4_0UsesTheSignedMaximumAsMinusEight) {
  std::vector<float> x(32, 0.0f);
  x[3] = -4.0f;  // signed max by magnitude -> d = 0.5, q(-4) = 0
  x[4] = 3.0f;
  BlockQ4_0 b;
  ASSERT_TRUE(QuantizeRow(TensorType::kQ4_0, x.data(), &b, 32).ok());
  EXPECT_EQ(F16ToF32(b.d), 0.5f);
  EXPECT_EQ(b.qs[3] & 0xF, 0);
  EXPECT_EQ(b.qs[4] & 0xF, 14);
  EXPECT_EQ(b.qs[0] & 0xF, 8);
  std::vector<float> y(32);
  ASSERT_TRUE(DequantizeRow(TensorType::kQ4_0, &b, y.data(), 32).ok());
  EXPECT_EQ(y[3], -4.0f);
  EXPECT_EQ(y[4], 3.0f);
  // A positive maximum saturates at 15 (the asymmetric top of the range).
  x.assign(32, 0.0f);
  x[0] = 4.0f;
  ASSERT_TRUE(QuantizeRow(TensorType::kQ4_0, x.data(), &b, 32).ok());
  EXPECT_EQ(F16ToF32(b.d), -0.5f);
  EXPECT_EQ(b.qs[0] & 0xF, 0);
}

// Q5_0 (what llama.cpp's Q4_K_M writes for matrices whose rows are not a multiple of 256, e.g.
// SmolLM2's and Qwen2.5-0.5B's): d = signed maximum / -16, 5-bit q with bit 4 of element j in
// bit j of qh — checked through the independent dequantizer and by the bits themselves.
TEST(QuantsTest, Q5_0UsesTheSignedMaximumAsMinusSixteenAndPacksBitFourInQh) {
  std::vector<float> x(32, 0.0f);
  x[3] = -8.0f;   // signed max by magnitude -> d = 0.5, q(-8) = 0
  x[20] = 7.5f;   // q = 31: low nibble 15 in the high half of byte 4, bit 20 of qh set
  x[5] = 0.5f;    // q = 17: bit 5 set, low nibble 1
  BlockQ5_0 b;
  ASSERT_TRUE(QuantizeRow(TensorType::kQ5_0, x.data(), &b, 32).ok());
  EXPECT_EQ(F16ToF32(b.d), 0.5f);
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  EXPECT_EQ(b.qs[3] & 0xF, 0);
  EXPECT_EQ((qh >> 3) & 1u, 0u);
  EXPECT_EQ(b.qs[4] >> 4, 15);
  EXPECT_EQ((qh >> 20) & 1u, 1u);
  EXPECT_EQ(b.qs[5] & 0xF, 1);
  EXPECT_EQ((qh >> 5) & 1u, 1u);
  EXPECT_EQ(b.qs[0] & 0xF, 0);  // zero -> q = 16: nibble 0, bit set
  EXPECT_EQ(qh & 1u, 1u);
  std::vector<float> y(32);
  ASSERT_TRUE(DequantizeRow(TensorType::kQ5_0, &b, y.data(), 32).ok());
  EXPECT_EQ(y[3], -8.0f);
  EXPECT_EQ(y[20], 7.5f);
  EXPECT_EQ(y[5], 0.5f);
  EXPECT_EQ(y[0], 0.0f);
}

TEST(QuantsTest, BadInputIsAClearError) {
  float x[33] = {};
  uint8_t buf[256];
  Status s = QuantizeRow(TensorType::kQ8_0, x, buf, 33);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("multiple"), std::string::npos) << s.ToString();
  EXPECT_FALSE(QuantizeRow(TensorType::kQ8_K, x, buf, 256).ok());  // activation-only
  EXPECT_FALSE(DequantizeRow(TensorType::kI32, buf, x, 1).ok());
  EXPECT_FALSE(DequantizeRow(TensorType::kQ4_K, buf, x, 32).ok());
  EXPECT_EQ(RowBytes(TensorType::kQ6_K, 512), 2 * 210);
  EXPECT_EQ(RowBytes(TensorType::kQ6_K, 100), 0);
}

// Packs 8 (scale, min) 6-bit pairs the way ggml's Q4_K/Q5_K store them, written from the
// format's description (independently of GetScaleMinK4).
void PackScales(const int sc[8], const int mn[8], uint8_t out[12]) {
  for (int j = 0; j < 4; ++j) {
    out[j] = static_cast<uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    out[j + 4] = static_cast<uint8_t>((mn[j] & 63) | ((mn[j + 4] >> 4) << 6));
    out[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
  }
}

TEST(QuantsTest, Q4_KDequantizesPackedScalesMinsAndNibbles) {
  std::mt19937 rng(3);
  BlockQ4_K b;
  b.d = F32ToF16(0.5f);
  b.dmin = F32ToF16(0.25f);
  int sc[8], mn[8], q[256];
  for (int j = 0; j < 8; ++j) sc[j] = rng() % 64, mn[j] = rng() % 64;
  for (int i = 0; i < 256; ++i) q[i] = rng() % 16;
  PackScales(sc, mn, b.scales);
  // Element i: sub-block i/32; 64-element chunks store the low nibble for the first 32.
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l)
      b.qs[c * 32 + l] = static_cast<uint8_t>(q[c * 64 + l] | (q[c * 64 + 32 + l] << 4));
  float y[256];
  ASSERT_TRUE(DequantizeRow(TensorType::kQ4_K, &b, y, 256).ok());
  for (int i = 0; i < 256; ++i) {
    const int s = i / 32;
    ASSERT_EQ(y[i], 0.5f * sc[s] * q[i] - 0.25f * mn[s]) << i;
  }
}

TEST(QuantsTest, Q5_KAddsTheHighBit) {
  std::mt19937 rng(4);
  BlockQ5_K b;
  b.d = F32ToF16(0.125f);
  b.dmin = F32ToF16(1.0f);
  int sc[8], mn[8], q[256];
  for (int j = 0; j < 8; ++j) sc[j] = rng() % 64, mn[j] = rng() % 64;
  for (int i = 0; i < 256; ++i) q[i] = rng() % 32;
  PackScales(sc, mn, b.scales);
  std::memset(b.qh, 0, sizeof b.qh);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      const int lo = q[c * 64 + l], hi = q[c * 64 + 32 + l];
      b.qs[c * 32 + l] = static_cast<uint8_t>((lo & 15) | ((hi & 15) << 4));
      b.qh[l] |= static_cast<uint8_t>(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
    }
  float y[256];
  ASSERT_TRUE(DequantizeRow(TensorType::kQ5_K, &b, y, 256).ok());
  for (int i = 0; i < 256; ++i) ASSERT_EQ(y[i], 0.125f * sc[i / 32] * q[i] - 1.0f * mn[i / 32]) << i;
}

TEST(QuantsTest, Q6_KDequantizesSixBitSignedValues) {
  std::mt19937 rng(5);
  BlockQ6_K b;
  b.d = F32ToF16(0.5f);
  int q[256];
  for (int i = 0; i < 256; ++i) q[i] = rng() % 64;
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<int8_t>(static_cast<int>(rng() % 256) - 128);
  std::memset(b.qh, 0, sizeof b.qh);
  // Per 128-element half h: ql[64h + l] holds elements l (low) and l+64 (high) for l < 32,
  // ql[64h + 32 + l] holds l+32 and l+96; qh[32h + l] holds the top 2 bits of l, l+32, l+64, l+96.
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const int* e = q + 128 * h;
      b.ql[64 * h + l] = static_cast<uint8_t>((e[l] & 15) | ((e[l + 64] & 15) << 4));
      b.ql[64 * h + 32 + l] = static_cast<uint8_t>((e[l + 32] & 15) | ((e[l + 96] & 15) << 4));
      b.qh[32 * h + l] = static_cast<uint8_t>((e[l] >> 4) | ((e[l + 32] >> 4) << 2) |
                                              ((e[l + 64] >> 4) << 4) | ((e[l + 96] >> 4) << 6));
    }
  float y[256];
  ASSERT_TRUE(DequantizeRow(TensorType::kQ6_K, &b, y, 256).ok());
  for (int i = 0; i < 256; ++i) ASSERT_EQ(y[i], 0.5f * b.scales[i / 16] * (q[i] - 32)) << i;
}

TEST(QuantsTest, Q8_KKeepsBlockSumsAndScale) {
  auto x = RandomRow(512, 9);
  BlockQ8_K b[2];
  QuantizeRowQ8_K(x.data(), b, 512);
  for (int i = 0; i < 2; ++i) {
    float amax = 0;
    for (int j = 0; j < 256; ++j) amax = std::max(amax, std::fabs(x[i * 256 + j]));
    EXPECT_NEAR(std::fabs(b[i].d), amax / 127, 1e-6f);
    for (int g = 0; g < 16; ++g) {
      int s = 0;
      for (int j = 0; j < 16; ++j) s += b[i].qs[g * 16 + j];
      EXPECT_EQ(s, b[i].bsums[g]);
    }
    for (int j = 0; j < 256; ++j) EXPECT_NEAR(b[i].qs[j] * b[i].d, x[i * 256 + j], std::fabs(b[i].d) * 0.51f);
  }
}

TEST(QuantsTest, Q8_0ActivationQuantizerRoundsHalfToEven) {
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;  // id = 1
  x[1] = 2.5f;
  x[2] = -3.5f;
  BlockQ8_0 b;
  QuantizeRowQ8_0Act(x.data(), &b, 32);
  EXPECT_EQ(b.qs[0], 127);
  EXPECT_EQ(b.qs[1], 2);
  EXPECT_EQ(b.qs[2], -4);
}

// The AVX2 activation quantizer gives the scalar one's bytes: scales, every element's order,
// ties, zero blocks and signed zeros.
TEST(QuantsTest, Q8_0ActivationQuantizerAvx2EqualsScalar) {
  if (!IsaSupported(Isa::kAvx2)) GTEST_SKIP() << "CPU has no AVX2";
  std::mt19937 rng(17);
  std::normal_distribution<float> d;
  const int64_t n = 32 * 64;
  std::vector<float> x(n);
  for (auto& v : x) v = d(rng) * 3.0f;
  for (int j = 0; j < 32; ++j) x[32 + j] = 0.0f;              // an all-zero block
  for (int j = 0; j < 32; ++j) x[64 + j] = (j - 16) * 0.5f;   // exact halves: round-half-even
  x[96] = -0.0f;
  std::vector<BlockQ8_0> a(n / 32), b(n / 32);
  internal::QuantizeRowQ8_0ActScalar(x.data(), a.data(), n);
  internal::QuantizeRowQ8_0ActAvx2(x.data(), b.data(), n);
  for (int64_t i = 0; i < n / 32; ++i) {
    ASSERT_EQ(a[i].d, b[i].d) << "block " << i;
    for (int j = 0; j < 32; ++j) ASSERT_EQ(a[i].qs[j], b[i].qs[j]) << "block " << i << " element " << j;
  }
}

}  // namespace
}  // namespace swarmkv
