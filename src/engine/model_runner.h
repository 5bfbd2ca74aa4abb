// LlamaRunner: the ModelRunner of a loaded llama-family Model — ForwardPass over the shared
// KvMemory, with the tokenizer for token text and end-of-generation ids.
//
// Invariant: every sequence it opens lives in the model's KV namespace; Open attaches the
// longest cached prefix of the prompt minus its last token (that token's logits are needed), so
// reused tokens are never computed; Close releases the sequence (sealed blocks stay cached).
//
// Thread-safety: driven by one scheduler thread (see ModelRunner).
#pragma once

#include <memory>

#include "engine/cold_kv.h"
#include "engine/forward.h"
#include "engine/step_batch.h"
#include "memory/kv_memory.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace swarmkv {

struct LlamaRunnerOptions {
  TensorType kv_type = TensorType::kF16;  // K and V dtype (f16, bf16, q8_0, q4_0)
  int32_t block_tokens = 32;
  ThreadPool* pool = nullptr;
  // Context beyond RAM (engine/cold_kv.h): tokens of each running sequence kept in RAM; older
  // blocks go to `cold_dir`. 0: off (a sequence's KV must fit in RAM).
  int64_t kv_hot_window_tokens = 0;
  // Also where preempted sequences are swapped out (engine/preemption_cost.h); "" without a window:
  // preemption always recomputes.
  std::string cold_dir;
  ColdKvFaults* cold_faults = nullptr;  // tests only
  // Optional: every block that goes cold, as a sealed block for the tiers (ColdKvOptions::export_block).
  EvictionHook export_cold_block;
  // Hybrid models: a recurrent checkpoint in every k-th block (`serve --kv-checkpoint-interval`);
  // 0: k from the cost model (engine/checkpoint_interval.h).
  int32_t checkpoint_interval_blocks = 0;
};

class LlamaRunner final : public ModelRunner {
 public:
  // Registers the model's KV namespace in `memory` (which must outlive the runner).
  static Result<std::unique_ptr<LlamaRunner>> Create(std::shared_ptr<const Model> model,
                                                     std::shared_ptr<const Tokenizer> tokenizer, KvMemory* memory,
                                                     LlamaRunnerOptions options = {});

  int32_t vocab_size() const override { return forward_->config().n_vocab; }
  int32_t context_length() const override { return static_cast<int32_t>(model_->hparams().n_ctx_train); }
  bool IsEndOfGeneration(int32_t token) const override;
  std::string TokenPiece(int32_t token) const override;
  Result<OpenedSequence> Open(std::span<const int32_t> tokens) override;
  Status Forward(const StepBatch& batch, StepOutput* out) override;
  void Close(SlotId slot) override;
  KvCapacity kv_capacity() const override { return capacity_; }
  Result<KvReserveCheck> PlanReserve(SlotId slot, int64_t num_tokens) const override;
  Status Reserve(SlotId slot, int64_t num_tokens) override;
  bool CanSwap() const override { return cold_ != nullptr; }
  PreemptionEstimate EstimatePreemption(SlotId slot, int64_t remaining_steps) const override;
  Result<int64_t> SwapOut(SlotId slot) override;
  double prefill_tokens_per_second() const { return prefill_tokens_per_second_; }

  const Hash128& namespace_id() const { return ns_; }
  ColdKv* cold_kv() const { return cold_.get(); }  // nullptr without a hot window nor a cold_dir

 private:
  LlamaRunner() = default;

  std::shared_ptr<const Model> model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  KvMemory* memory_ = nullptr;
  Hash128 ns_;
  std::unique_ptr<ForwardPass> forward_;
  std::unique_ptr<ColdKv> cold_;
  KvCapacity capacity_;
  double prefill_tokens_per_second_ = 0;  // EWMA over steps of >= 64 tokens (the swap cost model)
};

}  // namespace swarmkv
