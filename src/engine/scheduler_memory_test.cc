// The scheduler under a real KV memory budget (KvToyRunner over KvMemory): admission waits for
// memory, preemption resumes exactly, only a request that cannot fit alone is refused (up front),
// and a failing sequence fails alone.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "engine/kv_toy_runner.h"
#include "engine/memory_signal.h"
#include "engine/scheduler.h"
#include "engine/test_request.h"
#include "engine/wait_observer.h"

namespace swarmkv {
namespace {

using testing::KvToyRunner;
using testing::NewToyMemory;
using testing::Req;
using testing::ReferenceTokens;

constexpr int32_t kBlockTokens = 4;

class Collector : public WaitObserver {
 public:
  bool OnToken(int32_t token, std::string_view) override {
    EXPECT_FALSE(finished()) << "OnToken after OnFinish";
    tokens.push_back(token);
    return true;
  }
  void OnFinish(const Status& s, const GenerationStats& st) override {
    EXPECT_FALSE(finished()) << "OnFinish twice";
    WaitObserver::OnFinish(s, st);
  }
  std::vector<int32_t> tokens;
};

std::vector<int32_t> Prompt(int n, int salt) {
  std::vector<int32_t> p;
  p.push_back(salt % testing::kToyVocab);
  p.push_back(salt / testing::kToyVocab % testing::kToyVocab);
  for (int i = 2; i < n; ++i) p.push_back((i * 7 + salt * 13 + 1) % testing::kToyVocab);
  return p;
}

struct Rig {
  std::unique_ptr<KvMemory> memory;
  std::shared_ptr<KvToyRunner> runner;
  std::unique_ptr<Scheduler> scheduler;

  Rig(int budget_blocks, int32_t step_tokens, int32_t max_running, int32_t ctx = 4096, bool swap = false) {
    memory = NewToyMemory(static_cast<uint64_t>(budget_blocks) * 4096, kBlockTokens);
    runner = std::make_shared<KvToyRunner>(memory.get(), ctx);
    runner->EnableSwap(swap);
    SchedulerOptions o;
    o.preemption = swap ? PreemptionMode::kSwap : PreemptionMode::kRecompute;
    o.max_step_tokens = step_tokens;
    o.max_running = max_running;
    o.prefix_wait_min_tokens = 0;
    scheduler = Scheduler::Create(runner, o).value();
  }
  ~Rig() {
    scheduler.reset();
    EXPECT_TRUE(memory->CheckInvariants().ok());
    EXPECT_EQ(memory->Stats().namespaces[0].sequences, 0) << "a runner slot leaked";
  }
};

// Many sequences whose prompts fit but whose answers outgrow the budget together: they are
// admitted as memory allows, preempted when running ones grow, and every reply equals the
// request served alone (greedy and sampled: the sampler's RNG state survives preemption).
TEST(SchedulerMemoryTest, PreemptedSequencesResumeWithIdenticalOutput) {
  for (const bool swap : {false, true})
  for (float temperature : {0.0f, 1.0f}) {
    SCOPED_TRACE(swap ? "swap" : "recompute");
    // Each request: 6 prompt + 30 generated = 36 tokens = 9 blocks; 8 of them need 72 blocks.
    // A budget of 20 blocks holds two at their full size.
    Rig rig(20, 16, 8, 4096, swap);
    std::vector<std::shared_ptr<Collector>> cs;
    for (int i = 0; i < 8; ++i) {
      cs.push_back(std::make_shared<Collector>());
      ASSERT_TRUE(rig.scheduler->Submit(Req(Prompt(6, i), 30, temperature, 100 + i), cs.back()).ok());
    }
    int preempted = 0;
    for (int i = 0; i < 8; ++i) {
      ASSERT_TRUE(cs[i]->Wait(60)) << "request " << i << " never finished (deadlock?)";
      ASSERT_TRUE(cs[i]->status.ok()) << cs[i]->status.ToString();
      EXPECT_EQ(cs[i]->stats.finish_reason, "length");
      SamplingParams sp = Req({}, 0, temperature, 100 + i).sampling;
      EXPECT_EQ(cs[i]->tokens, ReferenceTokens(Prompt(6, i), sp, 30, 4096)) << "request " << i;
      preempted += cs[i]->stats.preemptions;
    }
    const Scheduler::Counters c = rig.scheduler->counters();
    EXPECT_GT(c.preemptions, 0) << "the budget never forced a preemption: the test does not test it";
    EXPECT_EQ(c.preemptions, preempted);
    EXPECT_GT(c.tokens_recomputed, 0);
    // (A victim without a full block is closed even when swapping: nothing to keep.)
    if (swap) {
      EXPECT_GT(c.preemptions_swapped, 0);
      EXPECT_GE(rig.runner->swap_outs(), c.preemptions_swapped);
    } else {
      EXPECT_EQ(c.preemptions_swapped, 0);
      EXPECT_EQ(rig.runner->swap_outs(), 0);
    }
  }
}

// Admission by KV need: requests whose first step does not fit wait in the queue (positions
// reported by Queue()), in FIFO order, and none fails.
TEST(SchedulerMemoryTest, RequestsWaitInTheQueueForMemoryInFifoOrder) {
  // Prompts of 30 tokens = 8 blocks (+1 for the first decode); a 12-block budget admits one.
  Rig rig(12, 64, 8);
  rig.runner->PoisonToken(-1);
  std::vector<std::shared_ptr<Collector>> cs;
  for (int i = 0; i < 5; ++i) {
    cs.push_back(std::make_shared<Collector>());
    ASSERT_TRUE(rig.scheduler->Submit(Req(Prompt(30, i), 3, 0.0f, 1), cs.back()).ok());
  }
  std::vector<QueuedRequest> q = rig.scheduler->Queue();
  for (size_t i = 0; i < q.size(); ++i) EXPECT_EQ(q[i].position, static_cast<int32_t>(i));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(cs[i]->Wait(60));
    ASSERT_TRUE(cs[i]->status.ok()) << cs[i]->status.ToString();
    EXPECT_EQ(cs[i]->tokens, ReferenceTokens(Prompt(30, i), Req({}, 0, 0.0f, 1).sampling, 3, 4096));
  }
  EXPECT_GT(rig.scheduler->counters().memory_waits, 0);
  std::vector<int32_t> opens = rig.runner->opens();
  std::vector<int32_t> firsts;
  for (int32_t k : opens)
    if (std::find(firsts.begin(), firsts.end(), k) == firsts.end()) firsts.push_back(k);
  ASSERT_EQ(firsts.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(firsts[i], Prompt(30, i)[0] * testing::kToyVocab + Prompt(30, i)[1]);
  EXPECT_TRUE(rig.scheduler->Queue().empty());
}

TEST(SchedulerMemoryTest, OnlyARequestThatCannotFitAloneIsRefusedUpFront) {
  // 10 blocks of 4 tokens: 9 usable alone (one kept for a copy-on-write) = 36 tokens.
  Rig rig(10, 16, 4);
  auto c = std::make_shared<Collector>();
  auto r = rig.scheduler->Submit(Req(Prompt(30, 1), 10, 0.0f, 1), c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  const std::string m(r.status().message());
  EXPECT_NE(m.find("40 tokens (prompt 30 + 10 to generate)"), std::string::npos) << m;
  EXPECT_NE(m.find("budget is 40960 bytes"), std::string::npos) << m;
  EXPECT_NE(m.find("room for 36 tokens"), std::string::npos) << m;
  EXPECT_FALSE(c->Wait(0)) << "a refused request gets no callback";
  EXPECT_FALSE(rig.scheduler->Submit(Req(Prompt(40, 1), -1, 0.0f, 1), c).ok()) << "the prompt alone does not fit";

  // Unbounded: the budget is its context; it ends with "length" there, not with an error.
  auto u = std::make_shared<Collector>();
  ASSERT_TRUE(rig.scheduler->Submit(Req(Prompt(30, 2), -1, 0.0f, 1), u).ok());
  ASSERT_TRUE(u->Wait(60));
  EXPECT_TRUE(u->status.ok()) << u->status.ToString();
  EXPECT_EQ(u->stats.finish_reason, "length");
  EXPECT_EQ(u->tokens.size(), 6u);
  EXPECT_EQ(u->tokens, ReferenceTokens(Prompt(30, 2), Req({}, 0, 0.0f, 1).sampling, -1, 36));
}

// A step that fails because of one sequence's work fails only that sequence; the others finish
// with the output they would have had alone.
TEST(SchedulerMemoryTest, AFailingSequenceFailsAloneAndOthersContinue) {
  Rig rig(200, 64, 8);
  const int32_t poison = 63;
  rig.runner->PoisonToken(poison);
  std::vector<std::shared_ptr<Collector>> cs;
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 4; ++i) {
    std::vector<int32_t> p = Prompt(12, i);
    for (int32_t& t : p) t = t % 60;  // never the poison
    if (i == 2) p[5] = poison;
    prompts.push_back(p);
    cs.push_back(std::make_shared<Collector>());
    ASSERT_TRUE(rig.scheduler->Submit(Req(p, 8, 0.0f, 1), cs.back()).ok());
  }
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(cs[i]->Wait(60));
    if (i == 2) {
      EXPECT_FALSE(cs[i]->status.ok());
      EXPECT_EQ(cs[i]->stats.finish_reason, "error");
      EXPECT_NE(cs[i]->status.message().find("injected"), std::string::npos);
      continue;
    }
    // Sampled tokens may be the poison too: those requests then fail alone, correctly.
    const std::vector<int32_t> want = ReferenceTokens(prompts[i], Req({}, 0, 0.0f, 1).sampling, 8, 4096);
    if (std::find(want.begin(), want.end() - 1, poison) != want.end() - 1) continue;
    EXPECT_TRUE(cs[i]->status.ok()) << "request " << i << ": " << cs[i]->status.ToString();
    EXPECT_EQ(cs[i]->tokens, want);
  }
  EXPECT_GT(rig.scheduler->counters().isolated_failures, 0);
}

// Holds the engine thread inside its first OnToken until Open() — the request keeps its KV.
class GatedCollector : public Collector {
 public:
  bool OnToken(int32_t token, std::string_view text) override {
    std::unique_lock<std::mutex> lock(gate_mu_);
    entered_ = true;
    gate_cv_.notify_all();
    gate_cv_.wait(lock, [&] { return open_; });
    return Collector::OnToken(token, text);
  }
  void WaitEntered() {
    std::unique_lock<std::mutex> lock(gate_mu_);
    gate_cv_.wait(lock, [&] { return entered_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(gate_mu_);
    open_ = true;
    gate_cv_.notify_all();
  }

 private:
  std::mutex gate_mu_;
  std::condition_variable gate_cv_;
  bool entered_ = false, open_ = false;
};

// Two models' schedulers over one budget: B's request waits for memory that A's running request
// holds; when A finishes, A's scheduler notifies the shared MemorySignal and B admits at once. B's
// backstop re-check is ten minutes, so only the notification can wake it within the test's wait.
TEST(SchedulerMemoryTest, AQueueWaitingForAnotherModelsMemoryIsWokenWhenItIsFreed) {
  auto memory = NewToyMemory(12 * 4096, kBlockTokens);  // 12 blocks: one 30-token request at a time
  auto signal = std::make_shared<MemorySignal>();
  auto make = [&](std::shared_ptr<KvToyRunner>* runner) {
    *runner = std::make_shared<KvToyRunner>(memory.get(), 4096);
    SchedulerOptions o;
    o.max_step_tokens = 64;
    o.max_running = 4;
    o.prefix_wait_min_tokens = 0;
    o.memory_signal = signal;
    o.memory_recheck_ms = 10 * 60 * 1000;
    return Scheduler::Create(*runner, o).value();
  };
  std::shared_ptr<KvToyRunner> runner_a, runner_b;
  auto a = make(&runner_a);
  auto b = make(&runner_b);

  auto held = std::make_shared<GatedCollector>();
  ASSERT_TRUE(a->Submit(Req(Prompt(30, 1), 3, 0.0f, 1), held).ok());
  held->WaitEntered();  // A's request holds its 8 blocks, its engine thread parked in OnToken
  auto waiting = std::make_shared<Collector>();
  ASSERT_TRUE(b->Submit(Req(Prompt(30, 2), 3, 0.0f, 1), waiting).ok());
  // Await B's queue reporting the wait for memory (a condition, not a duration).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (true) {
    std::vector<QueuedRequest> q = b->Queue();
    if (!q.empty() && q[0].waiting_for_memory) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "B never waited for memory";
    std::this_thread::yield();
  }
  EXPECT_FALSE(waiting->finished());
  const int64_t before = signal->notifications();
  held->Open();
  ASSERT_TRUE(held->Wait(60));
  ASSERT_TRUE(held->status.ok()) << held->status.ToString();
  ASSERT_TRUE(waiting->Wait(60)) << "B was not woken when A freed its memory";
  ASSERT_TRUE(waiting->status.ok()) << waiting->status.ToString();
  EXPECT_EQ(waiting->tokens, ReferenceTokens(Prompt(30, 2), Req({}, 0, 0.0f, 1).sampling, 3, 4096));
  EXPECT_GT(signal->notifications(), before);
  EXPECT_EQ(b->counters().memory_waits, 1);
  EXPECT_GE(b->counters().memory_wakeups, 1);
  a.reset();
  b.reset();
  EXPECT_TRUE(memory->CheckInvariants().ok());
}

}  // namespace
}  // namespace swarmkv
