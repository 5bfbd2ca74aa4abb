// The llama.cpp-order attention (attention_llama.h) against a one-key-at-a-time reference written
// the way ggml's CPU flash attention reads: an f16_t accumulator, expf per key. Equal bytes for
// every head size, ISA, query split and thread count.
#include "kernels/attention_llama.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/attention_cascade.h"
#include "kernels/attention_simd.h"
#include "kernels/fp16.h"
#include "kernels/kv_test_layout.h"
#include "kernels/quants.h"

namespace swarmkv {
namespace {

constexpr int kKvHeads = 2, kHeads = 6, kDk = 64, kB = 16;

struct Kv {
  KvLayerLayout layout;
  std::vector<std::vector<uint8_t>> storage;
  std::vector<const uint8_t*> blocks;
};

Kv MakeKv(int64_t dv, int64_t n_tokens, std::mt19937& rng) {
  Kv s;
  s.layout = testing_kv::LayerView(TensorType::kF16, TensorType::kF16, kKvHeads, kDk, dv, kB, 0);
  std::normal_distribution<float> d;
  std::vector<float> k(kKvHeads * kDk), v(kKvHeads * dv);
  for (int64_t b = 0; b * kB < n_tokens; ++b) s.storage.emplace_back(testing_kv::BlockBytes(s.layout, 1), 0);
  for (auto& st : s.storage) s.blocks.push_back(st.data());
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (auto& x : k) x = d(rng);
    for (auto& x : v) x = 2.0f * d(rng);
    EXPECT_TRUE(WriteKvRow(s.layout, s.storage[t / kB].data(), t % kB, k.data(), v.data()).ok());
  }
  return s;
}

// ggml's loop for one query head at position p: the reference the kernel must equal.
std::vector<float> OneKeyAtATime(const Kv& s, const float* q, int h, int64_t p) {
  const KvLayerLayout& L = s.layout;
  const int64_t dv = L.head_dim_v;
  const int kvh = h / (kHeads / kKvHeads);
  std::vector<float> qf(kDk);
  for (int i = 0; i < kDk; ++i) qf[i] = F16ToF32(F32ToF16(q[h * kDk + i]));
  const float scale = 1.0f / std::sqrt(static_cast<float>(kDk));
  std::vector<f16_t> acc(dv, 0);
  float m = -INFINITY, sum = 0.0f;
  for (int64_t t = 0; t <= p; ++t) {
    const uint8_t* base = s.blocks[t / kB];
    const auto* krow = reinterpret_cast<const f16_t*>(base + L.k_offset + kvh * L.k_head_stride + (t % kB) * L.k_row_stride);
    const auto* vrow = reinterpret_cast<const f16_t*>(base + L.v_offset + kvh * L.v_head_stride + (t % kB) * L.v_row_stride);
    const float x = internal::DotF16Ggml(krow, qf.data(), kDk) * scale;
    float ms = 1.0f, vs = 1.0f;
    if (x > m) {
      ms = std::exp(m - x);
      m = x;
      for (int64_t d = 0; d < dv; ++d) acc[d] = F32ToF16(F16ToF32(acc[d]) * ms);
    } else {
      vs = std::exp(x - m);
    }
    for (int64_t d = 0; d < dv; ++d) acc[d] = F32ToF16(std::fma(F16ToF32(vrow[d]), vs, F16ToF32(acc[d])));
    sum = sum * ms + vs;
  }
  std::vector<float> out(dv);
  for (int64_t d = 0; d < dv; ++d) out[d] = F16ToF32(acc[d]) * (1.0f / sum);
  return out;
}

TEST(LlamaOrderAttentionTest, EqualsOneKeyAtATimeForEveryHeadSizeIsaAndSplit) {
  std::mt19937 rng(21);
  ThreadPool pool(3);
  const int64_t n = 53;  // 3 full blocks + a partial one
  for (int64_t dv : {32, 64, 96, 128}) {
    Kv s = MakeKv(dv, n, rng);
    std::normal_distribution<float> d;
    std::vector<float> q(n * kHeads * kDk);
    for (auto& x : q) x = 3.0f * d(rng);  // sharp softmax: the running maximum changes often
    std::vector<int64_t> pos(n);
    for (int64_t i = 0; i < n; ++i) pos[i] = i;
    const int64_t row = kHeads * dv;
    std::vector<float> want(n * row);
    for (int64_t i = 0; i < n; ++i)
      for (int h = 0; h < kHeads; ++h) {
        auto o = OneKeyAtATime(s, q.data() + i * kHeads * kDk, h, i);
        std::memcpy(want.data() + i * row + h * dv, o.data(), dv * 4);
      }
    const PagedKv kv{s.blocks.data(), static_cast<int64_t>(s.blocks.size()), s.layout};
    for (Isa isa : SupportedIsas()) {
      for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
        // All queries in one call (query blocks x whole groups), then one query per call (single
        // heads per task, as decode splits them).
        std::vector<float> all(n * row), one(n * row);
        ASSERT_TRUE(PagedAttention({kHeads, 0, isa, p, true}, kv, q.data(), kHeads * kDk, pos.data(), n, all.data(), row).ok());
        for (int64_t i = 0; i < n; ++i)
          ASSERT_TRUE(PagedAttention({kHeads, 0, isa, p, true}, kv, q.data() + i * kHeads * kDk, 0, &pos[i], 1,
                                     one.data() + i * row, 0).ok());
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(std::memcmp(all.data() + i * row, want.data() + i * row, row * 4), 0)
              << "dv " << dv << " " << IsaName(isa) << " pool " << (p != nullptr) << " query " << i;
          ASSERT_EQ(std::memcmp(one.data() + i * row, want.data() + i * row, row * 4), 0)
              << "dv " << dv << " " << IsaName(isa) << " pool " << (p != nullptr) << " single query " << i;
        }
      }
    }
  }
}

TEST(LlamaOrderAttentionTest, SimdAccumulateEqualsScalarForEveryHeadCount) {
  if (!IsaSupported(Isa::kAvx2)) GTEST_SKIP() << "CPU has no AVX2";
  std::mt19937 rng(5);
  std::normal_distribution<float> d;
  const int n = 40;
  for (int64_t dv : {8, 32, 64, 72, 80, 128, 136}) {
    for (int nh : {1, 2, 3, 4, 5, 7}) {
      std::vector<float> v(n * dv), ms(nh * n), vs(nh * n), a(nh * dv), b(nh * dv);
      for (auto& x : v) x = F16ToF32(F32ToF16(d(rng)));
      for (int h = 0; h < nh; ++h)
        for (int j = 0; j < n; ++j) {  // a new maximum now and then, different per head
          const bool new_max = (j + h) % 5 == 0;
          ms[h * n + j] = new_max ? std::exp(-std::fabs(d(rng))) : 1.0f;
          vs[h * n + j] = new_max ? 1.0f : std::exp(-std::fabs(d(rng)));
        }
      internal::AccumulateF16OrderScalar(v.data(), dv, n, ms.data(), vs.data(), n, nh, dv, a.data(), dv);
      internal::AccumulateF16OrderAvx2(v.data(), dv, n, ms.data(), vs.data(), n, nh, dv, b.data(), dv);
      ASSERT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0) << "dv " << dv << " heads " << nh;
      if (IsaSupported(Isa::kAvx512)) {
        std::vector<float> c(nh * dv);
        internal::AccumulateF16OrderAvx512(v.data(), dv, n, ms.data(), vs.data(), n, nh, dv, c.data(), dv);
        ASSERT_EQ(std::memcmp(a.data(), c.data(), a.size() * 4), 0) << "avx512 dv " << dv << " heads " << nh;
      }
    }
  }
}

// The AVX-512 scores give DotF16Ggml(k, q) * scale bit for bit for every head dim (whole steps of
// 32, a rest added in double, dims below 32), f16 rows read in place or converted to f32, every
// key count (tails of the sixteen-key reduction) and several query heads; AVX2 where it applies.
TEST(LlamaOrderAttentionTest, SimdScoresEqualDotF16GgmlForEveryHeadDim) {
  if (!IsaSupported(Isa::kAvx2)) GTEST_SKIP() << "CPU has no AVX2";
  std::mt19937 rng(13);
  std::normal_distribution<float> d;
  const float scale = 0.125f * 1.1f;
  for (int64_t dk : {16, 32, 64, 80, 96, 128, 136, 160, 256}) {
    for (int n : {1, 7, 16, 17, 33}) {
      const int nq = 3;
      const int64_t stride = dk + 8;  // padded rows
      std::vector<f16_t> k(n * stride);
      std::vector<float> kf(n * stride), q(nq * dk);
      for (size_t i = 0; i < k.size(); ++i) {
        k[i] = F32ToF16(2.0f * d(rng));
        kf[i] = F16ToF32(k[i]);
      }
      for (auto& x : q) x = F16ToF32(F32ToF16(3.0f * d(rng)));
      std::vector<float> want(nq * n);
      for (int h = 0; h < nq; ++h)
        for (int j = 0; j < n; ++j) want[h * n + j] = internal::DotF16Ggml(k.data() + j * stride, q.data() + h * dk, dk) * scale;
      const auto check = [&](auto fn_f32, auto fn_f16, const char* name) {
        std::vector<float> a(nq * n, -1.0f), b(nq * n, -2.0f);
        fn_f32(kf.data(), stride, n, q.data(), nq, dk, scale, a.data(), n);
        fn_f16(k.data(), stride, n, q.data(), nq, dk, scale, b.data(), n);
        EXPECT_EQ(std::memcmp(a.data(), want.data(), a.size() * 4), 0) << name << " f32 K, dk " << dk << " keys " << n;
        EXPECT_EQ(std::memcmp(b.data(), want.data(), b.size() * 4), 0) << name << " f16 K, dk " << dk << " keys " << n;
      };
      using F32 = void (*)(const float*, int64_t, int, const float*, int, int64_t, float, float*, int64_t);
      using F16 = void (*)(const f16_t*, int64_t, int, const float*, int, int64_t, float, float*, int64_t);
      if (dk % 32 == 0)
        check(static_cast<F32>(internal::ScoresF16GgmlAvx2), static_cast<F16>(internal::ScoresF16GgmlAvx2), "avx2");
      if (IsaSupported(Isa::kAvx512))
        check(static_cast<F32>(internal::ScoresF16GgmlAvx512), static_cast<F16>(internal::ScoresF16GgmlAvx512), "avx512");
    }
  }
}

// Whole llama.cpp-mode attention (f16 V) for head dims 64, 80, 128, 136 and K in f16, bf16 and
// q8_0 (where the head dim is whole q8_0 blocks): every ISA gives the scalar bytes — all queries
// in one call (multi-head tasks, K converted per block), one query per call (decode: f16 rows in
// place), threaded, and through the shared-prefix path with two sequences on the same blocks.
TEST(LlamaOrderAttentionTest, EveryHeadDimAndKTypeIsTheSameBitsOnEveryIsa) {
  std::mt19937 rng(17);
  std::normal_distribution<float> d;
  ThreadPool pool(2);
  const int64_t n = 41;  // 2 full blocks + a partial one
  int compared = 0;
  for (int64_t dh : {64, 80, 128, 136}) {
    for (TensorType kt : {TensorType::kF16, TensorType::kBF16, TensorType::kQ8_0}) {
      if (dh % BlockElements(kt) != 0) continue;
      const KvLayerLayout L = testing_kv::LayerView(kt, TensorType::kF16, kKvHeads, dh, dh, kB, 0);
      ASSERT_TRUE(L.Validate().ok());
      std::vector<std::vector<uint8_t>> storage;
      for (int64_t b = 0; b * kB < n; ++b) storage.emplace_back(testing_kv::BlockBytes(L, 1), 0);
      std::vector<const uint8_t*> blocks;
      for (auto& st : storage) blocks.push_back(st.data());
      std::vector<float> kr(kKvHeads * dh), vr(kKvHeads * dh);
      for (int64_t t = 0; t < n; ++t) {
        for (auto& x : kr) x = d(rng);
        for (auto& x : vr) x = 2.0f * d(rng);
        ASSERT_TRUE(WriteKvRow(L, storage[t / kB].data(), t % kB, kr.data(), vr.data()).ok());
      }
      std::vector<float> q(n * kHeads * dh);
      for (auto& x : q) x = 3.0f * d(rng);
      std::vector<int64_t> pos(n);
      for (int64_t i = 0; i < n; ++i) pos[i] = i;
      const int64_t row = kHeads * dh;
      const PagedKv kv{blocks.data(), static_cast<int64_t>(blocks.size()), L};
      std::vector<float> want(n * row);
      ASSERT_TRUE(PagedAttention({kHeads, 0, Isa::kScalar, nullptr, true}, kv, q.data(), row, pos.data(), n,
                                 want.data(), row).ok());
      for (Isa isa : SupportedIsas()) {
        const std::string what = std::string(TensorTypeName(uint32_t(kt))) + " K, head dim " + std::to_string(dh) +
                                 " " + std::string(IsaName(isa));
        std::vector<float> all(n * row), one(n * row), shared_a(n * row), shared_b(n * row);
        ASSERT_TRUE(PagedAttention({kHeads, 0, isa, &pool, true}, kv, q.data(), row, pos.data(), n, all.data(), row).ok());
        for (int64_t i = 0; i < n; ++i)
          ASSERT_TRUE(PagedAttention({kHeads, 0, isa, nullptr, true}, kv, q.data() + i * row, 0, &pos[i], 1,
                                     one.data() + i * row, 0).ok());
        // Two sequences on the same blocks: one prefill of every position, one decode query each.
        AttentionParams p{kHeads, 0, isa, &pool, true};
        std::vector<AttentionSequence> seqs = {{kv, q.data(), row, pos.data(), n, shared_a.data(), row},
                                               {kv, q.data() + (n - 1) * row, 0, &pos[n - 1], 1,
                                                shared_b.data() + (n - 1) * row, 0}};
        ASSERT_TRUE(PagedAttentionShared(p, seqs).ok());
        EXPECT_EQ(std::memcmp(all.data(), want.data(), want.size() * 4), 0) << what << " all queries";
        EXPECT_EQ(std::memcmp(one.data(), want.data(), want.size() * 4), 0) << what << " one query per call";
        EXPECT_EQ(std::memcmp(shared_a.data(), want.data(), want.size() * 4), 0) << what << " shared prefix";
        EXPECT_EQ(std::memcmp(shared_b.data() + (n - 1) * row, want.data() + (n - 1) * row, row * 4), 0)
            << what << " shared prefix, decode query";
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 10 * static_cast<int>(SupportedIsas().size()));
}

// The vector-exp softmax steps give the scalar (libm expf per key) ms, vs, maximum and sum bit
// for bit, on scores with ties (+0 against -0 too), -inf, huge gaps, underflowing exps and NaNs,
// for every length (tails of the 8-lane steps) and from a fresh or a running head.
void ExpectSoftmaxStepsEqual(const std::vector<float>& scores, float start_max, float start_sum, int trial) {
  auto bits = [](float x) {
    uint32_t b;
    std::memcpy(&b, &x, 4);
    return b;
  };
  const int n = static_cast<int>(scores.size());
  float m0 = start_max, s0 = start_sum, m1 = start_max, s1 = start_sum;
  std::vector<float> ms0(n), vs0(n), ms1(n), vs1(n);
  internal::SoftmaxSteps(scores.data(), n, false, &m0, &s0, ms0.data(), vs0.data());
  internal::SoftmaxSteps(scores.data(), n, true, &m1, &s1, ms1.data(), vs1.data());
  EXPECT_EQ(bits(m0), bits(m1)) << "trial " << trial << ": the running maximum";
  EXPECT_EQ(bits(s0), bits(s1)) << "trial " << trial << ": the running sum";
  for (int j = 0; j < n; ++j) {
    EXPECT_EQ(bits(ms0[j]), bits(ms1[j])) << "trial " << trial << " key " << j;
    EXPECT_EQ(bits(vs0[j]), bits(vs1[j])) << "trial " << trial << " key " << j;
  }
}

TEST(LlamaOrderAttentionTest, VectorExpSoftmaxStepsEqualScalar) {
  if (!IsaSupported(Isa::kAvx2)) GTEST_SKIP() << "CPU has no AVX2/FMA";
  const float inf = INFINITY;
  // A zero of the other sign ties with the maximum in the same or a later group of 8: the
  // earlier zero stays the maximum, as in key order.
  for (float z : {0.0f, -0.0f}) {
    ExpectSoftmaxStepsEqual({z, -1, -2, -3, -4, -5, -6, -7, -z, -1, -z, -3}, -inf, 0.0f, -1);
    ExpectSoftmaxStepsEqual({z, -2, -3, -z, -5, -6, -7, -1, -z, -1, -z, -3}, -inf, 0.0f, -2);
    ExpectSoftmaxStepsEqual({-z, -1, -2}, z, 1.0f, -3);
  }
  std::mt19937 rng(9);
  std::normal_distribution<float> d;
  for (int trial = 0; trial < 400; ++trial) {
    std::vector<float> scores(1 + trial % 40);
    for (auto& x : scores) {
      switch (rng() % 8) {
        case 0: x = -inf; break;                                   // a masked key
        case 1: x = 100.0f * d(rng); break;                        // huge gaps: exps underflow
        case 2: x = scores[0]; break;                              // ties with an earlier score
        case 3: x = 0.25f * static_cast<float>(rng() % 8); break;  // exact ties
        case 4: x = rng() % 2 ? -0.0f : 0.0f; break;
        default: x = 4.0f * d(rng);
      }
    }
    if (trial % 50 == 7) scores[scores.size() / 2] = NAN;
    const float start_max = trial % 3 == 0 ? -inf : 2.0f * d(rng);
    const float start_sum = trial % 3 == 0 ? 0.0f : 1.0f + std::fabs(d(rng));
    ExpectSoftmaxStepsEqual(scores, start_max, start_sum, trial);
  }
}

}  // namespace
}  // namespace swarmkv
