#include "kernels/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/attention_simd.h"
#include "kernels/kv_test_layout.h"
#include "kernels/quants.h"
#include "kernels/vec_dot.h"

namespace swarmkv {
namespace {

constexpr int kLayers = 2, kKvHeads = 2, kHeads = 6, kDk = 64, kDv = 32, kB = 8;

// A sequence's KV: blocks allocated separately (and in shuffled order) to show the kernel
// reads through the pointer list, not a contiguous range.
struct Sequence {
  KvLayerLayout layout;
  std::vector<std::vector<uint8_t>> storage;
  std::vector<const uint8_t*> blocks;
  std::vector<float> k, v;  // [token][kv_head * D] floats as written
};

Sequence MakeSequence(TensorType kt, TensorType vt, int layer, int64_t n_tokens, std::mt19937& rng,
                      int kB = swarmkv::kB) {
  Sequence s;
  s.layout = testing_kv::LayerView(kt, vt, kKvHeads, kDk, kDv, kB, layer);
  const int64_t nblocks = (n_tokens + kB - 1) / kB;
  const int64_t block_bytes = testing_kv::BlockBytes(s.layout, kLayers);
  s.storage.resize(nblocks + 3);
  std::vector<int> order(nblocks + 3);
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::shuffle(order.begin(), order.end(), rng);
  for (auto& st : s.storage) st.assign(block_bytes, 0xCD);
  for (int64_t b = 0; b < nblocks; ++b) s.blocks.push_back(s.storage[order[b]].data());
  std::normal_distribution<float> d;
  s.k.resize(n_tokens * kKvHeads * kDk);
  s.v.resize(n_tokens * kKvHeads * kDv);
  for (auto& x : s.k) x = d(rng);
  for (auto& x : s.v) x = d(rng);
  for (int64_t t = 0; t < n_tokens; ++t) {
    EXPECT_TRUE(WriteKvRow(s.layout, const_cast<uint8_t*>(s.blocks[t / kB]), t % kB,
                           s.k.data() + t * kKvHeads * kDk, s.v.data() + t * kKvHeads * kDv)
                    .ok());
  }
  return s;
}

PagedKv View(const Sequence& s) {
  return PagedKv{s.blocks.data(), static_cast<int64_t>(s.blocks.size()), s.layout};
}

const TensorType kKvTypes[] = {TensorType::kF32, TensorType::kF16, TensorType::kBF16, TensorType::kQ8_0,
                               TensorType::kQ4_0};

TEST(AttentionTest, WriteKvRowStoresTheDtypesBlockFormatAtTheViewsOffset) {
  std::mt19937 rng(1);
  for (TensorType t : kKvTypes) {
    Sequence s = MakeSequence(t, t, 1, 11, rng);
    // Token 10 = block 1, slot 2; head 1.
    const uint8_t* krow = s.blocks[1] + s.layout.k_offset + 1 * s.layout.k_head_stride + 2 * s.layout.k_row_stride;
    std::vector<float> back(kDk);
    ASSERT_TRUE(DequantizeRow(t, krow, back.data(), kDk).ok());
    const float* orig = s.k.data() + 10 * kKvHeads * kDk + kDk;
    float amax = 0;
    for (int i = 0; i < kDk; ++i) amax = std::max(amax, std::fabs(orig[i]));
    for (int i = 0; i < kDk; ++i) ASSERT_NEAR(back[i], orig[i], amax / 7) << TensorTypeName(uint32_t(t));
    // Layer 0's bytes and each row's padding are untouched (still the fill pattern): the write
    // went through the view's offsets and strides.
    EXPECT_EQ(s.blocks[1][0], 0xCD);
    EXPECT_EQ(krow[RowBytes(t, kDk)], 0xCD);
    EXPECT_EQ(krow[s.layout.k_row_stride - 1], 0xCD);
  }
}

// Naive attention over dequantized K/V with q converted exactly as the kernel converts it.
std::vector<float> NaiveAttention(const Sequence& s, const float* q, int64_t pos) {
  const KvLayerLayout& L = s.layout;
  const int64_t kB = L.block_tokens;
  const TensorType qt = VecDotType(L.k_type);
  std::vector<float> out(kHeads * kDv);
  for (int h = 0; h < kHeads; ++h) {
    const int kvh = h / (kHeads / kKvHeads);
    std::vector<uint8_t> qq(RowBytes(qt, kDk));
    ConvertActivationRow(qt, q + h * kDk, qq.data(), kDk);
    std::vector<float> qd(kDk);
    EXPECT_TRUE(DequantizeRow(qt, qq.data(), qd.data(), kDk).ok());
    std::vector<double> sc(pos + 1);
    double mx = -INFINITY;
    for (int64_t t = 0; t <= pos; ++t) {
      std::vector<float> kd(kDk);
      const uint8_t* base = s.blocks[t / kB];
      EXPECT_TRUE(DequantizeRow(L.k_type, base + L.k_offset + kvh * L.k_head_stride + (t % kB) * L.k_row_stride, kd.data(), kDk).ok());
      double d = 0;
      for (int i = 0; i < kDk; ++i) d += static_cast<double>(kd[i]) * qd[i];
      sc[t] = d / std::sqrt(static_cast<double>(kDk));
      mx = std::max(mx, sc[t]);
    }
    double sum = 0;
    std::vector<double> acc(kDv, 0.0);
    for (int64_t t = 0; t <= pos; ++t) {
      const double p = std::exp(sc[t] - mx);
      sum += p;
      std::vector<float> vd(kDv);
      const uint8_t* base = s.blocks[t / kB];
      EXPECT_TRUE(DequantizeRow(L.v_type, base + L.v_offset + kvh * L.v_head_stride + (t % kB) * L.v_row_stride, vd.data(), kDv).ok());
      for (int i = 0; i < kDv; ++i) acc[i] += p * vd[i];
    }
    for (int i = 0; i < kDv; ++i) out[h * kDv + i] = static_cast<float>(acc[i] / sum);
  }
  return out;
}

TEST(AttentionTest, MatchesNaiveAttentionForEveryKvDtypeAndIsa) {
  std::mt19937 rng(2);
  const int64_t n = 29;  // 3 full blocks + a partial one
  for (TensorType kt : kKvTypes) {
    for (TensorType vt : {TensorType::kF16, kt}) {
      Sequence s = MakeSequence(kt, vt, 1, n, rng);
      std::normal_distribution<float> d;
      std::vector<float> q(n * kHeads * kDk);
      for (auto& x : q) x = d(rng);
      std::vector<int64_t> pos(n);
      for (int64_t i = 0; i < n; ++i) pos[i] = i;
      for (Isa isa : SupportedIsas()) {
        for (bool llama : {false, true}) {
          // f16 V in llama.cpp mode accumulates in f16: ~1e-3 absolute for |V| ~ 1.
          const double tol = llama && vt == TensorType::kF16 ? 4e-3 : 2e-5;
          std::vector<float> out(n * kHeads * kDv);
          AttentionParams p{kHeads, 0.0f, isa, nullptr, llama};
          ASSERT_TRUE(PagedAttention(p, View(s), q.data(), kHeads * kDk, pos.data(), n, out.data(), kHeads * kDv).ok());
          for (int64_t i : {0L, 7L, 8L, 20L, 28L}) {
            auto ref = NaiveAttention(s, q.data() + i * kHeads * kDk, i);
            for (int j = 0; j < kHeads * kDv; ++j) {
              ASSERT_NEAR(out[i * kHeads * kDv + j], ref[j], tol)
                  << TensorTypeName(uint32_t(kt)) << "/" << TensorTypeName(uint32_t(vt)) << " " << IsaName(isa)
                  << " q" << i << " llama " << llama;
            }
          }
        }
      }
    }
  }
}

// The output for a query depends only on its position and the KV: all queries in one call,
// each query alone, chunks of 1/7/64, and a thread pool all give the same bytes.
TEST(AttentionTest, ChunkingBatchingAndThreadsDoNotChangeAnyBit) {
  std::mt19937 rng(3);
  ThreadPool pool(3);
  const int64_t n = 45;
  for (TensorType kt : kKvTypes) {
    Sequence s = MakeSequence(kt, kt, 0, n, rng);
    std::normal_distribution<float> d;
    std::vector<float> q(n * kHeads * kDk);
    for (auto& x : q) x = d(rng);
    std::vector<int64_t> pos(n);
    for (int64_t i = 0; i < n; ++i) pos[i] = i;
    for (Isa isa : SupportedIsas()) for (bool llama : {false, true}) {
      const int64_t row = kHeads * kDv;
      std::vector<float> all(n * row);
      ASSERT_TRUE(PagedAttention({kHeads, 0, isa, nullptr, llama}, View(s), q.data(), kHeads * kDk, pos.data(), n, all.data(), row).ok());
      for (int64_t chunk : {1, 7, 64}) {
        std::vector<float> got(n * row);
        for (int64_t start = 0; start < n; start += chunk) {
          const int64_t m = std::min(chunk, n - start);
          ASSERT_TRUE(PagedAttention({kHeads, 0, isa, chunk == 7 ? &pool : nullptr, llama}, View(s),
                                     q.data() + start * kHeads * kDk, kHeads * kDk, pos.data() + start, m,
                                     got.data() + start * row, row).ok());
        }
        ASSERT_EQ(std::memcmp(got.data(), all.data(), all.size() * 4), 0)
            << TensorTypeName(uint32_t(kt)) << " " << IsaName(isa) << " chunk " << chunk;
      }
      // Out-of-order and repeated positions in one call (as a mixed batch would carry).
      std::vector<int64_t> mixed = {44, 3, 17, 3};
      std::vector<float> qm(4 * kHeads * kDk), om(4 * row);
      for (int i = 0; i < 4; ++i) std::memcpy(qm.data() + i * kHeads * kDk, q.data() + mixed[i] * kHeads * kDk, kHeads * kDk * 4);
      ASSERT_TRUE(PagedAttention({kHeads, 0, isa, &pool, llama}, View(s), qm.data(), kHeads * kDk, mixed.data(), 4, om.data(), row).ok());
      for (int i = 0; i < 4; ++i)
        ASSERT_EQ(std::memcmp(om.data() + i * row, all.data() + mixed[i] * row, row * 4), 0);
    }
  }
}

// llama.cpp mode with f16 K/V (the default KV dtype) gives the same bytes at every ISA: scores in
// ggml_vec_dot_f16's order, fused f16 V accumulation (parity with llama.cpp depends on it).
TEST(AttentionTest, LlamaCppModeF16IsTheSameBitsOnEveryIsa) {
  std::mt19937 rng(11);
  const int64_t n = 40;
  Sequence s = MakeSequence(TensorType::kF16, TensorType::kF16, 0, n, rng);
  std::normal_distribution<float> d;
  std::vector<float> q(n * kHeads * kDk);
  for (auto& x : q) x = d(rng);
  std::vector<int64_t> pos(n);
  for (int64_t i = 0; i < n; ++i) pos[i] = i;
  const int64_t row = kHeads * kDv;
  std::vector<float> want(n * row);
  ASSERT_TRUE(PagedAttention({kHeads, 0, Isa::kScalar, nullptr, true}, View(s), q.data(), kHeads * kDk, pos.data(), n,
                             want.data(), row).ok());
  for (Isa isa : SupportedIsas()) {
    std::vector<float> got(n * row);
    ASSERT_TRUE(PagedAttention({kHeads, 0, isa, nullptr, true}, View(s), q.data(), kHeads * kDk, pos.data(), n,
                               got.data(), row).ok());
    ASSERT_EQ(std::memcmp(got.data(), want.data(), want.size() * 4), 0) << IsaName(isa);
  }
}

// One numeric order: both modes, every K/V dtype pair (f16 scores/accumulation, the vector exp,
// the vec-dot scores of quantized K) give the scalar bytes at every ISA the CPU has, so KV
// computed by one process is reused bit-exactly by a process of another ISA.
TEST(AttentionTest, EveryModeAndKvDtypeIsTheSameBitsOnEveryIsa) {
  std::mt19937 rng(12);
  const int64_t n = 37;
  int compared = 0;
  for (TensorType kt : kKvTypes) {
    for (TensorType vt : {TensorType::kF16, kt}) {
      Sequence s = MakeSequence(kt, vt, 1, n, rng);
      std::normal_distribution<float> d;
      std::vector<float> q(n * kHeads * kDk);
      for (auto& x : q) x = d(rng) * 2.0f;
      std::vector<int64_t> pos(n);
      for (int64_t i = 0; i < n; ++i) pos[i] = i;
      const int64_t row = kHeads * kDv;
      for (bool llama : {false, true}) {
        std::vector<float> want(n * row);
        ASSERT_TRUE(PagedAttention({kHeads, 0, Isa::kScalar, nullptr, llama}, View(s), q.data(), kHeads * kDk,
                                   pos.data(), n, want.data(), row).ok());
        for (Isa isa : SupportedIsas()) {
          std::vector<float> got(n * row);
          ASSERT_TRUE(PagedAttention({kHeads, 0, isa, nullptr, llama}, View(s), q.data(), kHeads * kDk, pos.data(),
                                     n, got.data(), row).ok());
          ASSERT_EQ(std::memcmp(got.data(), want.data(), want.size() * 4), 0)
              << TensorTypeName(uint32_t(kt)) << "/" << TensorTypeName(uint32_t(vt)) << " " << IsaName(isa)
              << " llama " << llama;
          ++compared;
        }
      }
    }
  }
  EXPECT_GT(compared, 0);
}

// The vector exp-and-sum and its scalar twin give the same bits (values, sum, tails).
TEST(AttentionTest, ExpShiftSumScalarTwinEqualsAvx2) {
  if (!IsaSupported(Isa::kAvx2)) GTEST_SKIP() << "CPU has no AVX2 (the twin is then the only path)";
  std::mt19937 rng(13);
  std::uniform_real_distribution<float> u(-100.0f, 0.0f);
  for (int64_t n : {1, 7, 8, 9, 31, 64, 1000}) {
    std::vector<float> a(n), b;
    for (auto& v : a) v = u(rng) + 2.0f;
    b = a;
    const float sa = internal::ExpShiftSumAvx2(a.data(), n, 2.0f);
    const float sb = internal::ExpShiftSumScalar(b.data(), n, 2.0f);
    ASSERT_EQ(FloatBits(sa), FloatBits(sb)) << n;
    ASSERT_EQ(std::memcmp(a.data(), b.data(), n * 4), 0) << n;
  }
}

// With 2-token blocks, 45 tokens span 23 blocks: more than one 16-block span, so the per-span
// partial results and their merge are exercised.
TEST(AttentionTest, LongSequencesSplitIntoSpansStayExactAndInvariant) {
  std::mt19937 rng(7);
  ThreadPool pool(2);
  const int64_t n = 45;
  for (TensorType kt : {TensorType::kF16, TensorType::kQ8_0}) {
    Sequence s = MakeSequence(kt, kt, 1, n, rng, 2);
    std::normal_distribution<float> d;
    std::vector<float> q(n * kHeads * kDk);
    for (auto& x : q) x = d(rng);
    std::vector<int64_t> pos(n);
    for (int64_t i = 0; i < n; ++i) pos[i] = i;
    const int64_t row = kHeads * kDv;
    for (Isa isa : SupportedIsas()) for (bool llama : {false, true}) {
      const double tol = llama && kt == TensorType::kF16 ? 4e-3 : 2e-5;
      std::vector<float> all(n * row), one(row);
      ASSERT_TRUE(PagedAttention({kHeads, 0, isa, &pool, llama}, View(s), q.data(), kHeads * kDk, pos.data(), n, all.data(), row).ok());
      for (int64_t i : {31L, 32L, 33L, 44L}) {
        auto ref = NaiveAttention(s, q.data() + i * kHeads * kDk, i);
        for (int j = 0; j < row; ++j) ASSERT_NEAR(all[i * row + j], ref[j], tol) << IsaName(isa) << " q" << i;
        ASSERT_TRUE(PagedAttention({kHeads, 0, isa, nullptr, llama}, View(s), q.data() + i * kHeads * kDk, 0, &pos[i], 1, one.data(), 0).ok());
        ASSERT_EQ(std::memcmp(one.data(), all.data() + i * row, row * 4), 0) << IsaName(isa) << " q" << i;
      }
    }
  }
}

TEST(AttentionTest, CausalMaskIgnoresLaterTokens) {
  std::mt19937 rng(4);
  Sequence s = MakeSequence(TensorType::kF16, TensorType::kF16, 0, 20, rng);
  std::vector<float> q(kHeads * kDk, 0.5f), a(kHeads * kDv), b(kHeads * kDv);
  int64_t p = 9;
  ASSERT_TRUE(PagedAttention({kHeads}, View(s), q.data(), 0, &p, 1, a.data(), 0).ok());
  // Overwrite tokens 10..19 with different values: the result at position 9 must not move.
  std::vector<float> junk(kKvHeads * kDk, 100.0f);
  for (int t = 10; t < 20; ++t)
    ASSERT_TRUE(WriteKvRow(s.layout, const_cast<uint8_t*>(s.blocks[t / kB]), t % kB, junk.data(), junk.data()).ok());
  ASSERT_TRUE(PagedAttention({kHeads}, View(s), q.data(), 0, &p, 1, b.data(), 0).ok());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0);
  // With q = 0 every score is equal: output = mean of V rows 0..p.
  std::vector<float> z(kHeads * kDk, 0.0f);
  int64_t p2 = 3;
  AttentionParams exact{kHeads};
  exact.llama_cpp_f16_v = false;  // f32 accumulation: the mean is exact to float rounding
  ASSERT_TRUE(PagedAttention(exact, View(s), z.data(), 0, &p2, 1, a.data(), 0).ok());
  for (int i = 0; i < kDv; ++i) {
    double m = 0;
    for (int t = 0; t <= 3; ++t) m += F16ToF32(F32ToF16(s.v[t * kKvHeads * kDv + i]));
    EXPECT_NEAR(a[i], m / 4, 1e-6);
  }
}

// llama.cpp mode rounds the V accumulator to f16 after every key: with q = 0 (equal scores) and
// 4 keys the result is ((((v0) + v1) + v2) + v3) in f16 steps, times 1/4.
TEST(AttentionTest, LlamaCppModeAccumulatesVInF16PerKey) {
  std::mt19937 rng(9);
  Sequence s = MakeSequence(TensorType::kF16, TensorType::kF16, 0, 8, rng);
  std::vector<float> z(kHeads * kDk, 0.0f), a(kHeads * kDv);
  int64_t p = 3;
  for (Isa isa : SupportedIsas()) {
    ASSERT_TRUE(PagedAttention({kHeads, 0, isa}, View(s), z.data(), 0, &p, 1, a.data(), 0).ok());
    for (int i = 0; i < kDv; ++i) {
      f16_t acc = 0;
      for (int t = 0; t <= 3; ++t) {
        const float v = F16ToF32(F32ToF16(s.v[t * kKvHeads * kDv + i]));
        acc = F32ToF16(F16ToF32(acc) + v);  // vs = exp(0) = 1; ms = 1 after the first key
      }
      ASSERT_EQ(a[i], F16ToF32(acc) * 0.25f) << IsaName(isa) << " " << i;
    }
  }
}

TEST(AttentionTest, VectorExpMatchesLibmAndHandlesTails) {
  if (!IsaSupported(Isa::kAvx2)) GTEST_SKIP() << "CPU has no AVX2";
  std::mt19937 rng(8);
  std::uniform_real_distribution<float> u(-90.0f, 0.0f);
  for (int64_t n : {1, 7, 8, 9, 32, 1000}) {
    std::vector<float> s(n), orig(n);
    for (int64_t i = 0; i < n; ++i) orig[i] = s[i] = u(rng) + 3.0f;
    const float sum = internal::ExpShiftSumAvx2(s.data(), n, 3.0f);
    double ref_sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float ref = std::exp(orig[i] - 3.0f);
      ref_sum += ref;
      if (orig[i] - 3.0f > -87.0f) ASSERT_NEAR(s[i], ref, 3e-7f * ref) << orig[i];
      else ASSERT_LT(s[i], 2e-38f);
    }
    EXPECT_NEAR(sum, ref_sum, 1e-6 * ref_sum + 1e-37);
  }
  float one = 5.0f;
  EXPECT_EQ(internal::ExpShiftSumAvx2(&one, 1, 5.0f), 1.0f);
  EXPECT_EQ(one, 1.0f);
}

TEST(AttentionTest, BadInputIsAnError) {
  std::mt19937 rng(5);
  Sequence s = MakeSequence(TensorType::kF16, TensorType::kF16, 0, 8, rng);
  std::vector<float> q(kHeads * kDk), o(kHeads * kDv);
  int64_t p = 8;  // one block holds positions 0..7
  EXPECT_FALSE(PagedAttention({kHeads}, View(s), q.data(), 0, &p, 1, o.data(), 0).ok());
  p = 0;
  EXPECT_FALSE(PagedAttention({5}, View(s), q.data(), 0, &p, 1, o.data(), 0).ok());
  auto bad = testing_kv::LayerView(TensorType::kQ8_0, TensorType::kF16, 2, 48, 64, 8, 0);
  EXPECT_FALSE(bad.Validate().ok());
  auto i32 = testing_kv::LayerView(TensorType::kI32, TensorType::kF16, 2, 64, 64, 8, 0);
  EXPECT_FALSE(i32.Validate().ok());
  EXPECT_FALSE(WriteKvRow(s.layout, const_cast<uint8_t*>(s.blocks[0]), 8, q.data(), q.data()).ok());
}

}  // namespace
}  // namespace swarmkv
