#include "kernels/attention_cascade.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/kv_test_layout.h"
#include "kernels/quants.h"

namespace swarmkv {
namespace {

constexpr int kLayers = 2, kLayer = 1, kKvHeads = 2, kDk = 64, kB = 8;

// A layer view laid out by hand (kernels/kv_test_layout.h: V before K, rows padded by 16 bytes):
// the kernel is seen to read only the view's offsets and strides.
KvLayerLayout TestLayout(TensorType kt, TensorType vt, int heads, int64_t dk, int64_t dv, int block_tokens,
                         int layer, int64_t* layer_bytes) {
  *layer_bytes = testing_kv::LayerBytes(kt, vt, heads, dk, dv, block_tokens);
  return testing_kv::LayerView(kt, vt, heads, dk, dv, block_tokens, layer);
}

// Blocks of a test "memory": each allocated on its own, filled with random K/V rows.
struct Store {
  Store(TensorType kt, TensorType vt, int64_t dv, std::mt19937* r)
      : layout(TestLayout(kt, vt, kKvHeads, kDk, dv, kB, kLayer, &layer_bytes)), rng(r) {}
  int64_t layer_bytes = 0;
  KvLayerLayout layout;
  std::vector<std::unique_ptr<std::vector<uint8_t>>> blocks;
  std::mt19937* rng;

  // A new block holding `tokens` (<= B) random rows from slot 0; the rest stays garbage.
  const uint8_t* NewBlock(int tokens) {
    blocks.push_back(std::make_unique<std::vector<uint8_t>>(kLayers * layer_bytes, 0xCD));
    uint8_t* p = blocks.back()->data();
    std::normal_distribution<float> d;
    std::vector<float> k(kKvHeads * layout.head_dim_k), v(kKvHeads * layout.head_dim_v);
    for (int t = 0; t < tokens; ++t) {
      for (auto& x : k) x = 2.0f * d(*rng);
      for (auto& x : v) x = d(*rng);
      EXPECT_TRUE(WriteKvRow(layout, p, t, k.data(), v.data()).ok());
    }
    return p;
  }
};

struct Seq {
  std::vector<const uint8_t*> blocks;
  int64_t length = 0;
  std::vector<int64_t> positions;
  std::vector<float> q;
};

struct Case {
  TensorType kt, vt;
  bool llama;
  int64_t dv;
  bool sinks = false;  // gpt-oss's attention sinks (AttentionParams::sinks), one per head
};

std::string Describe(const Case& c, Isa isa, int heads, int threads) {
  return TensorTypeName(uint32_t(c.kt)) + "/" + TensorTypeName(uint32_t(c.vt)) + (c.llama ? " llama" : " f32") +
         (c.sinks ? " sinks" : "") +
         " Dv " + std::to_string(c.dv) + " " + std::string(IsaName(isa)) + " heads " + std::to_string(heads) +
         " threads " + std::to_string(threads);
}

// Random groups of sequences over shared prefix blocks (several groups per call, plus unrelated
// sequences), each with a private tail and a decode token or a prefill chunk — some of whose
// queries fall inside the shared blocks; the grouped call must give PagedAttention's bytes.
void CheckGroupedEqualsSolo(const Case& c, int trials, uint32_t seed) {
  std::mt19937 rng(seed);
  ThreadPool pool2(2), pool3(3);
  for (int trial = 0; trial < trials; ++trial) {
    Store store(c.kt, c.vt, c.dv, &rng);
    const int group_heads = std::uniform_int_distribution<int>(1, 4)(rng);
    const int heads = kKvHeads * group_heads;
    std::vector<Seq> seqs;
    const int n_groups = std::uniform_int_distribution<int>(1, 3)(rng);
    for (int g = 0; g < n_groups; ++g) {
      // Up to 40 shared blocks: 320 tokens, three of the f32 mode's 128-token spans.
      const int prefix_blocks = std::uniform_int_distribution<int>(0, 40)(rng);
      std::vector<const uint8_t*> prefix;
      for (int b = 0; b < prefix_blocks; ++b) prefix.push_back(store.NewBlock(kB));
      const int members = std::uniform_int_distribution<int>(1, 6)(rng);
      for (int m = 0; m < members; ++m) {
        Seq s;
        // Some members hold only part of the prefix (a shorter sequence of the same context).
        const int own_prefix = std::uniform_int_distribution<int>(0, 5)(rng) == 0
                                   ? std::uniform_int_distribution<int>(0, prefix_blocks)(rng)
                                   : prefix_blocks;
        s.blocks.assign(prefix.begin(), prefix.begin() + own_prefix);
        const int tail = std::uniform_int_distribution<int>(own_prefix == 0 ? 1 : 0, 30)(rng);
        for (int t = 0; t < tail; t += kB) s.blocks.push_back(store.NewBlock(std::min(kB, tail - t)));
        s.length = int64_t{own_prefix} * kB + tail;
        // Decode (one query at the last position) or a chunk of the last positions.
        const int64_t nq = std::uniform_int_distribution<int>(0, 2)(rng) == 0
                               ? std::min<int64_t>(s.length, std::uniform_int_distribution<int>(1, 12)(rng))
                               : 1;
        for (int64_t i = s.length - nq; i < s.length; ++i) s.positions.push_back(i);
        std::normal_distribution<float> d;
        s.q.resize(nq * heads * kDk);
        for (auto& x : s.q) x = d(rng);
        seqs.push_back(std::move(s));
      }
    }
    // Any order is correct; the sorted one is what the engine passes.
    std::vector<int> order(seqs.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    if (trial % 3 == 0) {
      std::shuffle(order.begin(), order.end(), rng);
    } else {
      std::vector<std::span<const uint8_t* const>> tables;
      for (const Seq& s : seqs) tables.emplace_back(s.blocks);
      order = OrderForSharedPrefix(tables).order;
    }
    const int64_t row = int64_t{heads} * c.dv;
    for (Isa isa : SupportedIsas()) {
      for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &pool2, &pool3}) {
        AttentionParams p;
        p.n_heads = heads;
        p.isa = isa;
        p.pool = pool;
        p.llama_cpp_f16_v = c.llama;
        const std::vector<float> sinks = {0.5f, -2.0f, 3.0f, 9.0f, -0.25f, 1.5f, 6.0f, -8.0f};
        if (c.sinks) p.sinks = sinks.data();
        std::vector<std::vector<float>> solo(seqs.size()), grouped(seqs.size());
        std::vector<AttentionSequence> call;
        for (int si : order) {
          const Seq& s = seqs[si];
          const int64_t nq = static_cast<int64_t>(s.positions.size());
          solo[si].assign(nq * row, -1.0f);
          grouped[si].assign(nq * row, -2.0f);
          PagedKv kv{s.blocks.data(), static_cast<int64_t>(s.blocks.size()), store.layout};
          ASSERT_TRUE(PagedAttention(p, kv, s.q.data(), heads * kDk, s.positions.data(), nq, solo[si].data(), row).ok());
          call.push_back({kv, s.q.data(), heads * kDk, s.positions.data(), nq, grouped[si].data(), row});
        }
        Status st = PagedAttentionShared(p, call);
        ASSERT_TRUE(st.ok()) << st.ToString();
        for (size_t si = 0; si < seqs.size(); ++si) {
          ASSERT_EQ(std::memcmp(solo[si].data(), grouped[si].data(), solo[si].size() * sizeof(float)), 0)
              << Describe(c, isa, heads, pool ? pool->num_threads() : 1) << " trial " << trial << " sequence " << si
              << " of " << seqs.size() << " (" << seqs[si].blocks.size() << " blocks, " << seqs[si].positions.size()
              << " queries)";
        }
      }
    }
  }
}

TEST(AttentionCascadeTest, LlamaCppModeF16GroupedEqualsSolo) {
  CheckGroupedEqualsSolo({TensorType::kF16, TensorType::kF16, true, 64}, 12, 1);
  CheckGroupedEqualsSolo({TensorType::kF16, TensorType::kF16, true, 32}, 6, 2);
}

TEST(AttentionCascadeTest, LlamaCppModeQ8KeysF16ValuesGroupedEqualsSolo) {
  CheckGroupedEqualsSolo({TensorType::kQ8_0, TensorType::kF16, true, 64}, 6, 3);
}

TEST(AttentionCascadeTest, F32ModeF16GroupedEqualsSolo) {
  CheckGroupedEqualsSolo({TensorType::kF16, TensorType::kF16, false, 64}, 10, 4);
}

TEST(AttentionCascadeTest, Q8KvGroupedEqualsSolo) {
  CheckGroupedEqualsSolo({TensorType::kQ8_0, TensorType::kQ8_0, false, 64}, 10, 5);
}

TEST(AttentionCascadeTest, F32AndBf16AndQ4KvGroupedEqualsSolo) {
  CheckGroupedEqualsSolo({TensorType::kF32, TensorType::kF32, false, 64}, 6, 6);
  CheckGroupedEqualsSolo({TensorType::kBF16, TensorType::kBF16, false, 32}, 4, 7);
  CheckGroupedEqualsSolo({TensorType::kQ4_0, TensorType::kQ4_0, false, 64}, 4, 8);
}

TEST(AttentionCascadeTest, AttentionSinksGroupedEqualsSolo) {
  CheckGroupedEqualsSolo({TensorType::kF16, TensorType::kF16, true, 64, true}, 8, 10);
  CheckGroupedEqualsSolo({TensorType::kF16, TensorType::kF16, false, 64, true}, 4, 11);
  CheckGroupedEqualsSolo({TensorType::kQ8_0, TensorType::kQ8_0, false, 64, true}, 4, 12);
}

TEST(AttentionCascadeTest, OrderPutsSharersTogetherAndGroupsByFirstBlock) {
  uint8_t m[8];
  const uint8_t *a = m, *b = m + 1, *c = m + 2, *d = m + 3, *e = m + 4;
  std::vector<std::vector<const uint8_t*>> t = {{c, d}, {a, b, e}, {}, {a, b}, {c}, {a, d}};
  std::vector<std::span<const uint8_t* const>> spans(t.begin(), t.end());
  SharedPrefixOrder o = OrderForSharedPrefix(spans);
  EXPECT_EQ(o.order, (std::vector<int>{2, 3, 1, 5, 4, 0}));
  EXPECT_EQ(o.groups, (std::vector<std::pair<int, int>>{{0, 1}, {1, 4}, {4, 6}}));
  EXPECT_EQ(SharedPrefixBlocks(t[1], t[3]), 2);
  EXPECT_EQ(SharedPrefixBlocks(t[1], t[5]), 1);
  EXPECT_EQ(SharedPrefixBlocks(t[0], t[1]), 0);
}

TEST(AttentionCascadeTest, BadInputIsAnError) {
  std::mt19937 rng(9);
  Store store(TensorType::kF16, TensorType::kF16, 64, &rng);
  std::vector<const uint8_t*> blocks{store.NewBlock(kB)};
  std::vector<float> q(2 * kDk), out(2 * 64);
  std::vector<int64_t> pos{kB};  // one past the only block
  AttentionParams p;
  p.n_heads = 2;
  std::vector<AttentionSequence> call{{PagedKv{blocks.data(), 1, store.layout}, q.data(), 2 * kDk, pos.data(), 1, out.data(), 128}};
  Status st = PagedAttentionShared(p, call);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  pos[0] = 3;
  EXPECT_TRUE(PagedAttentionShared(p, call).ok());
  call.push_back(call[0]);
  int64_t unused = 0;
  call[1].kv.layout = TestLayout(TensorType::kF16, TensorType::kF16, kKvHeads, kDk, 64, kB, 0, &unused);
  st = PagedAttentionShared(p, call);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  p.n_heads = 3;
  call.pop_back();
  st = PagedAttentionShared(p, call);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
}

}  // namespace
}  // namespace swarmkv
