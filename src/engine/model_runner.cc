#include "engine/model_runner.h"

#include "base/logging.h"
#include "engine/model_binding.h"
#include "kernels/cpu_features.h"
#include "memory/sequence_handle.h"

namespace swarmkv {

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
  const NamespaceOptions no =
      NamespaceOptionsForModel(*model, weights, r->ns_, model->path() + ":" + TensorTypeName(static_cast<uint32_t>(options.kv_type)),
                               options.kv_type, options.block_tokens);
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
  if (options.kv_hot_window_tokens > 0) {
    ColdKvOptions co;
    co.hot_window_tokens = options.kv_hot_window_tokens;
    co.dir = options.cold_dir;
    // Sizes the cold file's sparse layer regions only: a context may run past the trained one.
    co.max_tokens_per_sequence = std::max<int64_t>(h.n_ctx_train, int64_t{1} << 20);
    co.faults = options.cold_faults;
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
  if (cold_ == nullptr) return forward_->Run(batch, out);
  SKV_RETURN_IF_ERROR(cold_->BeginStep(batch));
  Status st = forward_->Run(batch, out);
  cold_->EndStep();
  if (st.ok()) cold_->SpillBeyondWindow(batch);
  return st;
}

void LlamaRunner::Close(SlotId slot) {
  Status st = memory_->Release(static_cast<SequenceId>(slot));
  if (!st.ok()) SKV_LOG(ERROR) << "releasing sequence " << slot << ": " << st.ToString();
  forward_->ForgetSequence(static_cast<SequenceId>(slot));
  if (cold_ != nullptr) cold_->Forget(slot);
}

}  // namespace swarmkv
