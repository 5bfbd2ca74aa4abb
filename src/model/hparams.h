// ModelHParams: the hyper-parameters of a llama-family model, read from the metadata keys
// llama.cpp writes (`{arch}.context_length`, `{arch}.attention.head_count`, ...).
//
// Invariant: a ModelHParams returned by FromGguf is self-consistent: every count is > 0,
// n_head is a multiple of n_head_kv, n_rot <= head_dim_k and even, rope_freq_base > 0,
// rms_norm_eps > 0, and n_vocab matches the token list when the file has one. Defaults follow
// llama.cpp (head_count_kv = head_count, key_length = n_embd / n_head, rope base 10000,
// rope dimension = key_length, scaling "linear" with factor 1 = none).
//
// Thread-safety: a value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "gguf/gguf_file.h"
#include "model/ssm_hparams.h"

namespace swarmkv {

enum class ModelArch {
  kLlama, kQwen2, kQwen3, kGranite, kOlmo2, kPhi3, kGemma2, kGemma3,
  kLfm2,
  kQwen3Moe,
  kMamba2, kGraniteHybrid,  // issue 19: Mamba-2 (model/ssm_hparams.h)
  kGptOss,  // issue 18: "gpt-oss" (llama.cpp's LLM_ARCH_OPENAI_MOE)
};

// "llama", "qwen2", "qwen3", "granite", "olmo2", "phi3", "gemma2", "gemma3", "lfm2", "qwen3moe", "mamba2",
// "granitehybrid", "gpt-oss".
std::string_view ModelArchName(ModelArch arch);
// Every supported architecture, in the order above.
std::vector<ModelArch> AllModelArchs();
// The architecture named by general.architecture, or Unimplemented naming it and the supported ones.
Result<ModelArch> ParseModelArch(std::string_view name);

enum class RopeScalingType { kNone, kLinear, kYarn, kLongrope };
std::string_view RopeScalingTypeName(RopeScalingType type);

struct RopeScaling {
  RopeScalingType type = RopeScalingType::kNone;  // "linear" with factor 1 reads as kNone
  float factor = 1.0f;                // context extension factor (llama.cpp freq_scale = 1/factor)
  float attn_factor = 1.0f;           // rope.scaling.attn_factor
  uint32_t original_context_length = 0;  // rope.scaling.original_context_length (n_ctx_orig_yarn)
  float yarn_log_multiplier = 0.0f;   // rope.scaling.yarn_log_multiplier
  bool finetuned = false;             // rope.scaling.finetuned
};

struct ModelHParams {
  ModelArch arch = ModelArch::kLlama;
  uint32_t n_ctx_train = 0;   // {arch}.context_length
  uint32_t n_embd = 0;        // {arch}.embedding_length
  uint32_t n_layer = 0;       // {arch}.block_count
  uint32_t n_ff = 0;          // {arch}.feed_forward_length
  uint32_t n_head = 0;        // {arch}.attention.head_count
  uint32_t n_head_kv = 0;     // {arch}.attention.head_count_kv
  uint32_t head_dim_k = 0;    // {arch}.attention.key_length
  uint32_t head_dim_v = 0;    // {arch}.attention.value_length
  uint32_t n_rot = 0;         // {arch}.rope.dimension_count
  uint32_t n_vocab = 0;       // {arch}.vocab_size, else the token list, else token_embd rows
  float rope_freq_base = 10000.0f;
  RopeScaling rope_scaling;
  float rms_norm_eps = 1e-5f;  // {arch}.attention.layer_norm_rms_epsilon
  // RoPE pairing: llama rotates adjacent pairs (x[2i], x[2i+1]); qwen2/qwen3 use the NeoX
  // layout (x[i], x[i + n_rot/2]).
  bool rope_neox = false;
  bool has_qkv_bias = false;   // blk.N.attn_{q,k,v}.bias present (qwen2)
  bool has_qk_norm = false;    // blk.N.attn_{q,k}_norm.weight present (qwen3)
  bool tied_output = false;    // no output.weight: the output projection is token_embd
  bool has_rope_freqs = false; // rope_freqs.weight present (llama 3.1 long-context factors)

  // Per-architecture extras (model/arch_hparams.cc; docs/model.md "Architectures"). A zero
  // scale or soft-cap means "not used".
  float embedding_scale = 0.0f;  // embeddings *= s (granite.embedding_scale; gemma: sqrtf(n_embd))
  float residual_scale = 0.0f;   // granite: attention and FFN outputs *= s before the residual add
  float attention_scale = 0.0f;  // granite.attention.scale: the attention's KQ scale
  float query_scale = 0.0f;      // gemma, phi3: Q *= s after RoPE, then attention with KQ scale 1
  float logit_scale = 0.0f;      // granite.logit_scale: logits /= s
  float attn_softcap = 0.0f;     // gemma2: KQ scores -> c * tanh(scores / c)
  float final_softcap = 0.0f;    // gemma2/3 final_logit_softcapping: logits -> c * tanh(logits / c)
  uint32_t sliding_window = 0;   // {arch}.attention.sliding_window: SWA layers see keys (p - w, p]
  std::vector<bool> swa_layers;  // n_layer entries when sliding_window > 0, else empty
  float rope_freq_base_swa = 10000.0f;  // RoPE base of SWA layers (gemma3: rope.freq_base_swa)
  float rope_freq_scale_swa = 1.0f;     // RoPE frequency scale of SWA layers (no scaling there)
  bool pre_norms = true;       // blk.N.attn_norm / ffn_norm (olmo2 has none)
  bool post_norms = false;     // blk.N.attn_post_norm / ffn_post_norm on the block outputs (olmo2, gemma)
  bool qk_norm_full = false;   // olmo2: q/k norms span the whole q/k vector, not one head
  bool fused_qkv = false;      // blk.N.attn_qkv.weight holds [q; k; v] rows (phi3)
  bool fused_gate_up = false;  // phi3: blk.N.ffn_up.weight holds [gate; up] rows, no ffn_gate
  bool gelu_ffn = false;       // gemma: GeGLU (tanh-approximated GELU) instead of SwiGLU
  bool has_rope_long_short = false;  // rope_factors_long/short.weight (phi3 LongRoPE)
  // Mixture of experts (qwen3moe; model/arch_hparams.cc). n_expert == 0: a dense FFN.
  uint32_t n_expert = 0;         // {arch}.expert_count
  uint32_t n_expert_used = 0;    // {arch}.expert_used_count (top-k)
  uint32_t n_ff_exp = 0;         // {arch}.expert_feed_forward_length (one expert's width)
  bool expert_weights_norm = false;  // the top-k weights divided by their sum (qwen3moe: always)
  // gpt-oss (model/arch_hparams.cc ReadGptOss): experts chosen by the router logits (plus bias),
  // weighted by softmax over the k chosen; the clamped SwiGLU (limit > 0); attention sinks; biases
  // on attn_output, the router and every expert matrix; the FFN's pre-norm is stored as
  // blk.N.post_attention_norm.weight.
  bool expert_softmax_weight = false;
  float swiglu_oai_alpha = 0.0f;
  float swiglu_oai_limit = 0.0f;
  bool has_attn_sinks = false;   // blk.N.attn_sinks.weight [n_head]
  bool has_out_bias = false;     // blk.N.attn_output.bias [n_embd]
  bool has_expert_biases = false;  // blk.N.ffn_gate_inp.bias, ffn_{gate,up,down}_exps.bias
  // Issue 19: Mamba-2 layers (mamba2: every layer, no attention or FFN; granitehybrid: the
  // layers whose head_count_kv entry is 0). n_head/n_head_kv/n_ff describe the attention layers.
  SsmHParams ssm;
  bool no_rope = false;  // granitehybrid with rope.scaling.finetuned = false (NoPE, Granite 4.0 H)
  // mamba2: no attention layers at all (n_head = n_head_kv = n_ff = 0 are allowed).
  bool attention_free() const { return arch == ModelArch::kMamba2; }

  // Hybrid models (issue 19; docs/model.md "Hybrid models"): n_layer entries, true for a
  // recurrent layer — llama.cpp's per-layer {arch}.attention.head_count_kv array with 0 there —
  // empty for attention-only models. n_head_kv is then the attention layers' (uniform) count.
  std::vector<bool> recurrent_layers;
  uint32_t shortconv_l_cache = 0;  // lfm2: {arch}.shortconv.l_cache (conv taps; state = l_cache - 1 rows)

  bool is_swa(uint32_t layer) const { return layer < swa_layers.size() && swa_layers[layer]; }
  bool is_recurrent(uint32_t layer) const { return layer < recurrent_layers.size() && recurrent_layers[layer]; }
  uint32_t n_attention_layers() const {
    uint32_t n = 0;
    for (uint32_t l = 0; l < n_layer; ++l) n += is_recurrent(l) ? 0 : 1;
    return n;
  }

  uint32_t n_gqa() const { return n_head / n_head_kv; }
  uint32_t q_dim() const { return n_head * head_dim_k; }
  uint32_t k_dim() const { return n_head_kv * head_dim_k; }
  uint32_t v_dim() const { return n_head_kv * head_dim_v; }

  static Result<ModelHParams> FromGguf(const GgufFile& file);
  // Checks the invariant above (FromGguf calls it; the synthetic maker too).
  Status Validate() const;
  std::string DebugString() const;
};

}  // namespace swarmkv
