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

// Unimplemented for what the forward pass does not support (non-F32 norm weights, longrope).
Result<ForwardConfig> ForwardConfigFromModel(const Model& model);
Result<ForwardWeights> ForwardWeightsFromModel(const Model& model);

}  // namespace swarmkv
