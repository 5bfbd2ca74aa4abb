// Sliding-window and soft-capped paged attention (AttentionParams::window / softcap, gemma's
// layers): both attention paths against a naive double-precision reference, the window edge
// at every offset inside a block, and batch invariance with a window.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/attention.h"
#include "kernels/kv_test_layout.h"
#include "kernels/quants.h"
#include "kernels/vec_dot.h"

namespace swarmkv {
namespace {

constexpr int kKvHeads = 2, kHeads = 4, kD = 32, kB = 8;

struct Kv {
  KvLayerLayout layout;
  std::vector<std::vector<uint8_t>> blocks_storage;
  std::vector<const uint8_t*> blocks;
};

Kv MakeKv(TensorType t, int64_t n_tokens, std::mt19937& rng) {
  Kv kv;
  kv.layout = testing_kv::LayerView(t, t, kKvHeads, kD, kD, kB, 0);
  const int64_t nblocks = (n_tokens + kB - 1) / kB;
  kv.blocks_storage.assign(nblocks, std::vector<uint8_t>(testing_kv::BlockBytes(kv.layout, 1), 0));
  for (auto& b : kv.blocks_storage) kv.blocks.push_back(b.data());
  std::normal_distribution<float> d;
  std::vector<float> k(kKvHeads * kD), v(kKvHeads * kD);
  for (int64_t tok = 0; tok < n_tokens; ++tok) {
    for (auto& x : k) x = d(rng);
    for (auto& x : v) x = d(rng);
    EXPECT_TRUE(WriteKvRow(kv.layout, kv.blocks_storage[tok / kB].data(), tok % kB, k.data(), v.data()).ok());
  }
  return kv;
}

// Softmax over keys (pos - window, pos] of s = cap * tanh(q.k * scale / cap) (or q.k * scale),
// from the stored (rounded) K/V rows and q rounded as the kernel rounds it, in double.
std::vector<float> Naive(const Kv& kv, const float* q, int64_t pos, int64_t window, float softcap) {
  const KvLayerLayout& L = kv.layout;
  const TensorType qt = VecDotType(L.k_type);
  const double scale = 1.0 / std::sqrt(double(kD));
  const int64_t first = window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0;
  std::vector<float> out(kHeads * kD);
  for (int h = 0; h < kHeads; ++h) {
    const int kvh = h / (kHeads / kKvHeads);
    std::vector<uint8_t> qq(RowBytes(qt, kD));
    ConvertActivationRow(qt, q + h * kD, qq.data(), kD);
    std::vector<float> qd(kD), kd(kD), vd(kD);
    EXPECT_TRUE(DequantizeRow(qt, qq.data(), qd.data(), kD).ok());
    std::vector<double> s;
    double mx = -INFINITY;
    for (int64_t t = first; t <= pos; ++t) {
      const uint8_t* base = kv.blocks[t / kB];
      EXPECT_TRUE(DequantizeRow(L.k_type, base + L.k_offset + kvh * L.k_head_stride + (t % kB) * L.k_row_stride,
                                kd.data(), kD).ok());
      double dot = 0;
      for (int i = 0; i < kD; ++i) dot += double(kd[i]) * qd[i];
      double x = dot * scale;
      if (softcap > 0) x = softcap * std::tanh(x / softcap);
      s.push_back(x);
      mx = std::max(mx, x);
    }
    std::vector<double> acc(kD, 0.0);
    double sum = 0;
    for (int64_t t = first; t <= pos; ++t) {
      const double p = std::exp(s[t - first] - mx);
      sum += p;
      const uint8_t* base = kv.blocks[t / kB];
      EXPECT_TRUE(DequantizeRow(L.v_type, base + L.v_offset + kvh * L.v_head_stride + (t % kB) * L.v_row_stride,
                                vd.data(), kD).ok());
      for (int i = 0; i < kD; ++i) acc[i] += p * vd[i];
    }
    for (int i = 0; i < kD; ++i) out[h * kD + i] = float(acc[i] / sum);
  }
  return out;
}

struct Case {
  TensorType type;
  bool llama_cpp_f16_v;
};

class WindowTest : public ::testing::TestWithParam<Case> {};

TEST_P(WindowTest, MatchesNaiveAtEveryWindowEdge) {
  std::mt19937 rng(5);
  const int64_t n = 40;
  Kv kv = MakeKv(GetParam().type, n, rng);
  std::normal_distribution<float> d;
  std::vector<float> q(n * kHeads * kD);
  for (auto& x : q) x = d(rng) * 2.0f;  // scores O(1): the cap and the window matter
  std::vector<int64_t> pos(n);
  for (int64_t i = 0; i < n; ++i) pos[i] = i;
  // f16 accumulation (llama.cpp's mode) rounds the running sum of V to f16 at every key.
  const double tol = GetParam().type == TensorType::kF32 && !GetParam().llama_cpp_f16_v ? 1e-4 : 2e-2;
  for (int64_t window : {1, 3, 8, 13, 100}) {
    for (float cap : {0.0f, 0.7f}) {
      AttentionParams ap;
      ap.n_heads = kHeads;
      ap.window = window;
      ap.softcap = cap;
      ap.llama_cpp_f16_v = GetParam().llama_cpp_f16_v;
      std::vector<float> out(n * kHeads * kD);
      PagedKv view{kv.blocks.data(), static_cast<int64_t>(kv.blocks.size()), kv.layout};
      ASSERT_TRUE(PagedAttention(ap, view, q.data(), kHeads * kD, pos.data(), n, out.data(), kHeads * kD).ok());
      for (int64_t i = 0; i < n; ++i) {
        std::vector<float> want = Naive(kv, &q[i * kHeads * kD], i, window, cap);
        for (int j = 0; j < kHeads * kD; ++j)
          ASSERT_NEAR(out[i * kHeads * kD + j], want[j], tol) << "window " << window << " cap " << cap << " pos " << i;
      }
    }
  }
}

TEST_P(WindowTest, AWindowCoveringEveryKeyChangesNothingAndBatchesAreInvariant) {
  std::mt19937 rng(9);
  const int64_t n = 37;
  Kv kv = MakeKv(GetParam().type, n, rng);
  std::normal_distribution<float> d;
  std::vector<float> q(n * kHeads * kD);
  for (auto& x : q) x = d(rng);
  std::vector<int64_t> pos(n);
  for (int64_t i = 0; i < n; ++i) pos[i] = i;
  PagedKv view{kv.blocks.data(), static_cast<int64_t>(kv.blocks.size()), kv.layout};
  auto run = [&](int64_t window, int64_t first, int64_t count) {
    AttentionParams ap;
    ap.n_heads = kHeads;
    ap.window = window;
    ap.llama_cpp_f16_v = GetParam().llama_cpp_f16_v;
    std::vector<float> out(count * kHeads * kD);
    EXPECT_TRUE(PagedAttention(ap, view, &q[first * kHeads * kD], kHeads * kD, &pos[first], count, out.data(),
                               kHeads * kD).ok());
    return out;
  };
  EXPECT_EQ(run(0, 0, n), run(n, 0, n)) << "window >= every position = no window";
  const std::vector<float> all = run(11, 0, n);
  for (int64_t i : {0, 7, 8, 19, 36}) {
    std::vector<float> one = run(11, i, 1);
    EXPECT_EQ(0, std::memcmp(one.data(), &all[i * kHeads * kD], one.size() * sizeof(float))) << "query " << i;
  }
}

// Long contexts split a query's keys into spans of 16 blocks (the non-llama.cpp path); spans
// wholly before the window hold no key and must merge as nothing (not as NaN).
TEST(WindowLongTest, SpansBeforeTheWindowMergeAsNothing) {
  std::mt19937 rng(3);
  const int64_t n = 300;
  for (TensorType t : {TensorType::kF32, TensorType::kF16}) {
    Kv kv = MakeKv(t, n, rng);
    std::normal_distribution<float> d;
    std::vector<float> q(kHeads * kD);
    for (auto& x : q) x = d(rng);
    PagedKv view{kv.blocks.data(), static_cast<int64_t>(kv.blocks.size()), kv.layout};
    for (int64_t p : {150, 299}) {
      for (int64_t window : {5, 140, 200}) {
        AttentionParams ap;
        ap.n_heads = kHeads;
        ap.window = window;
        ap.llama_cpp_f16_v = false;
        std::vector<float> out(kHeads * kD);
        ASSERT_TRUE(PagedAttention(ap, view, q.data(), kHeads * kD, &p, 1, out.data(), kHeads * kD).ok());
        std::vector<float> want = Naive(kv, q.data(), p, window, 0.0f);
        for (int j = 0; j < kHeads * kD; ++j)
          ASSERT_NEAR(out[j], want[j], t == TensorType::kF32 ? 1e-4 : 2e-2) << "pos " << p << " window " << window;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(KvTypes, WindowTest,
                         ::testing::Values(Case{TensorType::kF16, true}, Case{TensorType::kF16, false},
                                           Case{TensorType::kF32, false}, Case{TensorType::kBF16, false},
                                           Case{TensorType::kQ8_0, false}),
                         [](const auto& p) {
                           return TensorTypeName(static_cast<uint32_t>(p.param.type)) +
                                  (p.param.llama_cpp_f16_v ? "_llama" : "_spans");
                         });

}  // namespace
}  // namespace swarmkv
