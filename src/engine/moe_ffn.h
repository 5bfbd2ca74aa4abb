// MoeFfn: the feed-forward block of a mixture-of-experts layer (qwen3moe) over a batch of token
// rows, as llama.cpp's build_moe_ffn computes it:
//   router logits = W_router · x (+ bias) -> MoeRoute (softmax, top-k, weights; kernels/moe_router.h) ->
//   for each selected expert: down_e · (silu(gate_e · x) * (up_e · x)) -> times its weight ->
//   summed over the k ranks in rank order (best expert first: ((y_0 + y_1) + y_2) + ...).
// gpt-oss (llama.cpp's openai-moe graph) adds biases after the router and each expert matmul,
// routes with softmax over the top-k logits and uses the clamped SwiGLU (MoeConfig).
//
// Work is grouped by expert: the rows routed to expert e are gathered and multiplied by e's
// three matrices in one matmul each, so a step reads only the experts some token chose (a
// decode step of one token reads exactly k experts). Invariant (batch invariance): every matmul
// row result depends only on that row (kernels/matmul.h), routing only on the token's own
// logits, and the rank-order sum only on the token's own k outputs — so a token's output is the
// same bits alone, in any batch, in any grouping and with any thread count.
//
// Thread-safety: one Run at a time per object (scratch buffers are members); the matmuls use
// the options' pool.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "kernels/matmul.h"
#include "kernels/moe_router.h"

namespace swarmkv {

// `count` matrices of one shape stored one after another (a 3-D GGUF expert tensor).
struct ExpertStack {
  WeightMatrix first;        // expert 0
  int64_t count = 0;
  int64_t stride_bytes = 0;  // from one expert's matrix to the next
  WeightMatrix Expert(int64_t e) const {
    WeightMatrix w = first;
    w.data = static_cast<const uint8_t*>(first.data) + e * stride_bytes;
    return w;
  }
};

struct MoeLayerWeights {
  WeightMatrix router;     // [n_expert][n_embd] (ffn_gate_inp)
  ExpertStack gate, up;    // each expert [n_ff_exp][n_embd]
  ExpertStack down;        // each expert [n_embd][n_ff_exp]
  // Optional F32 biases (gpt-oss; nullptr: none): added to the router logits, and to each
  // expert's gate / up / down output (ggml_add / ggml_add_id). Expert e's row at e * its width.
  const float* router_bias = nullptr;  // [n_expert]
  const float* gate_bias = nullptr;    // [n_expert][n_ff_exp]
  const float* up_bias = nullptr;      // [n_expert][n_ff_exp]
  const float* down_bias = nullptr;    // [n_expert][n_embd]
};

struct MoeConfig {
  int32_t n_expert = 0;  // 0: a dense FFN (no MoE)
  int32_t n_used = 0;    // top-k
  int32_t n_ff_exp = 0;  // one expert's width
  bool normalize = false;      // top-k weights divided by their sum (qwen3moe)
  float weights_scale = 0.0f;  // 0: none
  bool softmax_weight = false; // gpt-oss: top k by the logits, softmax over those k (MoeRouting)
  // > 0: gpt-oss's clamped SwiGLU (SwiGluOai, kernels/ops_arch.h) with this limit and
  // swiglu_alpha instead of silu(gate) * up.
  float swiglu_limit = 0.0f;
  float swiglu_alpha = 0.0f;
};

class MoeFfn {
 public:
  // The weights' shapes against the config (InvalidArgument naming `prefix` + the tensor).
  static Status Validate(const MoeConfig& c, const MoeLayerWeights& w, int64_t n_embd, const std::string& prefix);

  // out[t * n_embd ...] = the MoE FFN of xn row t, for t < T (rows n_embd floats apart).
  Status Run(const MoeConfig& c, const MoeLayerWeights& w, const float* xn, int64_t T, int64_t n_embd, float* out,
             const MatmulOptions& mo);

  // Expert matrices read since creation (one per selected expert and matrix per step, whatever
  // the number of rows routed to it) — what a decode step costs in weight reads.
  int64_t expert_matmuls() const { return expert_matmuls_; }

 private:
  std::vector<float> logits_, probs_;  // [T][n_expert], [n_expert]
  std::vector<int32_t> ids_;           // [T][k]: selected experts, best first
  std::vector<float> weights_;         // [T][k]
  std::vector<int32_t> slots_;         // slot (t * k + r) of each routed row, grouped by expert
  std::vector<int32_t> expert_begin_;  // [n_expert + 1] into slots_
  // Per routed row j (slot slots_[j], rows grouped by expert): [T * k][...]
  std::vector<float> xg_;              // the token's normed input [n_embd]
  std::vector<float> gate_, up_;       // [n_ff_exp] (gate_ then holds the SwiGLU)
  std::vector<float> down_;            // the expert's output [n_embd]
  std::vector<int32_t> row_of_slot_;   // inverse of slots_
  std::vector<int32_t> active_;        // experts with rows this step, ascending
  std::vector<WeightMatrix> experts_;  // [active][gate, up, down]
  std::vector<Activations> acts_;      // one per active expert (its rows converted)
  int64_t expert_matmuls_ = 0;
};

}  // namespace swarmkv
