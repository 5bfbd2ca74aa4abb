#include "engine_fixture.h"

#include <algorithm>

namespace swarmkv::testing {

Result<std::unique_ptr<EngineFixture>> EngineFixture::Load(const std::string& path, TensorType kv_type,
                                                           uint64_t budget_bytes, int64_t context_length,
                                                           int32_t checkpoint_interval_blocks) {
  auto f = std::make_unique<EngineFixture>();
  ModelLoadOptions lo;
  SKV_ASSIGN_OR_RETURN(f->model, Model::Load(path, lo));
  KvMemoryOptions mo;
  mo.budget_bytes = budget_bytes;
  SKV_ASSIGN_OR_RETURN(f->memory, KvMemory::Create(mo));
  KvCacheConfig kv;
  kv.k_type = kv_type;
  kv.v_type = kv_type;
  f->ns = f->model->KvNamespace(kv);
  SKV_ASSIGN_OR_RETURN(ForwardConfig config, ForwardConfigFromModel(*f->model, context_length));
  SKV_ASSIGN_OR_RETURN(ForwardWeights weights, ForwardWeightsFromModel(*f->model));
  // Attention layers' KV shape, plus the recurrent layers' checkpoint bytes of a hybrid model.
  NamespaceOptions no = NamespaceOptionsForModel(*f->model, weights, f->ns, path, kv_type, static_cast<int32_t>(kv.block_tokens));
  no.checkpoint_interval_blocks = checkpoint_interval_blocks;
  SKV_RETURN_IF_ERROR(f->memory->RegisterNamespace(no));
  SKV_ASSIGN_OR_RETURN(f->forward, ForwardPass::Create(config, weights, f->memory.get(), f->ns));
  return f;
}

Result<std::vector<float>> EngineFixture::Feed(SequenceId seq, std::span<const int32_t> tokens, int64_t chunk) {
  if (tokens.empty()) return InvalidArgumentError("Feed: no tokens");
  SKV_ASSIGN_OR_RETURN(int64_t pos, memory->Length(seq));
  StepBatch batch;
  StepOutput out;
  for (size_t i = 0; i < tokens.size(); i += chunk) {
    const size_t n = std::min<size_t>(chunk, tokens.size() - i);
    batch.Clear();
    batch.Add(seq, pos, tokens.subspan(i, n), i + n == tokens.size());
    SKV_RETURN_IF_ERROR(forward->Run(batch, &out));
    pos += static_cast<int64_t>(n);
  }
  return out.logits;
}

}  // namespace swarmkv::testing
