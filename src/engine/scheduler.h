// Scheduler: continuous batching for one model — the engine's GenerationService.
//
// One engine thread loops: admit queued requests (attaching their cached prefix through the
// runner, so reused tokens are never computed), then build one step of at most
// `max_step_tokens` tokens — first one decode token for every running sequence, then prefill
// chunks of the sequences still reading their prompt, oldest first — run it, sample, stream.
//
// Prefill-only requests (max_new_tokens 0: Ollama's num_predict 0 warm-up, a pin's preload) take
// the same path and finish ("length") once their whole prompt is committed, sampling nothing.
// Background requests (GenerationRequest::background) get prefill rows only after interactive ones.
//
// Prefix-aware admission: a request whose prompt shares at least `prefix_wait_min_tokens` with a
// sequence that is prefilling that shared part right now waits (holding no runner slot) until the
// other has computed it, then attaches it from the cache — N agents sent at the same instant with
// one context compute it once. Waiting never changes output (tokens are fed in order either way).
//
// Invariants:
// - A sequence's tokens are fed in order, each exactly once, at position == its length; so with
//   a batch-invariant runner (see step_batch.h) the output of a request does not depend on the
//   step budget, on its neighbours, or on how much of its prompt was cached.
// - Every admitted request gets exactly one OnFinish, after its last OnToken, and its runner
//   slot is closed before OnFinish (finish, stop, cancel, error, shutdown alike).
// - Errors detectable up front (empty or too-long prompt, bad sampling values, full queue) are
//   returned by Submit, before any callback.
//
// Thread-safety: Submit and Cancel from any thread; observers are called on the engine thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "engine/generation.h"
#include "engine/sampler.h"
#include "engine/step_batch.h"
#include "engine/stop_matcher.h"

namespace swarmkv {

struct SchedulerOptions {
  int32_t max_step_tokens = 512;  // tokens per forward step (decode + prefill chunks)
  int32_t max_running = 16;       // sequences in flight at once
  int32_t max_queued = 1024;      // waiting requests beyond which Submit says ResourceExhausted
  int32_t default_num_ctx = 0;    // context when a request says 0; 0 = the model's
  // Shared prompt prefix (tokens) worth waiting for another request to compute; 0 disables waiting
  // (e.g. when the runner reuses no prefix at all).
  int32_t prefix_wait_min_tokens = 64;
};

class Scheduler final : public GenerationService {
 public:
  // Starts the engine thread. InvalidArgument for nonsensical options.
  static Result<std::unique_ptr<Scheduler>> Create(std::shared_ptr<ModelRunner> runner, SchedulerOptions options);
  // Stops the thread; requests still queued or running finish with finish_reason "cancelled".
  ~Scheduler() override;

  Result<RequestId> Submit(GenerationRequest request, std::shared_ptr<GenerationObserver> observer) override;
  void Cancel(RequestId id) override;

  // Counts for tests and metrics (approximate while the thread runs).
  struct Counters {
    int64_t steps = 0;
    int64_t tokens_computed = 0;  // batch rows run through the model
    int64_t max_batch_spans = 0;  // most sequences seen in one step
    int64_t prefix_waits = 0;     // admissions deferred behind a sequence prefilling their prefix
  };
  Counters counters() const;
  std::string DebugString() const;

 private:
  struct Sequence;

  Scheduler(std::shared_ptr<ModelRunner> runner, SchedulerOptions options);
  void Loop();
  void Admit(std::deque<std::unique_ptr<Sequence>>* incoming);
  // Opens a sequence's runner slot and attaches its cached prefix; Finish on error.
  void Open(Sequence* s);
  // True while another running sequence is prefilling a prefix `s` shares (see the class comment).
  bool ShouldWaitForPrefix(const Sequence& s) const;
  void BuildStep(StepBatch* batch, std::vector<Sequence*>* owners);
  void HandleLogits(Sequence* seq, std::span<const float> logits);
  void FinishPrefillOnly(Sequence* seq);  // max_new_tokens 0: the whole prompt is committed
  void Finish(Sequence* seq, const Status& status, const std::string& reason);
  void ReapFinished();

  // Constant after construction.
  const std::shared_ptr<ModelRunner> runner_;
  const SchedulerOptions options_;

  // Protected by mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Sequence>> queue_;
  std::unordered_set<RequestId> cancelled_;
  RequestId next_id_ = 1;
  bool stop_ = false;
  Counters counters_;

  // Engine thread only.
  std::vector<std::unique_ptr<Sequence>> running_;
  StepBatch batch_;
  StepOutput output_;
  std::thread thread_;
};

}  // namespace swarmkv
