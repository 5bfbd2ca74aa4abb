// A hybrid model (tiny-lfm2) through the real scheduler, runner and KvMemory: ten agents share a
// 200-token context (computed once, then attached with its recurrent checkpoint) and add their
// own task; under a budget that holds only three of them at once they wait, get preempted (the
// live state is dropped with the slot) and resume from the last sealed block's checkpoint. Every
// reply is byte-identical to the request served alone with an ample budget, and the shared
// context is reused, not recomputed.
#include <gtest/gtest.h>

#include <random>

#include "base/testing.h"
#include "base/thread_pool.h"
#include "model/synthetic_model.h"
#include "scheduler_engine.h"

namespace swarmkv {
namespace {

constexpr int32_t kBlockTokens = 32;

using Engine = testing::SchedulerEngine;
using Reply = testing::CollectingReply;

std::unique_ptr<Engine> MakeEngine(const std::string& path, uint64_t budget_bytes, ThreadPool* pool) {
  LlamaRunnerOptions ro;
  ro.block_tokens = kBlockTokens;
  ro.pool = pool;
  SchedulerOptions so;
  so.max_step_tokens = 96;
  so.max_running = 16;
  return testing::MakeSchedulerEngine(path, budget_bytes, ro, so);
}

GenerationRequest Request(const std::vector<int32_t>& prompt, int max_new, int agent) {
  GenerationRequest r;
  r.prompt_tokens = prompt;
  r.max_new_tokens = max_new;
  r.ignore_eos = true;
  r.sampling.temperature = 0.8f;
  r.sampling.seed = 19 + agent;
  r.sampling.has_seed = true;
  return r;
}

TEST(HybridSchedulerTest, AgentsSharingAContextUnderPressureAreIdenticalToAlone) {
  SyntheticModelOptions o;
  o.shape = "tiny-lfm2";
  o.type = TensorType::kQ8_0;
  o.seed = 3;
  const std::string path = testing::TempDir() + "/tiny-lfm2-sched.gguf";
  ASSERT_TRUE(MakeSyntheticModel(o, path).ok());
  constexpr int kAgents = 10, kShared = 200, kOwn = 60, kNew = 40;
  std::mt19937 rng(5);
  std::vector<int32_t> shared;
  while (static_cast<int>(shared.size()) < kShared) shared.push_back(static_cast<int32_t>(rng() % 2700));
  std::vector<std::vector<int32_t>> prompts;
  for (int a = 0; a < kAgents; ++a) {
    std::vector<int32_t> p = shared;
    while (static_cast<int>(p.size()) < kShared + kOwn) p.push_back(static_cast<int32_t>(rng() % 2700));
    prompts.push_back(p);
  }
  ThreadPool pool(2);

  std::vector<std::shared_ptr<Reply>> alone;
  {
    auto e = MakeEngine(path, 64ull << 20, &pool);
    for (int a = 0; a < kAgents; ++a) {
      e->memory->EvictCached(~0ull);  // alone = nothing cached either
      alone.push_back(std::make_shared<Reply>());
      ASSERT_TRUE(e->scheduler->Submit(Request(prompts[a], kNew, a), alone.back()).ok());
      ASSERT_TRUE(alone.back()->Wait(600));
      ASSERT_TRUE(alone.back()->status.ok()) << alone.back()->status.ToString();
      EXPECT_EQ(alone.back()->stats.prompt_tokens_reused, 0);
    }
  }

  // Three agents' blocks at once (+1 for copy-on-write room).
  uint64_t block_bytes = 0;
  {
    auto probe = MakeEngine(path, 64ull << 20, &pool);
    block_bytes = probe->runner->kv_capacity().block_bytes;
  }
  const uint64_t blocks = (kShared + kOwn + kNew + kBlockTokens - 1) / kBlockTokens;
  const uint64_t budget = (3 * blocks + 1) * block_bytes;
  auto e = MakeEngine(path, budget, &pool);
  // The shared context first, alone: the agents then attach it.
  {
    auto warm = std::make_shared<Reply>();
    ASSERT_TRUE(e->scheduler->Submit(Request(shared, 0, 99), warm).ok());
    ASSERT_TRUE(warm->Wait(600));
    ASSERT_TRUE(warm->status.ok()) << warm->status.ToString();
  }
  std::vector<std::shared_ptr<Reply>> got;
  for (int a = 0; a < kAgents; ++a) {
    got.push_back(std::make_shared<Reply>());
    ASSERT_TRUE(e->scheduler->Submit(Request(prompts[a], kNew, a), got.back()).ok());
  }
  int64_t reused = 0;
  for (int a = 0; a < kAgents; ++a) {
    ASSERT_TRUE(got[a]->Wait(900)) << "agent " << a << " never finished";
    ASSERT_TRUE(got[a]->status.ok()) << "agent " << a << ": " << got[a]->status.ToString();
    EXPECT_EQ(got[a]->tokens, alone[a]->tokens) << "agent " << a;
    EXPECT_EQ(got[a]->text, alone[a]->text) << "agent " << a;
    EXPECT_EQ(got[a]->stats.prompt_tokens_reused % kBlockTokens, 0) << "hybrid prefixes are reused in whole blocks";
    reused += got[a]->stats.prompt_tokens_reused;
  }
  const Scheduler::Counters c = e->scheduler->counters();
  EXPECT_GT(c.memory_waits + c.preemptions, 0) << "the budget never constrained the agents";
  EXPECT_GE(reused, int64_t{kAgents / 2} * (kShared / kBlockTokens) * kBlockTokens)
      << "the shared context was not reused with its checkpoints";
  EXPECT_TRUE(e->memory->CheckInvariants().ok());
  std::printf("hybrid agents: %d x (%d shared + %d own + %d new), budget %llu (3 at once): %lld waits, "
              "%lld preemptions, %lld tokens recomputed, %lld prompt tokens reused\n",
              kAgents, kShared, kOwn, kNew, static_cast<unsigned long long>(budget),
              static_cast<long long>(c.memory_waits), static_cast<long long>(c.preemptions),
              static_cast<long long>(c.tokens_recomputed), static_cast<long long>(reused));
}

}  // namespace
}  // namespace swarmkv
