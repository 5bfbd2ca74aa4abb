// Multi-threaded stress test of KvMemory, written to run under ThreadSanitizer
// (docs/memory.md: -DSWARMKV_TSAN=ON; label "tsan"). Worker threads play engine + scheduler on
// their own sequences over shared prompts (so they share, dedupe and copy-on-write each other's
// blocks) under a tight budget, verifying every row they can see; an operator thread reads
// stats, checks invariants, pins, evicts and restores evicted blocks concurrently.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include "memory/kv_memory.h"
#include "memory/kv_test_util.h"

namespace swarmkv {
namespace {

using testing::AppendTokens;
using testing::VerifySequence;

TEST(KvMemoryStressTest, ConcurrentSequencesShareSafely) {
  KvMemoryOptions o;
  o.budget_bytes = 96 * 4096;
  o.retain_free_bytes = 8 * 4096;
  auto created = KvMemory::Create(std::move(o));
  ASSERT_TRUE(created.ok());
  KvMemory& mem = **created;
  const Hash128 ns_ids[2] = {{7, 1}, {7, 2}};
  const uint64_t salts[2] = {11, 22};
  std::vector<KvLayout> layouts;
  for (int i = 0; i < 2; ++i) {
    NamespaceOptions n;
    n.id = ns_ids[i];
    n.name = "stress" + std::to_string(i);
    n.shape.num_layers = 2 + i;
    n.shape.num_kv_heads = 2;
    n.shape.head_dim_k = n.shape.head_dim_v = 32;
    n.shape.block_tokens = 4 * (i + 1);
    ASSERT_TRUE(mem.RegisterNamespace(n).ok());
    layouts.push_back(*mem.Layout(ns_ids[i]));
  }
  struct Saved {
    int ns;
    BlockId parent;
    std::vector<int32_t> tokens;
    std::vector<uint8_t> kv;
  };
  std::mutex saved_mu;
  std::vector<Saved> saved;
  mem.SetEvictionHook([&](const SealedBlockView& e) {
    std::lock_guard<std::mutex> lock(saved_mu);
    if (saved.size() < 64) {
      saved.push_back({e.namespace_id == ns_ids[0] ? 0 : 1, e.parent, {e.tokens.begin(), e.tokens.end()},
                       {e.kv_bytes.begin(), e.kv_bytes.end()}});
    }
  });

  constexpr int kWorkers = 4;
  constexpr int kIterations = 1000;
  std::atomic<bool> done{false};
  std::atomic<int> failures{0}, exhausted{0};
  auto worker = [&](int w) {
    std::mt19937 rng(static_cast<uint32_t>(w * 7919 + 1));
    for (int it = 0; it < kIterations; ++it) {
      const int ns = static_cast<int>(rng() % 2);
      std::vector<int32_t> prompt;
      const int stem = static_cast<int>(rng() % 3);
      for (int i = 0; i < 24; ++i) prompt.push_back(stem * 100 + i);
      for (int i = static_cast<int>(rng() % 10); i > 0; --i) prompt.push_back(static_cast<int32_t>(rng() % 3));
      auto seq = mem.CreateSequence(ns_ids[ns]);
      if (!seq.ok()) { ++failures; continue; }
      auto m = mem.AttachPrefix(*seq, prompt);
      if (!m.ok()) { ++failures; continue; }
      std::vector<int32_t> have(prompt.begin(), prompt.begin() + m->matched_tokens);
      std::vector<int32_t> rest(prompt.begin() + m->matched_tokens, prompt.end());
      Status st = AppendTokens(mem, *seq, layouts[ns], salts[ns], rest, false);
      if (st.ok()) {
        have = prompt;
        std::vector<int32_t> more{static_cast<int32_t>(rng() % 5), 9, 9};
        if (AppendTokens(mem, *seq, layouts[ns], salts[ns], more, false).ok()) have.insert(have.end(), more.begin(), more.end());
      } else if (st.code() == StatusCode::kResourceExhausted) {
        ++exhausted;
      } else {
        ++failures;
      }
      if (!VerifySequence(mem, *seq, layouts[ns], salts[ns], have)) ++failures;
      auto fork = mem.Fork(*seq);
      if (fork.ok()) {
        std::vector<int32_t> branch = have;
        branch.push_back(1000 + w);
        if (AppendTokens(mem, *fork, layouts[ns], salts[ns], std::vector<int32_t>{1000 + w}, false).ok()) {
          if (!VerifySequence(mem, *fork, layouts[ns], salts[ns], branch)) ++failures;
        }
        if (!mem.Truncate(*fork, static_cast<int64_t>(have.size() / 2)).ok()) ++failures;
        if (!mem.Release(*fork).ok()) ++failures;
      }
      if (!VerifySequence(mem, *seq, layouts[ns], salts[ns], have)) ++failures;
      if (!mem.Release(*seq).ok()) ++failures;
    }
  };
  std::thread op([&] {
    std::mt19937 rng(99);
    int i = 0;
    while (!done.load()) {
      if (!mem.CheckInvariants().ok()) ++failures;
      (void)mem.Stats();
      if (++i % 4 == 0) (void)mem.DebugString();
      std::vector<int32_t> sys;
      for (int t = 0; t < 16; ++t) sys.push_back(t);
      if (!mem.PinPrefix("sys", ns_ids[0], sys, 1'000'000).ok()) ++failures;
      mem.EvictCached(4096 * (rng() % 3));
      Saved s;
      {
        std::lock_guard<std::mutex> lock(saved_mu);
        if (!saved.empty()) s = saved[rng() % saved.size()];
      }
      if (!s.tokens.empty()) {
        auto r = mem.InsertSealedBlock(ns_ids[s.ns], s.parent, s.tokens, s.kv);
        if (!r.ok() && r.status().code() != StatusCode::kResourceExhausted) ++failures;
      }
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) workers.emplace_back(worker, w);
  for (auto& t : workers) t.join();
  done = true;
  op.join();
  EXPECT_EQ(failures.load(), 0);
  Status inv = mem.CheckInvariants();
  EXPECT_TRUE(inv.ok()) << inv.ToString();
  const MemoryStats st = mem.Stats();
  int64_t hits = 0;
  for (const auto& n : st.namespaces) {
    EXPECT_EQ(n.blocks_in_use, 0);
    hits += n.prefix_tokens_hit;
  }
  EXPECT_GT(hits, 0) << "workers shared prompts: some prefixes must have been reused";
}

}  // namespace
}  // namespace swarmkv
