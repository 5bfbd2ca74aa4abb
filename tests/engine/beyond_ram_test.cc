// Context beyond RAM with a real model (stories260K), the real KvMemory and real cold files:
//   - a sequence whose context is several times --kv-memory completes (--kv-hot-window: older
//     blocks go to disk and attention streams them back), its reply byte-identical to the same
//     request with an ample budget and no window; two such sequences at once likewise;
//   - the disk full while blocks should go cold: that sequence fails alone with the disk error
//     (never a corrupt reply), a concurrent request completes identical to alone;
//   - cold blocks that cannot be read back: that sequence fails alone with the read error.
#include <gtest/gtest.h>

#include "base/testing.h"
#include "base/thread_pool.h"
#include "scheduler_engine.h"

namespace swarmkv {
namespace {

constexpr int32_t kBlockTokens = 32;
constexpr int32_t kStepTokens = 64;
constexpr int64_t kHotWindow = 64;

using Engine = testing::SchedulerEngine;
using Reply = testing::CollectingReply;

// hot_window 0: the unconstrained reference (every block in RAM).
std::unique_ptr<Engine> MakeEngine(const std::string& path, uint64_t budget_bytes, int64_t hot_window, ThreadPool* pool,
                                   ColdKvFaults* faults = nullptr) {
  LlamaRunnerOptions ro;
  ro.block_tokens = kBlockTokens;
  ro.pool = pool;
  ro.kv_hot_window_tokens = hot_window;
  ro.cold_dir = testing::TempDir("beyond-ram");
  ro.cold_faults = faults;
  SchedulerOptions so;
  so.max_step_tokens = kStepTokens;
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

}  // namespace
}  // namespace swarmkv
