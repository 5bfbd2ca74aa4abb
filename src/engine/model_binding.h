// Binding a loaded Model (model/) to the forward pass: its hyper-parameters become a
// ForwardConfig (RoPE variant and scaling as llama.cpp derives them) and its weights become
// ForwardWeights views (no copy).
//
// Invariant: the views point into the Model's mapping; valid while the Model lives.
// Thread-safety: pure functions.
#pragma once

#include "base/status.h"
#include "engine/forward.h"
#include "model/model.h"

namespace swarmkv {

// A weight tensor as the matmul kernels see it (rows = ne1, cols = ne0); a view, no copy.
WeightMatrix MatrixView(const TensorRef& t);

// Unimplemented for what the forward pass does not support (non-F32 norm weights).
// `context_length` (0 = the model's training context) picks phi3's LongRoPE factors as
// llama.cpp's n_ctx does: long ones above rope.scaling.original_context_length, else short.
Result<ForwardConfig> ForwardConfigFromModel(const Model& model, int64_t context_length = 0);
// Hybrid models: recurrent layers get their RecurrentLayer (engine/recurrent_layers.h), a new
// one per call (each ForwardPass owns its own).
Result<ForwardWeights> ForwardWeightsFromModel(const Model& model);

// The KV namespace registration of `model` bound as `weights`: the attention layers' KV shape and,
// for a hybrid model, each recurrent layer's state bytes (the block checkpoint layout).
NamespaceOptions NamespaceOptionsForModel(const Model& model, const ForwardWeights& weights, const Hash128& id,
                                          std::string name, TensorType kv_type, int32_t block_tokens);

}  // namespace swarmkv
