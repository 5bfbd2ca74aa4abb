// Shared pieces of the recurrent-model exactness tests (hybrid_test.cc: LFM2, granitehybrid_test.cc:
// Granite 4.0 H, mamba2_test.cc: pure Mamba-2): a synthetic model file made once per process, a
// fixed prompt, logits from scratch, a run whose prefix comes from the cache's checkpoints, and
// every split point with the checkpoints restored from a tier (disk, Redis) after a "restart".
//
// Invariant the helpers check on every run with a split: the match is whole blocks with the
// recurrent state of the last one (empty only when nothing matched), and every sequence they
// open is released and forgotten by the forward pass, so a fixture serves many runs.
#pragma once

#include <gtest/gtest.h>

#include <cstring>

#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/sysinfo.h"
#include "base/testing.h"
#include "engine_fixture.h"
#include "exactness_checks.h"
#include "model/synthetic_model.h"
#include "redis_server.h"
#include "tiers/disk_backend.h"
#include "tiers/memory_bridge.h"
#include "tiers/redis_backend.h"
#include "tiers/tier_manager.h"

namespace swarmkv::testing {

// The synthetic `shape` in `type` (seed 19), written once per process and type.
inline std::string SyntheticModelOnce(const std::string& shape, TensorType type) {
  static std::map<std::pair<std::string, TensorType>, std::string> paths;
  auto [it, fresh] = paths.try_emplace({shape, type});
  if (fresh) {
    SyntheticModelOptions o;
    o.shape = shape;
    o.type = type;
    o.seed = 19;
    it->second = TempDir() + "/" + shape + "-" + TensorTypeName(static_cast<uint32_t>(type)) + ".gguf";
    EXPECT_TRUE(MakeSyntheticModel(o, it->second).ok());
  }
  return it->second;
}

// A fixed prompt of `n` ids below 2700 (every tiny vocabulary is larger).
inline std::vector<int32_t> HybridPrompt(size_t n = 100) {
  std::vector<int32_t> p;
  for (size_t i = 0; i < n; ++i) p.push_back(static_cast<int32_t>((i * 613 + 17) % 2700));
  return p;
}

// Logits of `prompt` computed from scratch in one step on a fresh sequence (its blocks stay cached).
inline std::vector<float> FromScratch(EngineFixture& f, const std::vector<int32_t>& prompt) {
  auto seq = f.memory->CreateSequence(f.ns);
  EXPECT_TRUE(seq.ok());
  auto logits = f.Feed(*seq, prompt, 1 << 20);
  EXPECT_TRUE(logits.ok()) << logits.status().ToString();
  EXPECT_TRUE(f.memory->Release(*seq).ok());
  f.forward->ForgetSequence(*seq);
  return logits.ok() ? *logits : std::vector<float>{};
}

// A new sequence whose first `split` tokens come from the cache as far as checkpoints allow
// (whole blocks), the rest of them and then the remainder computed in two steps.
struct SplitRun {
  int64_t matched = 0;
  std::vector<float> logits;
};
inline SplitRun RunWithSplit(EngineFixture& f, const std::vector<int32_t>& prompt, int64_t split) {
  SplitRun r;
  auto seq = f.memory->CreateSequence(f.ns);
  EXPECT_TRUE(seq.ok());
  auto match = f.memory->AttachPrefix(*seq, std::span<const int32_t>(prompt).first(split));
  EXPECT_TRUE(match.ok()) << match.status().ToString();
  if (!match.ok()) return r;
  r.matched = match->matched_tokens;
  EXPECT_EQ(match->partial_tokens, 0);
  EXPECT_EQ(match->recurrent_state.empty(), r.matched == 0);
  EXPECT_TRUE(f.forward->SetRecurrentState(*seq, match->recurrent_state).ok());
  const std::span<const int32_t> all(prompt);
  if (split > r.matched) {
    EXPECT_TRUE(f.Feed(*seq, all.subspan(r.matched, split - r.matched), 1 << 20).ok());
  }
  auto logits = f.Feed(*seq, all.subspan(split), 1 << 20);
  EXPECT_TRUE(logits.ok()) << logits.status().ToString();
  if (logits.ok()) r.logits = *logits;
  EXPECT_TRUE(f.memory->Release(*seq).ok());
  f.forward->ForgetSequence(*seq);
  return r;
}

// The checkpoint matters, so the exactness checks can fail: a sequence that attaches `prompt`'s
// cached whole blocks (96 tokens of a 100-token prompt) fails with FailedPrecondition when fed
// without a recurrent state, and with a zero state gives logits other than from scratch; a state
// of the wrong size is refused (InvalidArgument).
inline void ExpectTheCheckpointIsNeeded(EngineFixture& f, const std::vector<int32_t>& prompt) {
  const std::vector<float> ref = FromScratch(f, prompt);
  auto seq = f.memory->CreateSequence(f.ns);
  ASSERT_TRUE(seq.ok());
  auto match = f.memory->AttachPrefix(*seq, std::span<const int32_t>(prompt).first(prompt.size() - 1));
  ASSERT_TRUE(match.ok());
  ASSERT_EQ(match->matched_tokens, 96);
  // Without SetRecurrentState a sequence past position 0 has no state: a clear error.
  auto no_state = f.Feed(*seq, std::span<const int32_t>(prompt).subspan(96), 64);
  EXPECT_EQ(no_state.status().code(), StatusCode::kFailedPrecondition) << no_state.status().ToString();
  ASSERT_TRUE(f.forward->SetRecurrentState(*seq, {}).ok());  // zeros instead of the checkpoint
  auto zeros = f.Feed(*seq, std::span<const int32_t>(prompt).subspan(96), 64);
  ASSERT_TRUE(zeros.ok()) << zeros.status().ToString();
  EXPECT_FALSE(SameBytes(ref, *zeros)) << "the recurrent state has no effect: the exactness checks would prove nothing";
  ASSERT_TRUE(f.memory->Release(*seq).ok());
  EXPECT_EQ(f.forward->SetRecurrentState(*seq, std::vector<uint8_t>(5)).code(), StatusCode::kInvalidArgument);
  f.forward->ForgetSequence(*seq);
}

// The prefix a split at `split` can continue from: whole blocks, rolled back to the last block
// that carries a checkpoint (every `interval`-th block).
inline int64_t CheckpointedMatch(int64_t split, int64_t block_tokens, int32_t interval) {
  return split / (block_tokens * interval) * (block_tokens * interval);
}

// Every split point of `prompt` with its prefix from this fixture's own memory (RAM): the match
// is the whole blocks up to the last checkpoint (every `interval`-th block) and the logits are
// byte-equal to computing `prompt` from scratch.
inline void ExpectEverySplitExactFromRam(EngineFixture& f, const std::vector<int32_t>& prompt,
                                         int32_t interval = 1, const std::string& label = "") {
  const int64_t block = f.memory->Layout(f.ns)->block_tokens();
  const std::vector<float> ref = FromScratch(f, prompt);
  for (int64_t split = 1; split < static_cast<int64_t>(prompt.size()); ++split) {
    const SplitRun r = RunWithSplit(f, prompt, split);
    ASSERT_EQ(r.matched, CheckpointedMatch(split, block, interval)) << label << " split " << split;
    ASSERT_TRUE(SameBytes(ref, r.logits)) << label << " split " << split << " (" << r.matched << " from the cache)";
  }
  EXPECT_TRUE(f.memory->CheckInvariants().ok());
}

// Every split point of `prompt` with its prefix restored from a tier "after a restart": one
// fixture computes the prompt and flushes every block to `open_backend()`'s storage; a fresh
// fixture (new KvMemory, new manager, the same storage) restores each split's whole blocks from
// the tier alone, continues from the last checkpoint among them and must give `ref`-equal logits
// (`ref`: from scratch, filled by the first run). Returns the stored entry bytes read to restore
// the longest prefix (what the tier holds for it), for the caller to compare intervals.
inline uint64_t EverySplitFromTierIsExact(const std::function<Result<std::unique_ptr<EngineFixture>>()>& load,
                                          const std::function<std::unique_ptr<TierBackend>()>& open_backend,
                                          const std::vector<int32_t>& prompt, int32_t interval, const std::string& label) {
  std::vector<float> ref;
  int64_t block = 0;
  {
    auto fx = load();
    EXPECT_TRUE(fx.ok()) << fx.status().ToString();
    if (!fx.ok()) return 0;
    block = (*fx)->memory->Layout((*fx)->ns)->block_tokens();
    auto backend = open_backend();
    TierManagerOptions to;
    to.tiers = {TierSpec{backend.get(), true}};
    TierManager tiers(to);
    ConnectTiers((*fx)->memory.get(), &tiers);
    ref = FromScratch(**fx, prompt);
    const FlushReport flush = FlushMemoryToTiers(*(*fx)->memory, tiers, MonotonicNanos() + 30'000'000'000);
    EXPECT_TRUE(flush.drained) << label;
    (*fx)->memory->SetEvictionHook(nullptr);
    EXPECT_EQ(tiers.stats().tiers[0].written, static_cast<int64_t>(prompt.size()) / block) << label;
  }
  auto fx = load();
  EXPECT_TRUE(fx.ok()) << fx.status().ToString();
  if (!fx.ok()) return 0;
  EngineFixture& f = **fx;
  auto backend = open_backend();
  TierManagerOptions to;
  to.tiers = {TierSpec{backend.get(), false}};
  TierManager tiers(to);
  uint64_t longest_bytes = 0;
  for (int64_t split = 1; split < static_cast<int64_t>(prompt.size()); ++split) {
    const uint64_t before = tiers.stats().tiers[0].bytes_read;
    auto restored = RestorePrefix(*f.memory, tiers, f.ns, std::span<const int32_t>(prompt).first(split));
    EXPECT_TRUE(restored.ok()) << restored.status().ToString();
    if (!restored.ok()) return 0;
    EXPECT_EQ(restored->restored_blocks, split / block) << label << " split " << split;
    longest_bytes = tiers.stats().tiers[0].bytes_read - before;
    const SplitRun r = RunWithSplit(f, prompt, split);
    EXPECT_EQ(r.matched, CheckpointedMatch(split, block, interval)) << label << " split " << split;
    EXPECT_TRUE(r.logits.size() == ref.size() && std::memcmp(r.logits.data(), ref.data(), ref.size() * sizeof(float)) == 0)
        << label << " split " << split << " (" << r.matched << " tokens restored with their checkpoint)";
    if (::testing::Test::HasFailure()) return 0;
    f.memory->EvictCached(~0ull);  // the next split restores from the tier again
  }
  EXPECT_TRUE(f.memory->CheckInvariants().ok());
  return longest_bytes;
}

// EverySplitFromTierIsExact for `model_path` with a checkpoint in every block (the fixture's
// default interval).
inline void ExpectEverySplitExactFromTier(const std::string& model_path,
                                          const std::function<std::unique_ptr<TierBackend>()>& open_backend,
                                          const char* label, const std::vector<int32_t>& prompt) {
  EverySplitFromTierIsExact([&] { return EngineFixture::Load(model_path, TensorType::kF16); }, open_backend, prompt, 1,
                            label);
}

// The two tiers the exactness checks restore from: a disk directory, and a real redis-server
// this call starts (the test is skipped, saying why, when there is none).
inline void ExpectEverySplitExactFromDisk(const std::string& model_path, const std::string& dir, const char* label,
                                          const std::vector<int32_t>& prompt) {
  ExpectEverySplitExactFromTier(
      model_path,
      [&] {
        DiskBackendOptions o;
        o.dir = dir;
        o.capacity_bytes = 64 << 20;
        return std::unique_ptr<TierBackend>(DiskBackend::Open(o).value());
      },
      label, prompt);
}

inline void ExpectEverySplitExactFromRedis(const std::string& model_path, const char* label,
                                           const std::vector<int32_t>& prompt) {
  std::string why;
  auto server = RedisServer::Start(&why);
  if (!server) GTEST_SKIP() << "no redis-server for this test: " << why;
  const std::string url = server->url();
  ExpectEverySplitExactFromTier(
      model_path,
      [&] {
        RedisBackendOptions o;
        o.url = url;
        o.backoff_min_ms = 20;
        o.backoff_max_ms = 200;
        return std::unique_ptr<TierBackend>(RedisBackend::Open(o).value());
      },
      label, prompt);
}

}  // namespace swarmkv::testing
