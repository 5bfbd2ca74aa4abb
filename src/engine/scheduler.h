// Scheduler: continuous batching for one model — the engine's GenerationService.
//
// One engine thread loops: admit queued requests while their next step's KV fits (attaching their
// cached prefix through the runner, so reused tokens are never computed), reserve the KV of the
// step's sequences — preempting the lowest-priority ones when the budget is short — then run one
// step of at most `max_step_tokens` tokens — first one decode token for every running sequence,
// then prefill chunks of the sequences still reading their prompt, in priority order — sample,
// stream.
//
// Memory (docs/memory.md "Admission and preemption"; vLLM's scheduler semantics):
// - Submit refuses (InvalidArgument, naming tokens, bytes and budget) only a request whose KV
//   cannot fit in the whole budget even alone. An unbounded request (max_new_tokens -1) is given
//   the context the budget holds instead: it ends with "length" there, like a full context.
// - Admission (after the running sequences' reservations, with the step's remaining tokens): the
//   queue is ordered by (priority desc, arrival). The next request is taken from the highest
//   priority present, round-robin between clients (GenerationRequest::client_id, the HTTP
//   X-Client-Id): the earliest request of the client admitted least recently, so one client's
//   flood does not delay another's request by more than one admission per flooding client. It
//   is admitted when the KV of its first chunk fits in free memory plus unpinned cached blocks
//   (pinned ones too when this scheduler runs nothing, else it could wait forever); otherwise it
//   and everything else wait. Nothing fails for memory.
// - Preemption: when a step's reservations do not fit, the lowest-priority running sequence (the
//   latest arrival) is preempted until they do, in one of two ways (SchedulerOptions::preemption,
//   by default the cost model of engine/preemption_cost.h, when the runner can swap):
//   recompute — its runner slot is closed (sealed blocks stay cached for a prefix hit — and go to
//   the tiers if evicted —, the private tail is dropped), and on readmission it recomputes what is
//   not cached (prompt + generated tokens, fed in order);
//   swap — the runner writes its private blocks to disk and frees their RAM (ModelRunner::SwapOut);
//   it keeps its slot while queued and on readmission continues from them (streamed back); a swap
//   that fails, or a swapped block that cannot be read back, means recompute — never a lost request.
//   Either way it returns to the queue with its sampler state and tokens and continues where it
//   stopped: its output is byte-identical to an unpressured run (batch invariance, see
//   step_batch.h); its observer only sees a pause.
// - Waiting for memory another scheduler's sequences hold: woken by SchedulerOptions::memory_signal
//   when they free it (no polling; a long backstop re-check covers holders outside the schedulers).
// - Isolation: a failing step is rerun one sequence at a time; only sequences whose own work
//   fails are finished with an error.
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
// - A sequence's tokens are fed in order, each exactly once per runner slot, at position == its
//   length; so with a batch-invariant runner (see step_batch.h) the output of a request does not
//   depend on the step budget, on its neighbours, on preemptions, or on how much was cached.
// - Every admitted request gets exactly one OnFinish, after its last OnToken, and its runner
//   slot is closed before OnFinish (finish, stop, cancel, error, shutdown alike).
// - Errors detectable up front (empty or too-long prompt, bad sampling values, full queue, KV that
//   cannot fit alone) are returned by Submit, before any callback.
// - Every step, the highest-priority running sequence gets its reservation or is the only one
//   left (others preempted), so the scheduler always progresses while memory is not held by other
//   models' sequences.
//
// Thread-safety: Submit, Cancel, Queue, counters and DebugString from any thread; observers are
// called on the engine thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/generation.h"
#include "engine/memory_signal.h"
#include "engine/preemption_cost.h"
#include "engine/sampler.h"
#include "engine/step_batch.h"
#include "engine/step_stats.h"
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
  // Called on the engine thread with a preempted sequence's tokens before it is reopened, so the
  // blocks evicted meanwhile can be restored from the tiers (server: KvTiers::BeforeAdmission).
  // Optional; failures inside it must only mean "recompute".
  std::function<void(std::span<const int32_t> tokens)> before_resume;
  // How a preempted sequence's KV is kept (engine/preemption_cost.h). kSwap and kCostModel need a
  // runner that can swap (ModelRunner::CanSwap); otherwise it is recomputed.
  PreemptionMode preemption = PreemptionMode::kCostModel;
  // Shared by the schedulers of one KV budget: each notifies when it frees memory, and one whose
  // queue waits for memory held elsewhere is woken by it. Optional.
  std::shared_ptr<MemorySignal> memory_signal;
  // Backstop re-check while the queue waits for memory and nothing runs here (memory held outside
  // the schedulers — a transient copy, a pin — frees without a notification).
  int32_t memory_recheck_ms = 1000;
};

// One queued request as /api/ps and /api/kv show it.
struct QueuedRequest {
  RequestId id = 0;
  int32_t position = 0;          // 0: admitted next
  int32_t priority = 0;
  int64_t tokens = 0;            // tokens it holds (prompt + generated so far)
  int32_t preemptions = 0;       // > 0: paused for memory, resumes where it stopped
  bool waiting_for_memory = false;  // the head of the queue waits for KV memory (others wait behind it)
};

class Scheduler final : public GenerationService {
 public:
  // Starts the engine thread. InvalidArgument for nonsensical options.
  static Result<std::unique_ptr<Scheduler>> Create(std::shared_ptr<ModelRunner> runner, SchedulerOptions options);
  // Stops the thread; requests still queued or running finish with finish_reason "cancelled".
  ~Scheduler() override;

  Result<RequestId> Submit(GenerationRequest request, std::shared_ptr<GenerationObserver> observer) override;
  void Cancel(RequestId id) override;
  // The waiting requests in admission order.
  std::vector<QueuedRequest> Queue() const;

  // Counts for tests and metrics (approximate while the thread runs).
  struct Counters {
    int64_t steps = 0;
    int64_t tokens_computed = 0;  // batch rows run through the model
    int64_t max_batch_spans = 0;  // most sequences seen in one step
    int64_t prefix_waits = 0;     // admissions deferred behind a sequence prefilling their prefix
    int64_t memory_waits = 0;     // requests that waited in the queue for KV memory (once each)
    int64_t preemptions = 0;      // sequences paused for memory and requeued
    int64_t tokens_recomputed = 0;  // tokens computed again after preemptions
    int64_t isolated_failures = 0;  // sequences failed alone after a failing step was split
    int64_t preemptions_swapped = 0;  // of preemptions, those that swapped the KV out (the rest recompute)
    int64_t swap_failures = 0;        // swaps that failed (disk full...): recomputed instead
    int64_t swap_read_failures = 0;   // resumed from a swap, its KV could not be read back: recomputed
    int64_t memory_wakeups = 0;       // waits for memory (nothing running here) ended by a notification
  };
  Counters counters() const;
  // Steps by kind (decode only, mixed, prefill only): rows and time (engine/step_stats.h).
  StepTotals step_totals() const { return step_stats_.Totals(); }
  std::string DebugString() const;

 private:
  struct Sequence;

  Scheduler(std::shared_ptr<ModelRunner> runner, SchedulerOptions options);
  // Work of one sequence in a step.
  struct Planned {
    Sequence* seq = nullptr;
    int64_t num_tokens = 0;
  };

  void Loop();
  // Admits the queue's head while its first chunk fits in `step_budget` tokens and in KV memory
  // (reserving it, recording its tokens in `want`); returns the step budget left.
  int32_t Admit(int32_t step_budget, std::unordered_map<Sequence*, int64_t>* want);
  // Opens a sequence's runner slot and attaches its cached prefix; false (and Finish) on error.
  bool Open(Sequence* s);
  // Closes its runner slot (the sequence keeps its tokens; length back to 0).
  void Close(Sequence* s);
  // A resumed sequence was reopened: counts the tokens it computes again.
  void CountResume(Sequence* s);
  // True while another running sequence is prefilling a prefix `s` shares (see the class comment).
  bool ShouldWaitForPrefix(const Sequence& s) const;
  // Opens prefix waiters that may go, chooses each running sequence's tokens for the step,
  // reserves their KV in priority order (preempting from the lowest priority when it does not
  // fit), admits from the queue with what is left, and fills the batch.
  void BuildStep(StepBatch* batch, std::vector<Planned>* owners);
  // Reserves each sequence's `want[i]` next tokens (index as running_) in priority order; when
  // the budget is short, closes the lowest-priority open sequences (their want becomes 0) and
  // returns them, for Preempt once the caller is done with running_'s indices.
  std::vector<Sequence*> ReserveOrPreempt(std::vector<int64_t>* want);
  // Closes the slot and moves the sequence from running_ back to the queue.
  void Preempt(Sequence* s);
  // Preemption's first half, on a victim of ReserveOrPreempt: swaps its KV out (it keeps its slot)
  // when the mode or the cost model says so and the swap succeeds, else closes it (recompute).
  void SwapOrClose(Sequence* v);
  bool ShouldSwap(const Sequence& v) const;
  // A failed step of a sequence resumed from a swap: its swapped KV may be unreadable. Closes it
  // and requeues it to recompute (once per sequence); false when that does not apply.
  bool RecomputeAfterSwapFailure(Sequence* s, const Status& st);
  // The queue's head does not fit and nothing runs here: swapped sequences waiting in the queue
  // give up their slots (they will recompute), in case what they still hold in RAM (blocks shared
  // when they were swapped) is what the head waits for. True if any did.
  bool CloseSwappedInQueue();
  // Memory was freed: this scheduler's queue tries again, and the other schedulers of the budget
  // are told (REQUIRES mu_ not held).
  void NotifyMemoryFreed();
  // Runs the batch; on failure reruns each span alone so only failing sequences fail.
  void RunStep(const std::vector<Planned>& owners);
  void Apply(const StepSpan& span, Sequence* s, std::span<const float> logits);
  void HandleLogits(Sequence* seq, std::span<const float> logits);
  void FinishPrefillOnly(Sequence* seq);  // max_new_tokens 0: the whole prompt is committed
  void Finish(Sequence* seq, const Status& status, const std::string& reason);
  void ReapFinished();
  // Inserts by (priority desc, id asc). REQUIRES mu_ held for queue_.
  static void InsertOrdered(std::deque<std::unique_ptr<Sequence>>* q, std::unique_ptr<Sequence> s);
  static void InsertOrdered(std::vector<std::unique_ptr<Sequence>>* v, std::unique_ptr<Sequence> s);
  bool AnyOpen() const;
  // The queued request to admit next: among those of the highest queued priority, the earliest
  // of the client (GenerationRequest::client_id) admitted least recently — round-robin between
  // clients, FIFO within one. REQUIRES mu_ held and a non-empty queue.
  Sequence* NextToAdmitLocked() const;
  // Records that `client_id` just left the queue (its turn in the round-robin).
  void NoteAdmittedLocked(const std::string& client_id);

  // Constant after construction.
  const std::shared_ptr<ModelRunner> runner_;
  const SchedulerOptions options_;

  // Protected by mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Waiting requests (new and preempted), ordered by (priority desc, id asc). Only the engine
  // thread removes from it (Submit inserts), so the engine may use its elements unlocked.
  std::deque<std::unique_ptr<Sequence>> queue_;
  std::unordered_set<RequestId> cancelled_;
  RequestId next_id_ = 1;
  bool stop_ = false;
  bool memory_blocked_ = false;  // the head of the queue waits for KV memory
  bool memory_freed_ = false;    // another scheduler freed memory since the last admission attempt
  Counters counters_;
  // Fairness: the admission turn at which each client last left the queue (0: never, or
  // forgotten — the map keeps only clients with queued requests once it outgrows the queue bound).
  std::unordered_map<std::string, uint64_t> client_turns_;
  uint64_t admission_turn_ = 0;

  // Engine thread only. Running sequences (open, or waiting for a prefix), ordered like queue_.
  std::vector<std::unique_ptr<Sequence>> running_;
  StepBatch batch_;
  StepOutput output_;
  int64_t memory_subscription_ = 0;  // in options_.memory_signal
  StepStats step_stats_;          // Totals() from any thread
  int64_t forward_done_ns_ = 0;  // when the last step's Forward returned
  std::thread thread_;
};

}  // namespace swarmkv
