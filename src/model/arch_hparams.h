// The per-architecture part of ModelHParams::FromGguf: the metadata keys and conventions that
// only some families have (granite's multipliers, olmo2's post-norms, phi3's fused tensors and
// LongRoPE factors, gemma's soft-caps, sliding window and embedding scale), read as llama.cpp
// reads them (its src/models/<arch>.cpp), defaults included.
//
// Invariant: after ReadArchHParams succeeds, the extras of ModelHParams describe exactly what
// the forward pass must do for this family; ValidateArchHParams holds. A file whose family
// variant we do not implement (granite without RoPE, olmo2 with sliding-window layers, per-layer
// window patterns given as arrays) is Unimplemented naming the key, never run approximately.
//
// Thread-safety: pure functions.
#pragma once

#include "base/status.h"
#include "gguf/gguf_file.h"
#include "model/hparams.h"

namespace swarmkv {

// REQUIRES: h->arch and the common fields already read (FromGguf calls it last).
Status ReadArchHParams(const GgufFile& file, ModelHParams* h);

// Marks SWA layers as llama.cpp's set_swa_pattern(period) does: layer il uses the window iff
// il % period < period - 1 (so every period-th layer is global); period 0 = every layer.
std::vector<bool> SwaLayerPattern(uint32_t n_layer, uint32_t period);

// Architectures whose layers may be recurrent (hybrid models: a head_count_kv entry of 0).
bool ArchHasRecurrentLayers(ModelArch arch);

// The extras' own consistency (finite positive scales, window and layer flags agree).
Status ValidateArchHParams(const ModelHParams& h);

}  // namespace swarmkv
