// ShortConvLayer: LFM2's gated short-convolution block as a RecurrentLayer (engine/recurrent_layer.h),
// the graph of llama.cpp's src/models/lfm2.cpp (build_shortconv_block):
//
//   [b | c | x] = in_proj · xn            (three n_embd-row slices of one [3·n_embd × n_embd] matrix)
//   bx          = b ⊙ x
//   conv[t]     = Σ_k w[k] ⊙ bx[t - (L-1) + k]   (depthwise causal conv over L = shortconv.l_cache
//                                                 taps; the L-1 rows before the span are the state)
//   out         = out_proj · (c ⊙ conv)
//
// State: the bx rows of the last L - 1 tokens, [L-1][n_embd] f32, oldest first ((L-1)·n_embd·4
// bytes; LFM2-350M: 2 × 1024 × 4 = 8 KiB per conv layer, 80 KiB for its ten conv layers).
//
// Invariant: RecurrentLayer's — the matmuls are per row (batch-invariant kernels), the conv is
// kernels/causal_conv.h (fixed order, same bits at every ISA level), and a span's rows see only
// its own state and rows.
//
// Thread-safety: RecurrentLayer's (one ForwardPass, one call at a time; scratch is a member).
#pragma once

#include <memory>
#include <vector>

#include "engine/recurrent_layer.h"
#include "kernels/matmul.h"

namespace swarmkv {

struct ShortConvWeights {
  WeightMatrix in_proj;   // [3 · n_embd][n_embd]: rows b, then c, then x
  WeightMatrix out_proj;  // [n_embd][n_embd]
  const float* conv = nullptr;  // [n_embd][l_cache] f32 (ggml's {l_cache, n_embd})
};

class ShortConvLayer final : public RecurrentLayer {
 public:
  // InvalidArgument for shapes that disagree with n_embd / l_cache (l_cache must be >= 2).
  static Result<std::unique_ptr<ShortConvLayer>> Create(const ShortConvWeights& w, int64_t n_embd, int32_t l_cache);

  uint64_t state_bytes() const override { return static_cast<uint64_t>(l_cache_ - 1) * n_embd_ * sizeof(float); }
  std::string kind() const override { return "shortconv"; }
  Status Forward(const RecurrentContext& ctx, const float* xn, int64_t T, std::span<const RecurrentSpan> spans,
                 float* out) override;

 private:
  ShortConvLayer(const ShortConvWeights& w, int64_t n_embd, int32_t l_cache);

  const int64_t n_embd_;
  const int32_t l_cache_;
  WeightMatrix wb_, wc_, wx_, out_proj_;
  std::vector<float> taps_;  // [l_cache][n_embd]: the conv weights transposed for the kernel

  // Scratch.
  Activations act_;
  std::vector<float> b_, c_, x_;  // [T][n_embd]
  std::vector<float> xe_;         // [L - 1 + n][n_embd]: one span's state then its bx rows
  std::vector<float> y_;          // [T][n_embd]: c ⊙ conv
};

}  // namespace swarmkv
