// Context beyond RAM with a real model (stories260K), the real KvMemory and real cold files:
//   - a sequence whose context is several times --kv-memory completes (--kv-hot-window: older
//     blocks go to disk and attention streams them back), its reply byte-identical to the same
//     request with an ample budget and no window; two such sequences at once likewise;
//   - the disk full while blocks should go cold: that sequence fails alone with the disk error
//     (never a corrupt reply), a concurrent request completes identical to alone;
//   - cold blocks that cannot be read back: that sequence fails alone with the read error;
//   - preemption both ways (forced swap to the cold file, forced recompute) and by the cost model,
//     with and without a hot window: every reply byte-identical to the request alone with an ample budget; a swap
//     whose writes fail (disk full) or whose blocks cannot be read back is recomputed, never lost;
//   - cold blocks exported as disk-tier entries are restored by a later "process" (a new memory,
//     runner and tier manager over the same directory) and reused, the reply identical.
#include <gtest/gtest.h>

#include "base/testing.h"
#include "base/thread_pool.h"
#include "scheduler_engine.h"
#include "tiers/disk_backend.h"
#include "tiers/fault_env.h"
#include "tiers/memory_bridge.h"
#include "tiers/tier_manager.h"

namespace swarmkv {
namespace {

constexpr int32_t kBlockTokens = 32;
constexpr int32_t kStepTokens = 64;
constexpr int64_t kHotWindow = 64;

using Engine = testing::SchedulerEngine;
using Reply = testing::CollectingReply;

// hot_window 0: the unconstrained reference (every block in RAM).
std::unique_ptr<Engine> MakeEngine(const std::string& path, uint64_t budget_bytes, int64_t hot_window, ThreadPool* pool,
                                   ColdKvFaults* faults = nullptr,
                                   PreemptionMode preemption = PreemptionMode::kCostModel,
                                   EvictionHook export_cold_block = nullptr) {
  LlamaRunnerOptions ro;
  ro.block_tokens = kBlockTokens;
  ro.pool = pool;
  ro.kv_hot_window_tokens = hot_window;
  ro.cold_dir = testing::TempDir("beyond-ram");
  ro.cold_faults = faults;
  ro.export_cold_block = std::move(export_cold_block);
  SchedulerOptions so;
  so.max_step_tokens = kStepTokens;
  so.preemption = preemption;
  return testing::MakeSchedulerEngine(path, budget_bytes, ro, so);
}

std::vector<int32_t> Context(int seed, int tokens, int32_t vocab) { return testing::RandomPrompt(500 + seed, tokens, vocab); }

GenerationRequest Request(const std::vector<int32_t>& prompt, int max_new, int seed) {
  return testing::SampledRequest(prompt, max_new, 11 + seed);
}

std::shared_ptr<Reply> Serve(Engine* e, const GenerationRequest& r) {
  auto reply = std::make_shared<Reply>();
  EXPECT_TRUE(e->scheduler->Submit(r, reply).ok());
  EXPECT_TRUE(reply->Wait(600));
  return reply;
}

// A budget holding `sequences` sequences' hot windows, one step's chunk and a partial tail each.
uint64_t WindowBudget(const Engine& probe, int sequences) {
  const uint64_t block = probe.runner->kv_capacity().block_bytes;
  const uint64_t per = (kHotWindow + kStepTokens) / kBlockTokens + 1;
  return (sequences * per + 1) * block;
}

TEST(BeyondRamTest, ContextsLargerThanKvMemoryMatchTheUnconstrainedRun) {
  const std::string path = SKV_REQUIRE_SHARED("models/stories260K.gguf");
  ThreadPool pool(2);
  auto ample = MakeEngine(path, 64ull << 20, 0, &pool);
  const int32_t vocab = ample->runner->vocab_size();
  const int ctx = ample->runner->context_length();
  const int prompt_tokens = ctx - 140, max_new = 120;
  std::vector<GenerationRequest> reqs{Request(Context(0, prompt_tokens, vocab), max_new, 0),
                                      Request(Context(1, prompt_tokens - 37, vocab), max_new, 1)};
  std::vector<std::shared_ptr<Reply>> alone;
  for (const auto& r : reqs) {
    alone.push_back(Serve(ample.get(), r));
    ASSERT_TRUE(alone.back()->status.ok()) << alone.back()->status.ToString();
  }
  const uint64_t context_bytes = static_cast<uint64_t>((prompt_tokens + max_new) / kBlockTokens + 1) *
                                 ample->runner->kv_capacity().block_bytes;
  const uint64_t budget = WindowBudget(*ample, 2);
  ample.reset();
  ASSERT_LT(budget * 2, context_bytes * 2) << "the budget must be smaller than the contexts";

  // Without a window the same budget refuses the request up front.
  {
    auto no_window = MakeEngine(path, WindowBudget(*MakeEngine(path, 1 << 20, 0, &pool), 1), 0, &pool);
    auto reply = std::make_shared<Reply>();
    EXPECT_EQ(no_window->scheduler->Submit(reqs[0], reply).status().code(), StatusCode::kInvalidArgument);
  }

  auto e = MakeEngine(path, WindowBudget(*MakeEngine(path, 1 << 20, 0, &pool), 1), kHotWindow, &pool);
  auto one = Serve(e.get(), reqs[0]);
  ASSERT_TRUE(one->status.ok()) << one->status.ToString();
  EXPECT_EQ(one->tokens, alone[0]->tokens);
  EXPECT_EQ(one->text, alone[0]->text);
  const ColdKvStats st = e->runner->cold_kv()->stats();
  EXPECT_GT(st.blocks_written, (prompt_tokens - kHotWindow) / kBlockTokens - 2);
  EXPECT_GT(st.stream.slices_read, 0);
  EXPECT_EQ(st.stream.read_errors, 0);
  EXPECT_EQ(st.blocks_cold, 0) << "cold blocks outlive their finished sequence";
  EXPECT_LE(e->memory->Stats().used_bytes, e->memory->budget_bytes());
  EXPECT_TRUE(e->memory->CheckInvariants().ok());
  std::printf("one sequence of %d tokens in a %llu-byte budget: %lld blocks went cold, %lld slices streamed\n",
              prompt_tokens + max_new, static_cast<unsigned long long>(e->memory->budget_bytes()),
              static_cast<long long>(st.blocks_written), static_cast<long long>(st.stream.slices_read));
  e.reset();

  // Two at once, each far beyond the budget's share.
  auto two = MakeEngine(path, budget, kHotWindow, &pool);
  std::vector<std::shared_ptr<Reply>> got;
  for (const auto& r : reqs) {
    got.push_back(std::make_shared<Reply>());
    ASSERT_TRUE(two->scheduler->Submit(r, got.back()).ok());
  }
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(got[i]->Wait(600));
    ASSERT_TRUE(got[i]->status.ok()) << got[i]->status.ToString();
    EXPECT_EQ(got[i]->tokens, alone[i]->tokens) << "sequence " << i;
    EXPECT_EQ(got[i]->text, alone[i]->text) << "sequence " << i;
  }
  EXPECT_TRUE(two->memory->CheckInvariants().ok());
}

enum class Fault { kDiskFull, kReadsFail };

void FaultFailsOnlyThatSequence(Fault fault) {
  const std::string path = SKV_REQUIRE_SHARED("models/stories260K.gguf");
  ThreadPool pool(2);
  auto ample = MakeEngine(path, 64ull << 20, 0, &pool);
  const int32_t vocab = ample->runner->vocab_size();
  const int ctx = ample->runner->context_length();
  const GenerationRequest long_req = Request(Context(2, ctx - 100, vocab), 60, 2);
  const GenerationRequest short_req = Request(Context(3, 40, vocab), 24, 3);
  auto short_alone = Serve(ample.get(), short_req);
  ASSERT_TRUE(short_alone->status.ok());
  const uint64_t budget = WindowBudget(*ample, 2);
  ample.reset();

  ColdKvFaults faults;
  if (fault == Fault::kDiskFull) faults.fail_writes = true;
  if (fault == Fault::kReadsFail) faults.fail_reads = true;
  auto e = MakeEngine(path, budget, kHotWindow, &pool, &faults);
  auto long_reply = std::make_shared<Reply>();
  auto short_reply = std::make_shared<Reply>();
  ASSERT_TRUE(e->scheduler->Submit(long_req, long_reply).ok());
  ASSERT_TRUE(e->scheduler->Submit(short_req, short_reply).ok());
  ASSERT_TRUE(long_reply->Wait(600));
  ASSERT_TRUE(short_reply->Wait(600));
  ASSERT_FALSE(long_reply->status.ok()) << "the long sequence cannot have completed without its cold blocks";
  const std::string msg = long_reply->status.ToString();
  if (fault == Fault::kDiskFull) {
    EXPECT_NE(msg.find("could not be moved to disk"), std::string::npos) << msg;
    EXPECT_NE(msg.find("No space left on device"), std::string::npos) << msg;
  } else {
    EXPECT_NE(msg.find("Input/output error"), std::string::npos) << msg;
  }
  ASSERT_TRUE(short_reply->status.ok()) << short_reply->status.ToString();
  EXPECT_EQ(short_reply->tokens, short_alone->tokens);
  EXPECT_EQ(short_reply->text, short_alone->text);
  EXPECT_TRUE(e->memory->CheckInvariants().ok());
  const ColdKvStats st = e->runner->cold_kv()->stats();
  if (fault == Fault::kDiskFull) {
    EXPECT_GT(st.write_errors, 0);
  } else {
    EXPECT_GT(st.stream.read_errors, 0);
  }
}

TEST(BeyondRamTest, DiskFullWhileBlocksShouldGoColdFailsThatSequenceAloneClearly) { FaultFailsOnlyThatSequence(Fault::kDiskFull); }
TEST(BeyondRamTest, ColdBlocksThatCannotBeReadFailThatSequenceAloneClearly) { FaultFailsOnlyThatSequence(Fault::kReadsFail); }

enum class SwapFault { kNone, kWritesFail, kReadsFail };

// Agents whose answers outgrow a budget for two: preempted either way (forced), with or without a
// hot window, every reply equals the request served alone with an ample budget.
void PreemptAndCompare(PreemptionMode mode, int64_t window, SwapFault fault) {
  const std::string path = SKV_REQUIRE_SHARED("models/stories260K.gguf");
  constexpr int kAgents = 5, kPrompt = 200, kNew = 100;
  ThreadPool pool(2);
  auto ample = MakeEngine(path, 64ull << 20, 0, &pool);
  const int32_t vocab = ample->runner->vocab_size();
  std::vector<GenerationRequest> reqs;
  for (int a = 0; a < kAgents; ++a) reqs.push_back(Request(Context(40 + a, kPrompt, vocab), kNew, 40 + a));
  std::vector<std::shared_ptr<Reply>> alone;
  for (const auto& r : reqs) {
    alone.push_back(Serve(ample.get(), r));
    ASSERT_TRUE(alone.back()->status.ok()) << alone.back()->status.ToString();
  }
  const uint64_t block = ample->runner->kv_capacity().block_bytes;
  // Two at full size, or (with a window) two at their hot size.
  const int64_t per = window > 0 ? (window + kStepTokens) / kBlockTokens + 1 : (kPrompt + kNew) / kBlockTokens + 1;
  const uint64_t budget = (2 * static_cast<uint64_t>(per) + 1) * block;
  ample.reset();

  ColdKvFaults faults;
  faults.fail_writes = fault == SwapFault::kWritesFail;
  faults.fail_reads = fault == SwapFault::kReadsFail;
  auto e = MakeEngine(path, budget, window, &pool, &faults, mode);
  std::vector<std::shared_ptr<Reply>> got;
  for (const auto& r : reqs) {
    got.push_back(std::make_shared<Reply>());
    ASSERT_TRUE(e->scheduler->Submit(r, got.back()).ok());
  }
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(got[i]->Wait(600)) << "request " << i << " was lost";
    ASSERT_TRUE(got[i]->status.ok()) << "request " << i << ": " << got[i]->status.ToString();
    EXPECT_EQ(got[i]->tokens, alone[i]->tokens) << "request " << i;
    EXPECT_EQ(got[i]->text, alone[i]->text) << "request " << i;
  }
  const Scheduler::Counters c = e->scheduler->counters();
  EXPECT_GT(c.preemptions, 0) << "nothing was preempted: the test does not test it";
  const ColdKvStats st = e->runner->cold_kv()->stats();
  switch (fault) {
    case SwapFault::kNone:
      if (mode == PreemptionMode::kCostModel) break;  // either choice; the output is what is checked
      if (mode == PreemptionMode::kSwap) {
        EXPECT_GT(c.preemptions_swapped, 0);  // (a victim without a full block is just closed)
        EXPECT_GT(st.blocks_swapped, 0);
        EXPECT_GT(st.stream.slices_read, 0) << "swapped blocks were never streamed back";
      } else {
        EXPECT_EQ(c.preemptions_swapped, 0);
        EXPECT_EQ(st.blocks_swapped, 0);
      }
      break;
    case SwapFault::kWritesFail:
      EXPECT_GT(c.swap_failures, 0);
      EXPECT_EQ(c.preemptions_swapped, 0);
      break;
    case SwapFault::kReadsFail:
      EXPECT_GT(c.preemptions_swapped, 0);
      EXPECT_GT(c.swap_read_failures, 0);
      EXPECT_GT(st.stream.read_errors, 0);
      break;
  }
  EXPECT_EQ(st.blocks_cold, 0) << "cold blocks outlive their finished sequences";
  EXPECT_TRUE(e->memory->CheckInvariants().ok());
  // The cost model's inputs are measured by the run itself.
  EXPECT_GT(e->runner->prefill_tokens_per_second(), 0);
  if (st.blocks_written > 0 && fault != SwapFault::kWritesFail) {
    EXPECT_GT(st.write_bytes_per_second, 0);
  }
  if (st.stream.slices_read > 0) {
    EXPECT_GT(st.read_bytes_per_second, 0);
  }
  std::printf("preemption mode %d, window %lld, fault %d: %lld preemptions (%lld swapped, %lld swap failures, %lld "
              "read failures), %lld tokens recomputed, %lld blocks swapped, %lld slices streamed\n",
              static_cast<int>(mode), static_cast<long long>(window), static_cast<int>(fault),
              static_cast<long long>(c.preemptions), static_cast<long long>(c.preemptions_swapped),
              static_cast<long long>(c.swap_failures), static_cast<long long>(c.swap_read_failures),
              static_cast<long long>(c.tokens_recomputed), static_cast<long long>(st.blocks_swapped),
              static_cast<long long>(st.stream.slices_read));
}

TEST(BeyondRamTest, PreemptionBySwapIsIdenticalToUnpressured) { PreemptAndCompare(PreemptionMode::kSwap, 0, SwapFault::kNone); }
TEST(BeyondRamTest, PreemptionByRecomputeIsIdenticalToUnpressured) {
  PreemptAndCompare(PreemptionMode::kRecompute, 0, SwapFault::kNone);
}
TEST(BeyondRamTest, PreemptionBySwapWithAHotWindowIsIdenticalToUnpressured) {
  PreemptAndCompare(PreemptionMode::kSwap, kHotWindow, SwapFault::kNone);
}
TEST(BeyondRamTest, PreemptionByRecomputeWithAHotWindowIsIdenticalToUnpressured) {
  PreemptAndCompare(PreemptionMode::kRecompute, kHotWindow, SwapFault::kNone);
}
TEST(BeyondRamTest, PreemptionByTheCostModelIsIdenticalToUnpressured) {
  PreemptAndCompare(PreemptionMode::kCostModel, kHotWindow, SwapFault::kNone);
}
TEST(BeyondRamTest, DiskFullWhileSwappingOutMeansRecomputeNeverLoss) {
  PreemptAndCompare(PreemptionMode::kSwap, 0, SwapFault::kWritesFail);
}
TEST(BeyondRamTest, SwappedKvThatCannotBeReadBackIsRecomputedNeverLost) {
  PreemptAndCompare(PreemptionMode::kSwap, 0, SwapFault::kReadsFail);
}

// Context across a restart: the blocks that went cold were also queued as ordinary disk-tier
// entries; a later process (new memory, runner and tier manager over the same directory) restores
// them before admission and reuses them, its reply identical to the first one. With the disk tier
// full (the fault-injecting Env) nothing survives, and the later process recomputes — identical.
void ColdBlocksAcrossARestart(bool disk_full) {
  const std::string path = SKV_REQUIRE_SHARED("models/stories260K.gguf");
  ThreadPool pool(2);
  const std::string dir = testing::TempDir("cold-restart");
  GenerationRequest req;
  std::shared_ptr<Reply> first;
  int64_t exported = 0;
  {
    FaultEnv env(Env::Default());
    env.SetDiskFull(disk_full);
    DiskBackendOptions dopts;
    dopts.dir = dir;
    dopts.env = &env;
    dopts.write_pause_after_failure_ms = 0;
    auto disk = DiskBackend::Open(dopts).value();
    TierManagerOptions tmo;
    tmo.tiers = {{disk.get(), true}};
    TierManager tm(tmo);
    auto probe = MakeEngine(path, 1 << 20, 0, &pool);
    req = Request(Context(7, probe->runner->context_length() - 100, probe->runner->vocab_size()), 40, 7);
    const uint64_t budget = WindowBudget(*probe, 1);
    probe.reset();
    auto e = MakeEngine(path, budget, kHotWindow, &pool, nullptr, PreemptionMode::kCostModel, TierWriteHook(&tm));
    first = Serve(e.get(), req);
    ASSERT_TRUE(first->status.ok()) << first->status.ToString();
    exported = e->runner->cold_kv()->stats().blocks_exported;
    e.reset();
    tm.Flush();
    if (disk_full) {
      EXPECT_GT(tm.stats().tiers[0].write_failures, 0);
      EXPECT_EQ(tm.stats().tiers[0].written, 0);
    } else {
      EXPECT_GT(tm.stats().tiers[0].written, 0);
    }
  }
  const int64_t expect_blocks = (static_cast<int64_t>(req.prompt_tokens.size()) - kHotWindow - kStepTokens) / kBlockTokens - 1;
  ASSERT_GT(exported, expect_blocks);

  // The "later process": nothing in RAM, the disk tier reopened.
  DiskBackendOptions dopts;
  dopts.dir = dir;
  auto disk = DiskBackend::Open(dopts).value();
  TierManagerOptions tmo;
  tmo.tiers = {{disk.get(), true}};
  TierManager tm(tmo);
  auto e = MakeEngine(path, 64ull << 20, 0, &pool);
  auto restored = RestorePrefix(*e->memory, tm, e->runner->namespace_id(), req.prompt_tokens);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  if (disk_full) {
    EXPECT_EQ(restored->restored_blocks, 0);
  } else {
    EXPECT_GE(restored->restored_blocks, expect_blocks);
  }
  auto again = Serve(e.get(), req);
  ASSERT_TRUE(again->status.ok()) << again->status.ToString();
  if (disk_full) {
    EXPECT_EQ(again->stats.prompt_tokens_reused, 0);
  } else {
    EXPECT_GE(again->stats.prompt_tokens_reused, expect_blocks * kBlockTokens);
  }
  EXPECT_EQ(again->tokens, first->tokens);
  EXPECT_EQ(again->text, first->text);
  std::printf("restart: %lld cold blocks exported, %lld restored, %d prompt tokens reused\n",
              static_cast<long long>(exported), static_cast<long long>(restored->restored_blocks),
              again->stats.prompt_tokens_reused);
}

TEST(BeyondRamTest, ColdBlocksSurviveARestartAsDiskTierEntries) { ColdBlocksAcrossARestart(false); }
TEST(BeyondRamTest, ColdBlocksExportedToAFullDiskAreRecomputedAfterARestart) { ColdBlocksAcrossARestart(true); }

}  // namespace
}  // namespace swarmkv
