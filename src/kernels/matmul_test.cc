#include "kernels/matmul.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/quant_test_data.h"
#include "kernels/quants.h"
#include "kernels/vec_dot.h"

namespace swarmkv {
namespace {

const TensorType kWeightTypes[] = {TensorType::kF32,  TensorType::kF16,  TensorType::kBF16,
                                   TensorType::kQ8_0, TensorType::kQ4_0, TensorType::kQ4_K,
                                   TensorType::kQ5_K, TensorType::kQ6_K, TensorType::kQ5_0};

using testing_quant::RandomFloats;

// `rows` random rows of `cols` elements in `type`: quantized from floats where a quantizer
// exists, random bytes with sane f16 scales for K-quants.
std::vector<uint8_t> RandomWeights(TensorType type, int64_t rows, int64_t cols, std::mt19937& rng) {
  if (CanQuantize(type)) return testing_quant::QuantizedRandomRows(type, rows, cols, rng);
  std::vector<uint8_t> out(RowBytes(type, cols) * rows);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> scale(0.001f, 0.05f);
  const int64_t nblocks = rows * cols / kQK_K;
  for (int64_t i = 0; i < nblocks; ++i) {
    uint8_t* blk = out.data() + i * BlockBytes(type);
    if (type == TensorType::kQ4_K) {
      auto* b = reinterpret_cast<BlockQ4_K*>(blk);
      b->d = F32ToF16(scale(rng));
      b->dmin = F32ToF16(scale(rng));
    } else if (type == TensorType::kQ5_K) {
      auto* b = reinterpret_cast<BlockQ5_K*>(blk);
      b->d = F32ToF16(scale(rng));
      b->dmin = F32ToF16(scale(rng));
    } else if (type == TensorType::kQ6_K) {
      reinterpret_cast<BlockQ6_K*>(blk)->d = F32ToF16(scale(rng));
    }
  }
  return out;
}

std::vector<int64_t> SizesFor(TensorType t) {
  const int be = BlockElements(t);
  if (be == 1) return {1, 7, 8, 15, 31, 32, 33, 63, 64, 65, 100, 172, 576, 1000};
  if (be == 32) return {32, 64, 96, 160, 576, 896};
  return {256, 512, 768, 1536};
}

TEST(VecDotTest, ScalarMatchesDequantizedFloatDotAndSimdMatchesScalar) {
  std::mt19937 rng(11);
  for (TensorType t : kWeightTypes) {
    const TensorType vt = VecDotType(t);
    for (int64_t n : SizesFor(t)) {
      for (int trial = 0; trial < 3; ++trial) {
        auto w = RandomWeights(t, 1, n, rng);
        auto xf = RandomFloats(n, rng);
        std::vector<uint8_t> xq(RowBytes(vt, n));
        ConvertActivationRow(vt, xf.data(), xq.data(), n);
        const testing_quant::ExactDot dot = testing_quant::DequantizedDot(t, w.data(), vt, xq.data(), n);
        const double exact = dot.value, mag = dot.magnitude;
        const float scalar = GetVecDot(t, Isa::kScalar)(n, w.data(), xq.data());
        ASSERT_NEAR(scalar, exact, 1e-5 * mag + 1e-6) << TensorTypeName(uint32_t(t)) << " n=" << n;
        for (Isa isa : SupportedIsas()) {
          const float simd = GetVecDot(t, isa)(n, w.data(), xq.data());
          // One numeric order: every ISA gives the scalar twin's bits for every weight type
          // (the scalar twins follow ggml-cpu's AVX2 order for float and 32-element block
          // types), so KV and replies do not depend on the CPU.
          ASSERT_EQ(FloatBits(simd), FloatBits(scalar))
              << TensorTypeName(uint32_t(t)) << " " << IsaName(isa) << " n=" << n;
        }
      }
    }
  }
}

TEST(VecDotTest, VecDotTypesAreLlamaCppsAndUnsupportedTypesHaveNoKernel) {
  EXPECT_EQ(VecDotType(TensorType::kF16), TensorType::kF16);
  EXPECT_EQ(VecDotType(TensorType::kBF16), TensorType::kBF16);
  EXPECT_EQ(VecDotType(TensorType::kQ4_0), TensorType::kQ8_0);
  EXPECT_EQ(VecDotType(TensorType::kQ6_K), TensorType::kQ8_K);
  EXPECT_EQ(GetVecDot(TensorType::kQ8_K, Isa::kScalar), nullptr);  // an activation-only type
  EXPECT_FALSE(IsMatmulWeightType(TensorType::kI32));
  EXPECT_TRUE(IsMatmulWeightType(TensorType::kQ5_K));
}

// Batch invariance: every (token, row) output of a 203-token matmul is bit-identical to the same
// token multiplied alone, with and without threads, for every type and ISA.
TEST(MatmulTest, BatchInvariantAcrossTokenCountsAndThreads) {
  std::mt19937 rng(21);
  ThreadPool pool(3);
  const int64_t rows = 37, n_tokens = 203;  // > 2 token blocks of a task, with a tail
  for (TensorType t : kWeightTypes) {
    const int64_t cols = BlockElements(t) == kQK_K ? 512 : 96;
    auto w = RandomWeights(t, rows, cols, rng);
    auto x = RandomFloats(n_tokens * cols, rng);
    const WeightMatrix wm{t, w.data(), rows, cols, 0};
    for (Isa isa : SupportedIsas()) {
      std::vector<float> batch(n_tokens * rows), threaded(n_tokens * rows);
      ASSERT_TRUE(Matmul(wm, x.data(), n_tokens, cols, batch.data(), rows, {isa, nullptr}).ok());
      ASSERT_TRUE(Matmul(wm, x.data(), n_tokens, cols, threaded.data(), rows, {isa, &pool}).ok());
      ASSERT_EQ(std::memcmp(batch.data(), threaded.data(), batch.size() * 4), 0)
          << TensorTypeName(uint32_t(t)) << " " << IsaName(isa);
      for (int64_t tok = 0; tok < n_tokens; ++tok) {
        std::vector<float> alone(rows);
        ASSERT_TRUE(Matmul(wm, x.data() + tok * cols, 1, cols, alone.data(), rows, {isa, nullptr}).ok());
        ASSERT_EQ(std::memcmp(alone.data(), batch.data() + tok * rows, rows * 4), 0)
            << TensorTypeName(uint32_t(t)) << " " << IsaName(isa) << " token " << tok;
      }
      // And the values are the dot products (scalar ISA vs float reference is covered above).
      const float direct = [&] {
        std::vector<uint8_t> xq(RowBytes(VecDotType(t), cols));
        ConvertActivationRow(VecDotType(t), x.data() + 5 * cols, xq.data(), cols);
        return GetVecDot(t, isa)(cols, w.data() + 7 * RowBytes(t, cols), xq.data());
      }();
      EXPECT_EQ(FloatBits(direct), FloatBits(batch[5 * rows + 7]));
    }
  }
}

// One numeric order: a whole matmul (tiles, decode streams, edges, threads) gives the scalar
// ISA's bytes at every ISA the CPU has, for every weight type, decode and prefill shapes.
TEST(MatmulTest, EveryIsaGivesTheScalarBytes) {
  std::mt19937 rng(23);
  ThreadPool pool(2);
  for (TensorType t : kWeightTypes) {
    const int64_t be = BlockElements(t);
    for (int64_t cols : {be == kQK_K ? int64_t{512} : int64_t{576}, be == 1 ? int64_t{1003} : int64_t{0}}) {
      if (cols == 0) continue;
      const int64_t rows = 45;
      auto w = RandomWeights(t, rows, cols, rng);
      const WeightMatrix wm{t, w.data(), rows, cols, 0};
      for (int64_t n_tokens : {1, 2, 3, 4, 13}) {
        auto x = RandomFloats(n_tokens * cols, rng);
        std::vector<float> want(n_tokens * rows);
        ASSERT_TRUE(Matmul(wm, x.data(), n_tokens, cols, want.data(), rows, {Isa::kScalar, nullptr}).ok());
        for (Isa isa : SupportedIsas()) {
          std::vector<float> got(n_tokens * rows, -1.0f);
          ASSERT_TRUE(Matmul(wm, x.data(), n_tokens, cols, got.data(), rows, {isa, &pool}).ok());
          ASSERT_EQ(std::memcmp(got.data(), want.data(), want.size() * 4), 0)
              << TensorTypeName(uint32_t(t)) << " " << IsaName(isa) << " cols " << cols << " tokens " << n_tokens;
        }
      }
    }
  }
}

// Every register-tile shape (1..4 rows x 1..4 tokens) must give the single-token bits.
TEST(MatmulTest, EveryTileShapeMatchesTheSingleTokenKernel) {
  std::mt19937 rng(31);
  for (TensorType t : kWeightTypes) {
    const int64_t cols = BlockElements(t) == kQK_K ? 256 : 96;
    for (int64_t rows : {17, 18, 19}) {  // a 16-row task, then 1, 2 or 3 rows
      auto w = RandomWeights(t, rows, cols, rng);
      const WeightMatrix wm{t, w.data(), rows, cols, 0};
      for (int64_t n_tokens : {2, 3, 5, 7}) {
        auto x = RandomFloats(n_tokens * cols, rng);
        for (Isa isa : SupportedIsas()) {
          std::vector<float> batch(n_tokens * rows);
          ASSERT_TRUE(Matmul(wm, x.data(), n_tokens, cols, batch.data(), rows, {isa, nullptr}).ok());
          for (int64_t tok = 0; tok < n_tokens; ++tok) {
            std::vector<float> alone(rows);
            ASSERT_TRUE(Matmul(wm, x.data() + tok * cols, 1, cols, alone.data(), rows, {isa, nullptr}).ok());
            ASSERT_EQ(std::memcmp(alone.data(), batch.data() + tok * rows, rows * 4), 0)
                << TensorTypeName(uint32_t(t)) << " " << IsaName(isa) << " rows " << rows
                << " tokens " << n_tokens << " token " << tok;
          }
        }
      }
    }
  }
}

// Calls each ISA's tile function directly for every shape (1..kTileMax tokens x 1..max(tile_rows, kTileMax) rows), so a
// shape the matmul driver does not currently pick is still held to the single-token bits.
// Float rows: a short one with a tail, and one over several of the multi-pass tiles' 2 KiB
// chunks with a tail.
TEST(MatmulTest, EveryTileShapeCalledDirectlyMatchesTheSingleTokenKernel) {
  std::mt19937 rng(41);
  for (TensorType t : kWeightTypes) {
   const TensorType vt = VecDotType(t);
   const bool is_float = BlockElements(t) == 1;
   for (int64_t cols : {BlockElements(t) == kQK_K ? 512 : (BlockElements(t) == 32 ? 160 : 103), is_float ? 2100 : 0}) {
    if (cols == 0) continue;
    const int64_t rb = RowBytes(t, cols), xb = RowBytes(vt, cols);
    auto w = RandomWeights(t, kTileRowsMax, cols, rng);
    std::vector<uint8_t> xq(kTileMax * xb);
    for (int k = 0; k < kTileMax; ++k) {
      auto xf = RandomFloats(cols, rng);
      ConvertActivationRow(vt, xf.data(), xq.data() + k * xb, cols);
    }
    // The same rows widened to f32, for tiles that read those (tile_reads_f32).
    std::vector<float> xw(kTileMax * cols);
    for (int k = 0; k < kTileMax && is_float; ++k) {
      ASSERT_TRUE(DequantizeRow(vt, xq.data() + k * xb, xw.data() + k * cols, cols).ok());
    }
    const void* xs[kTileMax];
    for (Isa isa : SupportedIsas()) {
      const VecDotKernel kernel = GetVecDotKernel(t, isa);
      if (kernel.tile == nullptr) continue;
      if (kernel.tile_reads_f32) {
        ASSERT_TRUE(vt == TensorType::kF16 || vt == TensorType::kBF16);
      }
      for (int k = 0; k < kTileMax; ++k) {
        xs[k] = kernel.tile_reads_f32 ? static_cast<const void*>(xw.data() + k * cols) : xq.data() + k * xb;
      }
      ASSERT_GE(kernel.tile_rows, 1);
      ASSERT_LE(kernel.tile_rows, kTileRowsMax);
      ASSERT_GE(kernel.tile_tokens, 1);
      ASSERT_LE(kernel.tile_tokens, kTileMax);
      const int max_rows = std::max(kernel.tile_rows, kTileMax);
      for (int rows = 1; rows <= max_rows; ++rows) {
        for (int tokens = 1; tokens <= kTileMax; ++tokens) {
          std::vector<float> y(kTileMax * kTileRowsMax, -7.0f);
          kernel.tile(cols, w.data(), rb, rows, xs, tokens, y.data(), kTileRowsMax);
          for (int tok = 0; tok < tokens; ++tok) {
            for (int r = 0; r < rows; ++r) {
              const float one = kernel.one(cols, w.data() + r * rb, xq.data() + tok * xb);
              ASSERT_EQ(FloatBits(one), FloatBits(y[tok * kTileRowsMax + r]))
                  << TensorTypeName(uint32_t(t)) << " " << IsaName(isa) << " tile " << rows << "x"
                  << tokens << " row " << r << " token " << tok << " cols " << cols;
            }
          }
        }
      }
    }
   }
  }
}

// The decode streaming kernels (every row once, any row count, up to stream_tokens tokens) give
// each output the single-token kernel's bits, for row counts that are not a multiple of anything
// and rows long enough that the 2 KiB prefetch runs past a row's end into the next.
TEST(MatmulTest, StreamKernelMatchesTheSingleTokenKernelForAnyRowCount) {
  std::mt19937 rng(43);
  int checked = 0;
  for (TensorType t : kWeightTypes) {
    const TensorType vt = VecDotType(t);
    // Float types also get a row with a tail after the last 32 (FinishFloat's leftovers).
    for (int64_t cols : {int64_t{32} * BlockElements(t), int64_t{160} * BlockElements(t), int64_t{1003}}) {
      if (BlockElements(t) != 1 && cols == 1003) continue;
      const int64_t rb = RowBytes(t, cols), xb = RowBytes(vt, cols);
      constexpr int kRows = 19;
      auto w = RandomWeights(t, kRows, cols, rng);
      std::vector<uint8_t> xq(kTileMax * xb);
      const void* xs[kTileMax];
      for (int k = 0; k < kTileMax; ++k) {
        auto xf = RandomFloats(cols, rng);
        ConvertActivationRow(vt, xf.data(), xq.data() + k * xb, cols);
        xs[k] = xq.data() + k * xb;
      }
      for (Isa isa : SupportedIsas()) {
        const VecDotKernel kernel = GetVecDotKernel(t, isa);
        if (kernel.stream == nullptr) continue;
        ASSERT_GE(kernel.stream_tokens, 1);
        ASSERT_LE(kernel.stream_tokens, kTileMax);
        for (int rows : {1, 4, 7, kRows}) {
          for (int tokens = 1; tokens <= kernel.stream_tokens; ++tokens) {
            std::vector<float> y(kTileMax * kRows, -7.0f);
            kernel.stream(cols, w.data(), rb, rows, xs, tokens, y.data(), kRows);
            for (int tok = 0; tok < tokens; ++tok)
              for (int r = 0; r < rows; ++r) {
                ASSERT_EQ(FloatBits(kernel.one(cols, w.data() + r * rb, xs[tok])), FloatBits(y[tok * kRows + r]))
                    << TensorTypeName(uint32_t(t)) << " " << IsaName(isa) << " rows " << rows << " tokens "
                    << tokens << " row " << r << " token " << tok;
                ++checked;
              }
            for (int r = rows; r < kRows; ++r) ASSERT_EQ(y[r], -7.0f) << "wrote past the rows";
          }
        }
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "no ISA on this CPU has a streaming decode kernel (AVX2 q8_0/q4_0)";
}

// Fused matmuls (one parallel region) give each matrix exactly its separate Matmul's bits,
// threaded or not, and a bad job fails the whole call before anything runs.
TEST(MatmulTest, MatmulManyEqualsSeparateMatmuls) {
  std::mt19937 rng(51);
  ThreadPool pool(3);
  const int64_t cols = 96, n_tokens = 11;
  const int64_t rows[3] = {37, 5, 70};
  for (TensorType t : {TensorType::kQ8_0, TensorType::kF16, TensorType::kF32}) {
    std::vector<std::vector<uint8_t>> w;
    WeightMatrix wm[3];
    for (int j = 0; j < 3; ++j) {
      w.push_back(RandomWeights(t, rows[j], cols, rng));
      wm[j] = WeightMatrix{t, w[j].data(), rows[j], cols, 0};
    }
    auto xf = RandomFloats(n_tokens * cols, rng);
    Activations act;
    ASSERT_TRUE(act.Prepare(VecDotType(t), xf.data(), n_tokens, cols, cols).ok());
    for (Isa isa : SupportedIsas()) {
      for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
        std::vector<float> sep[3], fused[3];
        MatmulJob jobs[3];
        for (int j = 0; j < 3; ++j) {
          sep[j].assign(n_tokens * rows[j], 0.0f);
          fused[j].assign(n_tokens * rows[j], -1.0f);
          ASSERT_TRUE(Matmul(wm[j], act, sep[j].data(), rows[j], {isa, nullptr}).ok());
          jobs[j] = MatmulJob{&wm[j], &act, fused[j].data(), rows[j]};
        }
        ASSERT_TRUE(MatmulMany(jobs, {isa, p}).ok());
        for (int j = 0; j < 3; ++j) {
          ASSERT_EQ(std::memcmp(sep[j].data(), fused[j].data(), sep[j].size() * 4), 0)
              << TensorTypeName(uint32_t(t)) << " " << IsaName(isa) << " job " << j;
        }
      }
    }
  }
  // A job whose activations have the wrong type is rejected, and no job's output is written.
  auto w = RandomWeights(TensorType::kQ8_0, 4, cols, rng);
  const WeightMatrix q8{TensorType::kQ8_0, w.data(), 4, cols, 0};
  auto xf = RandomFloats(cols, rng);
  Activations a8, a16;
  ASSERT_TRUE(a8.Prepare(TensorType::kQ8_0, xf.data(), 1, cols, cols).ok());
  ASSERT_TRUE(a16.Prepare(TensorType::kF16, xf.data(), 1, cols, cols).ok());
  std::vector<float> y0(4, -1.0f), y1(4, -1.0f);
  const MatmulJob bad[2] = {{&q8, &a8, y0.data(), 4}, {&q8, &a16, y1.data(), 4}};
  EXPECT_FALSE(MatmulMany(bad, {}).ok());
  EXPECT_EQ(y0[0], -1.0f);
}

// F16/BF16 activations are also kept widened to f32 for the tiles that read those: exactly the
// converted values, each row on a 64-byte line; F32 rows are the rows themselves; none for
// quantized types.
TEST(MatmulTest, ActivationsWidenedRowsAreTheConvertedValues) {
  std::mt19937 rng(61);
  const int64_t cols = 100, n_tokens = 5;
  auto xf = RandomFloats(n_tokens * cols, rng);
  for (TensorType vt : {TensorType::kF16, TensorType::kBF16, TensorType::kF32}) {
    Activations act;
    ASSERT_TRUE(act.Prepare(vt, xf.data(), n_tokens, cols, cols).ok());
    for (int64_t t = 0; t < n_tokens; ++t) {
      const float* wide = act.row_f32(t);
      ASSERT_NE(wide, nullptr);
      if (vt != TensorType::kF32) {
        EXPECT_EQ(reinterpret_cast<uintptr_t>(wide) % 64, 0u) << TensorTypeName(uint32_t(vt));
      }
      std::vector<float> expect(cols);
      ASSERT_TRUE(DequantizeRow(vt, act.row(t), expect.data(), cols).ok());
      ASSERT_EQ(std::memcmp(wide, expect.data(), cols * 4), 0) << TensorTypeName(uint32_t(vt)) << " token " << t;
    }
  }
  Activations q8;
  ASSERT_TRUE(q8.Prepare(TensorType::kQ8_0, xf.data(), 1, 96, 96).ok());
  EXPECT_EQ(q8.row_f32(0), nullptr);
}

TEST(MatmulTest, RowStrideAndOutputStrideAreHonoured) {
  std::mt19937 rng(5);
  const int64_t rows = 5, cols = 64, stride = RowBytes(TensorType::kQ8_0, cols) + 10;
  auto packed = RandomWeights(TensorType::kQ8_0, rows, cols, rng);
  std::vector<uint8_t> padded(stride * rows, 0xEE);
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(padded.data() + r * stride, packed.data() + r * RowBytes(TensorType::kQ8_0, cols),
                RowBytes(TensorType::kQ8_0, cols));
  auto x = RandomFloats(2 * cols, rng);
  std::vector<float> a(2 * rows), b(2 * 8, -1.0f);
  ASSERT_TRUE(Matmul({TensorType::kQ8_0, packed.data(), rows, cols, 0}, x.data(), 2, cols, a.data(), rows).ok());
  ASSERT_TRUE(Matmul({TensorType::kQ8_0, padded.data(), rows, cols, stride}, x.data(), 2, cols, b.data(), 8).ok());
  for (int t = 0; t < 2; ++t) {
    for (int r = 0; r < rows; ++r) EXPECT_EQ(a[t * rows + r], b[t * 8 + r]);
    EXPECT_EQ(b[t * 8 + 5], -1.0f);  // untouched padding
  }
}

TEST(MatmulTest, BadShapesAndTypesAreErrors) {
  std::vector<uint8_t> w(1024);
  std::vector<float> x(256), y(64);
  EXPECT_FALSE(Matmul({TensorType::kQ8_0, w.data(), 1, 33, 0}, x.data(), 1, 33, y.data(), 1).ok());
  EXPECT_FALSE(Matmul({TensorType::kQ8_K, w.data(), 1, 256, 0}, x.data(), 1, 256, y.data(), 1).ok());
  EXPECT_FALSE(Matmul({TensorType::kQ8_0, w.data(), 1, 64, 10}, x.data(), 1, 64, y.data(), 1).ok());
  Activations act;
  ASSERT_TRUE(act.Prepare(TensorType::kF16, x.data(), 1, 64, 64).ok());
  Status s = Matmul({TensorType::kQ8_0, w.data(), 1, 64, 0}, act, y.data(), 1);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("q8_0"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace swarmkv
