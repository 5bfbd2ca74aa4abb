#include "engine/moe_ffn.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <algorithm>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/ops.h"
#include "kernels/quants.h"

namespace swarmkv {
namespace {

constexpr int64_t kEmbd = 64, kExperts = 6, kUsed = 2, kFf = 32;

// Random router (F32) and experts in `type`, owned; ExpertStacks view them.
struct Fixture {
  std::vector<uint8_t> router, gate, up, down;
  MoeLayerWeights w;
  MoeConfig c{static_cast<int32_t>(kExperts), static_cast<int32_t>(kUsed), static_cast<int32_t>(kFf), true, 0.0f};

  explicit Fixture(TensorType type, uint32_t seed = 18) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-0.2f, 0.2f);
    auto fill = [&](std::vector<uint8_t>* buf, TensorType t, int64_t rows, int64_t cols) {
      const int64_t rb = RowBytes(t, cols);
      buf->resize(rows * rb);
      std::vector<float> row(cols);
      for (int64_t r = 0; r < rows; ++r) {
        for (float& x : row) x = u(rng);
        EXPECT_TRUE(QuantizeRow(t, row.data(), buf->data() + r * rb, cols).ok());
      }
      return WeightMatrix{t, buf->data(), rows, cols, rb};
    };
    w.router = fill(&router, TensorType::kF32, kExperts, kEmbd);
    w.gate = {fill(&gate, type, kExperts * kFf, kEmbd), kExperts, 0};
    w.up = {fill(&up, type, kExperts * kFf, kEmbd), kExperts, 0};
    w.down = {fill(&down, type, kExperts * kEmbd, kFf), kExperts, 0};
    for (ExpertStack* s : {&w.gate, &w.up, &w.down}) {
      s->first.rows /= kExperts;
      s->stride_bytes = s->first.rows * s->first.row_bytes;
    }
  }
};

std::vector<float> Rows(int64_t T, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> x(T * kEmbd);
  for (float& v : x) v = n(rng);
  return x;
}

// Every token's output is the same bits alone as in a batch of 23 (where the experts' matmuls
// run over groups of rows), at every ISA this CPU has, with and without a thread pool — and
// different tokens do pick different experts (the grouping is exercised).
TEST(MoeFfnTest, TokenAloneEqualsTokenInBatchAtEveryIsa) {
  ThreadPool pool(3);
  for (TensorType type : {TensorType::kF32, TensorType::kF16, TensorType::kQ8_0}) {
    Fixture f(type);
    const int64_t T = 23;
    const std::vector<float> x = Rows(T, 5);
    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
      if (!IsaSupported(isa)) continue;
      for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
        SCOPED_TRACE(std::string(IsaName(isa)) + " type " + std::to_string(static_cast<int>(type)) +
                     (p ? " pool" : " serial"));
        MoeFfn batched, alone;
        const MatmulOptions mo{isa, p};
        std::vector<float> all(T * kEmbd), one(kEmbd);
        ASSERT_TRUE(batched.Run(f.c, f.w, x.data(), T, kEmbd, all.data(), mo).ok());
        EXPECT_LT(batched.expert_matmuls(), 3 * T * kUsed) << "rows were not grouped by expert";
        for (int64_t t = 0; t < T; ++t) {
          ASSERT_TRUE(alone.Run(f.c, f.w, &x[t * kEmbd], 1, kEmbd, one.data(), mo).ok());
          EXPECT_EQ(0, std::memcmp(one.data(), &all[t * kEmbd], kEmbd * sizeof(float))) << "token " << t;
        }
        // A decode step reads the k selected experts' three matrices, no others.
        EXPECT_EQ(alone.expert_matmuls(), 3 * kUsed * T);
      }
    }
  }
}

// The result is the MoE of the definition: a double-precision evaluation of the chosen experts
// (dequantized weights), weighted by the normalised softmax of the router.
TEST(MoeFfnTest, MatchesADoubleReference) {
  Fixture f(TensorType::kF32);
  const int64_t T = 9;
  const std::vector<float> x = Rows(T, 9);
  MoeFfn moe;
  std::vector<float> out(T * kEmbd);
  ASSERT_TRUE(moe.Run(f.c, f.w, x.data(), T, kEmbd, out.data(), MatmulOptions{Isa::kScalar, nullptr}).ok());
  auto mat = [](const WeightMatrix& m, int64_t r, int64_t c) {
    return static_cast<double>(reinterpret_cast<const float*>(m.data)[r * m.cols + c]);
  };
  std::set<int64_t> chosen_sets;
  for (int64_t t = 0; t < T; ++t) {
    std::vector<double> logit(kExperts);
    for (int64_t e = 0; e < kExperts; ++e)
      for (int64_t i = 0; i < kEmbd; ++i) logit[e] += mat(f.w.router, e, i) * x[t * kEmbd + i];
    std::vector<int64_t> order = {0, 1, 2, 3, 4, 5};
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return logit[a] > logit[b]; });
    double z = 0;
    for (int64_t r = 0; r < kUsed; ++r) z += std::exp(logit[order[r]] - logit[order[0]]);
    chosen_sets.insert(order[0] * 16 + order[1]);
    std::vector<double> want(kEmbd, 0.0);
    for (int64_t r = 0; r < kUsed; ++r) {
      const int64_t e = order[r];
      const double we = std::exp(logit[e] - logit[order[0]]) / z;
      const WeightMatrix g = f.w.gate.Expert(e), u = f.w.up.Expert(e), d = f.w.down.Expert(e);
      std::vector<double> h(kFf);
      for (int64_t j = 0; j < kFf; ++j) {
        double gs = 0, us = 0;
        for (int64_t i = 0; i < kEmbd; ++i) {
          gs += mat(g, j, i) * x[t * kEmbd + i];
          us += mat(u, j, i) * x[t * kEmbd + i];
        }
        h[j] = gs / (1.0 + std::exp(-gs)) * us;
      }
      for (int64_t o = 0; o < kEmbd; ++o) {
        double s = 0;
        for (int64_t j = 0; j < kFf; ++j) s += mat(d, o, j) * h[j];
        want[o] += we * s;
      }
    }
    for (int64_t o = 0; o < kEmbd; ++o) EXPECT_NEAR(out[t * kEmbd + o], want[o], 1e-5) << t << " " << o;
  }
  EXPECT_GT(chosen_sets.size(), 1u) << "every token chose the same experts: the test routes nothing";
}

TEST(MoeFfnTest, ValidateNamesTheBadTensor) {
  Fixture f(TensorType::kF32);
  EXPECT_TRUE(MoeFfn::Validate(f.c, f.w, kEmbd, "blk.0.").ok());
  MoeLayerWeights bad = f.w;
  bad.down.count = kExperts - 1;
  Status s = MoeFfn::Validate(f.c, bad, kEmbd, "blk.0.");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.ToString().find("blk.0.ffn_down_exps"), std::string::npos) << s.ToString();
  MoeConfig c = f.c;
  c.n_used = kExperts + 1;
  EXPECT_EQ(MoeFfn::Validate(c, f.w, kEmbd, "blk.0.").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(MoeFfn::Validate(f.c, f.w, kEmbd + 32, "blk.0.").code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace swarmkv
