#include "engine/model_runner.h"

#include <algorithm>

#include "base/logging.h"
#include "base/sysinfo.h"
#include "engine/checkpoint_interval.h"
#include "engine/model_binding.h"
#include "kernels/cpu_features.h"
#include "memory/sequence_handle.h"

namespace swarmkv {
namespace {

// The checkpoint cost model's sizes for a namespace (prefill speed unmeasured at load).
CheckpointCostInputs CheckpointCostFor(const NamespaceOptions& no) {
  CheckpointCostInputs in;
  for (uint64_t b : no.recurrent_bytes_per_layer) in.state_bytes += b;
  Result<KvLayout> layout = KvLayout::Create(no.shape);
  in.kv_bytes_per_block = layout.ok() ? layout->block_bytes() : 0;
  in.block_tokens = no.shape.block_tokens;
  return in;
}

}  // namespace

Result<std::unique_ptr<LlamaRunner>> LlamaRunner::Create(std::shared_ptr<const Model> model,
                                                         std::shared_ptr<const Tokenizer> tokenizer, KvMemory* memory,
                                                         LlamaRunnerOptions options) {
  if (model == nullptr || tokenizer == nullptr || memory == nullptr)
    return InvalidArgumentError("runner: model, tokenizer and memory are required");
  const ModelHParams& h = model->hparams();
  KvCacheConfig kv;
  kv.k_type = options.kv_type;
  kv.v_type = options.kv_type;
  kv.block_tokens = static_cast<uint32_t>(options.block_tokens);
  kv.numerics = KernelNumericsId();
  std::unique_ptr<LlamaRunner> r(new LlamaRunner());
  r->ns_ = model->KvNamespace(kv);
  SKV_ASSIGN_OR_RETURN(ForwardConfig config, ForwardConfigFromModel(*model));
  SKV_ASSIGN_OR_RETURN(ForwardWeights weights, ForwardWeightsFromModel(*model));
  // Hybrid models: the namespace's KV covers the attention layers, and every block also carries
  // the recurrent layers' state after its last token (the checkpoint a prefix hit restores).
  NamespaceOptions no =
      NamespaceOptionsForModel(*model, weights, r->ns_, model->path() + ":" + TensorTypeName(static_cast<uint32_t>(options.kv_type)),
                               options.kv_type, options.block_tokens);
  no.checkpoint_interval_blocks = CheckpointIntervalBlocks(options.checkpoint_interval_blocks, CheckpointCostFor(no));
  if (!no.recurrent_bytes_per_layer.empty() && options.kv_hot_window_tokens > 0)
    return InvalidArgumentError("--kv-hot-window is not supported for hybrid (recurrent) models: their blocks carry "
                                "state checkpoints that must stay with the block");
  SKV_RETURN_IF_ERROR(memory->RegisterNamespace(no).WithContext("KV type " + TensorTypeName(static_cast<uint32_t>(options.kv_type))));
  ForwardOptions fo;
  fo.pool = options.pool;
  SKV_ASSIGN_OR_RETURN(r->forward_, ForwardPass::Create(config, weights, memory, r->ns_, fo));
  SKV_ASSIGN_OR_RETURN(r->capacity_.block_bytes, memory->BytesForTokens(r->ns_, 0));  // one block
  r->capacity_.budget_bytes = memory->budget_bytes();
  r->capacity_.block_tokens = options.block_tokens;
  // Hybrid models never swap to the cold file (a preempted hybrid sequence is recomputed): a cold
  // block would leave its recurrent checkpoint behind, and an exported cold entry would carry none.
  const bool hybrid = !no.recurrent_bytes_per_layer.empty();
  if (!hybrid && (options.kv_hot_window_tokens > 0 || !options.cold_dir.empty())) {
    ColdKvOptions co;
    co.hot_window_tokens = options.kv_hot_window_tokens;
    co.dir = options.cold_dir;
    // Sizes the cold file's sparse layer regions only: a context may run past the trained one.
    co.max_tokens_per_sequence = std::max<int64_t>(h.n_ctx_train, int64_t{1} << 20);
    co.faults = options.cold_faults;
    co.namespace_id = r->ns_;
    co.export_block = std::move(options.export_cold_block);
    SKV_ASSIGN_OR_RETURN(r->cold_, ColdKv::Create(memory, r->forward_->layout(), co));
    r->forward_->SetKvSources(r->cold_->sources());
    r->capacity_.hot_window_tokens = r->cold_->hot_window_tokens();
  }
  r->model_ = std::move(model);
  r->tokenizer_ = std::move(tokenizer);
  r->memory_ = memory;
  return r;
}

bool LlamaRunner::IsEndOfGeneration(int32_t token) const {
  const Vocab& v = tokenizer_->vocab();
  return v.IsEog(token);
}

std::string LlamaRunner::TokenPiece(int32_t token) const {
  Result<std::string> piece = tokenizer_->TokenToPiece(token);
  return piece.ok() ? *piece : std::string();
}

Result<OpenedSequence> LlamaRunner::Open(std::span<const int32_t> tokens) {
  if (tokens.empty()) return InvalidArgumentError("runner: Open of an empty token list");
  // Owned by the handle until it is handed to the scheduler (a failed attach releases it).
  SKV_ASSIGN_OR_RETURN(SequenceHandle seq, SequenceHandle::Create(memory_, ns_));
  SKV_ASSIGN_OR_RETURN(PrefixMatch match, memory_->AttachPrefix(seq.id(), tokens.first(tokens.size() - 1)));
  // Hybrid: continue from the checkpoint of the last matched block (zeros when nothing matched).
  if (forward_->hybrid()) SKV_RETURN_IF_ERROR(forward_->SetRecurrentState(seq.id(), match.recurrent_state));
  return OpenedSequence{static_cast<SlotId>(seq.Detach()), match.matched_tokens};
}

Result<KvReserveCheck> LlamaRunner::PlanReserve(SlotId slot, int64_t num_tokens) const {
  SKV_ASSIGN_OR_RETURN(ReservePlan plan, memory_->PlanReserve(static_cast<SequenceId>(slot), num_tokens));
  return KvReserveCheck{plan.bytes_needed, plan.fits_unpinned, plan.fits};
}

Status LlamaRunner::Reserve(SlotId slot, int64_t num_tokens) {
  Status st = memory_->Reserve(static_cast<SequenceId>(slot), num_tokens);
  if (!st.ok() && cold_ != nullptr) return cold_->ExplainReserveFailure(slot, std::move(st));
  return st;
}

Status LlamaRunner::Forward(const StepBatch& batch, StepOutput* out) {
  const int64_t start = MonotonicNanos();
  Status st;
  if (cold_ == nullptr) {
    st = forward_->Run(batch, out);
  } else {
    SKV_RETURN_IF_ERROR(cold_->BeginStep(batch));
    st = forward_->Run(batch, out);
    cold_->EndStep();
    if (st.ok()) cold_->SpillBeyondWindow(batch);
  }
  // Prefill speed for the swap cost model: steps of many tokens only (fixed costs dominate small ones).
  const int64_t nanos = MonotonicNanos() - start;
  if (st.ok() && batch.num_tokens() >= 64 && nanos > 0) {
    const double tps = batch.num_tokens() / (static_cast<double>(nanos) * 1e-9);
    prefill_tokens_per_second_ = prefill_tokens_per_second_ <= 0 ? tps : prefill_tokens_per_second_ + 0.1 * (tps - prefill_tokens_per_second_);
  }
  return st;
}

PreemptionEstimate LlamaRunner::EstimatePreemption(SlotId slot, int64_t remaining_steps) const {
  if (cold_ == nullptr) return PreemptionEstimate{};
  Result<BlockTable> table = memory_->GetBlockTable(static_cast<SequenceId>(slot));
  if (!table.ok()) return PreemptionEstimate{};
  const int64_t B = capacity_.block_tokens;
  const uint64_t kv_bytes = forward_->layout().block_bytes();
  PreemptionInputs in;
  for (int64_t b = 0; b < table->num_tokens / B; ++b) {
    (table->blocks[static_cast<size_t>(b)] != nullptr ? in.swap_bytes : in.cold_bytes) += kv_bytes;
  }
  in.recompute_tokens = table->num_tokens;
  // Swapped blocks are streamed on every step until they would have left the hot window anyway.
  const int64_t window = cold_->hot_window_tokens();
  in.reads_after_resume = window > 0 ? std::min(remaining_steps, window) : remaining_steps;
  const ColdKvStats st = cold_->stats();
  in.write_bytes_per_second = st.write_bytes_per_second;
  in.read_bytes_per_second = st.read_bytes_per_second;
  in.prefill_tokens_per_second = prefill_tokens_per_second_;
  return ChoosePreemption(in);
}

Result<int64_t> LlamaRunner::SwapOut(SlotId slot) {
  if (cold_ == nullptr) return FailedPreconditionError("runner: no cold store to swap KV out to");
  const auto seq = static_cast<SequenceId>(slot);
  SKV_RETURN_IF_ERROR(cold_->SwapOut(slot).status());
  SKV_ASSIGN_OR_RETURN(int64_t len, memory_->Length(seq));
  const int64_t keep = len / capacity_.block_tokens * capacity_.block_tokens;
  // The unsealed tail (< one block, no identity) is dropped: recomputing it is cheaper than a file.
  SKV_RETURN_IF_ERROR(memory_->Truncate(seq, keep));
  return keep;
}

void LlamaRunner::Close(SlotId slot) {
  Status st = memory_->Release(static_cast<SequenceId>(slot));
  if (!st.ok()) SKV_LOG(ERROR) << "releasing sequence " << slot << ": " << st.ToString();
  forward_->ForgetSequence(static_cast<SequenceId>(slot));
  if (cold_ != nullptr) cold_->Forget(slot);
}

}  // namespace swarmkv
