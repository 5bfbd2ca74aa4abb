// Scheduler bookkeeping tests over a small deterministic ModelRunner.
//
// NOTE: ToyRunner stands in for the forward pass (not yet landed) only to pin what the scheduler
// owns: order and positions of fed tokens, chunking, batching, prefix reuse accounting, sampling,
// stop/EOS/length/cancel/error endings and slot release. Its logits are a hash of the sequence's
// whole token history, so any token fed twice, skipped or at a wrong position changes the output
// (and a wrong position is rejected outright).
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "engine/rng.h"
#include "engine/test_request.h"

namespace swarmkv {
namespace {

using testing::Req;

constexpr int32_t kVocab = 64;
constexpr int32_t kEos = 63;
constexpr int32_t kBlock = 4;

class ToyRunner : public ModelRunner {
 public:
  explicit ToyRunner(int32_t ctx = 4096) : ctx_(ctx) {}
  int32_t vocab_size() const override { return kVocab; }
  int32_t context_length() const override { return ctx_; }
  bool IsEndOfGeneration(int32_t t) const override { return t == kEos; }
  std::string TokenPiece(int32_t t) const override { return std::string(1, static_cast<char>('a' + t % 26)); }

  Result<OpenedSequence> Open(std::span<const int32_t> prompt) override {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t reused = 0;
    for (int64_t n = kBlock; n < static_cast<int64_t>(prompt.size()); n += kBlock) {
      if (!cached_.count(std::vector<int32_t>(prompt.begin(), prompt.begin() + n))) break;
      reused = n;
    }
    const SlotId slot = next_slot_++;
    slots_[slot] = std::vector<int32_t>(prompt.begin(), prompt.begin() + reused);
    opened_.emplace_back(prompt.begin(), prompt.end());
    return OpenedSequence{slot, reused};
  }

  Status Forward(const StepBatch& batch, StepOutput* out) override {
    SKV_RETURN_IF_ERROR(batch.Validate());
    ++forward_calls_;
    while (hold_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_at_step_ >= 0 && steps_ == fail_at_step_) {
      ++steps_;
      return IOError("injected forward failure");
    }
    ++steps_;
    out->vocab_size = kVocab;
    out->logits.clear();
    size_t offset = 0;
    for (const StepSpan& span : batch.spans) {
      auto it = slots_.find(span.slot);
      if (it == slots_.end()) return InternalError("unknown slot");
      if (span.first_position != static_cast<int64_t>(it->second.size()))
        return InternalError("span at position " + std::to_string(span.first_position) + " but sequence length " +
                             std::to_string(it->second.size()));
      for (int32_t i = 0; i < span.num_tokens; ++i) {
        it->second.push_back(batch.tokens[offset + i]);
        if (it->second.size() % kBlock == 0) cached_.insert(it->second);
      }
      offset += span.num_tokens;
      computed_ += span.num_tokens;
      if (span.want_logits) AppendLogits(it->second, &out->logits);
    }
    return Status::OK();
  }

  void Close(SlotId slot) override {
    std::lock_guard<std::mutex> lock(mu_);
    slots_.erase(slot);
  }

  int64_t open_slots() {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int64_t>(slots_.size());
  }
  int64_t computed() {
    std::lock_guard<std::mutex> lock(mu_);
    return computed_;
  }
  // The prompts of every Open, in order: the scheduler's admission order.
  std::vector<std::vector<int32_t>> opened() {
    std::lock_guard<std::mutex> lock(mu_);
    return opened_;
  }
  void FailAtStep(int64_t step) { fail_at_step_ = step; }
  // While held, Forward blocks: lets a test queue requests behind one step in progress.
  void Hold(bool hold) { hold_ = hold; }
  // Forward calls entered so far (including one blocked by Hold).
  int64_t forward_calls() const { return forward_calls_.load(); }
  // EOS becomes the best token once a sequence holds this many tokens (0: never).
  void EosAtLength(int64_t n) { eos_at_length_ = n; }

 private:
  void AppendLogits(const std::vector<int32_t>& history, std::vector<float>* logits) const {
    uint64_t h = 1469598103934665603ULL;
    for (int32_t t : history) h = (h ^ static_cast<uint32_t>(t)) * 1099511628211ULL;
    Rng rng(h);
    for (int32_t v = 0; v < kVocab; ++v) logits->push_back(static_cast<float>(rng.NextDouble() * 8.0 - 4.0));
    (*logits)[logits->size() - 1] = -100.0f;  // EOS unlikely unless forced
    if (eos_at_length_ > 0 && static_cast<int64_t>(history.size()) >= eos_at_length_) (*logits)[logits->size() - 1] = 100.0f;
  }

  const int32_t ctx_;
  std::mutex mu_;
  std::map<SlotId, std::vector<int32_t>> slots_;
  std::set<std::vector<int32_t>> cached_;
  std::vector<std::vector<int32_t>> opened_;
  SlotId next_slot_ = 1;
  int64_t steps_ = 0;
  int64_t computed_ = 0;
  std::atomic<int64_t> fail_at_step_{-1};
  std::atomic<int64_t> eos_at_length_{0};
  std::atomic<bool> hold_{false};
  std::atomic<int64_t> forward_calls_{0};
};

class Collector : public GenerationObserver {
 public:
  explicit Collector(int cancel_after = -1) : cancel_after_(cancel_after) {}
  bool OnToken(int32_t token, std::string_view text) override {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_FALSE(done_) << "OnToken after OnFinish";
    tokens.push_back(token);
    this->text += text;
    cv_.notify_all();
    return cancel_after_ < 0 || static_cast<int>(tokens.size()) < cancel_after_;
  }
  void OnFinish(const Status& s, const GenerationStats& st) override {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_FALSE(done_) << "OnFinish twice";
    status = s;
    stats = st;
    done_ = true;
    cv_.notify_all();
  }
  bool Wait(int seconds = 20) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(seconds), [&] { return done_; });
  }
  // Until `n` tokens have streamed (or it finished).
  bool WaitForTokens(size_t n, int seconds = 20) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(seconds), [&] { return done_ || tokens.size() >= n; });
  }

  std::vector<int32_t> tokens;
  std::string text;
  Status status;
  GenerationStats stats;

 private:
  const int cancel_after_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

std::vector<int32_t> Prompt(int n, int salt) {
  std::vector<int32_t> p;
  for (int i = 0; i < n; ++i) p.push_back((i * 7 + salt * 13 + 1) % (kVocab - 1));
  return p;
}

std::unique_ptr<Scheduler> Make(std::shared_ptr<ToyRunner> runner, int32_t step_tokens, int32_t max_running = 8,
                                int32_t prefix_wait_min_tokens = 64) {
  SchedulerOptions o;
  o.prefix_wait_min_tokens = prefix_wait_min_tokens;
  o.max_step_tokens = step_tokens;
  o.max_running = std::min(max_running, step_tokens);
  auto s = Scheduler::Create(runner, o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(s).value();
}

std::shared_ptr<Collector> RunOne(Scheduler& s, GenerationRequest r) {
  auto c = std::make_shared<Collector>();
  auto id = s.Submit(std::move(r), c);
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_TRUE(c->Wait());
  return c;
}

TEST(SchedulerTest, OutputIndependentOfStepBudgetAndNeighbours) {
  for (float temperature : {0.0f, 1.0f}) {
    auto alone_runner = std::make_shared<ToyRunner>();
    auto alone = Make(alone_runner, 512);
    auto ref = RunOne(*alone, Req(Prompt(37, 0), 20, temperature, 5));
    ASSERT_TRUE(ref->status.ok());
    ASSERT_EQ(ref->tokens.size(), 20u);
    EXPECT_EQ(ref->stats.finish_reason, "length");

    for (int32_t budget : {1, 7, 64}) {
      auto runner = std::make_shared<ToyRunner>();
      auto s = Make(runner, budget);
      std::vector<std::shared_ptr<Collector>> others;
      for (int k = 1; k <= 3; ++k) {
        auto c = std::make_shared<Collector>();
        ASSERT_TRUE(s->Submit(Req(Prompt(10 + 11 * k, k), 5 + k, temperature, k), c).ok());
        others.push_back(c);
      }
      auto target = std::make_shared<Collector>();
      ASSERT_TRUE(s->Submit(Req(Prompt(37, 0), 20, temperature, 5), target).ok());
      ASSERT_TRUE(target->Wait());
      for (auto& c : others) ASSERT_TRUE(c->Wait());
      EXPECT_TRUE(target->status.ok()) << target->status.ToString();
      EXPECT_EQ(target->tokens, ref->tokens) << "budget " << budget << " temperature " << temperature;
      EXPECT_EQ(target->text, ref->text);
      if (budget > 1) {
        EXPECT_GT(s->counters().max_batch_spans, 1) << "sequences were never batched";
      }
      s.reset();
      EXPECT_EQ(runner->open_slots(), 0);
    }
  }
}

TEST(SchedulerTest, PrefixFromCacheIsNotRecomputedAndGivesSameTokens) {
  auto runner = std::make_shared<ToyRunner>();
  auto s = Make(runner, 16);
  auto first = RunOne(*s, Req(Prompt(37, 2), 8));
  EXPECT_EQ(first->stats.prompt_tokens_reused, 0);
  const int64_t computed_before = runner->computed();
  auto second = RunOne(*s, Req(Prompt(37, 2), 8));
  EXPECT_EQ(second->stats.prompt_tokens, 37);
  EXPECT_EQ(second->stats.prompt_tokens_reused, 36);  // whole blocks of 4, last prompt token recomputed
  EXPECT_EQ(runner->computed() - computed_before, 1 + 7);  // the last prompt token + 7 decode rows
  EXPECT_EQ(second->tokens, first->tokens);
}

// Agents sent at one instant with one long context: with prefix-aware admission the context is
// computed once and the others attach it; without it each computes its own. Answers are equal
// either way, and equal to each request served alone.
TEST(SchedulerTest, ConcurrentRequestsWithOneContextComputeItOnce) {
  constexpr int kAgents = 4, kPrefix = 80, kSuffix = 6, kNew = 5;
  auto prompt = [](int agent) {
    std::vector<int32_t> p = Prompt(kPrefix, 1);
    for (int i = 0; i < kSuffix; ++i) p.push_back((agent * 5 + i * 3) % (kVocab - 1));
    return p;
  };
  std::vector<std::vector<int32_t>> solo;
  for (int a = 0; a < kAgents; ++a) {
    auto s = Make(std::make_shared<ToyRunner>(), 16);
    solo.push_back(RunOne(*s, Req(prompt(a), kNew))->tokens);
  }
  for (int32_t min_wait : {16, 0}) {
    auto runner = std::make_shared<ToyRunner>();
    // A step holds every prompt. Admission is limited by the step's tokens, so the agents must be
    // queued together behind a step in progress (a one-token request held in Forward) to be admitted
    // in one step while the first of them prefills.
    auto s = Make(runner, 256, 8, min_wait);
    runner->Hold(true);
    auto blocker = std::make_shared<Collector>();
    ASSERT_TRUE(s->Submit(Req(Prompt(4, 9), 1), blocker).ok());
    while (runner->forward_calls() == 0) std::this_thread::yield();  // the blocker's step is in Forward
    std::vector<std::shared_ptr<Collector>> cs;
    for (int a = 0; a < kAgents; ++a) {
      cs.push_back(std::make_shared<Collector>());
      ASSERT_TRUE(s->Submit(Req(prompt(a), kNew), cs.back()).ok());
    }
    runner->Hold(false);
    ASSERT_TRUE(blocker->Wait());
    int64_t reused = 0;
    for (int a = 0; a < kAgents; ++a) {
      ASSERT_TRUE(cs[a]->Wait());
      ASSERT_TRUE(cs[a]->status.ok()) << cs[a]->status.ToString();
      EXPECT_EQ(cs[a]->tokens, solo[a]) << "agent " << a << " min_wait " << min_wait;
      reused += cs[a]->stats.prompt_tokens_reused;
    }
    const int64_t prompt_rows = runner->computed() - kAgents * (kNew - 1) - 4;  // minus the blocker's prompt
    if (min_wait > 0) {
      // The context once (80 tokens + the first suffix), then each other agent only its suffix
      // plus the rest of the last partial block: 80 = 20 blocks of 4, so exactly the suffix.
      EXPECT_EQ(prompt_rows, kPrefix + kAgents * kSuffix);
      EXPECT_EQ(reused, (kAgents - 1) * kPrefix);
      EXPECT_EQ(s->counters().prefix_waits, kAgents - 1);
    } else {
      // The agents admitted in the first one's step compute the context again (those that do not
      // fit in that step come later and attach it).
      EXPECT_GE(prompt_rows, 2 * (kPrefix + kSuffix));
      EXPECT_EQ(s->counters().prefix_waits, 0);
    }
    s.reset();
    EXPECT_EQ(runner->open_slots(), 0);
  }
}

TEST(SchedulerTest, SubmitRejectsBadRequestsWithClearErrors) {
  auto runner = std::make_shared<ToyRunner>(100);
  auto s = Make(runner, 16);
  auto c = std::make_shared<Collector>();
  auto r = s->Submit(Req(Prompt(150, 0), 4), c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("150"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("100"), std::string::npos) << r.status().message();

  GenerationRequest small_ctx = Req(Prompt(30, 0), 4);
  small_ctx.num_ctx = 20;
  r = s->Submit(small_ctx, c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("30 tokens but the context is 20"), std::string::npos) << r.status().message();

  EXPECT_FALSE(s->Submit(Req({}, 4), c).ok());
  EXPECT_FALSE(s->Submit(Req({1, 2, kVocab}, 4), c).ok());
  EXPECT_FALSE(s->Submit(Req({1, 2, -1}, 4), c).ok());
  EXPECT_FALSE(s->Submit(Req({1, 2}, -2), c).ok());
  EXPECT_FALSE(s->Submit(Req({1, 2}, 4, -0.5f), c).ok());
  EXPECT_FALSE(s->Submit(Req({1, 2}, 4), nullptr).ok());
  EXPECT_FALSE(c->Wait(0)) << "a rejected request must get no callback";

  SchedulerOptions bad;
  bad.max_step_tokens = 0;
  EXPECT_FALSE(Scheduler::Create(runner, bad).ok());
  EXPECT_FALSE(Scheduler::Create(nullptr, SchedulerOptions()).ok());
}

// max_new_tokens 0 (a warm-up, a pin's preload): the whole prompt is computed and committed, nothing
// is sampled, and the next request with that prompt attaches it and answers as if computed itself.
TEST(SchedulerTest, PrefillOnlyComputesThePromptAndSamplesNothing) {
  auto runner = std::make_shared<ToyRunner>(64);
  auto s = Make(runner, 16);
  auto ref = RunOne(*Make(std::make_shared<ToyRunner>(), 16), Req(Prompt(37, 3), 6));
  GenerationRequest warm = Req(Prompt(37, 3), 0);
  warm.background = true;
  auto w = RunOne(*s, warm);
  ASSERT_TRUE(w->status.ok()) << w->status.ToString();
  EXPECT_TRUE(w->tokens.empty());
  EXPECT_EQ(w->stats.generated_tokens, 0);
  EXPECT_EQ(w->stats.finish_reason, "length");
  EXPECT_EQ(w->stats.prompt_tokens, 37);
  EXPECT_EQ(runner->computed(), 37);
  auto after = RunOne(*s, Req(Prompt(37, 3), 6));
  EXPECT_EQ(after->stats.prompt_tokens_reused, 36);
  EXPECT_EQ(after->tokens, ref->tokens);
  // A prefill-only prompt may fill the whole context (nothing is generated after it).
  auto full = RunOne(*s, Req(Prompt(64, 4), 0));
  EXPECT_TRUE(full->status.ok()) << full->status.ToString();
  EXPECT_EQ(runner->open_slots(), 0);
}

// A background preload of a long context while an interactive request decodes: the interactive
// answer is unchanged, and agents that arrive while the preload computes their prefix wait for it
// instead of computing it again.
TEST(SchedulerTest, BackgroundPreloadYieldsToInteractiveAndIsWaitedFor) {
  constexpr int kPrefix = 96;
  auto runner = std::make_shared<ToyRunner>();
  auto s = Make(runner, 16, 8, 16);
  auto ref = RunOne(*Make(std::make_shared<ToyRunner>(), 16), Req(Prompt(9, 7), 12));
  runner->Hold(true);
  auto interactive = std::make_shared<Collector>();
  ASSERT_TRUE(s->Submit(Req(Prompt(9, 7), 12), interactive).ok());
  while (runner->forward_calls() == 0) std::this_thread::yield();  // its first step is in Forward
  GenerationRequest preload = Req(Prompt(kPrefix, 1), 0);
  preload.background = true;
  auto pre = std::make_shared<Collector>();
  ASSERT_TRUE(s->Submit(preload, pre).ok());
  std::vector<std::shared_ptr<Collector>> agents;
  for (int a = 0; a < 3; ++a) {
    std::vector<int32_t> p = Prompt(kPrefix, 1);
    for (int i = 0; i < 5; ++i) p.push_back((a * 5 + i * 3) % (kVocab - 1));
    agents.push_back(std::make_shared<Collector>());
    ASSERT_TRUE(s->Submit(Req(p, 3), agents.back()).ok());
  }
  runner->Hold(false);
  ASSERT_TRUE(interactive->Wait());
  ASSERT_TRUE(pre->Wait());
  EXPECT_EQ(interactive->tokens, ref->tokens);
  int64_t reused = 0;
  for (auto& a : agents) {
    ASSERT_TRUE(a->Wait());
    reused += a->stats.prompt_tokens_reused;
  }
  EXPECT_EQ(reused, 3 * kPrefix) << "agents must attach the preloaded context, not compute it again";
  EXPECT_EQ(runner->computed(), 9 + 11 + kPrefix + 3 * (5 + 2));
}

// docs/api.md's fairness by X-Client-Id: within a priority, admission is round-robin between
// clients, so a client that floods the queue does not make another client's request wait behind
// its whole flood. One running sequence at a time makes the admission order observable.
TEST(SchedulerTest, AdmissionIsRoundRobinBetweenClients) {
  auto runner = std::make_shared<ToyRunner>();
  auto s = Make(runner, 16, 1);
  auto request = [](int salt, const std::string& client) {
    GenerationRequest r = Req(Prompt(6, salt), 2);
    r.client_id = client;
    return r;
  };
  runner->Hold(true);
  std::vector<std::shared_ptr<Collector>> cs;
  auto submit = [&](int salt, const std::string& client) {
    cs.push_back(std::make_shared<Collector>());
    ASSERT_TRUE(s->Submit(request(salt, client), cs.back()).ok());
  };
  submit(0, "flood");
  while (runner->forward_calls() == 0) std::this_thread::yield();  // flood's first request runs
  for (int i = 1; i <= 3; ++i) submit(i, "flood");
  submit(10, "other");
  submit(11, "other");
  submit(20, "third");
  runner->Hold(false);
  for (auto& c : cs) ASSERT_TRUE(c->Wait());
  std::vector<int> order;
  for (const auto& prompt : runner->opened()) {
    for (int salt : {0, 1, 2, 3, 10, 11, 20})
      if (prompt == Prompt(6, salt)) order.push_back(salt);
  }
  // Without fairness (FIFO): 0 1 2 3 10 11 20.
  EXPECT_EQ(order, (std::vector<int>{0, 10, 20, 1, 11, 2, 3}));
  // Requests without a client id share one key: FIFO as before.
  auto fifo_runner = std::make_shared<ToyRunner>();
  auto fifo = Make(fifo_runner, 16, 1);
  fifo_runner->Hold(true);
  std::vector<std::shared_ptr<Collector>> ds;
  for (int salt : {0, 1, 2}) {
    ds.push_back(std::make_shared<Collector>());
    ASSERT_TRUE(fifo->Submit(Req(Prompt(6, salt), 2), ds.back()).ok());
  }
  fifo_runner->Hold(false);
  for (auto& d : ds) ASSERT_TRUE(d->Wait());
  std::vector<std::vector<int32_t>> expected = {Prompt(6, 0), Prompt(6, 1), Prompt(6, 2)};
  EXPECT_EQ(fifo_runner->opened(), expected);
}

TEST(SchedulerTest, EosStopsUnlessIgnored) {
  auto runner = std::make_shared<ToyRunner>();
  runner->EosAtLength(15);  // prompt 10 + 5 generated -> EOS is sampled as token 6
  auto s = Make(runner, 32);
  auto c = RunOne(*s, Req(Prompt(10, 1), 50));
  EXPECT_EQ(c->stats.finish_reason, "stop");
  EXPECT_EQ(c->stats.generated_tokens, 6);
  EXPECT_EQ(c->tokens.size(), 5u);  // EOS itself is not streamed
  EXPECT_EQ(c->text.size(), 5u);

  GenerationRequest r = Req(Prompt(10, 1), 12);
  r.ignore_eos = true;
  auto d = RunOne(*s, r);
  EXPECT_EQ(d->stats.finish_reason, "length");
  EXPECT_EQ(d->tokens.size(), 12u);
  EXPECT_EQ(d->tokens[5], kEos);
}

TEST(SchedulerTest, StopStringCutsTheTextAndEnds) {
  auto runner = std::make_shared<ToyRunner>();
  auto s = Make(runner, 32);
  auto ref = RunOne(*s, Req(Prompt(12, 3), 30));
  ASSERT_EQ(ref->text.size(), 30u);
  const std::string stop = ref->text.substr(10, 3);
  const size_t at = ref->text.find(stop);
  GenerationRequest r = Req(Prompt(12, 3), 30);
  r.stop = {stop};
  auto c = RunOne(*s, r);
  EXPECT_EQ(c->stats.finish_reason, "stop");
  EXPECT_EQ(c->text, ref->text.substr(0, at));
  EXPECT_EQ(c->stats.generated_tokens, static_cast<int32_t>(at + 3));
}

TEST(SchedulerTest, ContextFullEndsWithLength) {
  auto runner = std::make_shared<ToyRunner>(50);
  auto s = Make(runner, 64);
  auto c = RunOne(*s, Req(Prompt(37, 4), -1));
  EXPECT_EQ(c->stats.finish_reason, "length");
  EXPECT_EQ(c->stats.generated_tokens, 13);
  EXPECT_EQ(runner->open_slots(), 0);
}

TEST(SchedulerTest, ObserverRefusalAndCancelEndWithCancelled) {
  auto runner = std::make_shared<ToyRunner>();
  auto s = Make(runner, 8);
  auto c = std::make_shared<Collector>(3);
  ASSERT_TRUE(s->Submit(Req(Prompt(9, 5), 100), c).ok());
  ASSERT_TRUE(c->Wait());
  EXPECT_EQ(c->stats.finish_reason, "cancelled");
  EXPECT_EQ(c->tokens.size(), 3u);

  auto endless = std::make_shared<Collector>();
  auto id = s->Submit(Req(Prompt(9, 6), -1), endless);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(endless->WaitForTokens(3));  // cancelled while it generates
  s->Cancel(*id);
  ASSERT_TRUE(endless->Wait());
  EXPECT_EQ(endless->stats.finish_reason, "cancelled");
  EXPECT_TRUE(endless->status.ok());
  EXPECT_EQ(runner->open_slots(), 0);
}

TEST(SchedulerTest, ForwardFailureFailsTheStepsRequestsAndReleasesSlots) {
  auto runner = std::make_shared<ToyRunner>();
  runner->FailAtStep(2);
  auto s = Make(runner, 8);
  auto a = std::make_shared<Collector>();
  auto b = std::make_shared<Collector>();
  ASSERT_TRUE(s->Submit(Req(Prompt(30, 7), 10), a).ok());
  ASSERT_TRUE(s->Submit(Req(Prompt(5, 8), 10), b).ok());
  ASSERT_TRUE(a->Wait());
  ASSERT_TRUE(b->Wait());
  EXPECT_FALSE(a->status.ok());
  EXPECT_EQ(a->stats.finish_reason, "error");
  EXPECT_NE(a->status.message().find("injected"), std::string::npos);
  EXPECT_EQ(runner->open_slots(), 0);
  // The engine keeps serving afterwards.
  auto c = RunOne(*s, Req(Prompt(5, 9), 3));
  EXPECT_TRUE(c->status.ok());
  EXPECT_EQ(c->tokens.size(), 3u);
}

TEST(SchedulerTest, ShutdownCancelsEverythingInFlight) {
  auto runner = std::make_shared<ToyRunner>();
  auto s = Make(runner, 4, 1);
  std::vector<std::shared_ptr<Collector>> cs;
  for (int i = 0; i < 5; ++i) {
    cs.push_back(std::make_shared<Collector>());
    ASSERT_TRUE(s->Submit(Req(Prompt(20, i), -1), cs.back()).ok());
  }
  s.reset();
  for (auto& c : cs) {
    ASSERT_TRUE(c->Wait(0));
    EXPECT_EQ(c->stats.finish_reason, "cancelled");
  }
  EXPECT_EQ(runner->open_slots(), 0);
}

TEST(SchedulerTest, UnseededRequestsReportTheSeedUsed) {
  auto runner = std::make_shared<ToyRunner>();
  auto s = Make(runner, 16);
  GenerationRequest r = Req(Prompt(8, 1), 6, 1.0f);
  r.sampling.has_seed = false;
  auto a = RunOne(*s, r);
  GenerationRequest again = Req(Prompt(8, 1), 6, 1.0f, a->stats.seed);
  auto b = RunOne(*s, again);
  EXPECT_EQ(a->tokens, b->tokens);
}

// Allows only tokens 2 and 5 (never EOS); complete after `length` tokens.
class TwoTokenConstraint : public TokenConstraint {
 public:
  explicit TwoTokenConstraint(int length) : length_(length) { mask_[0] = (uint64_t{1} << 2) | (uint64_t{1} << 5); }
  Result<std::span<const uint64_t>> Allowed() override { return std::span<const uint64_t>(mask_, 1); }
  Status Accept(int32_t token) override {
    if (token != 2 && token != 5) return InternalError("token " + std::to_string(token) + " was not allowed");
    ++accepted_;
    return Status::OK();
  }
  bool Complete() const override { return accepted_ >= length_; }

 private:
  uint64_t mask_[1];
  int length_;
  int accepted_ = 0;
};

class LogprobCollector : public Collector {
 public:
  void OnLogprobs(const TokenLogprobs& lp) override { logprobs.push_back(lp); }
  std::vector<TokenLogprobs> logprobs;
};

TEST(SchedulerTest, ConstraintRestrictsTokensAndEndsTheSequenceWhenComplete) {
  auto runner = std::make_shared<ToyRunner>();
  auto s = Make(runner, 64);
  for (float temperature : {0.0f, 1.5f}) {
    GenerationRequest r = Req(Prompt(9, 1), 50, temperature, 3);
    r.constraint = std::make_shared<TwoTokenConstraint>(6);
    r.top_logprobs = 2;
    auto c = std::make_shared<LogprobCollector>();
    ASSERT_TRUE(s->Submit(std::move(r), c).ok());
    ASSERT_TRUE(c->Wait());
    ASSERT_TRUE(c->status.ok()) << c->status.ToString();
    EXPECT_EQ(c->stats.finish_reason, "stop");  // complete before max_new_tokens
    ASSERT_EQ(c->tokens.size(), 6u);
    for (int32_t t : c->tokens) EXPECT_TRUE(t == 2 || t == 5) << t;
    ASSERT_EQ(c->logprobs.size(), 6u);
    for (size_t i = 0; i < 6; ++i) {
      EXPECT_EQ(c->logprobs[i].chosen.token, c->tokens[i]);
      ASSERT_EQ(c->logprobs[i].top.size(), 2u);
      EXPECT_LE(c->logprobs[i].chosen.logprob, c->logprobs[i].top[0].logprob);
    }
  }
}

}  // namespace
}  // namespace swarmkv

namespace swarmkv {
namespace {

// The step totals (engine/step_stats.h) of one request: its prompt in chunks of the step budget
// (prefill steps), then one decode step per further token; they add up to what the runner computed.
TEST(SchedulerTest, StepTotalsSplitDecodeFromPrefillSteps) {
  auto runner = std::make_shared<ToyRunner>();
  auto s = Make(runner, 4);
  auto c = RunOne(*s, Req(Prompt(10, 3), 5));
  ASSERT_TRUE(c->status.ok());
  // The last step is recorded just after its token was streamed (OnFinish comes first): wait
  // for the seven steps (no event marks it).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (s->step_totals().prefill.steps + s->step_totals().decode.steps < 7 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const StepTotals t = s->step_totals();
  EXPECT_EQ(t.prefill.steps, 3);  // 4 + 4 + 2 prompt tokens, the last chunk samples token 1
  EXPECT_EQ(t.prefill.prefill_rows, 10);
  EXPECT_EQ(t.decode.steps, 4);  // tokens 2..5
  EXPECT_EQ(t.decode.decode_rows, 4);
  EXPECT_EQ(t.mixed.steps, 0);
  EXPECT_EQ(t.prefill.prefill_rows + t.decode.decode_rows, runner->computed());
  EXPECT_GT(t.decode.step_ns, 0);
  EXPECT_GE(t.decode.step_ns, t.decode.forward_ns);
}

}  // namespace
}  // namespace swarmkv
