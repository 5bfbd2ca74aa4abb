// The router of a mixture-of-experts FFN for one token, as llama.cpp's build_moe_ffn computes it
// on the CPU (softmax gating, qwen3moe): probabilities = ggml soft_max of the router logits
// (AVX2 ggml build: exp by ggml_v_expf on 8-lane groups, each group's sum reduced in that build's
// lane order and added in double, the tail by expf), the top k experts by probability, their
// probabilities as weights — optionally divided by their sum (clamped below at 2^-14, as
// ggml_clamp there) — and optionally scaled.
//
// Invariant: the result depends only on the token's own logits (never on the batch) and is the
// same bits at every ISA (scalar code with explicit fused multiply-adds, kernels/ops.h
// GgmlVecExp). Selection is by descending probability, equal probabilities by the lower expert
// index, so ties are deterministic. Rank r of the output is the r-th best expert; the MoE FFN
// sums the experts' outputs in this rank order (llama.cpp adds cur_experts[0..k) in order).
//
// gpt-oss's variant (MoeRouting::softmax_weight) ranks the raw logits instead and takes the
// softmax over the k selected ones as the weights.
//
// Thread-safety: pure function over caller-owned buffers.
#pragma once

#include <cstdint>

namespace swarmkv {

struct MoeRouting {
  int32_t n_expert = 0;
  int32_t n_used = 0;           // k, 1 <= k <= n_expert
  bool normalize = false;       // weights /= max(sum of the k weights, 2^-14)
  float weights_scale = 0.0f;   // 0 or 1: none; else weights *= s
  // gpt-oss's gating (llama.cpp's LLAMA_EXPERT_GATING_FUNC_TYPE_SOFTMAX_WEIGHT): the top k are
  // chosen by the raw logits, and their weights are ggml soft_max over those k logits (in rank
  // order, GgmlSoftmaxAvx2Order). probs is then left holding the logits.
  bool softmax_weight = false;
};

// probs: scratch of n_expert floats (left holding the softmax). Writes ids[k] (expert indices,
// best first) and weights[k].
void MoeRoute(const MoeRouting& r, const float* logits, float* probs, int32_t* ids, float* weights);

// ggml_soft_max_f32 on one row as llama.cpp's AVX2 build computes it (see above); in place.
void GgmlSoftmaxAvx2Order(float* x, int64_t n);

}  // namespace swarmkv
