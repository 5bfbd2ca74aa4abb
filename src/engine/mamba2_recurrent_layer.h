// Mamba2RecurrentLayer: the Mamba-2 mixer (engine/mamba2_layer.h) behind the forward pass's
// recurrent-layer seam (engine/recurrent_layer.h) — mamba2's every layer, granitehybrid's
// layers whose head_count_kv is 0.
//
// State bytes: the layer's conv state [d_conv-1][channels] then its ssm state
// [n_head][head_dim][d_state], f32 (granite-4.0-h-350m: 21 KiB + 768 KiB per layer).
// ssm_in and ssm_out run once over the step's rows (every sequence's); the mixer runs per span,
// cut after each snapshot index (kernels/ssm.h: a run split anywhere gives the bits of the
// unsplit run), the state copied into the snapshot after each piece.
//
// Invariant: RecurrentLayer's — a span's output rows and states depend only on its own rows and
// state_in.
//
// Thread-safety: RecurrentLayer's (one ForwardPass, one call at a time; scratch is a member).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/mamba2_layer.h"
#include "engine/recurrent_layer.h"

namespace swarmkv {

class Mamba2RecurrentLayer final : public RecurrentLayer {
 public:
  Mamba2RecurrentLayer(const Mamba2Config& config, const Mamba2LayerWeights& weights)
      : config_(config), weights_(weights) {}

  uint64_t state_bytes() const override {
    return (config_.conv_state_floats() + config_.ssm_state_floats()) * sizeof(float);
  }
  std::string kind() const override { return "mamba2"; }
  Status Forward(const RecurrentContext& ctx, const float* xn, int64_t T, std::span<const RecurrentSpan> spans,
                 float* out) override;

 private:
  const Mamba2Config config_;
  const Mamba2LayerWeights weights_;
  std::unique_ptr<Mamba2Layer> layer_;  // made on first use with the context's pool and ISA
  ThreadPool* layer_pool_ = nullptr;
  Isa layer_isa_ = Isa::kScalar;
};

}  // namespace swarmkv
