// Mamba2Model: the whole forward pass of a pure Mamba-2 model (mamba2) over one sequence,
// outside the memory core — embeddings -> per layer RMSNorm -> Mamba2Layer -> residual ->
// final RMSNorm -> logits, as llama.cpp's mamba graph. The sequence's state (every layer's conv
// and ssm state) is a plain value the caller keeps, copies (a checkpoint) and passes back.
//
// Used by the recurrent tests (prefix state restored vs recomputed, llama.cpp parity) and as
// the reference the engine's Mamba-2 path is compared with.
//
// Invariant: Forward's logits depend only on (weights, state in, tokens): feeding a prompt in
// any split, from a copied state, at any kernel level gives the same bits.
//
// Thread-safety: one Forward at a time per object (scratch members); states are values.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "engine/mamba2_layer.h"
#include "kernels/cpu_features.h"
#include "model/model.h"

namespace swarmkv {

// One sequence's recurrent state: per layer, conv then ssm floats, concatenated.
struct Mamba2SequenceState {
  std::vector<float> floats;   // zero-initialised by Mamba2Model::NewState
  int64_t num_tokens = 0;      // tokens consumed so far
};

class Mamba2Model {
 public:
  // `model` must be a mamba2 model and outlive this object.
  static Result<std::unique_ptr<Mamba2Model>> Create(const Model* model, ThreadPool* pool = nullptr,
                                                     Isa isa = ActiveIsa());

  Mamba2SequenceState NewState() const;
  // Bytes of one sequence's state (every layer), what a checkpoint holds.
  size_t state_bytes() const { return state_floats_ * sizeof(float); }

  // Consumes `tokens` after the state's, advancing it; writes the logits (n_vocab) after the
  // last token into *logits (when non-null). InvalidArgument for a token outside the vocabulary
  // or an empty span.
  Status Forward(std::span<const int32_t> tokens, Mamba2SequenceState* state, std::vector<float>* logits);

 private:
  Mamba2Model(const Model* model, Mamba2Config config, ThreadPool* pool, Isa isa);

  // Constant after construction.
  const Model* const model_;
  const Mamba2Config config_;
  ThreadPool* const pool_;
  const Isa isa_;
  std::vector<Mamba2LayerWeights> layers_;
  std::vector<const float*> attn_norms_;
  WeightMatrix token_embd_, output_;
  const float* output_norm_ = nullptr;
  size_t state_floats_ = 0;
  // Scratch.
  Mamba2Layer layer_;
  std::vector<float> x_, xn_, out_;
};

}  // namespace swarmkv
