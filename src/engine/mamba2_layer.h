// Mamba2Layer: one Mamba-2 mixer (llama.cpp's build_mamba2_layer) over the new tokens of ONE
// sequence, advancing that sequence's recurrent state — the piece the forward pass calls for a
// Mamba-2 layer of mamba2 / granitehybrid, per span, after the layer's input RMSNorm:
//
//   zxBCdt = ssm_in · xn -> xBC = SiLU(conv1d(xBC; conv state) + bias) -> SSD scan over
//   (x, dt + dt_bias, A, B, C; ssm state) + x·D -> y = RMSNorm_groups(SiLU(z) · y) · ssm_norm
//   -> out = ssm_out · y
//
// Invariant: out and the new state depend only on (weights, xn rows, state in) — each token's
// arithmetic is the same whether the tokens come in one call or several (kernels/ssm.h), so a
// state restored from a checkpoint and continued gives the bits of an uninterrupted run, at
// any kernel level.
//
// Thread-safety: one Run at a time per object (scratch buffers are members); the kernels use
// `pool`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace swarmkv {

struct Mamba2Config {
  int64_t n_embd = 0;
  int64_t d_conv = 0, d_inner = 0, d_state = 0, n_head = 0, n_group = 0;
  float rms_eps = 1e-5f;

  int64_t head_dim() const { return d_inner / n_head; }
  int64_t conv_channels() const { return d_inner + 2 * n_group * d_state; }
  int64_t in_proj_rows() const { return d_inner + conv_channels() + n_head; }
  // One sequence's state for this layer, in floats: conv [d_conv-1][channels], ssm
  // [n_head][head_dim][d_state] (kernels/ssm.h).
  size_t conv_state_floats() const { return static_cast<size_t>((d_conv - 1) * conv_channels()); }
  size_t ssm_state_floats() const { return static_cast<size_t>(d_inner * d_state); }
  Status Validate() const;
  static Mamba2Config FromHParams(const ModelHParams& h);
};

// Views into the mapped weights (nothing owned); vectors are F32.
struct Mamba2LayerWeights {
  WeightMatrix in;                 // [in_proj_rows][n_embd]
  WeightMatrix out;                // [n_embd][d_inner]
  const float* conv1d = nullptr;   // [channels][d_conv]
  const float* conv1d_b = nullptr; // [channels] or nullptr
  const float* dt_b = nullptr;     // [n_head]
  const float* a = nullptr;        // [n_head], A = -exp(A_log)
  const float* d = nullptr;        // [n_head]
  const float* norm = nullptr;     // [d_inner]
};

// The bound tensors of a Mamba-2 layer (model/weights.h), checked against `config`.
Result<Mamba2LayerWeights> Mamba2WeightsFromLayer(const SsmLayerWeights& w, const Mamba2Config& config,
                                                  const std::string& name);

// One sequence's recurrent state for one layer (views, caller-owned).
struct Mamba2State {
  float* conv = nullptr;  // conv_state_floats()
  float* ssm = nullptr;   // ssm_state_floats()
};

class Mamba2Layer {
 public:
  explicit Mamba2Layer(Mamba2Config config, ThreadPool* pool = nullptr, Isa isa = ActiveIsa())
      : config_(config), pool_(pool), isa_(isa) {}

  // Runs the mixer over T rows xn[t] (n_embd floats, xn_stride apart: the layer's normed input)
  // of one sequence's next tokens, advancing `state`; writes T rows of n_embd into out
  // (out_stride apart; may not alias xn). REQUIRES: config validated, weights for it.
  Status Run(const Mamba2LayerWeights& w, const float* xn, int64_t xn_stride, int64_t T, Mamba2State state,
             float* out, int64_t out_stride);

  // The same in three phases, for a step holding several sequences' rows: the two projections
  // run once over all T rows (each weight read once per step, not once per sequence), the mixer
  // per sequence. Run == Project(T) + Mix(0, T) + Output(T), bit for bit (the matmuls are per row).
  // Project: ssm_in over T rows of xn. Mix: conv, scan and gate of rows [first_row, first_row + n)
  // of the last Project, advancing `state`. Output: ssm_out over the T mixed rows into out.
  Status Project(const Mamba2LayerWeights& w, const float* xn, int64_t xn_stride, int64_t T);
  Status Mix(const Mamba2LayerWeights& w, int64_t first_row, int64_t n, Mamba2State state);
  Status Output(const Mamba2LayerWeights& w, float* out, int64_t out_stride);

  const Mamba2Config& config() const { return config_; }

 private:
  // Constant after construction.
  const Mamba2Config config_;
  ThreadPool* const pool_;
  const Isa isa_;
  // Scratch, resized by Project (T rows).
  int64_t rows_ = 0;
  std::vector<float> zxbcdt_;  // [T][in_proj_rows]
  std::vector<float> xbc_;     // [T][channels], after conv and SiLU
  std::vector<float> y_;       // [T][d_inner]
};

}  // namespace swarmkv
