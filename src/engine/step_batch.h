// StepBatch: the work of one engine step — token rows of several sequences at their own
// positions — and ModelRunner, the seam between the scheduler and the forward pass.
//
// A step mixes prefill chunks of some sequences with one decode token of others (continuous
// batching). Rows are grouped per sequence in `spans`; `tokens` is their concatenation in span
// order. Logits come back only for spans that asked for them (the last prompt token of a finished
// prefill, every decode token), one vocab-sized row each, in span order.
//
// Invariant (the runner's contract): a span's logits depend only on that sequence's tokens
// [0, first_position + num_tokens), never on the other spans or on how the sequence's earlier
// tokens were split into steps or came from cached KV — so the scheduler may compose steps freely.
//
// Thread-safety: a ModelRunner is driven by one scheduler thread; its const accessors may be
// called from any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/preemption_cost.h"

namespace swarmkv {

using SlotId = int64_t;  // a runner-side sequence handle

struct StepSpan {
  SlotId slot = 0;
  int64_t first_position = 0;  // position of this span's first token; == the sequence's length
  int32_t num_tokens = 0;      // >= 1
  bool want_logits = false;    // logits for the span's last token
};

struct StepBatch {
  std::vector<int32_t> tokens;  // all spans' tokens, concatenated in span order
  std::vector<StepSpan> spans;

  int32_t num_tokens() const { return static_cast<int32_t>(tokens.size()); }
  void Clear() {
    tokens.clear();
    spans.clear();
  }
  // Appends a span; REQUIRES !span_tokens.empty().
  void Add(SlotId slot, int64_t first_position, std::span<const int32_t> span_tokens, bool want_logits);
  // Shape checks a runner can call first: spans non-empty and their sizes sum to tokens.size().
  Status Validate() const;
};

struct StepOutput {
  int32_t vocab_size = 0;
  std::vector<float> logits;  // rows for spans with want_logits, in span order

  std::span<const float> Row(int32_t i) const {
    return std::span<const float>(logits).subspan(static_cast<size_t>(i) * vocab_size, vocab_size);
  }
};

// The KV budget a runner's sequences live in (the scheduler's admission and preemption; see
// scheduler.h). A runner without one reports budget_bytes 0: unlimited, never preempted.
struct KvCapacity {
  uint64_t budget_bytes = 0;  // the whole budget (shared with other models' sequences)
  uint64_t block_bytes = 0;   // bytes one block of this runner's KV takes from it
  int64_t block_tokens = 0;   // tokens per block
  int64_t hot_window_tokens = 0;  // > 0: older blocks of a running sequence go to disk (engine/cold_kv.h)
};

// Whether a Reserve would succeed now, planned without side effects.
struct KvReserveCheck {
  uint64_t bytes_needed = 0;   // new blocks the reservation allocates
  bool fits_unpinned = true;   // in free memory + cached blocks no named pin keeps
  bool fits = true;            // when pinned cached blocks may be evicted too
};

struct OpenedSequence {
  SlotId slot = 0;
  int64_t reused_tokens = 0;  // leading prompt tokens whose KV came from the cache (< prompt size)
};

// One loaded model plus its KV memory, as the scheduler sees it. Implemented over the model, the
// kernels and the memory core (engine/forward + KvMemory); tests may use a small deterministic
// runner to pin the scheduler's bookkeeping.
class ModelRunner {
 public:
  virtual ~ModelRunner() = default;
  virtual int32_t vocab_size() const = 0;
  virtual int32_t context_length() const = 0;  // the model's trained context
  virtual bool IsEndOfGeneration(int32_t token) const = 0;
  // The bytes a token adds to the text (may be part of a UTF-8 character).
  virtual std::string TokenPiece(int32_t token) const = 0;
  // A new sequence for `tokens` (a prompt, or a preempted sequence's prompt + generated tokens)
  // with the longest cached prefix attached. At least the last token is left to compute (its
  // logits are needed): reused_tokens < tokens.size().
  virtual Result<OpenedSequence> Open(std::span<const int32_t> tokens) = 0;
  // Runs one step: writes every span's K/V at its positions, commits its tokens, and fills logits.
  // On error nothing is committed for any span.
  virtual Status Forward(const StepBatch& batch, StepOutput* out) = 0;
  // Releases the sequence (its sealed blocks stay cached for later prefix hits).
  virtual void Close(SlotId slot) = 0;

  // ---- KV memory, as the scheduler manages it (defaults: no budget, every reservation fits).
  virtual KvCapacity kv_capacity() const { return {}; }
  // Would Reserve(slot, num_tokens) succeed now? No side effects.
  virtual Result<KvReserveCheck> PlanReserve(SlotId slot, int64_t num_tokens) const {
    (void)slot, (void)num_tokens;
    return KvReserveCheck{};
  }
  // Makes room for the slot's next `num_tokens` positions, so that a Forward over them allocates
  // nothing (idempotent). ResourceExhausted when the budget is held by running sequences: the
  // scheduler preempts one and retries.
  virtual Status Reserve(SlotId slot, int64_t num_tokens) {
    (void)slot, (void)num_tokens;
    return Status::OK();
  }

  // ---- Preemption by swap (engine/preemption_cost.h; defaults: cannot swap, always recompute).
  virtual bool CanSwap() const { return false; }
  // Swapping `slot` out versus recomputing it, `remaining_steps` being the decode steps it may
  // still run. No side effects.
  virtual PreemptionEstimate EstimatePreemption(SlotId slot, int64_t remaining_steps) const {
    (void)slot, (void)remaining_steps;
    return PreemptionEstimate{};
  }
  // Writes the slot's private full blocks to disk, frees their RAM and drops its unsealed tail; the
  // slot stays open (its KV is streamed back when it runs again). Returns the tokens it keeps
  // (whole blocks). On error the slot may be half swapped: the caller closes it and recomputes.
  virtual Result<int64_t> SwapOut(SlotId slot) {
    (void)slot;
    return UnimplementedError("this runner cannot swap KV out");
  }
};

}  // namespace swarmkv
