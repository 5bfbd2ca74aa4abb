// Issue 18's weight types through the dot kernels and the matmul: the scalar twin equals a
// double dot of the dequantized values, every ISA gives the scalar bits, whole matmuls (decode
// and prefill shapes, threads) are batch invariant and ISA independent.
#include "kernels/vec_dot_more.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/quants.h"
#include "kernels/quant_test_data.h"
#include "kernels/quants_more.h"

namespace swarmkv {
namespace {

const TensorType kTypes[] = {TensorType::kQ4_1, TensorType::kQ5_1,   TensorType::kQ2_K, TensorType::kQ3_K,
                             TensorType::kIQ4_NL, TensorType::kIQ4_XS, TensorType::kMXFP4};

std::string Name(TensorType t) { return TensorTypeName(static_cast<uint32_t>(t)); }

using testing_quant::RandomFloats;

// Rows quantized by the reference quantizer, plus random bytes in every block but the scales
// (so every bit pattern of quants, scales and mins is exercised, not only the quantizer's).
std::vector<uint8_t> RandomWeights(TensorType t, int64_t rows, int64_t cols, std::mt19937& rng, bool random_bytes) {
  std::vector<uint8_t> out = testing_quant::QuantizedRandomRows(t, rows, cols, rng);
  if (!random_bytes) return out;
  const int64_t nblocks = rows * cols / BlockElements(t);
  std::uniform_real_distribution<float> scale(0.001f, 0.05f);
  for (int64_t i = 0; i < nblocks; ++i) {
    uint8_t* blk = out.data() + i * BlockBytes(t);
    for (int k = 0; k < BlockBytes(t); ++k) blk[k] = static_cast<uint8_t>(rng());
    switch (t) {
      case TensorType::kQ4_1: {
        auto* b = reinterpret_cast<BlockQ4_1*>(blk);
        b->d = F32ToF16(scale(rng)), b->m = F32ToF16(-scale(rng));
        break;
      }
      case TensorType::kQ5_1: {
        auto* b = reinterpret_cast<BlockQ5_1*>(blk);
        b->d = F32ToF16(scale(rng)), b->m = F32ToF16(-scale(rng));
        break;
      }
      case TensorType::kQ2_K: {
        auto* b = reinterpret_cast<BlockQ2_K*>(blk);
        b->d = F32ToF16(scale(rng)), b->dmin = F32ToF16(scale(rng));
        break;
      }
      case TensorType::kQ3_K: reinterpret_cast<BlockQ3_K*>(blk)->d = F32ToF16(scale(rng)); break;
      case TensorType::kIQ4_NL: reinterpret_cast<BlockIQ4_NL*>(blk)->d = F32ToF16(scale(rng)); break;
      case TensorType::kIQ4_XS: reinterpret_cast<BlockIQ4_XS*>(blk)->d = F32ToF16(scale(rng)); break;
      case TensorType::kMXFP4: reinterpret_cast<BlockMXFP4*>(blk)->e = static_cast<uint8_t>(118 + rng() % 8); break;
      default: break;
    }
  }
  return out;
}

TEST(VecDotMoreTest, VecDotTypesAreGgmlCpusAndKernelsExistAtEveryLevel) {
  EXPECT_EQ(VecDotType(TensorType::kQ4_1), TensorType::kQ8_1);
  EXPECT_EQ(VecDotType(TensorType::kQ5_1), TensorType::kQ8_1);
  EXPECT_EQ(VecDotType(TensorType::kIQ4_NL), TensorType::kQ8_0);
  EXPECT_EQ(VecDotType(TensorType::kMXFP4), TensorType::kQ8_0);
  EXPECT_EQ(VecDotType(TensorType::kQ2_K), TensorType::kQ8_K);
  EXPECT_EQ(VecDotType(TensorType::kQ3_K), TensorType::kQ8_K);
  EXPECT_EQ(VecDotType(TensorType::kIQ4_XS), TensorType::kQ8_K);
  for (TensorType t : kTypes) {
    EXPECT_TRUE(IsMatmulWeightType(t)) << Name(t);
    for (Isa isa : SupportedIsas()) EXPECT_NE(GetVecDot(t, isa), nullptr) << Name(t) << " " << IsaName(isa);
    // Each SIMD level has its own kernel (so the bit-equality tests below exercise it).
    if (IsaSupported(Isa::kAvx2)) EXPECT_NE(GetVecDot(t, Isa::kAvx2), GetVecDot(t, Isa::kScalar)) << Name(t);
    if (IsaSupported(Isa::kAvx512)) EXPECT_NE(GetVecDot(t, Isa::kAvx512), GetVecDot(t, Isa::kAvx2)) << Name(t);
  }
}

TEST(VecDotMoreTest, ScalarMatchesDequantizedFloatDotAndEveryIsaGivesTheScalarBits) {
  std::mt19937 rng(41);
  for (TensorType t : kTypes) {
    const TensorType vt = VecDotType(t);
    const std::vector<int64_t> sizes = BlockElements(t) == 32 ? std::vector<int64_t>{32, 64, 96, 160, 576, 896}
                                                              : std::vector<int64_t>{256, 512, 768, 1536};
    for (int64_t n : sizes) {
      for (int trial = 0; trial < 4; ++trial) {
        auto w = RandomWeights(t, 1, n, rng, trial % 2 == 1);
        auto xf = RandomFloats(n, rng);
        std::vector<uint8_t> xq(RowBytes(vt, n));
        ConvertActivationRow(vt, xf.data(), xq.data(), n);
        const testing_quant::ExactDot dot = testing_quant::DequantizedDot(t, w.data(), vt, xq.data(), n);
        const double exact = dot.value, mag = dot.magnitude;
        const float scalar = GetVecDot(t, Isa::kScalar)(n, w.data(), xq.data());
        // Q4_1 / Q5_1 use the f16 sum s of the activations for the offset term (as ggml does):
        // exact up to that rounding, |m| * |s| * 2^-11 per block.
        double slack = 1e-5 * mag + 1e-6;
        if (vt == TensorType::kQ8_1) {
          for (int64_t i = 0; i < n / 32; ++i) {
            const float m = F16ToF32(t == TensorType::kQ4_1 ? reinterpret_cast<const BlockQ4_1*>(w.data())[i].m
                                                            : reinterpret_cast<const BlockQ5_1*>(w.data())[i].m);
            slack += std::fabs(m * F16ToF32(reinterpret_cast<const BlockQ8_1*>(xq.data())[i].s)) * 1e-3;
          }
        }
        ASSERT_NEAR(scalar, exact, slack) << Name(t) << " n=" << n << " trial " << trial;
        for (Isa isa : SupportedIsas()) {
          const float simd = GetVecDot(t, isa)(n, w.data(), xq.data());
          ASSERT_EQ(FloatBits(simd), FloatBits(scalar)) << Name(t) << " " << IsaName(isa) << " n=" << n;
        }
      }
    }
  }
}

// Whole matmuls: decode (1-4 tokens) and prefill shapes, with threads, at every ISA give the
// scalar bytes; each token's outputs equal that token multiplied alone (batch invariance).
// The prefill tiles and decode streams of these types (IQ4_NL / MXFP4 at AVX-512) give every
// output the single-token kernel's bits, for every tile shape called directly, one block, an
// odd block count (the twin's last odd block) and an even one, reference-quantized and random
// bytes. (The single-token kernel equals the scalar twin: the test above.)
TEST(VecDotMoreTest, EveryTileAndStreamShapeGivesTheSingleTokenBits) {
  std::mt19937 rng(47);
  int checked = 0;
  for (TensorType t : kTypes) {
    const TensorType vt = VecDotType(t);
    for (Isa isa : SupportedIsas()) {
      const VecDotKernel kernel = GetVecDotKernel(t, isa);
      if (kernel.tile == nullptr && kernel.stream == nullptr) continue;
      for (int64_t cols : {BlockElements(t) * 1, BlockElements(t) * 17, BlockElements(t) * 18}) {
        for (bool random_bytes : {false, true}) {
          const int64_t rb = RowBytes(t, cols), xb = RowBytes(vt, cols);
          auto w = RandomWeights(t, kTileRowsMax, cols, rng, random_bytes);
          std::vector<uint8_t> xq(kTileMax * xb);
          for (int k = 0; k < kTileMax; ++k) {
            auto xf = RandomFloats(cols, rng);
            ConvertActivationRow(vt, xf.data(), xq.data() + k * xb, cols);
          }
          const void* xs[kTileMax];
          for (int k = 0; k < kTileMax; ++k) xs[k] = xq.data() + k * xb;
          const auto expect_one = [&](const std::vector<float>& y, int rows, int tokens, const char* what) {
            for (int tok = 0; tok < tokens; ++tok)
              for (int r = 0; r < rows; ++r) {
                const float one = kernel.one(cols, w.data() + r * rb, xq.data() + tok * xb);
                ASSERT_EQ(std::memcmp(&one, &y[tok * kTileRowsMax + r], 4), 0)
                    << Name(t) << " " << IsaName(isa) << " " << what << " " << rows << "x" << tokens << " row " << r
                    << " token " << tok << " cols " << cols;
              }
          };
          if (kernel.tile != nullptr) {
            ASSERT_LE(kernel.tile_rows, kTileRowsMax);
            ASSERT_LE(kernel.tile_tokens, kTileMax);
            for (int rows = 1; rows <= kernel.tile_rows; ++rows)
              for (int tokens = 1; tokens <= kernel.tile_tokens; ++tokens) {
                std::vector<float> y(kTileMax * kTileRowsMax, -7.0f);
                kernel.tile(cols, w.data(), rb, rows, xs, tokens, y.data(), kTileRowsMax);
                expect_one(y, rows, tokens, "tile");
                ++checked;
              }
          }
          if (kernel.stream != nullptr) {
            for (int tokens = 1; tokens <= kernel.stream_tokens; ++tokens) {
              std::vector<float> y(kTileMax * kTileRowsMax, -7.0f);
              kernel.stream(cols, w.data(), rb, kTileRowsMax, xs, tokens, y.data(), kTileRowsMax);
              expect_one(y, kTileRowsMax, tokens, "stream");
              ++checked;
            }
          }
        }
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "no ISA on this CPU has tiles or streams for these types (AVX-512)";
}

TEST(VecDotMoreTest, MatmulIsBatchInvariantAndEveryIsaGivesTheScalarBytes) {
  std::mt19937 rng(43);
  ThreadPool pool(3);
  for (TensorType t : kTypes) {
    const int64_t cols = BlockElements(t) == kQK_K ? 512 : 576, rows = 45;
    auto w = RandomWeights(t, rows, cols, rng, false);
    const WeightMatrix wm{t, w.data(), rows, cols, 0};
    for (int64_t n_tokens : {1, 2, 3, 4, 13, 101}) {
      auto x = RandomFloats(n_tokens * cols, rng);
      std::vector<float> want(n_tokens * rows);
      ASSERT_TRUE(Matmul(wm, x.data(), n_tokens, cols, want.data(), rows, {Isa::kScalar, nullptr}).ok());
      for (Isa isa : SupportedIsas()) {
        std::vector<float> got(n_tokens * rows, -1.0f);
        ASSERT_TRUE(Matmul(wm, x.data(), n_tokens, cols, got.data(), rows, {isa, &pool}).ok());
        ASSERT_EQ(std::memcmp(got.data(), want.data(), want.size() * 4), 0)
            << Name(t) << " " << IsaName(isa) << " tokens " << n_tokens;
        for (int64_t tok = 0; tok < n_tokens; tok += 5) {
          std::vector<float> alone(rows);
          ASSERT_TRUE(Matmul(wm, x.data() + tok * cols, 1, cols, alone.data(), rows, {isa, nullptr}).ok());
          ASSERT_EQ(std::memcmp(alone.data(), want.data() + tok * rows, rows * 4), 0)
              << Name(t) << " " << IsaName(isa) << " token " << tok;
        }
      }
    }
  }
}

}  // namespace
}  // namespace swarmkv
