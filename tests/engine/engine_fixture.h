// Test fixture: a real tiny model (../shared/models) loaded with model/, a real KvMemory and the
// ForwardPass, plus small drivers that run a token list through it in chunks.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/forward.h"
#include "engine/model_binding.h"
#include "memory/kv_memory.h"
#include "model/model.h"

namespace swarmkv::testing {

struct EngineFixture {
  std::unique_ptr<Model> model;
  std::unique_ptr<KvMemory> memory;
  Hash128 ns;
  std::unique_ptr<ForwardPass> forward;

  // context_length: as ForwardConfigFromModel's (0 = the model's; picks phi3's rope factors).
  // checkpoint_interval_blocks: hybrid models' NamespaceOptions::checkpoint_interval_blocks.
  static Result<std::unique_ptr<EngineFixture>> Load(const std::string& path, TensorType kv_type,
                                                     uint64_t budget_bytes = 64ull << 20, int64_t context_length = 0,
                                                     int32_t checkpoint_interval_blocks = 1);

  int32_t vocab() const { return forward->config().n_vocab; }
  // Feeds `tokens` to `seq` (starting at its current length) in chunks of `chunk`, each chunk a
  // step of its own; returns the logits after the last token.
  Result<std::vector<float>> Feed(SequenceId seq, std::span<const int32_t> tokens, int64_t chunk);
};

}  // namespace swarmkv::testing
