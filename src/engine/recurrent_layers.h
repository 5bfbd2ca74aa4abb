// The factory of recurrent layers: which RecurrentLayer (engine/recurrent_layer.h) runs a hybrid
// model's recurrent layer, built over the tensors model/weights.h bound for it.
//
// This is the one place a new recurrent layer type is plugged in (one case per architecture).
// Invariant: the returned layer reads only views into the model's mapping (valid while the
// Model lives) plus its own small derived copies.
// Thread-safety: pure function; each call returns a new layer (one per ForwardPass).
#pragma once

#include <memory>

#include "base/status.h"
#include "engine/recurrent_layer.h"
#include "model/model.h"

namespace swarmkv {

// REQUIRES: model.hparams().is_recurrent(layer). Unimplemented for an architecture without one.
Result<std::shared_ptr<RecurrentLayer>> MakeRecurrentLayer(const Model& model, int layer);

}  // namespace swarmkv
