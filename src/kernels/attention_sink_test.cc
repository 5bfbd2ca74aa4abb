// Attention sinks (gpt-oss; AttentionParams::sinks): a per-head logit that joins the softmax
// denominator as a key without value. The llama.cpp-order path must equal ggml's flash-attention
// loop with its sink step bit for bit at every ISA, split and thread count (with and without a
// sliding window); both paths must agree with a double-precision softmax over the keys plus the
// sink; a -inf sink is no sink, to the bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/attention.h"
#include "kernels/attention_simd.h"
#include "kernels/fp16.h"
#include "kernels/kv_test_layout.h"

namespace swarmkv {
namespace {

constexpr int kKvHeads = 2, kHeads = 6, kDk = 64, kB = 16;

struct Kv {
  KvLayerLayout layout;
  std::vector<std::vector<uint8_t>> storage;
  std::vector<const uint8_t*> blocks;
  std::vector<float> k, v;  // the rows as written (before rounding to the KV type): [t][kvh][d]
};

Kv MakeKv(TensorType type, int64_t dv, int64_t n_tokens, std::mt19937& rng) {
  Kv s;
  s.layout = testing_kv::LayerView(type, type, kKvHeads, kDk, dv, kB, 0);
  std::normal_distribution<float> d;
  for (int64_t b = 0; b * kB < n_tokens; ++b) s.storage.emplace_back(testing_kv::BlockBytes(s.layout, 1), 0);
  for (auto& st : s.storage) s.blocks.push_back(st.data());
  s.k.resize(n_tokens * kKvHeads * kDk);
  s.v.resize(n_tokens * kKvHeads * dv);
  for (auto& x : s.k) x = d(rng);
  for (auto& x : s.v) x = 2.0f * d(rng);
  for (int64_t t = 0; t < n_tokens; ++t)
    EXPECT_TRUE(WriteKvRow(s.layout, s.storage[t / kB].data(), t % kB, &s.k[t * kKvHeads * kDk], &s.v[t * kKvHeads * dv]).ok());
  return s;
}

const f16_t* Row(const Kv& s, bool k, int kvh, int64_t t) {
  const KvLayerLayout& L = s.layout;
  const uint8_t* base = s.blocks[t / kB];
  const int64_t off = k ? L.k_offset + kvh * L.k_head_stride + (t % kB) * L.k_row_stride
                        : L.v_offset + kvh * L.v_head_stride + (t % kB) * L.v_row_stride;
  return reinterpret_cast<const f16_t*>(base + off);
}

// ggml_compute_forward_flash_attn_ext_f16_one_chunk for one query head with f16 K/V: keys
// first_key..p one at a time (f16 accumulator), then the accumulator to f32, the sink step, 1/S.
std::vector<float> GgmlWithSink(const Kv& s, const float* q, int h, int64_t p, int64_t window, float sink) {
  const int64_t dv = s.layout.head_dim_v;
  const int kvh = h / (kHeads / kKvHeads);
  std::vector<float> qf(kDk);
  for (int i = 0; i < kDk; ++i) qf[i] = F16ToF32(F32ToF16(q[h * kDk + i]));
  const float scale = 1.0f / std::sqrt(static_cast<float>(kDk));
  std::vector<f16_t> acc(dv, 0);
  float m = -INFINITY, sum = 0.0f;
  const int64_t first = window > 0 && p >= window ? p - window + 1 : 0;
  for (int64_t t = first; t <= p; ++t) {
    const float x = internal::DotF16Ggml(Row(s, true, kvh, t), qf.data(), kDk) * scale;
    float ms = 1.0f, vs = 1.0f;
    if (x > m) {
      ms = std::exp(m - x);
      m = x;
      for (int64_t d = 0; d < dv; ++d) acc[d] = F32ToF16(F16ToF32(acc[d]) * ms);
    } else {
      vs = std::exp(x - m);
    }
    const f16_t* vrow = Row(s, false, kvh, t);
    for (int64_t d = 0; d < dv; ++d) acc[d] = F32ToF16(std::fma(F16ToF32(vrow[d]), vs, F16ToF32(acc[d])));
    sum = sum * ms + vs;
  }
  std::vector<float> a(dv);
  for (int64_t d = 0; d < dv; ++d) a[d] = F16ToF32(acc[d]);
  float ms = 1.0f, vs = 1.0f;
  if (sink > m) {
    ms = std::exp(m - sink);
    for (int64_t d = 0; d < dv; ++d) a[d] *= ms;
  } else {
    vs = std::exp(sink - m);
  }
  sum = sum * ms + vs;
  const float inv = sum == 0.0f ? 0.0f : 1.0f / sum;
  for (int64_t d = 0; d < dv; ++d) a[d] *= inv;
  return a;
}

// The definition in double: softmax over the scores of keys first..p and the sink, times V.
std::vector<double> DoubleWithSink(const Kv& s, const float* q, int h, int64_t p, int64_t window, double sink) {
  const int64_t dv = s.layout.head_dim_v;
  const int kvh = h / (kHeads / kKvHeads);
  const int64_t first = window > 0 && p >= window ? p - window + 1 : 0;
  std::vector<double> score;
  double m = sink;
  for (int64_t t = first; t <= p; ++t) {
    double dot = 0.0;
    for (int i = 0; i < kDk; ++i) dot += double{q[h * kDk + i]} * s.k[(t * kKvHeads + kvh) * kDk + i];
    score.push_back(dot / std::sqrt(double{kDk}));
    m = std::max(m, score.back());
  }
  double denom = std::exp(sink - m);
  std::vector<double> out(dv, 0.0);
  for (int64_t t = first; t <= p; ++t) {
    const double e = std::exp(score[t - first] - m);
    denom += e;
    for (int64_t d = 0; d < dv; ++d) out[d] += e * s.v[(t * kKvHeads + kvh) * dv + d];
  }
  for (double& x : out) x /= denom;
  return out;
}

std::vector<float> Sinks(std::mt19937& rng, float spread) {
  std::uniform_real_distribution<float> u(-spread, spread);
  std::vector<float> sinks(kHeads);
  for (float& x : sinks) x = u(rng);
  return sinks;
}

TEST(AttentionSinkTest, LlamaOrderEqualsGgmlSinkStepAtEveryIsaSplitAndWindow) {
  std::mt19937 rng(31);
  ThreadPool pool(3);
  const int64_t n = 45;
  for (int64_t window : {int64_t{0}, int64_t{20}}) {
    for (int64_t dv : {64, 96}) {
      Kv s = MakeKv(TensorType::kF16, dv, n, rng);
      std::normal_distribution<float> d;
      std::vector<float> q(n * kHeads * kDk);
      for (auto& x : q) x = 2.0f * d(rng);
      // Sinks around the scores' range: some heads' sinks exceed every score (the rescale
      // branch), others fall below (the add branch).
      const std::vector<float> sinks = Sinks(rng, 6.0f);
      std::vector<int64_t> pos(n);
      for (int64_t i = 0; i < n; ++i) pos[i] = i;
      const int64_t row = kHeads * dv;
      std::vector<float> want(n * row);
      for (int64_t i = 0; i < n; ++i)
        for (int h = 0; h < kHeads; ++h) {
          auto o = GgmlWithSink(s, q.data() + i * kHeads * kDk, h, i, window, sinks[h]);
          std::memcpy(want.data() + i * row + h * dv, o.data(), dv * 4);
        }
      const PagedKv kv{s.blocks.data(), static_cast<int64_t>(s.blocks.size()), s.layout};
      for (Isa isa : SupportedIsas()) {
        for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
          AttentionParams ap{kHeads, 0, isa, p, true};
          ap.window = window;
          ap.sinks = sinks.data();
          std::vector<float> all(n * row), one(n * row);
          ASSERT_TRUE(PagedAttention(ap, kv, q.data(), kHeads * kDk, pos.data(), n, all.data(), row).ok());
          for (int64_t i = 0; i < n; ++i)
            ASSERT_TRUE(PagedAttention(ap, kv, q.data() + i * kHeads * kDk, 0, &pos[i], 1, one.data() + i * row, 0).ok());
          for (int64_t i = 0; i < n; ++i) {
            ASSERT_EQ(std::memcmp(all.data() + i * row, want.data() + i * row, row * 4), 0)
                << "window " << window << " dv " << dv << " " << IsaName(isa) << " pool " << (p != nullptr) << " query " << i;
            ASSERT_EQ(std::memcmp(one.data() + i * row, want.data() + i * row, row * 4), 0)
                << "window " << window << " dv " << dv << " " << IsaName(isa) << " single query " << i;
          }
        }
      }
    }
  }
}

// Both modes (llama.cpp order with f16 KV, f32 spans with f32 KV over several 512-token spans)
// against the definition; and the sink really takes probability mass away from the keys.
TEST(AttentionSinkTest, BothModesMatchDoubleSoftmaxWithSink) {
  std::mt19937 rng(32);
  struct Mode {
    TensorType type;
    bool llama;
    int64_t n;
    double tol;  // f16 rows and accumulators (~1e-3 relative) vs f32 throughout
  };
  for (const Mode& mode : {Mode{TensorType::kF16, true, 40, 2e-2}, Mode{TensorType::kF32, false, 1100, 2e-5}}) {
    const int64_t dv = 64;
    Kv s = MakeKv(mode.type, dv, mode.n, rng);
    std::normal_distribution<float> d;
    std::vector<float> q(kHeads * kDk);
    for (auto& x : q) x = d(rng);
    for (float q_scale : {1.0f, 0.0f}) {  // 0: flat scores, where a sink's share is exp(s) / (exp(s) + n)
      std::vector<float> qs = q;
      for (auto& x : qs) x *= q_scale;
      const std::vector<float> sinks = {-30.0f, -1.0f, 0.0f, 2.0f, 5.0f, 40.0f};
      for (Isa isa : SupportedIsas()) {
        AttentionParams ap{kHeads, 0, isa, nullptr, mode.llama};
        ap.sinks = sinks.data();
        const int64_t p = mode.n - 1;
        std::vector<float> out(kHeads * dv), plain(kHeads * dv);
        const PagedKv kv{s.blocks.data(), static_cast<int64_t>(s.blocks.size()), s.layout};
        ASSERT_TRUE(PagedAttention(ap, kv, qs.data(), 0, &p, 1, out.data(), 0).ok());
        ap.sinks = nullptr;
        ASSERT_TRUE(PagedAttention(ap, kv, qs.data(), 0, &p, 1, plain.data(), 0).ok());
        for (int h = 0; h < kHeads; ++h) {
          const std::vector<double> want = DoubleWithSink(s, qs.data(), h, p, 0, sinks[h]);
          double scale = 0.0;
          for (int64_t dd = 0; dd < dv; ++dd) scale = std::max(scale, std::fabs(double{plain[h * dv + dd]}));
          for (int64_t dd = 0; dd < dv; ++dd)
            ASSERT_NEAR(out[h * dv + dd], want[dd], mode.tol * std::max(scale, 1e-30))
                << IsaName(isa) << (mode.llama ? " llama" : " f32") << " q x" << q_scale << " head " << h << " dim " << dd;
        }
        // A sink of 40 leaves the keys ~e^-40 of the mass: the output all but vanishes.
        for (int64_t dd = 0; dd < dv; ++dd) EXPECT_LT(std::fabs(out[5 * dv + dd]), 1e-12f);
      }
    }
  }
}

TEST(AttentionSinkTest, MinusInfinitySinkIsNoSinkToTheBit) {
  std::mt19937 rng(33);
  for (TensorType type : {TensorType::kF16, TensorType::kQ8_0, TensorType::kF32}) {
    const int64_t n = 70, dv = 64;
    Kv s = MakeKv(type, dv, n, rng);
    std::normal_distribution<float> d;
    std::vector<float> q(n * kHeads * kDk);
    for (auto& x : q) x = d(rng);
    std::vector<int64_t> pos(n);
    for (int64_t i = 0; i < n; ++i) pos[i] = i;
    const std::vector<float> none(kHeads, -INFINITY);
    for (bool llama : {true, false}) {
      AttentionParams ap{kHeads, 0, ActiveIsa(), nullptr, llama};
      std::vector<float> a(n * kHeads * dv), b(n * kHeads * dv);
      const PagedKv kv{s.blocks.data(), static_cast<int64_t>(s.blocks.size()), s.layout};
      ASSERT_TRUE(PagedAttention(ap, kv, q.data(), kHeads * kDk, pos.data(), n, a.data(), kHeads * dv).ok());
      ap.sinks = none.data();
      ASSERT_TRUE(PagedAttention(ap, kv, q.data(), kHeads * kDk, pos.data(), n, b.data(), kHeads * dv).ok());
      EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0) << TensorTypeName(uint32_t(type)) << " llama " << llama;
    }
  }
}

}  // namespace
}  // namespace swarmkv
